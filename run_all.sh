#!/usr/bin/env bash
# Regenerate every table: ./run_all.sh [--profile smoke|default|paper] [--only NOTEBOOK ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/ensure_venv.sh
exec python -m fashion_core.run "$@"
