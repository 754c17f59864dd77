#!/usr/bin/env bash
# Sourced by run_all.sh and run_tests.sh: create .venv with Python 3.11 if it is
# missing, (re)install the project with the exact versions of requirements.lock when
# pyproject.toml or the lock changed, then activate it. scripts/lock.sh regenerates the lock.
set -euo pipefail

WORKBOOK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$WORKBOOK_ROOT/.venv"
LOCK="$WORKBOOK_ROOT/requirements.lock"
# One digest of both inputs: a new lock reinstalls like a new pyproject.toml.
STAMP="$VENV/.installed-pyproject-and-lock.sha256"

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: the workbook needs Python 3.11 (torch 2.14.1 wheels); set PYTHON=/path/to/python3.11" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PYTHON_BIN="$(find_python)"
    echo "[setup] creating $VENV with $("$PYTHON_BIN" --version)"
    "$PYTHON_BIN" -m venv "$VENV"
fi

if [ ! -f "$LOCK" ]; then
    echo "error: $LOCK is missing; scripts/lock.sh writes it from pyproject.toml" >&2
    return 1 2>/dev/null || exit 1
fi
WANTED="$(cd "$WORKBOOK_ROOT" && sha256sum pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
    echo "[setup] installing the workbook and its dependencies into .venv (first time: a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # -c: every package, direct or not, at its locked version (a constraint, so nothing
    # outside pyproject's dependency tree is installed).
    "$VENV/bin/python" -m pip install --quiet -c "$LOCK" -e "$WORKBOOK_ROOT"
    echo "$WANTED" > "$STAMP"
fi

# shellcheck disable=SC1091
source "$VENV/bin/activate"
export FASHION_WORKBOOK_ROOT="$WORKBOOK_ROOT"
# Matplotlib must never try to open a window when notebooks run headless.
export MPLBACKEND="${MPLBACKEND:-Agg}"
