"""Regenerate a profile's reports: validate params, make the data, execute every notebook.

`./run_all.sh --profile smoke` calls `python -m fashion_core.run --profile smoke`.
It validates every params file before any work, generates SynthFashion if it
is absent, executes each notebook with papermill into `reports/<profile>/`,
keeps going past a failing notebook, writes the index and exits non-zero
naming every notebook that failed. A report is replaced only by a complete
successful execution, never by half of one.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from fashion_core.io import atomic_path
from fashion_core.params import (
    PROFILES,
    ParamsError,
    load_data_config,
    resolve_path,
    validate_profile,
)
from fashion_core.paths import notebooks_dir, reports_dir, repo_root

PAPER_ORDER = ("synthfashion", "fashionnet", "liu2018", "dafe", "fpm", "m2fashion")
STAGE_ORDER = ("tour", "train", "tables", "attention", "report")


def notebook_sort_key(path: Path) -> tuple:
    """Numbered notebooks bracket the rest; every paper trains before any table reads another's metrics."""
    name = path.stem
    number = re.match(r"^(\d+)_", name)
    prefix = int(number.group(1)) if number else 50
    paper, _, stage = name.partition("_")
    return (
        prefix,
        STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER),
        PAPER_ORDER.index(paper) if paper in PAPER_ORDER else len(PAPER_ORDER),
        name,
    )


def discover_notebooks(only: list[str] | None = None) -> list[Path]:
    notebooks = sorted(notebooks_dir().glob("*.ipynb"), key=notebook_sort_key)
    if only:
        known = {path.stem: path for path in notebooks}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise ParamsError(f"--only names unknown notebooks: {', '.join(unknown)}; expected some of: {', '.join(known)}")
        notebooks = [path for path in notebooks if path.stem in only]
    return notebooks


def prepare_data(profile: str) -> str:
    """Generate SynthFashion when the profile uses it; check real roots exist otherwise. Returns the dataset label."""
    data = load_data_config(profile)
    if data.source == "synthfashion":
        from fashion_core.data.synthetic import SynthKnobs, ensure_synthfashion

        synth = data.synthfashion
        try:
            knobs = SynthKnobs(**synth.knobs)
        except TypeError as error:
            raise ParamsError(f"{data.path}: synthfashion.knobs: {error}") from None
        print(f"[data] SynthFashion for profile {profile!r} at {synth.out}", flush=True)
        ensure_synthfashion(
            resolve_path(synth.out), n_train=synth.n_train, n_val=synth.n_val, n_test=synth.n_test,
            size=synth.size, seed=synth.seed, knobs=knobs,
        )
    else:
        for key in ("deepfashion_c_root", "fld_root", "fashionai_root"):
            root = Path(data.value(key))
            if not root.is_dir():
                print(f"[data] warning: {key} = {root} does not exist; notebooks that need it will fail "
                      f"(set it in {data.path} or the environment)", flush=True)
    return data.dataset_label


def execute_notebook(notebook: Path, parameters: dict, profile: str) -> None:
    """Execute into a temporary file; only a complete run replaces reports/<profile>/<name>.ipynb."""
    import papermill

    directory = reports_dir(profile)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / notebook.name
    with atomic_path(target) as partial:
        try:
            papermill.execute_notebook(
                str(notebook), str(partial), parameters=parameters, kernel_name="python3",
                cwd=str(directory), progress_bar=True, log_output=False,
            )
        except Exception:
            failed = directory / ".failed" / notebook.name
            failed.parent.mkdir(exist_ok=True)
            if partial.exists():
                os.replace(partial, failed)
                print(f"[run] the failed execution is kept at {failed.relative_to(repo_root())}", flush=True)
            raise
    export_html(target)


