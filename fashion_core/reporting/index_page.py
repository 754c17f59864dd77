"""The report index: reports/<profile>/index.md and index.html, with the claims ledger and a section per paper table."""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from fashion_core.io import write_text_atomic
from fashion_core.paths import reports_dir
from fashion_core.reporting.artifacts import FIGURES, TABLES, format_cell, markdown_table
from fashion_core.reporting.ledger import LEDGER_TABLE, VERDICT_RULE, save_ledger, verdict_counts
from fashion_core.reporting.provenance import describe, load_provenance


def _first_heading(notebook: Path) -> str:
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return notebook.stem
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return notebook.stem


@dataclass(frozen=True)
class PaperTable:
    """One table a paper prints, and the saved tables and figures of the workbook that reproduce it."""

    title: str                # the index section's heading, e.g. "DAFE Table 1"
    paper_file: str | None    # stem of the paper's text in ../shared/papers/ whose "Table N." caption this is
    table: int | None         # N of that caption; None when the text available prints no table
    caption: str              # what the paper's table (or, without one, its results) shows
    tables: tuple[str, ...]   # stems under reports/<profile>/tables/
    figures: tuple[str, ...] = ()  # stems under reports/<profile>/figures/


# Every "Table N." caption in the papers' texts has a section (tests/reporting/test_index.py parses them).
# FashionNet's text is a blog summary and Liu & Lu's stops before its tables: neither prints a
# table, but their results are reproduced and quoted by the other papers, so they get a section too.
PAPER_TABLES: tuple[PaperTable, ...] = (
    PaperTable("FashionNet (Liu et al. 2016) results", "liu_2016_deepfashion_fashionnet_summary", None,
               "Landmark NE, category top-k and attribute recall@k on DeepFashion-C (the summary text prints no "
               "table; the paper's numbers are quoted from DAFE Table 1 and M2Fashion Table 1), and the "
               "landmark-pooling claim",
               ("fashionnet_landmark_ne", "fashionnet_category_attributes", "fashionnet_claims"),
               ("fashionnet_training_curves", "fashionnet_attention_grid")),
    PaperTable("Liu & Lu 2018 results", "liu_lu_2018_upsampling_landmark_attention", None,
               "Landmark NE (the authors' README) and category top-k and attribute recall@k (M2Fashion Table 1, "
               "row 'Upsampling') on DeepFashion-C; the text available stops before the paper's tables",
               ("liu2018_landmark_ne", "liu2018_category_attributes", "liu2018_claims"),
               ("liu2018_training_curves", "liu2018_attention_grid")),
    PaperTable("DAFE Table 1", "chen_2019_dafe_landmark_detection", 1,
               "The normalized error on Deepfashion-C dataset",
               ("dafe_table1_deepfashion_c", "dafe_claims", "dafe_row_provenance", "dafe_quality"),
               ("dafe_training_curves_deepfashion_c", "dafe_attention_grid_deepfashion_c")),
    PaperTable("DAFE Table 2", "chen_2019_dafe_landmark_detection", 2,
               "The normalized error on FLD dataset",
               ("dafe_table2_fld", "dafe_claims"), ("dafe_training_curves_fld",)),
    PaperTable("FPM Table 1", "hu_2018_fashion_pose_machine", 1,
               "Quantitative results for clothing landmark detection on the FashionAI datasets with normalized "
               "error (NE), by keypoint group",
               ("fpm_table1_keypoint_ne", "fpm_stage_ne", "fpm_claims"),
               ("fpm_stage_ne", "fpm_training_curves", "fpm_attention_grid")),
    PaperTable("M2Fashion Table 1", "wan_2022_m2fashion_attribute_aware_attention", 1,
               "Performance comparison of different models on DeepFashion-C dataset",
               ("m2fashion_table1", "m2fashion_claims"), ("m2fashion_training_curves", "m2fashion_attention_grid")),
    PaperTable("M2Fashion Table 2", "wan_2022_m2fashion_attribute_aware_attention", 2,
               "Performance comparison of different learning methods and pooling methods",
               ("m2fashion_table2", "m2fashion_claims")),
    PaperTable("M2Fashion Table 3", "wan_2022_m2fashion_attribute_aware_attention", 3,
               "Performance comparison of attribute-specific fashion retrieval on DARN using MAP "
               "(reproduced on SynthFashion's attribute types, not DARN)",
               ("m2fashion_table3", "m2fashion_claims")),
)


