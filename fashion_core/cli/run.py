"""Regenerate a profile's reports: validate params, make the data, execute every notebook.

`./run_all.sh --profile smoke` calls `python -m fashion_core.run --profile smoke`.
It validates every params file before any work, generates SynthFashion if it
is absent, executes each notebook with papermill into `reports/<profile>/`,
keeps going past a failing notebook, writes the index and exits non-zero
naming every notebook that failed.

Everything one notebook writes (the executed notebook, its HTML, metrics,
predictions, tables, figures, its provenance record) is staged and replaces
the previous set in one journaled commit, only when the notebook succeeds: a
kill at any moment leaves the complete previous set or the complete new one,
and the next start completes an interrupted commit or discards a killed run's
staging. One run at a time holds reports/<profile>/.lock.

On CPU profiles two notebooks run at once (`--jobs`), in three stages: the tour
and the training notebooks, then the tables and attention notebooks, then the
report. A notebook's results do not depend on what ran beside it: its training
runs are single-threaded worker processes (fashion_core.engine.parallel).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fashion_core.data.synthfashion.inshop import ensure_synthfashion_inshop
from fashion_core.data.synthfashion.writer import SynthKnobs, ensure_synthfashion
from fashion_core.io import (
    FolderLockedError,
    atomic_path,
    commit_staged_tree,
    folder_lock,
    recover_staged_trees,
    write_json_atomic,
)
from fashion_core.params import (
    DATA_ROOT_ENVIRONMENT,
    PROFILES,
    ParamsError,
    load_data_config,
    resolve_path,
    validate_profile,
)
from fashion_core.paths import (
    STAGING_ENVIRONMENT,
    STAGING_FOLDER,
    notebooks_dir,
    repo_root,
    reports_dir,
    staged_removals,
)
from fashion_core.reporting.index_page import write_index
from fashion_core.reporting.provenance import code_version, write_provenance

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
        inshop = data.synthfashion_inshop
        print(f"[data] SynthFashion In-shop for profile {profile!r} at {inshop.out}", flush=True)
        ensure_synthfashion_inshop(
            resolve_path(inshop.out), n_train_items=inshop.n_train_items, n_test_items=inshop.n_test_items,
            images_per_item=tuple(inshop.images_per_item), size=inshop.size, seed=inshop.seed, knobs=knobs,
        )
    else:
        for key in DATA_ROOT_ENVIRONMENT:
            root = Path(data.value(key))
            if not root.is_dir():
                print(f"[data] warning: {key} = {root} does not exist; notebooks that need it will fail "
                      f"(set it in {data.path} or the environment)", flush=True)
    return data.dataset_label


def waves(notebooks: list[Path]) -> list[list[Path]]:
    """Groups that may run at the same time, in order: the tour and the training notebooks, then the
    tables and attention notebooks (they read what training wrote), then the rest (the report reads all)."""
    groups: dict[int, list[Path]] = {}
    for notebook in notebooks:
        numbered = re.match(r"^(\d+)_", notebook.stem)
        stage = notebook.stem.partition("_")[2]
        if numbered and int(numbered.group(1)) >= 90:
            wave = 2
        elif stage in ("tour", "train") or numbered:
            wave = 0
        elif stage in ("tables", "attention"):
            wave = 1
        else:
            wave = 2
        groups.setdefault(wave, []).append(notebook)
    return [groups[wave] for wave in sorted(groups)]


def default_jobs(profile: str) -> int:
    """Notebooks executed at once: 2 on a CPU machine (one's runs fill the cores the other's tail leaves idle),
    1 for the paper profile (meant for a GPU, which one notebook's runs already occupy)."""
    return 1 if profile == "paper" else min(2, os.cpu_count() or 1)


def execute_in_subprocess(notebook: Path, profile: str, run: RunIdentity) -> None:
    """execute_notebook in a child Python process (papermill changes the working directory process-wide)."""
    code = ("import sys; from fashion_core.cli.run import execute_by_name; "
            "execute_by_name(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])")
    completed = subprocess.run([sys.executable, "-c", code, notebook.stem, profile, run.run_id,
                                run.code["git"], run.code["source_sha256"]], cwd=repo_root())
    if completed.returncode != 0:
        raise RuntimeError(f"the notebook's process exited with status {completed.returncode} (its error is above)")


def execute_by_name(name: str, profile: str, run_id: str, git: str, source_sha256: str) -> None:
    notebooks = discover_notebooks()
    notebook = {path.stem: path for path in notebooks}[name]
    run = RunIdentity(run_id, {"git": git, "source_sha256": source_sha256})
    try:
        execute_notebook(notebook, validate_profile(profile, notebooks)[notebook], profile, run, progress_bar=False)
    except Exception as error:
        print(f"[run] {name} failed: {type(error).__name__}: {_error_summary(error)}", file=sys.stderr, flush=True)
        sys.exit(1)


@dataclasses.dataclass(frozen=True)
class RunIdentity:
    """One ./run_all.sh invocation: its id and the code version, recorded in every report it writes."""

    run_id: str
    code: dict[str, str]

    @classmethod
    def new(cls) -> "RunIdentity":
        return cls(f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}", code_version())


def execute_notebook(notebook: Path, parameters: dict, profile: str, run: RunIdentity,
                     progress_bar: bool = True) -> None:
    """Execute into the notebook's staging folder; only a complete run replaces its whole set of files.

    The kernel writes everything (metrics, predictions, tables, figures) under
    reports/<profile>/.staging/<notebook>/ (fashion_core.paths.output_dir); on success the executed
    notebook, its HTML and its provenance join them and the set replaces the previous one in one
    commit (fashion_core.io.commit_staged_tree). On failure the set is discarded and the partial
    notebook is kept in .failed/ for reading. Checkpoints are not staged: their names carry their
    identity, so a new run never overwrites a file a committed report rests on.
    """
    # papermill brings the Jupyter machinery: loaded only when a notebook is executed.
    import papermill

    directory = reports_dir(profile)
    staging = directory / STAGING_FOLDER / notebook.stem
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    executed = staging / notebook.name
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    previous = os.environ.get(STAGING_ENVIRONMENT)
    os.environ[STAGING_ENVIRONMENT] = str(staging)  # inherited by the kernel papermill starts
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=parameters, kernel_name="python3",
            cwd=str(directory), progress_bar=progress_bar, log_output=False,
        )
        export_html(executed)
        write_provenance(staging, notebook.stem, run.run_id, run.code, profile, started,
                         time.strftime("%Y-%m-%d %H:%M:%S"))
    except BaseException:
        failed = directory / ".failed" / notebook.name
        failed.parent.mkdir(exist_ok=True)
        if executed.exists():
            os.replace(executed, failed)
            print(f"[run] the failed execution is kept at {failed.relative_to(repo_root())}", flush=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if previous is None:
            os.environ.pop(STAGING_ENVIRONMENT, None)
        else:
            os.environ[STAGING_ENVIRONMENT] = previous
    commit_staged_tree(staging, directory, staged_removals(staging))
    with contextlib.suppress(OSError):  # still holds another notebook's staging: that one removes it
        staging.parent.rmdir()


def export_html(notebook: Path) -> None:
    # nbconvert and nbformat bring the Jupyter machinery: loaded only when a report is exported.
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
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="notebooks executed at once within a stage (default: 2 on CPU profiles, 1 for paper)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

    started = time.perf_counter()
    try:
        # Validate every notebook's params, not just the selected ones: a typo is an error either way.
        parameters = validate_profile(args.profile, discover_notebooks())
        notebooks = discover_notebooks(args.only)
    except ParamsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    directory = reports_dir(args.profile)
    try:
        with folder_lock(directory, f"./run_all.sh --profile {args.profile}") as lock_notes:
            for line in lock_notes + recover_staged_trees(directory / STAGING_FOLDER, directory):
                print(f"[run] {line}", flush=True)
            return _run_profile(args, parameters, notebooks, started)
    except FolderLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except OSError as error:
        where = error.filename or directory
        print(f"error: cannot write to {where} ({error.strerror or error}); nothing already written there was "
              f"changed. Make {directory} writable (and check free space), then run again.", file=sys.stderr)
        return 1


def _run_profile(args: argparse.Namespace, parameters: dict, notebooks: list[Path], started: float) -> int:
    """Make the data, execute the notebooks stage by stage, write the index and the timing record."""
    # A run that resumes trained checkpoints is not a from-scratch run: the timing record says so.
    checkpoints_at_start = len(list((reports_dir(args.profile) / "checkpoints").glob("*.pt")))
    load_at_start = os.getloadavg()[0]
    print(f"[params] {len(notebooks)} notebooks, params for profile {args.profile!r} valid", flush=True)
    data_started = time.perf_counter()
    try:
        dataset_label = prepare_data(args.profile)
    except ParamsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    timings: list[tuple[str, float, str]] = [("(data)", time.perf_counter() - data_started, "ok")]
    jobs = args.jobs or default_jobs(args.profile)
    run = RunIdentity.new()
    print(f"[run] run {run.run_id}, code {run.code['git']} (sources {run.code['source_sha256']})", flush=True)
    failed = _execute_waves(notebooks, parameters, args.profile, jobs, run, timings)

    succeeded = len(notebooks) - len(failed)
    index_md = None
    write_error = None
    if succeeded or (reports_dir(args.profile) / "index.md").exists():
        try:
            index_md, _ = write_index(args.profile, dataset_label, [path.stem for path in notebooks], failed)
            if not args.only:
                write_timing(args.profile, time.perf_counter() - started, timings, failed, checkpoints_at_start,
                             (load_at_start, os.getloadavg()[0]), jobs)
        except OSError as error:
            write_error = error
    total = time.perf_counter() - started
    print("\nTiming summary (seconds)")
    width = max(len(name) for name, _, _ in timings)
    for name, seconds, status in timings:
        print(f"  {name:<{width}}  {seconds:8.1f}  {status}")
    print(f"  {'total':<{width}}  {total:8.1f}")
    if args.only:
        # A subset's time is not the time of ./run_all.sh: keep the last complete run's record.
        print(f"[run] {TIMING_FILE} not rewritten: --only ran a subset of the notebooks")
    if index_md is not None:
        print(f"\nIndex: {index_md.relative_to(repo_root())}")
    elif write_error is None:
        print("\n[run] no notebook succeeded and no index existed: the index was not written")
    status = 0
    if write_error is not None:
        print(f"error: cannot write {write_error.filename or reports_dir(args.profile)} "
              f"({write_error.strerror or write_error}); the notebooks' committed reports are unchanged by this "
              f"failure", file=sys.stderr)
        status = 1
    if failed:
        print(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        status = 1
    return status


def _execute_waves(notebooks: list[Path], parameters: dict, profile: str, jobs: int, run: RunIdentity,
                   timings: list[tuple[str, float, str]]) -> list[str]:
    """Execute every notebook, wave by wave, `jobs` at a time; append their timings; return the failed ones."""
    failed: list[str] = []
    position = 0

    def run_one(notebook: Path) -> tuple[str, float, str]:
        notebook_started = time.perf_counter()
        try:
            if jobs == 1:
                execute_notebook(notebook, parameters[notebook], profile, run)
            else:
                execute_in_subprocess(notebook, profile, run)
            status = "ok"
        except Exception as error:  # keep going: one broken notebook must not hide the others' results
            failed.append(notebook.stem)
            status = "FAILED"
            if jobs == 1:
                print(f"[run] {notebook.stem} failed: {type(error).__name__}: {_error_summary(error)}",
                      file=sys.stderr, flush=True)
        seconds = time.perf_counter() - notebook_started
        if jobs > 1:
            print(f"[run] {notebook.stem}: {status} ({seconds:.0f} s)", flush=True)
        return notebook.stem, seconds, status

    # Longest first within a stage, by the last complete run's times, so no core waits on one long notebook.
    previous = previous_timings(profile)
    for wave in waves(notebooks):
        if jobs == 1:
            for notebook in wave:
                position += 1
                print(f"[run {position}/{len(notebooks)}] {notebook.stem}", flush=True)
                timings.append(run_one(notebook))
            continue
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = []
            for notebook in sorted(wave, key=lambda notebook: -previous.get(notebook.stem, 0.0)):
                position += 1
                print(f"[run {position}/{len(notebooks)}] {notebook.stem} (queued; {jobs} at a time)", flush=True)
                futures.append(pool.submit(run_one, notebook))
            timings += [future.result() for future in futures]
    return failed


TIMING_FILE = "timing.json"


def previous_timings(profile: str) -> dict[str, float]:
    """Per-notebook seconds of the last complete run (reports/<profile>/timing.json), or {}."""
    path = reports_dir(profile) / TIMING_FILE
    try:
        return {str(name): float(seconds) for name, seconds in json.loads(path.read_text())["notebooks"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def machine_description() -> str:
    """The machine a run's time was measured on, e.g. '2 CPU cores, x86_64, Linux, Python 3.11.9'."""
    return (f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.system()}, "
            f"Python {platform.python_version()}")


def write_timing(profile: str, total_seconds: float, timings: list[tuple[str, float, str]], failed: list[str],
                 checkpoints_at_start: int = 0, load_average: tuple[float, float] = (float("nan"), float("nan")),
                 jobs: int = 1) -> Path:
    """reports/<profile>/timing.json (atomic): what the README's run_all timing line is generated from.

    checkpoints_at_start: trained checkpoints present when the run began (0 = a from-scratch run);
    load_average: the 1-minute load average at the start and the end (other work slows the run);
    jobs: notebooks executed at once (their per-notebook times then overlap).
    """

    payload = {
        "profile": profile,
        "total_seconds": round(total_seconds, 1),
        "notebooks": {name: round(seconds, 1) for name, seconds, _ in timings},
        "failed": list(failed),
        "machine": machine_description(),
        "checkpoints_at_start": int(checkpoints_at_start),
        "load_average_start_end": [round(value, 2) for value in load_average],
        "jobs": int(jobs),
    }
    return write_json_atomic(reports_dir(profile) / TIMING_FILE, payload)


def _error_summary(error: Exception) -> str:
    """The last line of an error message: papermill puts the notebook's own exception there."""
    text = str(error).strip().splitlines()
    return text[-1] if text else ""
