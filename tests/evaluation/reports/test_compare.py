"""``wsol-bench compare``: one row per (run, method), best per column within comparable groups."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from evaluation.cli import main
from evaluation.reports.figures import method_label
from evaluation.reports.writer import compare
from tests.evaluation.reports.report_fixtures import (
    METHODS,
    PCT_COLUMNS,
    check_cells,
    expected_marks,
    make_run,
    parse_markdown_tables,
    read_run_records,
)

RANKED = {**PCT_COLUMNS, "V2 @30": "v2_30", "V2 @50": "v2_50", "V2 @70": "v2_70"}


def _bold_rows_by_column(header: list[str], rows: list[list[str]]) -> dict[str, list[int]]:
    return {title: [i for i, r in enumerate(rows) if r[header.index(title)].startswith("**")]
            for title in RANKED}


def _expected_best(run_dirs: list[Path], resamples: int = 1000) -> dict[str, list[int]]:
    """Independently: rows (run-major) no row beats and that beat one, on the paired records."""
    records = [r for run in run_dirs for r in read_run_records(run)]
    return {title: [] if key == "images_per_second" else expected_marks(records, key, resamples)
            for title, key in RANKED.items()}


def _result_tables(markdown: str) -> list[tuple[list[str], list[list[str]]]]:
    """The main results tables (the ones with an img/s column)."""
    return [t for t in parse_markdown_tables(markdown) if "img/s" in t[0]]


def test_compare_marks_the_best_per_column_within_comparable_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_run(tmp_path / "cnn", seed=11)
    second = make_run(tmp_path / "resnet", seed=12, model="resnet50")
    second["methods"]["cam"]["top1_cls"] = 99.0  # a different model classifies differently
    (tmp_path / "resnet" / "results.json").write_text(json.dumps(second))
    make_run(tmp_path / "paper", seed=13, protocol="paper", gallery=False)
    out = tmp_path / "cmp"
    code = main(["compare", str(tmp_path / "cnn"), str(tmp_path / "resnet"),
                 str(tmp_path / "paper"), "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'compare.html'}" in printed
    markdown = (out / "compare.md").read_text()
    assert "Not comparable across groups" in markdown
    assert "(they differ in protocol)" in markdown
    assert "## Group 2: synthetic-cub · test · protocol paper · 224×224 · 40 images" in markdown
    tables = _result_tables(markdown)
    assert len(tables) == 2
    (header, rows), (paper_header, paper_rows) = tables
    assert header[:3] == ["Run", "Model", "Method"]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (run, model, method_label(m))
        for run, model in (("cnn", "small-cnn"), ("resnet", "resnet50")) for m in METHODS
    ]
    for row, (run, name) in zip(rows, [(r, m) for r in (first, second) for m in METHODS],
                                strict=True):
        check_cells(dict(zip(header, row, strict=True)), run["methods"][name])
    expected = _expected_best([tmp_path / "cnn", tmp_path / "resnet"])
    assert _bold_rows_by_column(header, rows) == expected
    assert sum(map(len, expected.values())) >= 1
    assert _bold_rows_by_column(paper_header, paper_rows) == _expected_best([tmp_path / "paper"])
    assert "### Paired differences" in markdown and "cnn · CAM − resnet · CAM" in markdown
    html = (out / "compare.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "Not comparable across groups" in html
    assert html.count("<h3>Paired differences</h3>") == 2
    marked = re.findall(r'<td class="best">([^<]*)<span', html)
    bold = [c.strip("*").split(" [")[0] for _, rs in tables for r in rs for c in r
            if c.startswith("**")]
    attribution = [t for t in parse_markdown_tables(markdown)
                   if t[0][0] == "Run" and "Pointing game" in t[0]]
    bold += [c.strip("*").split(" [")[0] for _, rs in attribution for r in rs for c in r[3:]
             if c.startswith("**")]
    assert sorted(marked) == sorted(bold)


def test_one_group_has_no_warning_and_repeated_folder_names_get_full_paths(
    tmp_path: Path,
) -> None:
    make_run(tmp_path / "a" / "run", seed=1, gallery=False)
    make_run(tmp_path / "b" / "run", seed=2, gallery=False)
    markdown_path, html_path = compare([tmp_path / "a" / "run", tmp_path / "b" / "run"],
                                       tmp_path / "out")
    markdown = markdown_path.read_text()
    assert "Not comparable" not in markdown and "Not comparable" not in html_path.read_text()
    (_, rows), = _result_tables(markdown)
    assert {r[0] for r in rows} == {str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run")}


def test_runs_with_different_image_counts_are_not_compared(tmp_path: Path) -> None:
    make_run(tmp_path / "full", gallery=False)
    make_run(tmp_path / "limited", gallery=False, num_images=10)
    markdown_path, _ = compare([tmp_path / "full", tmp_path / "limited"], tmp_path / "out")
    markdown = markdown_path.read_text()
    assert len(_result_tables(markdown)) == 2
    assert "(they differ in image count)" in markdown


def test_runs_with_different_fixed_thresholds_are_not_compared(tmp_path: Path) -> None:
    make_run(tmp_path / "at20", gallery=False)
    make_run(tmp_path / "at30", gallery=False, fixed_threshold=0.3)
    markdown_path, _ = compare([tmp_path / "at20", tmp_path / "at30"], tmp_path / "out")
    markdown = markdown_path.read_text()
    assert len(_result_tables(markdown)) == 2
    assert "(they differ in fixed threshold)" in markdown


def test_compare_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(tmp_path / "ok", gallery=False)
    code = main(["compare", str(tmp_path / "ok"), str(tmp_path / "gone"), "--output",
                 str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path / "gone") in err[0]
    assert not (tmp_path / "out").exists()


def test_pipeline_train_evaluate_report_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    """The real results.json of `wsol-bench evaluate` reads back into equal report numbers."""
    from evaluation.datasets.synthetic import SyntheticSpec, make_synthetic

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster on a shared machine
    request.addfinalizer(lambda: torch.set_num_threads(threads))

    data = make_synthetic(tmp_path / "data", SyntheticSpec(classes=3, images_per_class=8,
                                                           size=40, seed=5))
    assert main(["train", "--dataset", "synthetic", "--data-root", str(data), "--model",
                 "small-cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "8",
                 "--no-progress", "--output", str(tmp_path / "train")]) == 0
    runs = []
    for protocol in ("wsoleval", "exact"):
        run = tmp_path / protocol
        assert main(["evaluate", "--dataset", "synthetic", "--data-root", str(data),
                     "--model", "small-cnn", "--checkpoint",
                     str(tmp_path / "train" / "checkpoint-last.pt"), "--image-size", "32",
                     "--protocol", protocol, "--batch-size", "16", "--gallery", "1",
                     "--device", "cpu", "--output", str(run)]) == 0
        runs.append(run)
    capsys.readouterr()
    for run in runs:
        assert main(["report", str(run)]) == 0
        results = json.loads((run / "results.json").read_text())
        header, rows = parse_markdown_tables((run / "report.md").read_text())[0]
        assert [r[0] for r in rows] == [method_label(m) for m in results["methods"]]
        for row, metrics in zip(rows, results["methods"].values(), strict=True):
            check_cells(dict(zip(header, row, strict=True)), metrics)
        html = (run / "report.html").read_text()
        assert "data:image/jpeg;base64," in html
    assert main(["compare", *map(str, runs), "--output", str(tmp_path / "cmp")]) == 0
    markdown = (tmp_path / "cmp" / "compare.md").read_text()
    assert len(_result_tables(markdown)) == 2 and "Not comparable" in markdown
