"""Where the workbook lives, independent of the kernel's working directory.

papermill runs a notebook in one directory and nbval re-runs it in another,
so no notebook may depend on its cwd: every relative path is resolved here.
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout holding `fashion_core/` (installed editable), or $FASHION_WORKBOOK_ROOT."""
    override = os.environ.get("FASHION_WORKBOOK_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[1]


def reports_dir(profile: str) -> Path:
    return repo_root() / "reports" / profile


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


# A notebook executed by run_all writes into its own staging folder, named by this variable;
# run_all moves the whole set into reports/<profile>/ only when the notebook succeeded.
STAGING_ENVIRONMENT = "FASHION_REPORT_STAGING"
STAGING_FOLDER = ".staging"
REMOVALS_FILE = ".removed"


def staging_dir(profile: str) -> Path | None:
    """The staging folder of the notebook running now, if run_all staged it for this profile."""
    staging = os.environ.get(STAGING_ENVIRONMENT)
    if not staging:
        return None
    staging_path = Path(staging).resolve()
    return staging_path if staging_path.parent == reports_dir(profile).resolve() / STAGING_FOLDER else None


def output_dir(profile: str) -> Path:
    """Where a report file is written: the staging folder under run_all, else reports/<profile>/."""
    return staging_dir(profile) or reports_dir(profile)


def report_file(profile: str, *parts: str) -> Path:
    """Where a report file is read: this run's staged copy if it wrote one, else the committed file."""
    staging = staging_dir(profile)
    if staging is not None and staging.joinpath(*parts).exists():
        return staging.joinpath(*parts)
    return reports_dir(profile).joinpath(*parts)


def report_files(profile: str, folder: str, pattern: str) -> list[Path]:
    """The files of reports/<profile>/<folder> matching pattern, this run's staged ones replacing committed ones."""
    found = {path.name: path for path in sorted((reports_dir(profile) / folder).glob(pattern))}
    staging = staging_dir(profile)
    if staging is not None:
        removed = set(staged_removals(staging))
        found = {name: path for name, path in found.items() if f"{folder}/{name}" not in removed}
        found.update({path.name: path for path in sorted((staging / folder).glob(pattern))})
    return [found[name] for name in sorted(found)]


def remove_report_file(profile: str, path: Path) -> None:
    """Remove a committed report file; under run_all the removal happens when the notebook's set is committed."""
    staging = staging_dir(profile)
    if staging is None:
        path.unlink(missing_ok=True)
        return
    relative = path.resolve().relative_to(reports_dir(profile).resolve()).as_posix()
    with open(staging / REMOVALS_FILE, "a", encoding="utf-8") as handle:
        handle.write(relative + "\n")


def staged_removals(staging: Path) -> list[str]:
    """Report files (relative to reports/<profile>/) a staged notebook removes when it is committed."""
    path = staging / REMOVALS_FILE
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line] if path.exists() else []
