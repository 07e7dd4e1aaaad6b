"""Determinism: the same seed gives byte-identical traces and histories, in one process and across
processes with different hash seeds; a saved trace replays to the identical history; an edited trace
(steps removed, cut short) still replays deterministically; Hypothesis-driven runs replay too."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitbrain import load_workload
from splitbrain.histories import dumps_history
from splitbrain.sim import HypothesisSource, ReplaySource, Trace, World, replay

WORKLOAD = load_workload("primary-backup")

_SCRIPT = """
import sys
from splitbrain.histories import dumps_history
from splitbrain import load_workload
from splitbrain.sim import World
for variant, seed in (("correct", 11), ("early-ack", 5)):
    result = World(load_workload("primary-backup"), variant, seed=seed).run()
    sys.stdout.buffer.write(result.trace.dumps())
    sys.stdout.buffer.write(dumps_history(result.history).encode())
"""


def fingerprint(variant: str, seed: int) -> bytes:
    result = World(WORKLOAD, variant, seed=seed).run()
    return result.trace.dumps() + dumps_history(result.history).encode()


def test_same_seed_same_bytes_in_one_process() -> None:
    for variant, seed in (("correct", 0), ("correct", 11), ("early-ack", 5)):
        assert fingerprint(variant, seed) == fingerprint(variant, seed)
    assert fingerprint("correct", 1) != fingerprint("correct", 2)


def test_same_seed_same_bytes_across_processes_and_hash_seeds() -> None:
    outputs = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, check=True, timeout=120
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == fingerprint("correct", 11) + fingerprint("early-ack", 5)


def test_runs_do_not_touch_the_global_random() -> None:
    random.seed(123)
    state = random.getstate()
    World(WORKLOAD, seed=3).run()
    assert random.getstate() == state


def test_saved_trace_replays_to_the_identical_history(tmp_path: Path) -> None:
    for variant, seed in (("correct", 4), ("early-ack", 5), ("local-read", 7)):
        original = World(WORKLOAD, variant, seed=seed).run()
        path = tmp_path / f"{variant}-{seed}.json"
        original.trace.save(path)
        again = replay(Trace.load(path), WORKLOAD)
        assert again.skipped == 0
        assert again.trace.dumps() == path.read_bytes()
        assert dumps_history(again.history) == dumps_history(original.history)
        assert again.invariant_violation == original.invariant_violation


def test_trace_file_is_readable_one_step_per_line() -> None:
    trace = World(WORKLOAD, seed=2).run().trace
    lines = trace.dumps().decode().splitlines()
    assert lines[0].startswith('{"version":2,"workload":"primary-backup","variant":"correct","seed":2,')
    assert len(lines) == len(trace.steps) + 2
    draws = str(trace.steps[0].draws).replace(" ", "")
    assert lines[1] == '{"step":0,"t":0,"kind":"start","draws":' + draws + "},"
    assert Trace.loads(trace.dumps()).dumps() == trace.dumps()
    assert "deliver msg" in trace.describe()


def _without(trace: Trace, drop: set[int]) -> Trace:
    steps = [s for s in trace.steps if s.step not in drop]
    return Trace(workload=trace.workload, variant=trace.variant, seed=trace.seed, max_steps=trace.max_steps,
                 nodes=trace.nodes, faults=trace.faults, steps=steps)


def test_replay_with_steps_removed_skips_and_stays_deterministic() -> None:
    for seed in range(6):
        trace = World(WORKLOAD, "early-ack", seed=seed).run().trace
        rng = random.Random(seed)
        edited = _without(trace, {s.step for s in trace.steps[1:] if rng.random() < 0.15})
        first, second = replay(edited, WORKLOAD), replay(edited, WORKLOAD)
        assert first.trace.dumps() == second.trace.dumps()
        assert dumps_history(first.history) == dumps_history(second.history)
        assert first.skipped == second.skipped
        assert all(slot.waiting is None for slot in first.world.clients)  # quiesced cleanly


def test_replay_of_a_cut_trace_finishes_with_quiesce() -> None:
    trace = World(WORKLOAD, seed=9).run().trace
    head = _without(trace, {s.step for s in trace.steps[60:]})
    source = ReplaySource(head)
    result = World(WORKLOAD, source=source, max_steps=trace.max_steps).run()
    kinds = [s.kind for s in result.trace.steps]
    assert kinds.index("quiesce") <= 60
    assert result.trace.steps[:kinds.index("quiesce")] == trace.steps[:kinds.index("quiesce")]
    assert all(slot.waiting is None for slot in result.world.clients)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hypothesis_source_runs_replay_exactly(data: st.DataObject) -> None:
    result = World(WORKLOAD, "early-ack", source=HypothesisSource(data.draw), max_steps=80).run()
    assert result.trace.seed is None
    again = replay(result.trace, WORKLOAD)
    assert again.trace.dumps() == result.trace.dumps()
    assert dumps_history(again.history) == dumps_history(result.history)


def test_trace_without_start_or_quiesce_steps_still_replays() -> None:
    trace = World(WORKLOAD, seed=12).run().trace
    frame = {s.step for s in trace.steps if s.kind in ("start", "quiesce")}
    edited = _without(trace, frame)
    first, second = replay(edited, WORKLOAD), replay(edited, WORKLOAD)
    assert first.trace.dumps() == second.trace.dumps()
    kinds = [s.kind for s in first.trace.steps]
    assert kinds[0] == "start" and kinds.count("quiesce") == 1
    # nothing was consumed for the missing start step: the run begins with the recorded first choice
    assert first.trace.steps[1].key() == trace.steps[1].key()
