"""What the reports say of a ``paper-as-published`` run: the warning, the quirks, both averages."""

from __future__ import annotations

from pathlib import Path

from evaluation.reports.data import (
    how_to_read,
    method_rows,
    protocol_warning,
    published_table,
)
from evaluation.reports.html import render_html
from evaluation.reports.markdown import render_markdown
from tests.evaluation.reports.report_fixtures import make_run

QUIRKS = [{"name": "running-mean-accuracy", "description": "Means of running ratios."},
          {"name": "cub-boxes-unclipped", "description": "Raw CUB boxes."}]


def _published_run(tmp_path: Path) -> dict:
    results = make_run(tmp_path / "run", methods=("cam", "infocam"), protocol="paper")
    results["protocol"].update(name="paper-as-published", quirks=QUIRKS,
                               running_mean_batch_size=128)
    results["methods"]["cam"]["published"] = {"gt_known_loc": 72.25, "top1_loc": 38.0}
    results["methods"]["infocam"]["published"] = {"gt_known_loc": 61.0, "top1_loc": 40.5}
    return results


def test_how_to_read_explains_every_quirk_after_the_protocol_note(tmp_path: Path) -> None:
    paragraphs = how_to_read(_published_run(tmp_path))
    assert paragraphs[0].startswith("Protocol paper-as-published: the paper protocol")
    assert paragraphs[1:3] == ["Quirk running-mean-accuracy: Means of running ratios.",
                               "Quirk cub-boxes-unclipped: Raw CUB boxes."]
    assert paragraphs[3].startswith("Each method turns the model's evidence")
    paper = make_run(tmp_path / "paper", methods=("cam",), protocol="paper")
    assert not any(p.startswith("Quirk") for p in how_to_read(paper))


def test_the_warning_is_for_paper_as_published_only(tmp_path: Path) -> None:
    assert protocol_warning(_published_run(tmp_path)) == (
        "paper-as-published reproduces the authors' quirks; cite these numbers only to compare "
        "with the paper."
    )
    assert protocol_warning(make_run(tmp_path / "paper", protocol="paper")) == ""


def test_published_table_puts_final_and_published_side_by_side(tmp_path: Path) -> None:
    results = _published_run(tmp_path)
    columns, rows, caption = published_table(method_rows(results), results)
    assert [c.key for c in columns] == ["gt_known_loc", "published_gt_known_loc", "top1_loc",
                                        "published_top1_loc"]
    assert [(r["label"], r["published_gt_known_loc"], r["published_top1_loc"]) for r in rows] == [
        ("CAM", 72.25, 38.0), ("infoCAM", 61.0, 40.5)
    ]
    assert rows[0]["gt_known_loc"] == results["methods"]["cam"]["gt_known_loc"]
    assert "each of the batches of 128 images in dataset order" in caption
    paper = make_run(tmp_path / "paper", protocol="paper")
    assert published_table(method_rows(paper), paper)[1] == []


def test_both_reports_show_the_warning_and_the_table(tmp_path: Path) -> None:
    results = _published_run(tmp_path)
    markdown = render_markdown(results)
    assert markdown.splitlines()[2] == (
        "> **For comparison with the paper only.** paper-as-published reproduces the authors' "
        "quirks; cite these numbers only to compare with the paper."
    )
    final = results["methods"]["cam"]["gt_known_loc"]
    assert "## Final ratios and the authors' published averages" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| CAM | ")
               and "72.2" in line)
    assert row.split(" | ")[1].startswith(f"{final:.1f} [")
    html = render_html(results, None)
    assert "For comparison with the paper only." in html
    assert "GT-known Loc (published)" in html and "Quirk cub-boxes-unclipped" in html
    plain = render_markdown(make_run(tmp_path / "paper", protocol="paper"))
    assert "published" not in plain.lower() and "comparison with the paper only" not in plain
