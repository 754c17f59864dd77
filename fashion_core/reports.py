"""Tables, figures and the report index under `reports/<profile>/`.

Every table is written twice, as CSV (for tools) and Markdown (for people),
and every write is atomic so a failed run never leaves half a report.
"""
from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from fashion_core.io import atomic_path, write_text_atomic
from fashion_core.paths import reports_dir

TABLES = "tables"
FIGURES = "figures"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"report artifact name {name!r}: expected letters, digits, '_', '-' or '.', no path separators")
    return name


def format_cell(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table; floats rounded so reruns print identical text."""
    frame = frame.reset_index() if not isinstance(frame.index, pd.RangeIndex) else frame
    header = [str(column) for column in frame.columns]
    rows = [[format_cell(value, digits).replace("|", "\\|") for value in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_table(frame: pd.DataFrame, name: str, profile: str, caption: str = "", digits: int = 4) -> None:
    """Write tables/<name>.csv and tables/<name>.md; the caption heads the Markdown file.

    Returns nothing, so a notebook cell ending in this call prints no machine-specific path.
    """
    directory = reports_dir(profile) / TABLES
    _check_name(name)
    with atomic_path(directory / f"{name}.csv") as tmp:
        frame.to_csv(tmp, float_format=f"%.{digits + 2}g")
    text = (f"{caption}\n\n" if caption else "") + markdown_table(frame, digits)
    write_text_atomic(directory / f"{name}.md", text)


def save_figure(figure, name: str, profile: str, dpi: int = 110) -> None:
    """Save a matplotlib figure as figures/<name>.png without a timestamp in its metadata."""
    target = reports_dir(profile) / FIGURES / f"{_check_name(name)}.png"
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})


def _first_heading(notebook: Path) -> str:
    import json

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


def write_index(profile: str, dataset_label: str, notebook_order: Iterable[str] = (), failed: Iterable[str] = ()) -> tuple[Path, Path]:
    """reports/<profile>/index.md and index.html: every executed notebook, table and figure."""
    directory = reports_dir(profile)
    order = {name: position for position, name in enumerate(notebook_order)}
    notebooks = sorted((path for path in directory.glob("*.ipynb") if not path.name.startswith(".")), key=lambda path: (order.get(path.stem, len(order)), path.stem))
    tables = sorted((directory / TABLES).glob("*.md"))
    figures = sorted((directory / FIGURES).glob("*.png"))
    failed = list(failed)
    title = f"Workbook reports — profile `{profile}`, dataset {dataset_label}"

    md = [f"# {title}", ""]
    if dataset_label.lower().startswith("synthfashion"):
        md += ["> Every number here was computed on **SynthFashion**, the workbook's procedural dataset. "
               "It is not a DeepFashion, FLD or FashionAI number and must not be compared with the papers' as if it were.", ""]
    if failed:
        md += ["**Failed notebooks:** " + ", ".join(failed), ""]
    md += ["## Notebooks", ""]
    for notebook in notebooks:
        html_name = notebook.with_suffix(".html").name
        html_link = f" ([HTML]({html_name}))" if (directory / html_name).exists() else ""
        md.append(f"- [{notebook.stem}]({notebook.name}){html_link}: {_first_heading(notebook)}")
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
    body.append("<h2>Notebooks</h2><ul>")
    for notebook in notebooks:
        html_name = notebook.with_suffix(".html").name
        target = html_name if (directory / html_name).exists() else notebook.name
        body.append(f'<li><a href="{html.escape(target)}">{html.escape(notebook.stem)}</a>: '
                    f"{html.escape(_first_heading(notebook))} (<a href=\"{html.escape(notebook.name)}\">ipynb</a>)</li>")
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
        body.append(f'<h3>{html.escape(figure.stem)}</h3><img src="{FIGURES}/{html.escape(figure.name)}" '
                    f'alt="{html.escape(figure.stem)}" style="max-width:100%">')
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    html_path = write_text_atomic(directory / "index.html", page)
    return md_path, html_path
