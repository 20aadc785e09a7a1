"""``--method-option NAME.KEY=VALUE``: values read as literals, entries grouped, errors named."""

from __future__ import annotations

import re

import pytest

from evaluation.errors import ConfigurationError
from evaluation.runs.method_options import describe, parse_method_options, parse_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16", 16),
        ("-3", -3),
        ("0.25", 0.25),
        ("1e-3", 0.001),
        ("true", True),
        ("False", False),
        ("NONE", None),
        ("3,32,32", (3, 32, 32)),
        ("(3, 8, 8)", (3, 8, 8)),
        ("[1, [2, 3]]", (1, (2, 3))),
        ("'quoted'", "quoted"),
        ("gausslegendre", "gausslegendre"),
        (" riemann_trapezoid ", "riemann_trapezoid"),
    ],
)
def test_values_are_literals(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_entries_group_by_method_with_dotted_and_tunnel_names() -> None:
    names = ["scorecam", "captum.attr.IntegratedGradients", "captum.attr.Saliency+smoothgrad"]
    options = parse_method_options(
        [
            "scorecam.batch_size=64",
            "captum.attr.IntegratedGradients.n_steps=8",
            "captum.attr.IntegratedGradients.method=riemann_left",
            "captum.attr.Saliency+smoothgrad.stdevs=0.1",
        ],
        names,
    )
    assert options == {
        "scorecam": {"batch_size": 64},
        "captum.attr.IntegratedGradients": {"n_steps": 8, "method": "riemann_left"},
        "captum.attr.Saliency+smoothgrad": {"stdevs": 0.1},
    }
    assert describe({"strides": (3, 8, 8), "abs": False}) == {"strides": [3, 8, 8], "abs": False}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("scorecam", "is not NAME.KEY=VALUE"),
        ("batch_size=3", "is not NAME.KEY=VALUE"),
        ("gradcam.eps=1", "names 'gradcam', which is not among --methods (scorecam)"),
        ("scorecam.batch-size=3", "'batch-size' is not an argument name"),
    ],
)
def test_malformed_entries_are_refused(entry: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_method_options([entry], ["scorecam"])


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"scorecam\.batch_size is given more than once"):
        parse_method_options(["scorecam.batch_size=3", "scorecam.batch_size=4"], ["scorecam"])
