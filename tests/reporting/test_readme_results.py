"""README's Results block is generated from the committed reports, and says what they say."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fashion_core.cli import readme as readme_cli
from fashion_core.reporting import readme as readme_results
from fashion_core.reporting.readme import RESULTS_BEGIN, RESULTS_END

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (REPO / "reports" / "default" / "metrics").is_dir(),
                    reason="reports/default/metrics is absent: the default reports are not committed in this checkout")
def test_readme_block_matches_the_committed_default_reports(monkeypatch):
    monkeypatch.delenv("FASHION_WORKBOOK_ROOT", raising=False)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_results.replace_block(readme, readme_results.results_markdown("default")) == readme, (
        "README.md's Results block is stale: run python -m fashion_core.readme_results")
    # The block sits in the Results section, right after the two commands.
    assert readme.index("## The two commands") < readme.index("## Results") < readme.index(RESULTS_BEGIN)


def _row(name: str, values: dict[str, list[float]]) -> dict:
    return {"name": name, "seeds": [0, 1, 2], "per_seed": values}


@pytest.fixture
def fixture_root(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    metrics = tmp_path / "reports" / "fixture" / "metrics"
    metrics.mkdir(parents=True)
    fashionnet = {"dataset_label": "SynthFashion", "benchmark": "DeepFashion-C", "profile": "fixture", "rows": {
        "fashionnet": _row("FashionNet", {"ne_avg": [0.030, 0.031, 0.032], "category_top3": [0.8, 0.8, 0.8],
                                          "attr_all_top5": [0.3, 0.4, 0.5]}),
        "fashionnet_no_landmark_pooling": _row("FashionNet without landmark pooling", {
            "ne_avg": [0.05, 0.05, 0.05], "category_top3": [0.5, 0.5, 0.5], "attr_all_top5": [0.3, 0.3, 0.3]})}}
    dafe = {"dataset_label": "SynthFashion", "benchmark": "DeepFashion-C and FLD", "profile": "fixture", "rows": {
        "dafe_deepfashion_c": _row("DAFE", {"ne_avg": [0.06, 0.06, 0.06]}),
        "dafe_fld": _row("DAFE", {"ne_avg": [0.07, 0.07, 0.07]})}}
    (metrics / "fashionnet.json").write_text(json.dumps(fashionnet), encoding="utf-8")
    (metrics / "dafe.json").write_text(json.dumps(dafe), encoding="utf-8")
    (metrics / "dafe_claims.json").write_text("[]", encoding="utf-8")
    return tmp_path


def test_generator_on_a_fixture(fixture_root):
    block = readme_results.results_markdown("fixture")
    header = "[SynthFashion, DeepFashion-C format, profile fixture]"
    assert f"| row | seeds | NE avg ↓ {header} | category top-3 ↑ {header} |" in block
    assert "| FashionNet | 3 | 0.0310 ± 0.0010 | 0.8000 ± 0.0000 | 0.4000 ± 0.1000 |" in block
    # DAFE's two benchmarks become two columns of one row.
    assert "| DAFE | 3 | 0.0600 ± 0.0000 | 0.0700 ± 0.0000 |" in block
    assert "NE avg ↓ [SynthFashion, FLD format, profile fixture]" in block
    assert "Not run: reports/fixture/metrics/liu2018.json is absent." in block
    # The FashionNet claims are evaluated: landmark pooling holds on category (0.8 vs 0.5, sd 0).
    assert "| Liu et al. 2016 (FashionNet) | 1 | 0 | 1 | 0 | 2 |" in block
    assert "not timed yet" in block


def test_timing_line_reads_what_run_writes(fixture_root):
    from fashion_core.cli.run import write_timing

    path = write_timing("fixture", 125.0, [("(data)", 5.0, "ok"), ("fashionnet_train", 90.0, "ok"),
                                           ("fashionnet_tables", 30.0, "FAILED")], ["fashionnet_tables"])
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["total_seconds"] == 125.0 and payload["notebooks"]["fashionnet_train"] == 90.0
    assert "CPU cores" in payload["machine"]
    block = readme_results.results_markdown("fixture")
    assert "took **2.1 min** (125 s)" in block and "slowest: fashionnet_train 1.5 min" in block
    assert "Failed notebooks in that run: fashionnet_tables." in block
    assert "A from-scratch run" in block and "resumed" not in block


def test_a_resumed_run_is_not_reported_as_a_from_scratch_time(fixture_root):
    from fashion_core.cli.run import write_timing

    write_timing("fixture", 600.0, [("(data)", 5.0, "ok")], [], checkpoints_at_start=12, load_average=(2.5, 1.0))
    block = readme_results.results_markdown("fixture")
    assert "resumed 12 trained checkpoints, so it is not a from-scratch time" in block
    assert "Load average at start / end: 2.5 / 1.0." in block


def test_check_and_regenerate_a_readme(fixture_root, capsys):
    readme = fixture_root / "README.md"
    readme.write_text(f"# x\n\n## Results\n\n{RESULTS_BEGIN}\nold numbers\n{RESULTS_END}\n\n## Layout\n", encoding="utf-8")
    assert readme_cli.main(["--profile", "fixture", "--readme", str(readme), "--check"]) == 1
    assert readme_cli.main(["--profile", "fixture", "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "old numbers" not in text and text.endswith(f"{RESULTS_END}\n\n## Layout\n")
    assert readme_results.replace_block(text, readme_results.results_markdown("fixture")) == text
    assert readme_cli.main(["--profile", "fixture", "--readme", str(readme), "--check"]) == 0


def test_a_readme_without_markers_is_an_error():
    with pytest.raises(ValueError, match="expected exactly one"):
        readme_results.replace_block("# no block here\n", "x\n")
