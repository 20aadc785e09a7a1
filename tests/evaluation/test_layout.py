"""The import direction between evaluation's packages, read from every module's source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evaluation", "infocam_captum")

# package -> (prefixes its modules must not import, modules allowed despite those prefixes)
FORBIDDEN = {
    "evaluation.localization": (
        ("evaluation.runs", "evaluation.reports", "evaluation.models", "evaluation.datasets",
         "evaluation.commands", "evaluation.cli"),
        (),
    ),
    "evaluation.reports": (
        ("evaluation.runs", "evaluation.localization", "evaluation.models",
         "evaluation.datasets", "evaluation.commands", "evaluation.cli"),
        ("evaluation.runs.schema",),
    ),
    "evaluation.datasets": (
        ("evaluation.runs", "evaluation.reports", "evaluation.models", "evaluation.localization",
         "evaluation.commands", "evaluation.cli"),
        (),
    ),
    "evaluation.models": (
        ("evaluation.runs", "evaluation.reports", "evaluation.localization",
         "evaluation.commands", "evaluation.cli"),
        (),
    ),
    "evaluation.runs": (("evaluation.reports", "evaluation.commands", "evaluation.cli"), ()),
    "evaluation.scoring": (
        ("evaluation.runs", "evaluation.reports", "evaluation.models", "evaluation.commands",
         "evaluation.cli", "torch"),
        (),
    ),
    "evaluation.statistics": (("evaluation.",), ("evaluation.errors", "evaluation.statistics")),
    "evaluation.errors": (("evaluation.",), ()),
    "evaluation.io": (("evaluation.",), ()),
    "evaluation.paths": (("evaluation.",), ("evaluation.errors",)),
    "evaluation.progress": (("evaluation.",), ()),
    "infocam_captum": (("evaluation",), ()),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module an import statement names, anywhere in ``source`` (functions included).

    ``from a import b`` names ``a`` and ``a.b`` (``b`` may be a submodule); relative imports are
    resolved against ``module``.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                anchor = package[: len(package) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def all_modules() -> dict[str, set[str]]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = module_name(path)
            modules[name] = imported_modules(
                path.read_text(encoding="utf-8"), name, path.name == "__init__.py"
            )
    return modules


MODULES = all_modules()


def within(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix if prefix.endswith(".")
                                                         else prefix + ".")


def test_the_parser_sees_imports_in_functions_and_relative_ones() -> None:
    source = (
        "import evaluation.io\n"
        "from evaluation import commands\n"
        "def later():\n"
        "    from evaluation.runs.schema import RESULTS_FILE\n"
        "    if True:\n"
        "        from .sweeps import CHUNK\n"
    )
    found = imported_modules(source, "evaluation.localization.accumulator")
    assert {"evaluation.io", "evaluation.commands", "evaluation.runs.schema",
            "evaluation.localization.sweeps"} <= found
    assert "evaluation.x.y" in imported_modules("from . import y", "evaluation.x", True)


def test_every_package_is_parsed() -> None:
    for package in ("evaluation.localization.accumulator", "evaluation.runs.runner",
                    "evaluation.models.backbones", "evaluation.reports.writer",
                    "evaluation.datasets.loader", "infocam_captum.cam"):
        assert package in MODULES
    assert "evaluation.localization.sweeps" in MODULES["evaluation.localization.accumulator"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    forbidden, allowed = FORBIDDEN[package]
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in MODULES.items() if within(module, package)
        for target in targets
        if any(within(target, prefix) for prefix in forbidden)
        and not any(within(target, ok) for ok in allowed)
    )
    assert not wrong, "; ".join(wrong)


def test_only_the_cli_imports_the_commands() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in MODULES.items()
        if not within(module, "evaluation.commands") and module != "evaluation.cli"
        for target in targets if within(target, "evaluation.commands")
    )
    assert not wrong, "; ".join(wrong)


def test_the_results_schema_imports_nothing() -> None:
    assert MODULES["evaluation.runs.schema"] == set()


def test_every_package_says_what_it_may_import() -> None:
    for init in sorted((ROOT / "evaluation").rglob("__init__.py")):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if init.parent.name == "evaluation":
            assert "infocam_captum" in docstring and "->" in docstring
        else:
            assert "May import" in docstring, f"{init} does not say what it may import"