def _paper_table_markdown(directory: Path, entry: PaperTable) -> list[str]:
    lines = [f"### {entry.title}", "", f"*{entry.caption}.*", ""]
    for stem in entry.tables:
        if (directory / TABLES / f"{stem}.md").exists():
            lines.append(f"- table [{stem}](#{stem}): "
                         f"[CSV]({TABLES}/{stem}.csv) · [Markdown]({TABLES}/{stem}.md)")
        else:
            lines.append(f"- table {stem}: not generated in this profile")
    for stem in entry.figures:
        if (directory / FIGURES / f"{stem}.png").exists():
            lines.append(f"- figure [{stem}]({FIGURES}/{stem}.png)")
        else:
            lines.append(f"- figure {stem}: not generated in this profile")
    return lines + [""]


def _paper_table_html(directory: Path, entry: PaperTable) -> list[str]:
    items = []
    for stem in entry.tables:
        name = html.escape(stem)
        if (directory / TABLES / f"{stem}.md").exists():
            items.append(f'<li>table <a href="#{name}">{name}</a>: <a href="{TABLES}/{name}.csv">CSV</a> · '
                         f'<a href="{TABLES}/{name}.md">Markdown</a></li>')
        else:
            items.append(f"<li>table {name}: not generated in this profile</li>")
    for stem in entry.figures:
        name = html.escape(stem)
        if (directory / FIGURES / f"{stem}.png").exists():
            items.append(f'<li>figure <a href="{FIGURES}/{name}.png">{name}</a></li>')
        else:
            items.append(f"<li>figure {name}: not generated in this profile</li>")
    return [f"<h3>{html.escape(entry.title)}</h3><p><em>{html.escape(entry.caption)}.</em></p><ul>", *items, "</ul>"]


