#!/usr/bin/env bash
# Sourced by run_all.sh and run_tests.sh: create .venv with Python 3.11 if it is
# missing, (re)install the project when pyproject.toml changed, then activate it.
set -euo pipefail

WORKBOOK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$WORKBOOK_ROOT/.venv"
STAMP="$VENV/.installed-pyproject.sha256"

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

WANTED="$(sha256sum "$WORKBOOK_ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
    echo "[setup] installing the workbook and its dependencies into .venv (first time: a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$WORKBOOK_ROOT"
    echo "$WANTED" > "$STAMP"
fi

# shellcheck disable=SC1091
source "$VENV/bin/activate"
export FASHION_WORKBOOK_ROOT="$WORKBOOK_ROOT"
# Matplotlib must never try to open a window when notebooks run headless.
export MPLBACKEND="${MPLBACKEND:-Agg}"
