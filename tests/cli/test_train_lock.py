"""python -m fashion_core.train refuses an --out folder another live run holds."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fashion_core.cli import train
from fashion_core.io import LOCK_FILE, folder_lock


def test_a_second_training_on_the_same_out_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with folder_lock(out, "python -m fashion_core.train --model dafe"):
            record = json.loads((out / LOCK_FILE).read_text())
            (out / LOCK_FILE).write_text(json.dumps({**record, "pid": holder.pid}))
            with pytest.raises(SystemExit) as stopped:
                train.main(["--model", "dafe", "--data", str(tmp_path / "no-data-needed"), "--profile", "smoke",
                            "--out", str(out)])
    finally:
        holder.kill()
        holder.wait()
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("python -m fashion_core.train: error: ")
    assert f"{out} is in use by PID {holder.pid}" in error and f"delete {out / LOCK_FILE}" in error
