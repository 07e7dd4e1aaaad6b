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

echo
echo "== fuzzing the primary-backup register's early-ack bug: find it, shrink it, replay it"
STORE=$(mktemp -d)
set +e
.venv/bin/splitbrain fuzz primary-backup --variant early-ack --examples 600 --seed 1 --store "$STORE" 2>&1 \
  | tee "$STORE/fuzz.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 1 ] || { echo "expected the campaign to find the bug (exit 1), got $status"; exit 1; }
# the failure the campaign reports (shards running alongside may have saved more)
FAILURE=$(grep '^FAILURE' "$STORE/fuzz.log" | head -n 1 | grep -o 'saved to [^ ]*\.json' | cut -c10-)
echo
.venv/bin/splitbrain show "$FAILURE" --plain
echo
.venv/bin/splitbrain replay "$FAILURE" | head -n 2 || true
echo
echo "== the correct primary-backup register under the same faults"
.venv/bin/splitbrain fuzz primary-backup --examples 300 --seed 1 --store "$STORE"
rm -rf "$STORE"
