"""gossip-kv: dotted version vectors replicated by anti-entropy, and two ways of losing writes.

The correct store passes seeded campaigns under every fault (and under each bug's search faults); both
bug variants are found within a stated budget by the lost-update check and shrunk; hand-driven worlds show
each bug's signature scenario; the merge of sibling sets is a semilattice on every state the protocol can
reach (Hypothesis); runs are deterministic, across processes and hash seeds too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_support import first_default_failure, passes
from eventual_support import drive, run_phase
from splitbrain import load_workload
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.schedule import ScheduleResult, history_checks, judge
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.histories import dumps_history
from splitbrain.impls.eventual.gossip import (
    SEARCH,
    Context,
    GossipKVWorkload,
    Version,
    join,
    merge_siblings,
    siblings_in,
)
from splitbrain.sim import RunResult, World, replay

WORKLOAD = load_workload("gossip-kv")
CHECKS = history_checks(WORKLOAD)
LWW_EXAMPLES = 30  # Hypothesis examples to find lww-wall-clock
VNODE_BUDGET = 20  # seeded schedules to find vnode-vclock
# shrunk trace lengths after 150 replays: (whole trace, steps before quiesce); about 110 steps of every
# trace are the settling after quiesce, which anti-entropy needs and shrinking cannot remove
LWW_BOUND = (160, 15)
VNODE_BOUND = (180, 50)


def test_registered_with_its_variants_and_hooks() -> None:
    assert isinstance(load_workload("gossip-kv"), type(WORKLOAD))
    assert WORKLOAD.bug_variants == ["lww-wall-clock", "vnode-vclock"]
    assert WORKLOAD.settle > 0
    assert [name for name, _ in CHECKS] == ["convergence", "lost-update", "causality"]


# -- the correct version ------------------------------------------------------------------------------
def test_correct_version_passes_a_seeded_campaign() -> None:
    assert passes(WORKLOAD, range(40)) > 1000  # ok events: the runs did real work


@pytest.mark.parametrize("variant", sorted(SEARCH))
def test_correct_version_passes_each_bugs_search_faults(variant: str) -> None:
    faults, steps = SEARCH[variant]
    passes(WORKLOAD, range(100, 125), faults, steps)


def test_final_reads_cover_every_node_and_key_and_agree() -> None:
    result = World(WORKLOAD, seed=3).run()
    finals = [o for o in result.history.operations if o.f == "final-read"]
    assert [(o.process, o.key) for o in finals] == [(n, k) for n in ("n1", "n2", "n3") for k in ("x", "y")]
    for key in ("x", "y"):
        assert len({o.output for o in finals if o.key == key}) == 1
    written = {o.input for o in result.history.operations if o.f == "write"}
    assert written and all(set(o.output) <= written for o in finals)


@pytest.mark.slow
def test_correct_version_passes_a_long_campaign() -> None:
    passes(WORKLOAD, range(1000, 3000))
    passes(GossipKVWorkload(node_count=5, clients=6), range(200))


# -- finding the bugs ----------------------------------------------------------------------------------
def test_hypothesis_finds_and_shrinks_lww_wall_clock() -> None:
    outcome = hypothesis_search(WORKLOAD, "lww-wall-clock", seed_value=0, examples=LWW_EXAMPLES, shrink_runs=100)
    assert outcome.failure is not None
    assert outcome.failure.verdict.signature == "checker:lost-update"
    small = shrink_trace(WORKLOAD, outcome.failure.trace, "checker:lost-update", max_replays=150)
    assert small.after <= LWW_BOUND[0] and run_phase(small.trace) <= LWW_BOUND[1], small.trace.describe()
    assert "no later write superseded it" in small.result.verdict.message


def vnode_failure() -> ScheduleResult:
    """The first failure of the default search (a campaign from seed 1, the workload's own faults)."""
    return first_default_failure(WORKLOAD, "vnode-vclock", VNODE_BUDGET, caught_by={"checker:lost-update"})[1]


def test_fuzzing_finds_and_shrinks_vnode_vclock() -> None:
    result = vnode_failure()
    small = shrink_trace(WORKLOAD, result.trace, "checker:lost-update", max_replays=150)
    assert small.after <= VNODE_BOUND[0] and run_phase(small.trace) <= VNODE_BOUND[1], small.trace.describe()


# -- each bug's scenario, by hand ----------------------------------------------------------------------
def idle(world: World, client: int) -> Callable[[], bool]:
    return lambda: world.clients[client].waiting is None


def causally_later_write(variant: str) -> RunResult:
    """n1's clock runs 100 ticks ahead; p0 writes x=1 there; p1 reads it at n2, then writes x=2 at n2."""
    world = World(WORKLOAD, variant, seed=0, faults=["skew"])
    world.start()
    world.step("skew:n1", skew=100, drift=0)
    world.step("invoke:0", f="write", value=1, op_key="x", node="n1")
    drive(world, idle(world, 0))
    drive(world, lambda: siblings_in(world.storage("n2"), "x") == (1,))
    world.step("invoke:1", f="read", op_key="x", node="n2")
    drive(world, idle(world, 1))
    world.step("invoke:1", f="write", value=2, op_key="x", node="n2")
    drive(world, idle(world, 1))
    world.quiesce()
    return world.result()


def final_values(result: RunResult, key: str) -> set[tuple[int, ...]]:
    return {o.output for o in result.history.operations if o.f == "final-read" and o.key == key}


def test_lww_wall_clock_drops_a_causally_later_write() -> None:
    good = causally_later_write("correct")
    reads = [o.output for o in good.history.operations if o.f == "read"]
    assert reads == [(1,)]  # the writer of 2 had read 1: 2 causally follows 1
    assert final_values(good, "x") == {(2,)}  # ... so 2 replaces 1 everywhere
    assert judge(good, CHECKS).signature is None
    bad = causally_later_write("lww-wall-clock")
    assert final_values(bad, "x") == {(1,)}  # n1's clock was ahead: its older write wins
    verdict = judge(bad, CHECKS)
    assert verdict.signature == "checker:lost-update"
    assert "wrote 'x'=2 and was acknowledged" in verdict.message


def blind_writes_through_one_coordinator(variant: str) -> RunResult:
    """Sessions p0 and p3 share coordinator n1; each writes x without having read it."""
    world = World(WORKLOAD, variant, seed=0, faults=[])
    world.start()
    world.step("invoke:0", f="write", value=1, op_key="x", node="n1")
    drive(world, idle(world, 0))
    world.step("invoke:3", f="write", value=2, op_key="x", node="n1")
    drive(world, idle(world, 3))
    world.quiesce()
    return world.result()


def test_vnode_vclock_lets_a_blind_write_replace_one_it_never_saw() -> None:
    good = blind_writes_through_one_coordinator("correct")
    assert final_values(good, "x") == {(1, 2)}  # concurrent: both kept as siblings
    assert judge(good, CHECKS).signature is None
    bad = blind_writes_through_one_coordinator("vnode-vclock")
    assert final_values(bad, "x") == {(2,)}
    verdict = judge(bad, CHECKS)
    assert verdict.signature == "checker:lost-update"
    assert "wrote 'x'=1 and was acknowledged" in verdict.message


# -- dotted version vectors ----------------------------------------------------------------------------
def test_a_version_replaces_exactly_what_its_writer_saw() -> None:
    first = Version(("n1", 1), "a", ())
    blind = Version(("n1", 2), "b", ())
    seen = Version(("n2", 1), "c", first.clock)
    assert merge_siblings((first,), (blind,)) == (first, blind)
    assert merge_siblings((first, blind), (seen,)) == (blind, seen)
    assert merge_siblings((first,), (blind,), by_clock=True) == (blind,)  # the vnode-vclock mistake


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_sibling_merge_is_a_semilattice_on_reachable_states(data: st.DataObject) -> None:
    """Replicas write (with a context read from their own earlier state, or blind) and merge at random;
    on every state reached, merge is commutative, associative and idempotent."""
    nodes = ("n1", "n2", "n3")
    state: dict[str, tuple[Version, ...]] = dict.fromkeys(nodes, ())
    contexts: dict[str, list[Context]] = {n: [()] for n in nodes}
    counter = dict.fromkeys(nodes, 0)
    reached: list[tuple[Version, ...]] = [()]
    for _ in range(data.draw(st.integers(1, 20))):
        here = data.draw(st.sampled_from(nodes))
        if data.draw(st.booleans()):
            counter[here] += 1
            context = data.draw(st.sampled_from(contexts[here]))
            new = Version((here, counter[here]), f"{here}.{counter[here]}", context)
            state[here] = merge_siblings(state[here], (new,))
        else:
            there = data.draw(st.sampled_from(nodes))
            state[here] = merge_siblings(state[here], state[there])
        seen: Context = ()
        for v in state[here]:
            seen = join(seen, v.clock)
        contexts[here].append(seen)
        reached.append(state[here])
    a, b, c = (data.draw(st.sampled_from(reached)) for _ in range(3))
    assert merge_siblings(a, b) == merge_siblings(b, a)
    assert merge_siblings(merge_siblings(a, b), c) == merge_siblings(a, merge_siblings(b, c))
    assert merge_siblings(a, a) == a


# -- determinism ---------------------------------------------------------------------------------------
def fingerprint(name: str, variant: str, seed: int) -> bytes:
    result = World(load_workload(name), variant, seed=seed).run()
    return result.trace.dumps() + dumps_history(result.history).encode()


def test_same_seed_same_bytes_and_saved_traces_replay() -> None:
    for variant in ("correct", "lww-wall-clock"):
        assert fingerprint("gossip-kv", variant, 5) == fingerprint("gossip-kv", variant, 5)
        original = World(WORKLOAD, variant, seed=6).run()
        again = replay(original.trace, WORKLOAD)
        assert again.trace.dumps() == original.trace.dumps()
        assert dumps_history(again.history) == dumps_history(original.history)


_SCRIPT = """
import sys
from splitbrain.histories import dumps_history
from splitbrain import load_workload
from splitbrain.sim import World
for name in ("gossip-kv", "crdt-counter", "crdt-set", "causal-broadcast"):
    result = World(load_workload(name), seed=4).run()
    sys.stdout.buffer.write(result.trace.dumps() + dumps_history(result.history).encode())
"""


def test_eventual_workloads_are_deterministic_across_processes_and_hash_seeds() -> None:
    hash_seed = "977" if os.environ.get("PYTHONHASHSEED") != "977" else "978"  # differs from this process's
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, check=True, timeout=120)
    expected = b"".join(fingerprint(n, "correct", 4) for n in ("gossip-kv", "crdt-counter", "crdt-set",
                                                                 "causal-broadcast"))
    assert done.stdout == expected
