#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, lints, type-checks, runs pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m slow` for the long campaigns).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
source scripts/setup.sh
# The compiled core is optional for users (setup.py skips it without a compiler), not for the tests: with
# a compiler here, a core that did not build is a broken build, said now rather than by every core test.
if command -v cc >/dev/null || command -v gcc >/dev/null || command -v clang >/dev/null; then
    .venv/bin/python -c "import splitbrain.checker._fastcore" || {
        echo "the compiled core did not build although a C compiler is present: run" \
             "'.venv/bin/pip install -e .' and read the compiler's errors" >&2
        exit 1
    }
fi
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/mypy
# the layers of docs/explanation/design.md as contracts (pyproject.toml [tool.importlinter]): imports
# point down, and no core package imports the bug zoo
.venv/bin/lint-imports
# the documentation site, strictly: a missing page, a broken link or a docstring that does not render fails
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir site
export SPLITBRAIN_DATA=${SPLITBRAIN_DATA:-$(cd .. && pwd)/shared/data}
.venv/bin/python -m pytest -q "$@"
