"""The report index has a section for every table the papers print, linking what reproduces it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from fashion_core.reporting import index_page

PAPERS = Path(__file__).resolve().parents[2].parent / "shared" / "papers"
# The "Table N." captions of the texts in ../shared/papers, as of this writing: the fallback when
# the texts are not next to the checkout, and a check that parsing them still finds them all.
KNOWN_CAPTIONS = {("chen_2019_dafe_landmark_detection", 1), ("chen_2019_dafe_landmark_detection", 2),
                  ("hu_2018_fashion_pose_machine", 1), ("wan_2022_m2fashion_attribute_aware_attention", 1),
                  ("wan_2022_m2fashion_attribute_aware_attention", 2), ("wan_2022_m2fashion_attribute_aware_attention", 3)}
# Tables named in the papers that the workbook does not reproduce, with the reason. Every caption in the
# texts is in scope: none of the five texts prints a table the workbook cannot at least partly rebuild
# (M2Fashion Table 3's DARN conditions become SynthFashion's attribute types, stated in its section).
OUT_OF_SCOPE: dict[tuple[str, int], str] = {}
CAPTION = re.compile(r"^\s*Table (\d+)\.\s+\S", re.MULTILINE)


def paper_table_captions() -> set[tuple[str, int]]:
    """(paper text stem, N) for every line that starts a "Table N." caption (not "as shown in Table N")."""
    return {(path.stem, int(number)) for path in sorted(PAPERS.glob("*.txt"))
            for number in CAPTION.findall(path.read_text(encoding="utf-8"))}


@pytest.fixture
def captions() -> set[tuple[str, int]]:
    if not PAPERS.is_dir():
        return set(KNOWN_CAPTIONS)
    parsed = paper_table_captions()
    assert KNOWN_CAPTIONS <= parsed, f"captions no longer found in {PAPERS}: {KNOWN_CAPTIONS - parsed}"
    return parsed


@pytest.fixture
def fixture_reports(tmp_path, monkeypatch):
    """A reports/<profile>/ with some of the saved tables and figures, and no metrics files."""
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    directory = tmp_path / "reports" / "fixture"
    for stem in ("dafe_table1_deepfashion_c", "m2fashion_table3"):
        (directory / "tables").mkdir(parents=True, exist_ok=True)
        (directory / "tables" / f"{stem}.md").write_text("| metric | x |\n|---|---|\n| a | 1 |\n", encoding="utf-8")
        (directory / "tables" / f"{stem}.csv").write_text("metric,x\na,1\n", encoding="utf-8")
    (directory / "figures").mkdir()
    (directory / "figures" / "fpm_stage_ne.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return directory


def _section(text: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##)", text, re.MULTILINE | re.DOTALL)
    assert match, f"index.md has no section '### {title}'"
    return match.group(1)


def test_every_paper_table_has_an_index_section(captions, fixture_reports):
    index_page.write_index("fixture", "SynthFashion")
    index_md = (fixture_reports / "index.md").read_text(encoding="utf-8")
    index_html = (fixture_reports / "index.html").read_text(encoding="utf-8")
    by_caption = {(entry.paper_file, entry.table): entry for entry in index_page.PAPER_TABLES if entry.table is not None}
    for caption in sorted(captions):
        if caption in OUT_OF_SCOPE:
            continue
        assert caption in by_caption, f"{caption[0]}.txt prints Table {caption[1]}, which no PAPER_TABLES entry covers"
        entry = by_caption[caption]
        assert entry.tables, f"{entry.title} links no saved table"
        _section(index_md, entry.title)
        assert f"<h3>{entry.title}</h3>" in index_html
    # Sections for tables no paper text prints would point nowhere.
    assert {key for key in by_caption} <= captions | set(OUT_OF_SCOPE)


def test_sections_link_what_exists_and_name_what_is_missing(fixture_reports):
    index_page.write_index("fixture", "SynthFashion")
    index_md = (fixture_reports / "index.md").read_text(encoding="utf-8")
    dafe = _section(index_md, "DAFE Table 1")
    assert "[CSV](tables/dafe_table1_deepfashion_c.csv)" in dafe
    assert "dafe_claims: not generated in this profile" in dafe
    assert "[fpm_stage_ne](figures/fpm_stage_ne.png)" in _section(index_md, "FPM Table 1")
    assert "fpm_table1_keypoint_ne: not generated in this profile" in _section(index_md, "FPM Table 1")
    # The papers without a printed table still get their section.
    for title in ("FashionNet (Liu et al. 2016) results", "Liu & Lu 2018 results"):
        _section(index_md, title)


def test_index_links_the_claims_ledger_with_every_claim_not_run(fixture_reports):
    from fashion_core.reporting.ledger import all_claims, LEDGER_TABLE, NOT_RUN

    index_page.write_index("fixture", "SynthFashion")
    index_md = (fixture_reports / "index.md").read_text(encoding="utf-8")
    assert f"[Claims ledger](tables/{LEDGER_TABLE}.md)" in index_md
    assert 'href="#claims_ledger"' in (fixture_reports / "index.html").read_text(encoding="utf-8")
    ledger_md = (fixture_reports / "tables" / f"{LEDGER_TABLE}.md").read_text(encoding="utf-8")
    # Verdict then note: "| not run | metrics/<paper>.json is missing: run ... |", once per claim.
    assert ledger_md.count(f"| {NOT_RUN} | metrics/") == len(all_claims())
    # The existing listing stays: the saved tables appear under "## Tables" too.
    assert "### dafe_table1_deepfashion_c" in index_md.split("## Tables", 1)[1]