def write_index(profile: str, dataset_label: str, notebook_order: Iterable[str] = (), failed: Iterable[str] = ()) -> tuple[Path, Path]:
    """reports/<profile>/index.md and index.html.

    The claims ledger (written here from the metrics files, tables/claims_ledger.*), a section per
    paper table (PAPER_TABLES) linking what reproduces it, then every executed notebook, table and figure.
    """
    directory = reports_dir(profile)
    ledger = save_ledger(profile)
    order = {name: position for position, name in enumerate(notebook_order)}
    notebooks = sorted((path for path in directory.glob("*.ipynb") if not path.name.startswith(".")), key=lambda path: (order.get(path.stem, len(order)), path.stem))
    tables = sorted((directory / TABLES).glob("*.md"))
    figures = sorted((directory / FIGURES).glob("*.png"))
    failed = list(failed)
    provenance = load_provenance(profile)
    title = f"Workbook reports — profile `{profile}`, dataset {dataset_label}"

    md = [f"# {title}", ""]
    if dataset_label.lower().startswith("synthfashion"):
        md += ["> Every number here was computed on **SynthFashion**, the workbook's procedural dataset. "
               "It is not a DeepFashion, FLD or FashionAI number and must not be compared with the papers' as if it were.", ""]
    if failed:
        md += ["**Failed notebooks:** " + ", ".join(failed), ""]
    counts = verdict_counts(ledger)
    md += ["## Claims ledger", "",
           f"[Claims ledger]({TABLES}/{LEDGER_TABLE}.md) ([CSV]({TABLES}/{LEDGER_TABLE}.csv)): every claim of the "
           f"five papers the workbook tests, the paper's numbers beside the reproduced ones, and the verdict.", "",
           f"Verdict rule: {VERDICT_RULE}", "", markdown_table(counts).rstrip(), "",
           "## The papers' tables", "",
           "Each table the papers print, and the workbook's tables and figures that reproduce it.", ""]
    for entry in PAPER_TABLES:
        md += _paper_table_markdown(directory, entry)
    md += ["## Notebooks", ""]
    for notebook in notebooks:
        html_name = notebook.with_suffix(".html").name
        html_link = f" ([HTML]({html_name}))" if (directory / html_name).exists() else ""
        md.append(f"- [{notebook.stem}]({notebook.name}){html_link}: {_first_heading(notebook)} "
                  f"({describe(provenance.get(notebook.stem))})")
    md += ["", "## Tables", ""]
    for table in tables:
        md += [f"### {table.stem}", "", f"[CSV]({TABLES}/{table.stem}.csv) · [Markdown]({TABLES}/{table.name})", "",
               table.read_text(encoding="utf-8").rstrip(), ""]
    md += ["## Figures", ""]
    for figure in figures:
        md += [f"### {figure.stem}", "", f"![{figure.stem}]({FIGURES}/{figure.name})", ""]
    md_path = write_text_atomic(directory / "index.md", "\n".join(md) + "\n")

    body = [f"<h1>{html.escape(title)}</h1>"]
    if dataset_label.lower().startswith("synthfashion"):
        body.append("<p><strong>Every number here was computed on SynthFashion</strong>, the workbook's procedural dataset, "
                    "not on DeepFashion, FLD or FashionAI.</p>")
    if failed:
        body.append(f"<p><strong>Failed notebooks:</strong> {html.escape(', '.join(failed))}</p>")
    body.append(f'<h2>Claims ledger</h2><p><a href="#{LEDGER_TABLE}">Claims ledger</a> '
                f'(<a href="{TABLES}/{LEDGER_TABLE}.csv">CSV</a> · <a href="{TABLES}/{LEDGER_TABLE}.md">Markdown</a>): '
                "every claim of the five papers the workbook tests, the paper's numbers beside the reproduced ones, "
                f"and the verdict.</p><p>Verdict rule: {html.escape(VERDICT_RULE)}</p>")
    body.append(counts.to_html(border=0))
    body.append("<h2>The papers' tables</h2>")
    for entry in PAPER_TABLES:
        body.extend(_paper_table_html(directory, entry))
    body.append("<h2>Notebooks</h2><ul>")
    for notebook in notebooks:
        html_name = notebook.with_suffix(".html").name
        target = html_name if (directory / html_name).exists() else notebook.name
        body.append(f'<li><a href="{html.escape(target)}">{html.escape(notebook.stem)}</a>: '
                    f"{html.escape(_first_heading(notebook))} (<a href=\"{html.escape(notebook.name)}\">ipynb</a>; "
                    f"{html.escape(describe(provenance.get(notebook.stem)))})</li>")
    body.append("</ul><h2>Tables</h2>")
    for table in tables:
        csv_path = directory / TABLES / f"{table.stem}.csv"
        frame = pd.read_csv(csv_path, index_col=0) if csv_path.exists() else pd.DataFrame()
        body.append(f'<h3 id="{html.escape(table.stem)}">{html.escape(table.stem)}</h3>'
                    f'<p><a href="{TABLES}/{html.escape(table.stem)}.csv">CSV</a> · '
                    f'<a href="{TABLES}/{html.escape(table.name)}">Markdown</a></p>')
        body.append(frame.to_html(float_format=lambda value: format_cell(float(value)), border=0))
    body.append("<h2>Figures</h2>")
    for figure in figures:
        body.append(f'<h3 id="{html.escape(figure.stem)}">{html.escape(figure.stem)}</h3><img src="{FIGURES}/{html.escape(figure.name)}" '
                    f'alt="{html.escape(figure.stem)}" style="max-width:100%">')
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    html_path = write_text_atomic(directory / "index.html", page)
    return md_path, html_path
