"""Rate limiters: the history properties, the clock frame, and the thread-safe classes on their own.

The checker is tested on hand-built histories (violations detected and explained, valid ones passed,
the tolerance and unknown outcomes honoured) and, with Hypothesis, on histories produced by a correct
limiter deciding requests one at a time — with overlapping calls, unknown outcomes and a clock that skew
faults step backwards — which it must never flag.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from splitbrain.checker.range_max import RangeMax
from splitbrain.checker.rate_limit import (
    check_admissions,
    check_queue_rejections,
    check_rate_limit,
    check_rejections,
)
from splitbrain.errors import UsageError
from splitbrain.histories import NEMESIS, History, Op
from splitbrain.impls.traffic.rate_limit import LEAKY_METERS, LEAKY_QUEUES, TOKEN_BUCKETS
from splitbrain.impls.traffic.rate_limit.clock_frame import SkewedClockFrame
from splitbrain.sim.clock import Clock
from splitbrain.sim.threads import REAL_SYNC, LockLike

Event = tuple[Any, ...]


def history(*events: Event) -> History:
    """Events ``(process, type, time)``, ``(process, "fail", time, error)`` or ``("skew", time, node, skew,
    drift)`` (a nemesis event); ``f`` is ``acquire``."""
    ops = []
    for e in events:
        if e[0] == "skew":
            ops.append(Op(process=NEMESIS, type="info", f="skew", value=[e[2], e[3], e[4]], time=e[1]))
            continue
        error = e[3] if len(e) > 3 else ("rate limited" if e[1] == "fail" else None)
        ops.append(Op(process=e[0], type=e[1], f="acquire", time=e[2], error=error,
                      value=True if e[1] == "ok" else None))
    return History.from_ops(ops)


def admitted_at(*times: int) -> list[Event]:
    """Sequential calls by process 0 that are admitted at the given instants."""
    return [e for t in times for e in ((0, "invoke", t), (0, "ok", t))]


# -- admissions ---------------------------------------------------------------------------------------------
def test_more_admissions_than_burst_plus_rate_times_window_are_caught_and_explained() -> None:
    # burst 2, rate 1/10: three admissions within 5 ticks is one too many
    h = history(*admitted_at(100, 102, 105))
    valid, text = check_admissions(h, rate=Fraction(1, 10), burst=2)
    assert valid is False
    assert "3 requests admitted between event 0 (t=100) and event 5 (t=105)" in text
    assert "p0 acquire [events 0-1], p0 acquire [events 2-3], p0 acquire [events 4-5]" in text
    assert "at most burst 2 + rate 1/10 (= 0.1) x 5 = 5/2 (= 2.5) may be admitted" in text


def test_admissions_within_the_bound_pass_including_a_refill_exactly_on_time() -> None:
    h = history(*admitted_at(100, 100, 110, 120, 130))  # burst 2, then one per 10 ticks
    assert tuple(check_admissions(h, rate=Fraction(1, 10), burst=2)) == (True, (
        "5 admitted requests: no window of the clock admits more than burst + rate x length"))
    assert check_admissions(history(*admitted_at(100, 100, 109)), rate=Fraction(1, 10), burst=2).valid is False


def test_overlapping_calls_are_given_the_most_generous_placement() -> None:
    # p1's call spans 0..20: it may have decided at 20, after the refill, so 3 admissions fit burst 2 rate 1/10
    spread = history((0, "invoke", 0), (1, "invoke", 0), (0, "ok", 0), (2, "invoke", 1), (2, "ok", 1),
                     (1, "ok", 20))
    assert check_admissions(spread, rate=Fraction(1, 10), burst=2).valid is True
    # the same three, but p1 completes at 5: no placement refills a token in time
    tight = history((0, "invoke", 0), (1, "invoke", 0), (0, "ok", 0), (2, "invoke", 1), (2, "ok", 1),
                    (1, "ok", 5))
    assert check_admissions(tight, rate=Fraction(1, 10), burst=2).valid is False


def test_tolerance_is_granted_as_clock_time() -> None:
    h = history(*admitted_at(100, 100, 109))
    assert check_admissions(h, rate=Fraction(1, 10), burst=2, tolerance=1).valid is True
    assert check_admissions(h, rate=Fraction(1, 10), burst=2, tolerance=Fraction(1, 2)).valid is False


def test_unknown_outcomes_are_not_counted_as_admissions() -> None:
    h = history((0, "invoke", 0), (0, "ok", 0), (1, "invoke", 0), (1, "info", 1), (2, "invoke", 1), (2, "ok", 1))
    assert check_admissions(h, rate=Fraction(1, 10), burst=2).valid is True


def test_a_history_without_times_is_unknown_not_a_pass() -> None:
    h = History.from_ops([Op(process=0, type="invoke", f="acquire"), Op(process=0, type="ok", f="acquire")])
    valid, text = check_rate_limit(h, rate=1, burst=1)
    assert valid == "unknown" and "event 0 has no time" in text


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="burst >= 1"):
        check_admissions(history(), rate=1, burst=0)


# -- rejections ---------------------------------------------------------------------------------------------
def test_a_rejection_while_the_bucket_provably_held_a_token_is_caught_and_explained() -> None:
    # burst 2: one admission, then a rejection with no other request in flight
    h = history((0, "invoke", 0), (0, "ok", 0), (1, "invoke", 1), (1, "fail", 2))
    valid, text = check_rejections(h, rate=Fraction(1, 10), burst=2)
    assert valid is False
    assert text.startswith("needless rejection: p1 acquire [events 2-3] was rejected although the bucket")
    assert "all 1 requests that could have decided between then and it took a token (p0 acquire" in text
    assert "at least 11/10 (= 1.1) tokens remained" in text


def test_a_rejection_is_fine_when_concurrent_or_unknown_calls_may_have_taken_the_tokens() -> None:
    # p2 is still open (unknown): it may have taken the second token before p1 was decided
    h = history((0, "invoke", 0), (0, "ok", 0), (2, "invoke", 0), (1, "invoke", 1), (1, "fail", 2))
    assert check_rejections(h, rate=Fraction(1, 10), burst=2).valid is True
    # but once enough clock has passed to refill a token whatever the others did, it is needless
    late = history((0, "invoke", 0), (0, "ok", 0), (2, "invoke", 0), (1, "invoke", 11), (1, "fail", 12))
    assert check_rejections(late, rate=Fraction(1, 10), burst=2).valid is False


def test_failures_that_never_reached_the_limiter_are_not_rejections() -> None:
    refused = history((0, "invoke", 0), (0, "fail", 1, "connection refused"))
    assert check_rejections(refused, rate=1, burst=1).valid is True
    assert check_rejections(refused, rate=1, burst=1, reason=None).valid is False


def test_both_properties_together() -> None:
    h = history(*admitted_at(0, 0, 10), (1, "invoke", 12), (1, "fail", 12))
    valid, text = check_rate_limit(h, rate=Fraction(1, 10), burst=2)
    assert valid is True and "3 admitted requests" in text and "1 rejections" in text


def test_queue_rejections() -> None:
    def queue(*events: Event) -> History:
        return History.from_ops([
            Op(process=p, type=t, f="enqueue", time=time, error="queue full" if t == "fail" else None)
            for p, t, time in events
        ])

    # p0 waits in the queue; p1 is turned away: capacity 1 was full, capacity 2 provably had room
    h = queue((0, "invoke", 0), (1, "invoke", 1), (1, "fail", 1), (0, "ok", 8))
    assert check_queue_rejections(h, capacity=1).valid is True
    valid, text = check_queue_rejections(h, capacity=2)
    assert valid is False
    assert "p1 enqueue [events 1-2] was turned away although the queue (capacity 2) provably had room" in text
    # p0 left before p1 arrived: even capacity 1 had room
    gone = queue((0, "invoke", 0), (0, "ok", 4), (1, "invoke", 5), (1, "fail", 5))
    assert check_queue_rejections(gone, capacity=1).valid is False


# -- a skewed clock -----------------------------------------------------------------------------------------
def test_the_frame_follows_skew_events_and_keeps_the_highest_reading() -> None:
    h = history((0, "invoke", 10), ("skew", 20, "n1", -15, 0), (0, "ok", 30), ("skew", 40, "n2", 99, 0),
                ("skew", 50, "n1", 0, 100_000))
    frame = SkewedClockFrame(h, "n1")
    assert frame.readings(0) == [10]
    assert frame.low(0, 2) == 5  # just after the step back at t=20: 20 - 15
    assert frame.high(2) == 20  # the clock showed 20 before it stepped back
    assert frame.high(4) == 55  # t=50 with a 10 % fast clock
    assert SkewedClockFrame(h, ["n1", "n2"]).high(3) == 139


def test_a_limiter_that_credits_the_same_clock_twice_is_caught_on_its_own_clock() -> None:
    # burst 1, rate 1/10. n1 admits at clock 100, at t=101 its clock steps back 30 ticks, and at t=130 it
    # reads 100 again. On history time these admissions are 30 ticks apart, fine; on n1's clock, which
    # never showed more than 101, at most one tick apart.
    h = history(*admitted_at(100), ("skew", 101, "n1", -30, 0), *admitted_at(130))
    assert check_admissions(h, rate=Fraction(1, 10), burst=1).valid is True
    valid, text = check_admissions(h, rate=Fraction(1, 10), burst=1, clock=SkewedClockFrame(h, "n1"))
    assert valid is False
    assert "clock n1 100" in text and "advanced at most 1 (from at least 100 to at most 101)" in text


# -- Hypothesis: a correct limiter's histories are never flagged -----------------------------------------------
class FakeSync:
    """A Sync for one thread: a real lock, a settable clock, and the points passed recorded."""

    def __init__(self) -> None:
        self.clock: int = 0
        self.points: list[str] = []

    def lock(self) -> LockLike:
        return threading.Lock()

    def point(self, label: str) -> None:
        self.points.append(label)

    def now(self) -> int:
        return self.clock


@st.composite
def limiter_histories(draw: st.DrawFn, speed: Fraction = Fraction(1)) -> tuple[History, Fraction, int, bool]:
    """A correct limiter decides requests one at a time on a (possibly skewed) clock; each request's
    invoke comes up to 3 decisions earlier and its completion up to 3 later (or never: unknown). The
    limiter runs at ``speed`` times the rate returned (1: as promised)."""
    rate = Fraction(1, draw(st.integers(1, 6)))
    burst = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["token-bucket", "leaky-bucket"]))
    skewed = draw(st.booleans())
    n = draw(st.integers(1, 25))
    sync = FakeSync()
    cls = (TOKEN_BUCKETS if kind == "token-bucket" else LEAKY_METERS)["correct"]
    limiter: Any = cls(rate * speed, burst, sync)
    clock, t = Clock(), 0
    gaps: list[list[tuple[int, Op]]] = [[] for _ in range(n + 1)]  # events between decisions i-1 and i
    times = []
    for i in range(n):
        t += draw(st.integers(0, 8))
        if skewed and draw(st.integers(0, 3)) == 0:
            clock = Clock(draw(st.integers(-20, 20)), draw(st.sampled_from([0, 0, 50_000, -50_000])))
            gaps[i].append((t, Op(process=NEMESIS, type="info", f="skew", value=["n1", clock.skew,
                                                                                    clock.drift_ppm], time=t)))
        sync.clock = clock.read(t)
        times.append(t)
        admitted = limiter.try_acquire()
        first = max(0, i - draw(st.integers(0, 3)))
        gaps[first].append((times[first], Op(process=i, type="invoke", f="acquire", time=times[first])))
        if draw(st.integers(0, 5)):
            last = min(n - 1, i + draw(st.integers(0, 3)))
            done = Op(process=i, type="ok", f="acquire", value=True, time=-1) if admitted else Op(
                process=i, type="fail", f="acquire", error="rate limited", time=-1)
            gaps[last + 1].append((-1, done))
    ops: list[Op] = []
    for i, gap in enumerate(gaps):
        for at, op in gap:  # a completion in gap i happens at the time of decision i-1 (or later ones)
            ops.append(op if at >= 0 else Op(process=op.process, type=op.type, f=op.f, value=op.value,
                                             error=op.error, time=times[i - 1]))
    return History.from_ops(ops), rate, burst, skewed


@settings(max_examples=300, deadline=None)
@given(limiter_histories())
def test_histories_of_a_correct_limiter_are_never_flagged(case: tuple[History, Fraction, int, bool]) -> None:
    h, rate, burst, skewed = case
    frame = SkewedClockFrame(h, "n1") if skewed else None
    valid, text = check_rate_limit(h, rate=rate, burst=burst, clock=frame)
    assert valid is True, text


def verdict(case: tuple[History, Fraction, int, bool]) -> str:
    h, rate, burst, skewed = case
    return check_rate_limit(h, rate=rate, burst=burst, clock=SkewedClockFrame(h, "n1") if skewed else None).explanation


@pytest.mark.parametrize(("speed", "finding"), [(Fraction(2), "rate limit exceeded"),
                                                (Fraction(1, 2), "needless rejection")])
def test_the_same_histories_from_a_limiter_off_its_promise_are_flagged(speed: Fraction, finding: str) -> None:
    """Not vacuous: a limiter twice as fast over-admits, one half as fast rejects needlessly."""
    found = find(limiter_histories(speed), lambda case: verdict(case).startswith(finding),
                 settings=settings(max_examples=2000, database=None, derandomize=True, phases=[Phase.generate]))
    assert verdict(found).startswith(finding)


# -- the classes on their own -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["token-bucket", "leaky-bucket"])
def test_a_meter_admits_its_burst_then_its_rate(kind: str) -> None:
    sync = FakeSync()
    meter: Any = (TOKEN_BUCKETS if kind == "token-bucket" else LEAKY_METERS)["correct"](Fraction(1, 4), 2, sync)
    assert [meter.try_acquire() for _ in range(3)] == [True, True, False]
    sync.clock = 3
    assert meter.try_acquire() is False
    sync.clock = 4
    assert [meter.try_acquire(), meter.try_acquire()] == [True, False]
    sync.clock = 100
    assert [meter.try_acquire() for _ in range(3)] == [True, True, False]  # never more than the burst


@pytest.mark.parametrize("kind", ["token-bucket", "leaky-bucket"])
def test_a_clock_stepping_back_credits_nothing_except_in_the_bug(kind: str) -> None:
    variants = TOKEN_BUCKETS if kind == "token-bucket" else LEAKY_METERS
    outcomes = {}
    for variant in ("correct", "clock-backwards"):
        sync = FakeSync()
        meter: Any = variants[variant](Fraction(1, 4), 1, sync)
        sync.clock = 100
        assert meter.try_acquire() is True
        sync.clock = 60  # stepped back 40 ticks
        assert meter.try_acquire() is False
        sync.clock = 100  # back where it was: no clock time has passed since the admission
        outcomes[variant] = meter.try_acquire()
    assert outcomes == {"correct": False, "clock-backwards": True}


@pytest.mark.parametrize("kind", ["token-bucket", "leaky-bucket"])
def test_check_then_act_is_correct_when_calls_do_not_overlap(kind: str) -> None:
    variants = TOKEN_BUCKETS if kind == "token-bucket" else LEAKY_METERS
    runs = []
    for variant in ("correct", "check-then-act"):
        sync = FakeSync()
        meter: Any = variants[variant](Fraction(1, 3), 2, sync)
        decisions = []
        for t in (0, 0, 0, 1, 3, 4, 7, 9, 9, 30, 30, 30):
            sync.clock = t
            decisions.append(meter.try_acquire())
        runs.append(decisions)
        assert {"check tokens", "take token"} <= set(sync.points) or {"read tat", "write tat"} <= set(sync.points)
    assert runs[0] == runs[1]


def test_the_leaky_queue_lets_one_out_per_interval_and_turns_away_the_overflow() -> None:
    sync = FakeSync()
    queue = LEAKY_QUEUES["correct"](2, 4, sync)
    assert [queue.offer(x) for x in "abc"] == [True, True, False]
    assert queue.leak() == "a"
    sync.clock = 3
    assert queue.leak() is None
    sync.clock = 4
    assert queue.leak() == "b"
    assert queue.leak() is None and len(queue) == 0


def test_the_classes_work_under_real_threads_with_real_sync() -> None:
    bucket = TOKEN_BUCKETS["correct"](1e-9, 50, REAL_SYNC)  # effectively no refill during the test
    admitted: list[bool] = []

    def worker() -> None:
        admitted.extend(ok for ok in (bucket.try_acquire() for _ in range(30)) if ok)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 50 and 0 <= bucket.tokens < 1


def test_user_mistakes_get_clear_errors() -> None:
    with pytest.raises(UsageError, match="rate > 0"):
        TOKEN_BUCKETS["correct"](0, 1)
    with pytest.raises(UsageError, match="burst >= 1"):
        LEAKY_METERS["correct"](1, 0)
    with pytest.raises(UsageError, match="capacity >= 1"):
        LEAKY_QUEUES["correct"](0, 1)


def test_range_max() -> None:
    tree = RangeMax([5, -3, 2, 0, 1])
    tree.add(1, 3, 10)
    assert tree.max() == 12 and tree.argmax() == 2
    tree.add(0, 0, 20)
    assert tree.max() == 25 and tree.argmax() == 0
