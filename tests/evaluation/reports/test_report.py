"""``wsol-bench report``: the Markdown table equals results.json, the HTML is self-contained."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation.cli import main
from evaluation.errors import ConfigurationError, DataFormatError, MissingFilesError
from evaluation.reports.figures import method_label
from evaluation.reports.markdown import format_table
from evaluation.reports.writer import paired_methods, write_reports
from tests.evaluation.reports.report_fixtures import (
    METHODS,
    PCT_COLUMNS,
    check_cells,
    expected_marks,
    make_run,
    parse_markdown_tables,
    read_run_records,
)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    make_run(tmp_path / "run", seed=4)
    return tmp_path / "run"


def test_report_command_writes_a_table_equal_to_results_json(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"report: {run_dir / 'report.md'}" in out
    assert f"report: {run_dir / 'report.html'}" in out
    results = json.loads((run_dir / "results.json").read_text())
    markdown = (run_dir / "report.md").read_text()
    assert "wsoleval" in markdown and "small-cnn" in markdown and "synthetic-cub" in markdown
    assert "τ = 0.2" in markdown
    header, rows = parse_markdown_tables(markdown)[0]
    assert [r[0] for r in rows] == [method_label(m) for m in METHODS]
    for name, row in zip(METHODS, rows, strict=True):
        metrics = results["methods"][name]
        cells = dict(zip(header, row, strict=True))
        check_cells(cells, metrics)
        assert cells["τ V1"] == f"{metrics['best_threshold']:.2f}"
        taus = [metrics["best_threshold_by_iou"][iou] for iou in ("30", "50", "70")]
        assert cells["τ V2 @30/50/70"] == " / ".join(f"{t:.2f}" for t in taus)
    records = read_run_records(run_dir)
    keys = {**PCT_COLUMNS, "V2 @30": "v2_30", "V2 @50": "v2_50", "V2 @70": "v2_70"}
    marks = 0
    for title, key in keys.items():
        bold = [i for i, r in enumerate(rows) if r[header.index(title)].startswith("**")]
        expected = [] if key == "images_per_second" else expected_marks(records, key)
        assert bold == expected, title
        marks += len(bold)
    assert marks >= 1  # some differences are supported on these 40 images
    # the terminal gets the same table
    assert format_table(results, paired_methods(run_dir, results)) in out
    assert "### What is significant" in markdown and "### Paired differences" in markdown


def test_html_is_self_contained_with_the_gallery_embedded(run_dir: Path) -> None:
    _, html_path = write_reports(run_dir)
    html = html_path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html)  # only the SVGs' own clip paths
    with np.load(run_dir / "gallery.npz") as gallery:
        count, methods = len(gallery["images"]), len(gallery["methods"])
        height = gallery["images"].shape[1]
    uris = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == count * (methods + 1)  # the input and one panel per method
    panel = cv2.imdecode(np.frombuffer(base64.b64decode(uris[0]), np.uint8), cv2.IMREAD_COLOR)
    assert panel.shape[0] >= height and panel.shape[0] % height == 0
    assert html.count("<svg") - html.count('<svg class="eb"') == 1  # the curves
    for name in METHODS:
        assert method_label(name) in html
    assert html.count('class="badge best"') == methods and html.count('class="badge worst"') == 4


def test_html_table_marks_the_same_cells_as_the_markdown(run_dir: Path) -> None:
    markdown_path, html_path = write_reports(run_dir)
    _, rows = parse_markdown_tables(markdown_path.read_text())[0]
    bold = sorted(cell.strip("*") for row in rows for cell in row if cell.startswith("**"))
    table = html_path.read_text().split("<table>")[1].split("</table>")[0]
    marked = sorted(f"{value} [{interval}]" if interval else value for value, interval in
                    re.findall(r'<td class="best">([^<]*)(?:<span class="ci">\[([^]]*)\]'
                               r"</span>)?", table))
    assert marked == bold


def test_a_run_without_gallery_and_with_pxap_and_nonfinite_maps(tmp_path: Path) -> None:
    results = make_run(tmp_path / "run", gallery=False)
    results["methods"]["cam"]["pxap"] = 61.04
    results["methods"]["infocam"]["pxap"] = 70.06
    results["methods"]["gradcam"]["num_nonfinite_maps"] = 3
    results["methods"]["infocam+"]["num_constant_maps"] = 2
    (tmp_path / "run" / "results.json").write_text(json.dumps(results))
    markdown_path, html_path = write_reports(tmp_path / "run")
    markdown = markdown_path.read_text()
    header, rows = parse_markdown_tables(markdown)[0]
    column = header.index("PxAP")
    assert [r[column] for r in rows] == ["61.0", "–", "70.1", "–"]  # no records: no mark
    assert "Grad-CAM: 3 maps were not finite" in markdown
    assert "infoCAM+: 2 maps were constant" in markdown
    html = html_path.read_text()
    assert "data:image/jpeg" not in html and "Gallery" not in html
    assert "3 maps were not finite" in html


def test_paper_protocol_is_named_and_explained(tmp_path: Path) -> None:
    make_run(tmp_path / "run", protocol="paper", gallery=False)
    markdown_path, html_path = write_reports(tmp_path / "run")
    assert "- Protocol: paper" in markdown_path.read_text()
    assert "(the infoCAM authors&#x27; code)" in html_path.read_text()


def _break(run: Path, edit: callable) -> None:
    results = json.loads((run / "results.json").read_text())
    edit(results)
    (run / "results.json").write_text(json.dumps(results))


@pytest.mark.parametrize(
    ("breaker", "error", "needle"),
    [
        (lambda r: r.update(schema_version=7), DataFormatError, "schema_version is 7"),
        (lambda r: r.update(methods={}), DataFormatError, "'methods' must be a non-empty"),
        (lambda r: r["methods"]["cam"].pop("maxboxacc"), DataFormatError,
         "'methods.cam' lacks maxboxacc"),
        (lambda r: r["methods"]["cam"]["curves"]["v1"]["50"].pop(), DataFormatError,
         "one per threshold"),
        (lambda r: r.pop("protocol"), DataFormatError, "'protocol' must be an object"),
    ],
)
def test_malformed_results_raise_typed_errors(
    run_dir: Path, breaker: callable, error: type, needle: str
) -> None:
    _break(run_dir, breaker)
    with pytest.raises(error, match=re.escape(needle)):
        write_reports(run_dir)


def test_missing_or_broken_inputs_raise(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        write_reports(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match=r"holds no results\.json"):
        write_reports(tmp_path / "empty")
    (run_dir / "gallery.npz").rename(run_dir / "moved.npz")
    with pytest.raises(MissingFilesError, match=r"gallery\.npz"):
        write_reports(run_dir)
    (run_dir / "gallery.npz").write_bytes(b"not an archive")
    with pytest.raises(DataFormatError, match=r"not a readable \.npz"):
        write_reports(run_dir)
    with np.load(run_dir / "moved.npz") as archive:
        arrays = dict(archive)
    arrays["ious"] = arrays["ious"][:, :1]
    np.savez(run_dir / "gallery.npz", **arrays)
    with pytest.raises(DataFormatError, match="'ious' has shape"):
        write_reports(run_dir)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_cli_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    (tmp_path / "results.json").write_text(content)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wsol-bench: error:")
    assert str(tmp_path / "results.json") in err[0]
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
