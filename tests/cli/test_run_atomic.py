"""run_all's reports change as whole sets: a kill leaves the previous set or the new one, never a mix."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from notebook_fixtures import write_notebook, write_workbook

from fashion_core.cli import run
from fashion_core.io import COMMIT_JOURNAL, LOCK_FILE, folder_lock, recover_staged_trees

# A notebook that writes a metrics file and a table through the package's writers, then, when
# TOY_HANG names a file, creates it and waits to be killed.
WRITER_BODY = """
import os, pathlib, time
from fashion_core.io import write_json_atomic, write_text_atomic
from fashion_core.paths import output_dir
write_json_atomic(output_dir('smoke') / 'metrics' / 'toy.json', {'value': value})
write_text_atomic(output_dir('smoke') / 'tables' / 'toy.md', f'value {value}\\n')
if os.environ.get('TOY_HANG'):
    pathlib.Path(os.environ['TOY_HANG']).touch()
    time.sleep(600)
print('wrote value', value)
"""


@pytest.fixture()
def workbook(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    write_workbook(tmp_path)
    write_notebook(tmp_path / "notebooks" / "10_toy.ipynb", WRITER_BODY)
    return tmp_path


def _set(reports: Path) -> dict[str, str]:
    """The committed report files of the toy notebook, by relative path."""
    names = ["10_toy.ipynb", "10_toy.html", "metrics/toy.json", "tables/toy.md", "provenance/10_toy.json"]
    return {name: (reports / name).read_text() for name in names if (reports / name).exists()}


def _run_all(root: Path, *arguments: str, env: dict | None = None, **options) -> subprocess.Popen:
    environment = {**os.environ, "FASHION_WORKBOOK_ROOT": str(root), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "fashion_core.run", "--profile", "smoke", *arguments],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **options)


def test_kill_during_a_report_keeps_the_previous_set_and_the_next_run_cleans_up(workbook):
    reports = workbook / "reports" / "smoke"
    (workbook / "params" / "smoke" / "10_toy.yaml").write_text("value: 1\n")
    assert run.main(["--profile", "smoke", "--jobs", "1"]) == 0
    before = _set(reports)
    assert json.loads(before["metrics/toy.json"]) == {"value": 1} and len(before) == 5

    (workbook / "params" / "smoke" / "10_toy.yaml").write_text("value: 2\n")
    ready = workbook / "hanging"
    process = _run_all(workbook, "--jobs", "1", env={"TOY_HANG": str(ready)})
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the notebook never reached its hang"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the whole tree: run_all, papermill's kernel
    process.wait()
    # The new metrics and table exist only in the staging folder; the committed set is the old one.
    assert (reports / ".staging" / "10_toy" / "metrics" / "toy.json").exists()
    assert _set(reports) == before

    completed = _run_all(workbook, "--jobs", "1")
    output, _ = completed.communicate(timeout=300)
    assert completed.returncode == 0, output
    assert "discarded the unfinished output of 10_toy" in output
    after = _set(reports)
    assert json.loads(after["metrics/toy.json"]) == {"value": 2} and "value 2" in after["tables/toy.md"]
    assert "wrote value 2" in after["10_toy.ipynb"] and len(after) == 5
    assert not (reports / ".staging").exists() or not any((reports / ".staging").iterdir())
    assert not list(reports.rglob(".*.tmp*")) and not (reports / LOCK_FILE).exists()


def test_an_interrupted_commit_is_completed_at_the_next_start(tmp_path):
    target, staging = tmp_path / "reports", tmp_path / "reports" / ".staging" / "toy"
    (target / "metrics").mkdir(parents=True)
    (target / "metrics" / "toy.json").write_text("old")
    (target / "tables").mkdir()
    (target / "tables" / "toy.md").write_text("old")
    (target / "tables" / "gone.md").write_text("removed by the new set")
    (staging / "tables").mkdir(parents=True)
    (staging / "tables" / "toy.md").write_text("new")
    # Killed after the journal was written and the metrics file moved, before the table and the removal.
    (staging / COMMIT_JOURNAL).write_text(json.dumps(
        {"moves": ["metrics/toy.json", "tables/toy.md"], "removals": ["tables/gone.md"]}))
    (target / "metrics" / "toy.json").write_text("new")

    said = recover_staged_trees(target / ".staging", target)

    assert said == ["completed the interrupted commit of toy"]
    assert (target / "metrics" / "toy.json").read_text() == "new"
    assert (target / "tables" / "toy.md").read_text() == "new"
    assert not (target / "tables" / "gone.md").exists() and not staging.exists()


def test_a_second_run_on_the_same_reports_is_refused_and_a_stale_lock_replaced(workbook, capsys):
    reports = workbook / "reports" / "smoke"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        reports.mkdir(parents=True)
        with folder_lock(reports, "a test holding the lock"):
            lock = json.loads((reports / LOCK_FILE).read_text())
            (reports / LOCK_FILE).write_text(json.dumps({**lock, "pid": holder.pid}))
            assert run.main(["--profile", "smoke", "--jobs", "1"]) == 3
            error = capsys.readouterr().err
            assert f"{reports} is in use by PID {holder.pid}" in error and "a test holding the lock" in error
            assert not (reports / "10_toy.ipynb").exists()
    finally:
        holder.kill()
        holder.wait()
    (reports / LOCK_FILE).write_text(json.dumps({**lock, "pid": holder.pid}))  # its process is gone now
    assert run.main(["--profile", "smoke", "--jobs", "1"]) == 0
    assert f"replaced the stale lock {reports / LOCK_FILE} of PID {holder.pid}" in capsys.readouterr().out
    assert not (reports / LOCK_FILE).exists()


def test_unwritable_reports_give_one_error_naming_the_path_and_lose_nothing(workbook, capsys, monkeypatch):
    reports = workbook / "reports" / "smoke"
    assert run.main(["--profile", "smoke", "--jobs", "1"]) == 0
    before = _set(reports)
    capsys.readouterr()

    real_open = os.open

    def read_only_open(path, flags, *arguments, **keywords):
        if str(path).startswith(str(reports)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(30, "Read-only file system", str(path))
        return real_open(path, flags, *arguments, **keywords)

    monkeypatch.setattr(os, "open", read_only_open)
    assert run.main(["--profile", "smoke", "--jobs", "1"]) == 1
    error = capsys.readouterr().err
    assert f"cannot write to {reports / LOCK_FILE} (Read-only file system)" in error
    assert "nothing already written there was changed" in error
    monkeypatch.undo()
    assert _set(reports) == before


def test_a_full_disk_mid_run_fails_the_notebook_keeps_the_old_set_and_still_prints_the_summary(
        workbook, capsys, monkeypatch):
    reports = workbook / "reports" / "smoke"
    assert run.main(["--profile", "smoke", "--jobs", "1"]) == 0
    before = _set(reports)
    capsys.readouterr()
    (workbook / "params" / "smoke" / "10_toy.yaml").write_text("value: 5\n")

    def full_disk(*arguments, **keywords):
        raise OSError(28, "No space left on device", str(reports / "index.md"))

    monkeypatch.setattr(run, "commit_staged_tree", full_disk)
    monkeypatch.setattr(run, "write_index", full_disk)
    assert run.main(["--profile", "smoke", "--jobs", "1"]) == 1
    captured = capsys.readouterr()
    assert "Timing summary" in captured.out and "FAILED" in captured.out
    assert f"cannot write {reports / 'index.md'} (No space left on device)" in captured.err
    assert "1 notebook(s) failed: 10_toy" in captured.err
    assert _set(reports) == before


def test_a_failed_paper_run_leaves_nothing_outside_ignored_paths(workbook):
    repository = Path(__file__).resolve().parents[2]
    (workbook / ".gitignore").write_text((repository / ".gitignore").read_text())
    write_notebook(workbook / "notebooks" / "10_toy.ipynb", "raise FileNotFoundError('no DeepFashion here')\n")
    git = ["git", "-C", str(workbook), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "workbook"], check=True)

    completed = subprocess.run([sys.executable, "-m", "fashion_core.run", "--profile", "paper"],
                               env={**os.environ, "FASHION_WORKBOOK_ROOT": str(workbook)},
                               capture_output=True, text=True, timeout=300)

    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "1 notebook(s) failed: 10_toy" in completed.stderr
    status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    assert status == ""
