#!/usr/bin/env bash
# Regenerate requirements.lock and environment.yml's pip section from pyproject.toml:
#
#     scripts/lock.sh
#
# A throwaway Python 3.11 venv under ${TMPDIR:-/tmp} (about 6 GB while it runs, torch's CUDA
# build included) gets `pip install <a copy of pyproject.toml>`, exactly what `pip install -e .`
# resolves in a fresh venv, and is frozen without pip and the project itself. The workbook's
# .venv is not touched; run ./run_tests.sh afterwards to install the new set there (its stamp
# covers the lock). Review the diff before committing: a new pandas or matplotlib can change
# the numbers nbval compares.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="$ROOT/requirements.lock"
ENVIRONMENT="$ROOT/environment.yml"

PYTHON_BIN=""
for candidate in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
        PYTHON_BIN="$candidate"
        break
    fi
done
if [ -z "$PYTHON_BIN" ]; then
    echo "error: the lock is resolved with Python 3.11 (torch 2.14.1 wheels); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fashion-lock.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "[lock] resolving pyproject.toml's dependencies in a fresh venv ($("$PYTHON_BIN" --version)) under $WORK"
"$PYTHON_BIN" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip
# The project's metadata is all pip needs to resolve it: pyproject.toml and the readme it names.
mkdir "$WORK/project"
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/project/"
"$WORK/venv/bin/python" -m pip install --quiet "$WORK/project"
"$WORK/venv/bin/python" -m pip check

# --all keeps setuptools (torch requires it at run time); pip is the installer, not part of the set.
# Sorted by normalised name (jupyter_core beside jupyter-lsp), so a regeneration diffs line by line.
"$WORK/venv/bin/python" -m pip freeze --all --exclude pip --exclude fashion-core \
    | "$WORK/venv/bin/python" -c 'import re, sys
lines = [line.strip() for line in sys.stdin if line.strip()]
print("\n".join(sorted(lines, key=lambda line: re.sub(r"[-_.]+", "-", line.split("==")[0]).lower())))' \
    > "$WORK/frozen.txt"
if grep -v -E '^[A-Za-z0-9][A-Za-z0-9._-]*==[^ ;]+$' "$WORK/frozen.txt"; then
    echo "error: the lines above are not name==version (an editable or URL install in the frozen venv?)" >&2
    exit 1
fi
for pin in torch==2.14.1 torchvision==0.29.1; do
    grep -q -x "$pin" "$WORK/frozen.txt" || { echo "error: the frozen set lacks $pin" >&2; exit 1; }
done
COUNT="$(wc -l < "$WORK/frozen.txt" | tr -d ' ')"

{
    cat <<EOF
# requirements.lock: the exact package set of the workbook, every package that
# \`pip install -e .\` puts into a fresh Python 3.11 venv (pip and the project itself aside),
# as pip resolved pyproject.toml's dependencies when it was written: $COUNT packages.
#
# scripts/ensure_venv.sh (run by ./run_tests.sh and ./run_all.sh) installs with
#     pip install -c requirements.lock -e .
# and reinstalls whenever pyproject.toml or this file changes; environment.yml's pip section
# is the same list (tests/test_project_setup.py keeps the three in agreement).
#
# Regenerate it (after changing pyproject.toml's dependencies, or to take newer releases on
# purpose) with the one command
#     scripts/lock.sh
# which builds a throwaway venv from pyproject.toml, freezes it and rewrites this file and
# environment.yml. Do not edit by hand.
#
# torch 2.14.1 / torchvision 0.29.1 are pyproject.toml's own pins: the pair that installs
# from this machine's local wheel cache.
EOF
    cat "$WORK/frozen.txt"
} > "$LOCK.tmp"
mv "$LOCK.tmp" "$LOCK"

{
    cat <<'EOF'
# Conda environment for the workbook: `conda env create -f environment.yml`.
# The pip section is requirements.lock, the exact set ./run_tests.sh installs into .venv
# (written by scripts/lock.sh, which rewrites this file; a test keeps the two equal); the
# project itself is installed editable on top.
name: fashion-workbook
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
EOF
    sed 's/^/      - /' "$WORK/frozen.txt"
    echo "      - -e ."
} > "$ENVIRONMENT.tmp"
mv "$ENVIRONMENT.tmp" "$ENVIRONMENT"

echo "[lock] wrote $LOCK ($COUNT packages) and $ENVIRONMENT; review: git diff requirements.lock environment.yml"
