"""What the reports say about the differences: pairing, prose, settings cards, coinciding curves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from evaluation.reports.data import settings_facts
from evaluation.reports.figures import identical_curves
from evaluation.reports.significance import pair_rows, significance_paragraphs
from evaluation.reports.writer import compare, paired_methods, write_reports
from evaluation.statistics.bootstrap import BootstrapSettings
from tests.evaluation.reports.report_fixtures import make_run, parse_markdown_tables


def test_runs_on_other_images_are_not_paired_and_nothing_is_marked(tmp_path: Path) -> None:
    make_run(tmp_path / "a", seed=1, gallery=False, images="first half")
    make_run(tmp_path / "b", seed=2, gallery=False, images="second half")
    markdown_path, html_path = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "out",
                                       BootstrapSettings(100))
    markdown = markdown_path.read_text()
    assert "Not paired: these runs evaluated different images" in markdown
    results_table = next(t for t in parse_markdown_tables(markdown) if "img/s" in t[0])
    assert not any(cell.startswith("**") for row in results_table[1] for cell in row)
    pairs = [row[0] for t in parse_markdown_tables(markdown) if t[0][0] == "Pair" for row in t[1]]
    assert pairs and all(p.count("a ·") == 2 or p.count("b ·") == 2 for p in pairs)
    assert '<td class="best">' not in html_path.read_text()


def test_runs_without_records_are_named(tmp_path: Path) -> None:
    make_run(tmp_path / "old", seed=1, gallery=False, records=False)
    make_run(tmp_path / "new", seed=2, gallery=False)
    markdown = compare([tmp_path / "old", tmp_path / "new"], tmp_path / "out",
                       BootstrapSettings(50))[0].read_text()
    assert "old kept no per-image records" in markdown


def test_the_paragraph_is_written_from_the_numbers(tmp_path: Path) -> None:
    make_run(tmp_path / "run", seed=4, methods=("cam", "infocam"), gallery=False)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    (group,) = paired_methods(tmp_path / "run", results)
    paragraphs = significance_paragraphs([group])
    comparison = group.comparison
    found = comparison.difference("maxboxacc_v2", 0, 1)
    ahead, behind = ("CAM", "infoCAM") if found.difference >= 0 else ("infoCAM", "CAM")
    sentence = (f"MaxBoxAccV2: {ahead} is ahead of {behind} by {abs(found.difference):.1f} "
                "points (95% interval")
    assert sentence in paragraphs[1]
    verdict = "significant" if found.significant else "within the noise"
    assert re.search(re.escape(sentence) + r"[^;]*\): " + verdict, paragraphs[1])
    total = sum(1 for key in comparison.differences if key[0] in (
        "maxboxacc_v2", "maxboxacc", "gt_known_loc", "top1_loc", "pointing_game",
        "energy_pointing_game"))
    assert paragraphs[0].startswith(f"Of the {total} paired differences")


def test_rows_without_records_or_alone_are_not_compared() -> None:
    assert pair_rows([{"method": "cam"}], [None], [None], BootstrapSettings(10)) == []
    assert "nothing is marked best" in significance_paragraphs([])[0]


def test_settings_that_change_the_numbers_are_listed() -> None:
    results = {
        "dataset": {"name": "tiny-imagenet", "num_images": 1500},
        "model": {"name": "small-cnn", "initialisation": "random (seed 3)"},
        "config": {"limit": 1500, "class_map": "imagenet1k", "window": 5, "padding": None,
                   "image_size": 64},
    }
    facts = dict(settings_facts(results))
    assert facts["Subset (--limit)"] == "the first 1500 images of the split"
    assert facts["Class map"].startswith("imagenet1k")
    assert facts["Weights"] == "random (seed 3): an untrained model"
    assert facts["Protocol overrides"] == "--window 5, --image-size 64"
    results["model"]["initialisation"] = "checkpoint"
    results["config"] = {"limit": None, "class_map": None}
    assert settings_facts(results) == []


def test_the_html_shows_settings_cards_error_bars_and_coinciding_curves(tmp_path: Path) -> None:
    results = make_run(tmp_path / "run", seed=5, gallery=False)
    results["config"]["limit"] = 40
    results["methods"]["gradcam"]["curves"] = json.loads(
        json.dumps(results["methods"]["cam"]["curves"]))
    results["methods"]["gradcam"]["curves"]["v1"]["50"][3] += 0.25  # one image of 400
    (tmp_path / "run" / "results.json").write_text(json.dumps(results))
    markdown_path, html_path = write_reports(tmp_path / "run")
    html = html_path.read_text()
    assert '<div class="setting"><dt>Subset (--limit)</dt>' in html
    assert "**Subset (--limit)**: the first 40 images of the split" in markdown_path.read_text()
    assert ("Grad-CAM's curves coincide with CAM's</b> (no point differs by more than 0.25"
            in html)
    bars = html.count('<svg class="eb"')
    intervals = sum(
        1 for m in results["methods"].values()
        for key in ("top1_cls", "gt_known_loc", "top1_loc", "top5_loc", "maxboxacc",
                    "maxboxacc_v2", "gt_known_loc_best", "top1_loc_best", "top5_loc_best",
                    "pointing_game", "pointing_game_tolerant", "energy_pointing_game",
                    "relevance_mass_accuracy", "relevance_rank_accuracy",
                    "top_k_intersection", "auc")
        if m["intervals"].get(key)
    ) + 3 * len(results["methods"])  # the V2 parts
    assert bars == intervals


def test_coinciding_curves_are_found_within_half_a_point() -> None:
    taus = [0.0, 0.5]
    base = {"thresholds": taus, "curves": {"v1": {"50": [10.0, 20.0]}, "v2": {}}}
    close = {"thresholds": taus, "curves": {"v1": {"50": [10.4, 20.0]}, "v2": {}}}
    apart = {"thresholds": taus, "curves": {"v1": {"50": [10.6, 20.0]}, "v2": {}}}
    found = identical_curves({"cam": base, "gradcam": close, "infocam": apart})
    assert list(found) == ["gradcam"]
    assert found["gradcam"][0] == "cam" and np.isclose(found["gradcam"][1], 0.4)
