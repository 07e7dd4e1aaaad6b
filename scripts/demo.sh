#!/usr/bin/env bash
# The main job, from a fresh machine: install, check real Jepsen histories, then run a short fuzz campaign
# that finds and shrinks a real bug.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
DATA=${SPLITBRAIN_DATA:-$(cd .. && pwd)/shared/data}
JEPSEN="$DATA/porcupine/test_data/jepsen"
echo "== checking real Jepsen etcd histories (one linearizable, one not)"
set +e
.venv/bin/splitbrain check "$JEPSEN/etcd_002.log" "$JEPSEN/etcd_000.log" --model cas-register
status=$?
set -e
[ "$status" -eq 1 ] || { echo "expected exit status 1 (a violation found), got $status"; exit 1; }
