"""Smooth weighted round robin: the balancer, its properties and model, the invariants, and the bug zoo.

Quality bounds (the default search — the portfolio, the workload's own faults — in a campaign from seed 1):
``bursty`` is found within 5 schedules and shrinks to at most 20 steps with 150 replays (1-minimal: 17 —
two picks); ``shared-cursor-race`` is found within 10 and shrinks to a 1-minimal trace of at most 55 steps
within 600 replays (52 after 248: the default search's find has four clients racing, where the old
hand-tuned search's shrank to 16), in which one thread reads the weights while another's read-modify-write
is in flight. The history check alone, with the invariants switched off, finds each within 10 schedules.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_support import first_default_failure, passes
from splitbrain import load_workload
from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.schedule import ScheduleResult
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.histories import History, Op
from splitbrain.impls.traffic.wrr.balancer import NaiveRoundRobin, Pick, RacyCursorBalancer, SmoothWeightedRoundRobin
from splitbrain.impls.traffic.wrr.checks import PickAudit, check_pick_sequence, check_wrr
from splitbrain.impls.traffic.wrr.workload import (
    SEARCH,
    WEIGHTS,
    Marked,
    Picked,
    WRRWorkload,
    exact_share,
    no_pick_of_down_backend,
    smooth_share,
)
from splitbrain.models import get_model
from splitbrain.sim import World, replay

WORKLOAD = load_workload("wrr")
INVARIANT_SIGNATURES = {"invariant:smooth-share", "invariant:exact-share", "invariant:no-pick-of-down-backend"}


class FakeSync:
    def lock(self) -> Any:
        return threading.Lock()

    def point(self, label: str) -> None:
        pass

    def now(self) -> float:
        return 0.0


def picks(lb: SmoothWeightedRoundRobin, n: int) -> str:
    return "".join(str(lb.pick().backend) for _ in range(n))


# -- the balancer ---------------------------------------------------------------------------------------
def test_smooth_wrr_gives_nginx_sequence_and_naive_gives_bursts() -> None:
    assert picks(SmoothWeightedRoundRobin({"a": 5, "b": 1, "c": 1}), 14) == "aabacaa" * 2  # nginx's example
    assert picks(NaiveRoundRobin({"a": 5, "b": 1, "c": 1}), 14) == "aaaaabc" * 2


def test_a_health_change_restarts_the_round_and_bumps_the_version() -> None:
    lb = SmoothWeightedRoundRobin({"a": 3, "b": 2, "c": 1}, FakeSync())
    assert picks(lb, 4) == "abac"
    assert lb.mark("a", False) is True and lb.mark("a", False) is False
    pick = lb.pick()
    assert pick == Pick("b", 1, (("b", 2), ("c", 1)))
    assert picks(lb, 5) == "cbbcb"  # the round restarted at zero: b c b | b c b
    lb.mark("b", False)
    lb.mark("c", False)
    assert lb.pick() == Pick(None, 3, ())


def test_bad_configuration_and_unknown_backends_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="non-empty mapping"):
        SmoothWeightedRoundRobin({})
    with pytest.raises(UsageError, match="weight 0"):
        SmoothWeightedRoundRobin({"a": 0})
    with pytest.raises(UsageError, match="unknown backend 'z'"):
        SmoothWeightedRoundRobin({"a": 1}).mark("z", False)


def test_real_sync_balancer_keeps_exact_shares_under_os_threads() -> None:
    lb = SmoothWeightedRoundRobin({"a": 3, "b": 2, "c": 1})
    got: list[str | None] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(600):
            backend = lb.pick().backend
            with lock:
                got.append(backend)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert (got.count("a"), got.count("b"), got.count("c")) == (1200, 800, 400)


# -- the properties on known orders ------------------------------------------------------------------
def test_check_pick_sequence_names_each_property() -> None:
    weights = {"a": 3, "b": 2, "c": 1}
    assert check_pick_sequence("abacba" * 3, weights) == (True, "18 picks keep every property")
    valid, why = check_pick_sequence("aaabbc", weights)
    assert not valid and why.startswith("smooth-share: pick 2") and "ceil(2 * 3 / 6) = 1" in why
    valid, why = check_pick_sequence("abacbaaa", weights)
    assert not valid and why.startswith("exact-share") and "give a 4 picks" in why
    valid, why = check_pick_sequence("abz", weights)
    assert not valid and why.startswith("down-backend") and "picked z" in why


def test_pick_audit_follows_health_changes() -> None:
    audit = PickAudit({"a": 3, "b": 2, "c": 1})
    for backend in "aba":
        assert audit.pick(backend) is None
    audit.mark("a", False)
    assert audit.pick("b") is None and audit.pick("c") is None
    problem = audit.pick("a")
    assert problem is not None and problem.property == "down-backend"
    assert "healthy since the last change: {b: 2, c: 1}" in problem.text
    assert set(audit.first) == {"down-backend"}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 10), min_size=1, max_size=6))
def test_smooth_wrr_keeps_exact_and_smooth_shares_for_any_weights(weights: list[int]) -> None:
    # the proof in splitbrain.impls.traffic.wrr.model, checked: three full periods of picks break no property
    named = {f"b{i}": w for i, w in enumerate(weights)}
    lb = SmoothWeightedRoundRobin(named)
    valid, why = check_pick_sequence([lb.pick().backend for _ in range(3 * sum(weights))], named)
    assert valid, why


def test_naive_wrr_is_flagged_when_a_burst_runs_ahead_of_its_share() -> None:
    for weights in ({"a": 5, "b": 1, "c": 1}, {"a": 2, "b": 2}, {"a": 3, "b": 3, "c": 1}):
        lb = NaiveRoundRobin(weights)
        valid, why = check_pick_sequence([lb.pick().backend for _ in range(2 * sum(weights.values()))], weights)
        assert not valid and why.startswith("smooth-share"), weights


# -- the model on concurrent histories ----------------------------------------------------------------
HEALTHY = (("a", 3), ("b", 2), ("c", 1))


def pick_history(*events: tuple[int, str, Any]) -> History:
    """Events ``(process, type, backend-or-output)``; a plain backend name means epoch [1 0], all healthy."""
    ops = []
    for process, type_, out in events:
        value = (out, (1, 0), HEALTHY) if isinstance(out, str) else out
        ops.append(Op(process=process, type=type_, f="pick", value=None if type_ == "invoke" else value))  # type: ignore[arg-type]
    return History.from_ops(ops)


def test_wrr_model_is_registered_and_orders_overlapping_picks() -> None:
    assert get_model("wrr").functions == ("pick",)
    # b and a overlap, so "a b a c b a" is an order: valid although b completed first
    h = pick_history((0, "invoke", None), (1, "invoke", None), (1, "ok", "b"), (0, "ok", "a"),
                     *[e for b in "acba" for e in ((2, "invoke", None), (2, "ok", b))])
    assert check_wrr(h)[0] is True


def test_wrr_model_rejects_and_explains() -> None:
    sequential = pick_history(*[e for b in "aab" for e in ((0, "invoke", None), (0, "ok", b))])
    valid, why = check_wrr(sequential)
    assert valid is False and "why (smooth-share)" in why
    older = pick_history((0, "invoke", None), (0, "ok", ("b", (1, 1), HEALTHY[1:])),
                         (0, "invoke", None), (0, "ok", ("a", (1, 0), HEALTHY)))
    valid, why = check_wrr(older)
    assert valid is False and "older than the epoch" in why


def test_wrr_model_places_unknown_picks_at_the_start_of_a_later_segment() -> None:
    # weights 2, 3, 3 pick b c a b c a b c; without its first two picks the rest breaks smooth-share
    # ("a b c a": a's second pick comes at pick 4 of a round, ceil(4 * 2 / 8) = 1) — unless two info
    # picks, whose outcome and epoch nobody saw, are placed first in the segment
    healthy = (("a", 2), ("b", 3), ("c", 3))
    lb = SmoothWeightedRoundRobin(dict(healthy))
    rest = [lb.pick().backend for _ in range(16)][2:]
    known = [e for b in rest for e in ((0, "invoke", None), (0, "ok", (b, (1, 1), healthy)))]
    assert check_wrr(pick_history(*known))[0] is False
    unknown = [(8, "invoke", None), (9, "invoke", None), (8, "info", None), (9, "info", None)]
    assert check_wrr(pick_history(*unknown, *known))[0] is True


def test_wrr_model_names_a_malformed_pick() -> None:
    with pytest.raises(InvalidHistory, match=r"expected \[backend epoch healthy\]"):
        check_wrr(pick_history((0, "invoke", None), (0, "ok", ("a", 1))))


STEPS = st.lists(
    st.tuples(st.sampled_from(("pick",) * 6 + ("down", "up", "abandon", "restart")), st.sampled_from("abc")),
    min_size=5, max_size=60,
)


def run_sequentially(steps: list[tuple[str, str]], widen: list[int]) -> History:
    """Execute the steps one at a time on a real balancer; picks become history operations whose
    invoke/completion times are widened around the true order (marks stay invisible, as in the workload)."""
    def fresh() -> SmoothWeightedRoundRobin:
        return SmoothWeightedRoundRobin(dict(HEALTHY))

    lb, incarnation = fresh(), 1
    events: list[tuple[float, int, Op]] = []
    for n, (kind, backend) in enumerate(steps):
        at = 10 * n
        if kind in ("down", "up"):
            lb.mark(backend, kind == "up")
        elif kind == "restart":
            lb, incarnation = fresh(), incarnation + 1
        else:
            pick = lb.pick()
            w = widen[n % len(widen)] if widen else 0
            events.append((at - w, len(events), Op(process=n, type="invoke", f="pick")))
            if kind == "abandon" or pick.backend is None:  # an info pick; an empty pick fails, not shown
                kind = "info" if kind == "abandon" else "fail"
                events.append((at + w, len(events), Op(process=n, type=kind, f="pick")))  # type: ignore[arg-type]
            else:
                out = (pick.backend, (incarnation, pick.version), pick.healthy)
                events.append((at + w, len(events), Op(process=n, type="ok", f="pick", value=out)))
    events.sort(key=lambda e: (e[0], e[1]))
    return History.from_ops([op for _, _, op in events])


@settings(max_examples=100, deadline=None)
@given(STEPS, st.lists(st.integers(0, 25), max_size=6))
def test_sequential_balancer_histories_are_never_flagged(steps: list[tuple[str, str]], widen: list[int]) -> None:
    valid, why = check_wrr(run_sequentially(steps, widen), timeout=20)
    assert valid is True, why


# -- invariants on hand-built bad states ----------------------------------------------------------------
def world_with_log(*events: Picked | Marked) -> World:
    world = World(WORKLOAD, seed=0, faults=[])
    world.start()
    node = world.node("n1")
    assert node is not None
    node.log.extend(events)  # type: ignore[attr-defined]
    return world


def picked(backend: str | None, process: int = 0) -> Picked:
    return Picked(process, Pick(backend, 0, tuple(WEIGHTS.items())))


@pytest.mark.parametrize(
    ("invariant", "events", "expected"),
    [
        (no_pick_of_down_backend, [Marked("n3", False), picked("n3")], "picked n3, which is not among"),
        (exact_share, [picked(b) for b in ("n2", "n3", "n2", "n4", "n3", "n2", "n2", "n2")], "give n2 4 picks"),
        (smooth_share, [picked("n2"), picked("n2")], "ceil(2 * 3 / 6) = 1"),
    ],
    ids=["down", "exact", "smooth"],
)
def test_each_invariant_flags_a_bad_log_and_passes_a_good_one(invariant: Any, events: list[Any], expected: str) -> None:
    good = world_with_log(*[picked(b) for b in ("n2", "n3", "n2", "n4", "n3", "n2")])
    assert invariant.check(good) is None
    good.close()
    bad = world_with_log(*events)
    message = invariant.check(bad)
    assert message is not None and expected in message, message
    bad.close()


# -- the bug zoo ----------------------------------------------------------------------------------------
def first_failure(variant: str, budget: int, workload: Any = WORKLOAD) -> tuple[int, ScheduleResult]:
    return first_default_failure(workload, variant, budget)


@pytest.mark.parametrize(("variant", "budget", "replays", "bound"),
                         [("bursty", 5, 150, 20), ("shared-cursor-race", 10, 600, 55)])
def test_each_bug_is_found_and_shrinks(variant: str, budget: int, replays: int, bound: int) -> None:
    _, result = first_failure(variant, budget)
    signature = result.verdict.signature
    assert signature in INVARIANT_SIGNATURES
    small = shrink_trace(WORKLOAD, result.trace, signature, max_replays=replays)
    assert small.after <= bound, small.trace.describe()
    text = small.trace.describe()
    assert text.count("(p") >= 2  # two picks' requests
    if variant == "shared-cursor-race":
        assert small.minimal
        # the race: a thread reads the current weights while another thread has read them and not yet
        # written them back
        reading: set[str] = set()
        raced = False
        for line in text.splitlines():
            thread = line.split("thread-", 1)[1].split()[0] if "thread-" in line else None
            if thread is None:
                continue
            if "at 'read current weights'" in line:
                raced = raced or bool(reading)
                reading.add(thread)
            elif "at 'write current weights'" in line:
                reading.discard(thread)
        assert raced, text


def test_the_history_check_alone_finds_both_bugs() -> None:
    blind = WRRWorkload(invariants=())
    for variant in ("bursty", "shared-cursor-race"):
        _, result = first_failure(variant, 10, blind)
        assert result.verdict.signature == "checker:linearizability", variant
        assert "why (" in result.verdict.message


def test_hypothesis_finds_the_racy_cursor() -> None:
    outcome = hypothesis_search(WORKLOAD, "shared-cursor-race", seed_value=0, examples=40, shrink_runs=30)
    assert outcome.failure is not None and outcome.failure.verdict.signature in INVARIANT_SIGNATURES


def test_a_run_replays_byte_for_byte() -> None:
    first = World(WORKLOAD, "shared-cursor-race", seed=3).run()
    assert replay(first.trace, WORKLOAD).trace.dumps() == first.trace.dumps()
    assert World(WORKLOAD, "shared-cursor-race", seed=3).run().trace.dumps() == first.trace.dumps()


# -- the correct version ---------------------------------------------------------------------------
def test_correct_balancer_passes_a_modest_campaign() -> None:
    assert passes(WORKLOAD, range(20)) > 200
    for faults, steps in SEARCH.values():
        passes(WORKLOAD, range(100, 105), faults, steps)


@pytest.mark.slow
def test_correct_balancer_passes_a_long_campaign() -> None:
    # two histories of the 1,500 (seeds 1927 and 2002) have too many crashed picks to combine at one step
    # (more than 4,096 ways): the checker says unknown for them — counted, never a pass
    passes(WORKLOAD, range(1000, 2500), unknown=2)
    for faults, steps in SEARCH.values():
        passes(WORKLOAD, range(3000, 3300), faults, steps)


# -- stress mode: real OS threads, recorded, checked by the same model ---------------------------------------
def stress_picks(cls: type[SmoothWeightedRoundRobin], threads: int = 4, per_thread: int = 150) -> History:
    from splitbrain.histories.recorder import Recorder
    from splitbrain.live.stress import StressSync

    lb = cls(dict(HEALTHY), StressSync(noise=True))
    recorder = Recorder(source=f"stress {cls.__name__}")
    start = threading.Barrier(threads)

    def client(seed: int) -> None:
        worker, rng = recorder.worker(), random.Random(seed)
        start.wait()
        for _ in range(per_thread):
            if rng.random() < 0.02:
                lb.mark(rng.choice("abc"), rng.random() < 0.6)
            with worker.call("pick") as call:
                pick = lb.pick()
                call.ok((pick.backend, (1, pick.version), pick.healthy))

    pool = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return recorder.history()


def test_stress_mode_correct_balancer_passes_and_the_racy_one_is_caught() -> None:
    assert check_wrr(stress_picks(SmoothWeightedRoundRobin), timeout=30)[0] is True
    for _ in range(5):  # a race shows up on some runs only
        if check_wrr(stress_picks(RacyCursorBalancer), timeout=30)[0] is False:
            return
    pytest.fail("the racy cursor passed 5 stress runs")
