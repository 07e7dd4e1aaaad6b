#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, lints, type-checks, runs pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m slow` for the long campaigns).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
source scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
export SPLITBRAIN_DATA=${SPLITBRAIN_DATA:-$(cd .. && pwd)/shared/data}
.venv/bin/python -m pytest -q "$@"
