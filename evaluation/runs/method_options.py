"""``--method-option NAME.KEY=VALUE``: per-method options of an evaluation run, parsed.

``NAME`` is a method exactly as ``--methods`` names it (``scorecam``,
``captum.attr.IntegratedGradients``, ``captum.attr.Saliency+smoothgrad``); ``KEY`` is an
argument of the method's constructor or of its ``attribute`` call (the part after the last dot);
``VALUE`` is read as a literal:

- ``true`` / ``false`` / ``none`` (any case) -> ``True`` / ``False`` / ``None``;
- a Python literal: ``16`` (int), ``0.25`` or ``1e-3`` (float), ``(3, 32, 32)`` or ``3,32,32``
  (a tuple; lists become tuples), ``'text'`` (a quoted string);
- anything else -> the text as a string (``gausslegendre``).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.errors import ConfigurationError

_WORDS = {"true": True, "false": False, "none": None}


def parse_value(text: str) -> Any:
    """The value of an option's text (see the module docstring)."""
    stripped = text.strip()
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return stripped
    return _tuples(value)


def _tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuples(item) for item in value)
    return value


def parse_method_options(
    entries: Sequence[str], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Group ``NAME.KEY=VALUE`` entries by method.

    Args:
        entries: the ``--method-option`` texts.
        names: the run's method names.

    Returns:
        name -> {key: value}, for the methods that have options.

    Raises:
        ConfigurationError: an entry without ``=`` or without ``NAME.KEY``, a name that is not
            among ``names``, a key that is not an identifier, or a key given twice.
    """
    options: dict[str, dict[str, Any]] = {}
    for entry in entries:
        target, equals, text = entry.partition("=")
        name, dot, key = target.strip().rpartition(".")
        if not equals or not dot or not name:
            raise ConfigurationError(
                f"method option {entry!r} is not NAME.KEY=VALUE (e.g. scorecam.batch_size=64 or "
                "captum.attr.IntegratedGradients.n_steps=32)"
            )
        if name not in names:
            raise ConfigurationError(
                f"method option {entry!r} names {name!r}, which is not among --methods "
                f"({', '.join(names)}); write the method exactly as --methods does"
            )
        if not key.isidentifier():
            raise ConfigurationError(
                f"method option {entry!r}: {key!r} is not an argument name"
            )
        if key in options.get(name, {}):
            raise ConfigurationError(f"method option {name}.{key} is given more than once")
        options.setdefault(name, {})[key] = parse_value(text)
    return options


def describe(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as JSON values (tuples become lists) for ``results.json``."""
    return {key: _json(value) for key, value in options.items()}


def _json(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    return value