def export_html(notebook: Path) -> None:
    import nbconvert
    import nbformat

    exporter = nbconvert.HTMLExporter()
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    with atomic_path(notebook.with_suffix(".html")) as tmp:
        tmp.write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_all.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="execute only these notebooks (names without .ipynb)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    # A run that resumes trained checkpoints is not a from-scratch run: the timing record says so.
    checkpoints_at_start = len(list((reports_dir(args.profile) / "checkpoints").glob("*.pt")))
    load_at_start = os.getloadavg()[0]
    try:
        # Validate every notebook's params, not just the selected ones: a typo is an error either way.
        parameters = validate_profile(args.profile, discover_notebooks())
        notebooks = discover_notebooks(args.only)
        print(f"[params] {len(notebooks)} notebooks, params for profile {args.profile!r} valid", flush=True)
        data_started = time.perf_counter()
        dataset_label = prepare_data(args.profile)
        data_seconds = time.perf_counter() - data_started
    except ParamsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from fashion_core.reports import write_index

    timings: list[tuple[str, float, str]] = [("(data)", data_seconds, "ok")]
    failed: list[str] = []
    for position, notebook in enumerate(notebooks, start=1):
        print(f"[run {position}/{len(notebooks)}] {notebook.stem}", flush=True)
        notebook_started = time.perf_counter()
        try:
            execute_notebook(notebook, parameters[notebook], args.profile)
            status = "ok"
        except Exception as error:  # keep going: one broken notebook must not hide the others' results
            failed.append(notebook.stem)
            status = "FAILED"
            print(f"[run] {notebook.stem} failed: {type(error).__name__}: {_error_summary(error)}", file=sys.stderr, flush=True)
        timings.append((notebook.stem, time.perf_counter() - notebook_started, status))

    index_md, _ = write_index(args.profile, dataset_label, [path.stem for path in notebooks], failed)
    total = time.perf_counter() - started
    print("\nTiming summary (seconds)")
    width = max(len(name) for name, _, _ in timings)
    for name, seconds, status in timings:
        print(f"  {name:<{width}}  {seconds:8.1f}  {status}")
    print(f"  {'total':<{width}}  {total:8.1f}")
    if args.only:
        # A subset's time is not the time of ./run_all.sh: keep the last complete run's record.
        print(f"[run] {TIMING_FILE} not rewritten: --only ran a subset of the notebooks")
    else:
        write_timing(args.profile, total, timings, failed, checkpoints_at_start, (load_at_start, os.getloadavg()[0]))
    print(f"\nIndex: {index_md.relative_to(repo_root())}")
    if failed:
        print(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


TIMING_FILE = "timing.json"


def machine_description() -> str:
    """The machine a run's time was measured on, e.g. '2 CPU cores, x86_64, Linux, Python 3.11.9'."""
    import platform

    return (f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.system()}, "
            f"Python {platform.python_version()}")


def write_timing(profile: str, total_seconds: float, timings: list[tuple[str, float, str]], failed: list[str],
                 checkpoints_at_start: int = 0, load_average: tuple[float, float] = (float("nan"), float("nan"))) -> Path:
    """reports/<profile>/timing.json (atomic): what the README's run_all timing line is generated from.

    checkpoints_at_start: trained checkpoints present when the run began (0 = a from-scratch run);
    load_average: the 1-minute load average at the start and the end (other work slows the run).
    """
    from fashion_core.io import write_json_atomic

    payload = {
        "profile": profile,
        "total_seconds": round(total_seconds, 1),
        "notebooks": {name: round(seconds, 1) for name, seconds, _ in timings},
        "failed": list(failed),
        "machine": machine_description(),
        "checkpoints_at_start": int(checkpoints_at_start),
        "load_average_start_end": [round(value, 2) for value in load_average],
    }
    return write_json_atomic(reports_dir(profile) / TIMING_FILE, payload)


def _error_summary(error: Exception) -> str:
    """The last line of an error message: papermill puts the notebook's own exception there."""
    text = str(error).strip().splitlines()
    return text[-1] if text else ""


if __name__ == "__main__":
    sys.exit(main())
