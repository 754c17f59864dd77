#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit tests, the smoke profile, then nbval
# re-executing the smoke reports and comparing their outputs.
#   ./run_tests.sh            everything
#   ./run_tests.sh --unit     unit tests only (no notebooks)
#   ./run_tests.sh --slow     also the tests marked slow
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/ensure_venv.sh

MARKERS="not slow"
RUN_NOTEBOOKS=1
for argument in "$@"; do
    case "$argument" in
        --unit) RUN_NOTEBOOKS=0 ;;
        --slow) MARKERS="" ;;
        *) echo "usage: ./run_tests.sh [--unit] [--slow]" >&2; exit 2 ;;
    esac
done

echo "== unit tests"
python -m pytest tests ${MARKERS:+-m "$MARKERS"} -q

if [ "$RUN_NOTEBOOKS" = 1 ]; then
    echo "== smoke profile"
    python -m fashion_core.run --profile smoke
    echo "== nbval: re-execute the smoke reports and compare outputs"
    python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
        -p no:cacheprovider -q reports/smoke/*.ipynb
fi
