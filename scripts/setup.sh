# Shared by demo.sh and test.sh: create .venv and install splitbrain into it (idempotent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e ".[test,dask,docs]"
# aiogossip (the unmodified PyPI library the `aiogossip` workload runs) pins networkx==2.8.8, which
# splitbrain's networkx>=3.0 excludes, so no extra can name it: install it without its pins (it runs on
# networkx 3), with the protobuf runtime its generated code was built for
.venv/bin/python -m pip install --quiet --no-deps "aiogossip==0.0.20" "protobuf==4.21.12"
