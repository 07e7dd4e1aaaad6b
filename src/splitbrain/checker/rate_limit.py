"""Rate limits as properties of a history: never too many admitted, never a needless rejection.

A rate limiter with rate ``r`` (tokens per clock unit) and burst ``B`` promises two things, both checked
here on a history of calls (``f`` = ``"acquire"`` by default: ``ok`` = admitted, ``info`` = unknown,
``fail`` with error ``reason`` — ``"rate limited"`` by default — rejected by the limiter; a ``fail`` for
any other reason, such as a refused connection, never reached the limiter and is left out; pass
``reason=None`` to count every ``fail`` as a rejection):

1. **Admission bound** (safety): in every interval of length ``T`` of the limiter's clock, at most
   ``B + r*T`` requests are admitted — what the leaky bucket of Turner (1986, "New directions in
   communications (or which way to the information age?)", IEEE Communications Magazine 24(10)) admits,
   in its token-bucket form as in ATM's GCRA (ITU-T I.371), the same bucket as a "virtual scheduling"
   test.
2. **No needless rejection** (the limiter is not simply closed): a request is not rejected while the
   bucket provably held a token.

Neither moment of decision is recorded: a request decided somewhere between its invoke and completion
events. So both checks take the view most favourable to the implementation, and flag only what no
interleaving consistent with the history can explain:

* *Admission.* For requests ``x`` and ``y``, every admitted request ``z`` invoked no earlier than ``x``
  and completed no later than ``y`` decided within the window; the first such decision lies between
  ``x``'s invoke and completion, the last one before ``y``'s completion. The clock advanced at most
  ``high(y.completion) - low(x.invoke, x.completion)`` over them, so more than
  ``B + r*(that + tolerance)`` admitted requests is a violation. Unknown (``info``) requests are not
  counted: they may not have been admitted.
* *Rejection.* The ideal bucket's level when ``x`` decides is ``min over s`` of
  ``B + r*(clock(x) - clock(s)) - admissions between s and x`` (the bucket was full at some moment ``s``
  — at the latest at its creation — and every admission since took a token: the reflection form of
  the bucket's level). A lower bound that holds for *every* placement: each candidate cut ``s`` is a
  completion event, ``clock(x)`` is at least ``low(x.invoke, x.completion)``, ``clock(s)`` at most
  ``high(s)``, and every request that is admitted *or unknown* and could have decided between the cut
  and ``x``'s completion is counted as having taken a token. ``x`` is flagged only when that bound is
  still at least one token after removing ``r * tolerance``.

``tolerance`` is in clock units and is granted in both checks (default 0: the simulator's integer clock
with exact :class:`~fractions.Fraction` rates needs none). State it for real clocks, e.g. a microsecond
when the limiter and the recorder read the same monotonic clock through different float conversions.

**Which clock.** The property is about the clock the limiter reads. By default that is the history's
``time`` field (monotonic ns from the thread-safe recorder, or simulated ticks without clock faults).
When the limiter's clock may be skewed — and step backwards — pass a :class:`ClockFrame` that says, from
the history's events, the lowest reading the limiter's clock could show between two events and the
highest it showed up to an event; a correct limiter never credits time below its highest reading, so
its clock is the running maximum of what it read, and the bounds above hold for it.

:func:`check_queue_rejections` is the rejection property of a leaky bucket used as a queue: a request
is not turned away while the queue provably had room. Its admission bound (the output rate) is the
admission check above with burst 1 applied to the departures.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from splitbrain.checker.range_max import RangeMax
from splitbrain.checker.result import PropertyResult
from splitbrain.histories.history import History, Operation

__all__ = [
    "QUEUE_FULL",
    "RATE_LIMITED",
    "SHOWN_OPS",
    "CheckOutcome",
    "ClockFrame",
    "HistoryTimes",
    "MissingTimes",
    "Number",
    "check_admissions",
    "check_queue_rejections",
    "check_rate_limit",
    "check_rejections",
]


Number = int | float | Fraction
CheckOutcome = PropertyResult
"""What each check returns: a :class:`~splitbrain.checker.result.PropertyResult`, which also unpacks as
``(True | False | "unknown", explanation)``, the shape a workload's ``history_checks`` return."""

SHOWN_OPS = 8  # operations listed by name in an explanation before "..."
RATE_LIMITED = "rate limited"  # the error of a rejection, as the built-in workloads and stress mode answer it
QUEUE_FULL = "queue full"


class ClockFrame(Protocol):
    """The limiter's clock as seen from a history's events (``start``/``end`` are event indices)."""

    def low(self, start: int, end: int) -> Number:
        """The lowest reading the limiter's clock could show from event ``start`` to event ``end``."""
        ...

    def high(self, end: int) -> Number:
        """The highest reading the limiter's clock showed from its creation up to event ``end``."""
        ...

    def describe(self, index: int) -> str:
        """How to name the moment of event ``index`` in an explanation."""
        ...


class HistoryTimes:
    """The default :class:`ClockFrame`: the limiter reads the clock that stamped the history's ``time``."""

    def __init__(self, history: History) -> None:
        times: list[int] = []
        peaks: list[int] = []
        peak: int | None = None
        for op in history.ops:
            if op.time is None:
                raise MissingTimes(op.index)
            times.append(op.time)
            peak = op.time if peak is None else max(peak, op.time)
            peaks.append(peak)
        self._times = times
        self._peaks = peaks

    def low(self, start: int, end: int) -> Number:
        return self._times[start]

    def high(self, end: int) -> Number:
        return self._peaks[end]

    def describe(self, index: int) -> str:
        return f"event {index} (t={self._times[index]})"


class MissingTimes(Exception):
    """The history has an event without a ``time``; the checks cannot place it (verdict unknown)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


@dataclass(frozen=True, slots=True)
class _Call:
    """A request as the checks see it: its events and outcome."""

    op: Operation
    call: int
    ret: int | None  # None: still open or unknown (info)

    @property
    def end(self) -> float:
        return float("inf") if self.ret is None else self.ret


def _calls(history: History, f: str) -> list[_Call]:
    return [_Call(op, op.call, op.ret) for op in history.operations if op.f == f]


def _rejected(history: History, calls: list[_Call], reason: str | None) -> list[_Call]:
    """The calls the limiter turned away: ``fail`` completions whose error is ``reason``."""
    out = []
    for c in calls:
        if c.op.status != "fail":
            continue
        assert c.op.completion is not None
        if reason is None or c.op.completion.error == reason:
            out.append(c)
    return out


def _name(c: _Call) -> str:
    end = "open" if c.ret is None else str(c.ret)
    return f"p{c.op.process} {c.op.f} [events {c.call}-{end}]"


def _names(calls: Sequence[_Call]) -> str:
    shown = ", ".join(_name(c) for c in calls[:SHOWN_OPS])
    return shown + (f", ... ({len(calls)} in all)" if len(calls) > SHOWN_OPS else "")


def _num(x: Number) -> str:
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{x} (= {float(x):.3g})"
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _result(valid: Any, explanation: str) -> PropertyResult:
    return PropertyResult(valid=valid, explanation=explanation, checker="rate-limit")


def _validate(rate: Number, burst: Number, tolerance: Number) -> None:
    if rate < 0 or burst < 1 or tolerance < 0:
        raise ValueError(f"need rate >= 0, burst >= 1 and tolerance >= 0 (got {rate}, {burst}, {tolerance})")


def check_admissions(
    history: History, *, rate: Number, burst: Number, f: str = "acquire", clock: ClockFrame | None = None,
    tolerance: Number = 0,
) -> CheckOutcome:
    """Property 1 (module docstring): no window of the limiter's clock admits more than ``burst +
    rate * length``. Returns ``(True | False | "unknown", explanation)``."""
    _validate(rate, burst, tolerance)
    try:
        frame = clock if clock is not None else HistoryTimes(history)
    except MissingTimes as exc:
        return _result("unknown", f"event {exc.index} has no time: admissions cannot be placed on the clock")
    admitted = [c for c in _calls(history, f) if c.op.ok]
    if not admitted:
        return _result(True, "no admitted requests")
    # Window ends are the admitted requests in completion order; window starts are taken in decreasing
    # invoke order, each start adding its request to every window end at or after its completion. With
    # the rate as num/den, end y violates start x when den*count(y) - num*high(y) exceeds
    # den*burst + num*(tolerance - low(x)); a RangeMax keeps the left side of every end.
    exact = Fraction(rate)
    num, den = exact.numerator, exact.denominator
    by_ret = sorted(admitted, key=lambda c: c.end)
    position = {id(c): i for i, c in enumerate(by_ret)}
    highs = [_exact(frame.high(int(c.end))) for c in by_ret]
    absent = 1 + den * len(by_ret) + num * (max(highs) - min(highs)) + 1  # keeps a not-yet-started end below
    tree = RangeMax([-num * h - absent for h in highs])
    for x in sorted(admitted, key=lambda c: c.call, reverse=True):
        assert x.ret is not None
        at = position[id(x)]
        tree.add(at, at, absent)
        tree.add(at, len(by_ret) - 1, den)
        start = _exact(frame.low(x.call, x.ret))
        if tree.max() > den * _exact(burst) + num * (_exact(tolerance) - start):
            y = by_ret[tree.argmax()]
            assert y.ret is not None
            inside = [c for c in by_ret if c.call >= x.call and c.end <= y.end]
            span = frame.high(y.ret) - start
            allowed = burst + rate * max(0, span + tolerance)
            return _result(False, (
                f"rate limit exceeded: {len(inside)} requests admitted between {frame.describe(x.call)} and "
                f"{frame.describe(y.ret)}: {_names(inside)}. Each of them decided within that window, in "
                f"which the limiter's clock advanced at most {_num(span)} (from at least {_num(start)} "
                f"to at most {_num(frame.high(y.ret))}), so at most burst {_num(burst)} + rate "
                f"{_num(rate)} x {_num(max(0, span + tolerance))} = {_num(allowed)} may be admitted"
            ))
    return _result(
        True, f"{len(admitted)} admitted requests: no window of the clock admits more than burst + rate x length"
    )


def _exact(x: Number) -> int | Fraction:
    return x if isinstance(x, int | Fraction) else Fraction(x)


def check_rejections(
    history: History, *, rate: Number, burst: Number, f: str = "acquire", clock: ClockFrame | None = None,
    tolerance: Number = 0, reason: str | None = RATE_LIMITED,
) -> CheckOutcome:
    """Property 2 (module docstring): no request is rejected while the bucket provably held a token."""
    _validate(rate, burst, tolerance)
    try:
        frame = clock if clock is not None else HistoryTimes(history)
    except MissingTimes as exc:
        return _result("unknown", f"event {exc.index} has no time: rejections cannot be placed on the clock")
    calls = _calls(history, f)
    takers = [c for c in calls if c.op.ok or c.op.unknown]  # may have taken a token
    rejected = _rejected(history, calls, reason)
    calls_sorted = sorted(c.call for c in takers)
    by_ret = sorted((c for c in takers if c.ret is not None), key=lambda c: c.end)
    rets = [c.end for c in by_ret]
    peaks = [frame.high(int(r)) for r in rets]
    # g(i) = i - rate * high(ret_i); prefix minima let each rejection find its worst cut in O(log n)
    prefix_min: list[tuple[Number, int]] = []  # (min of g over 0..i, where it is reached)
    for i, peak in enumerate(peaks):
        g = i - rate * peak
        prefix_min.append((g, i) if not prefix_min or g < prefix_min[-1][0] else prefix_min[-1])
    for x in rejected:
        assert x.ret is not None
        reading = frame.low(x.call, x.ret) - tolerance
        before = bisect.bisect_right(calls_sorted, x.ret)  # takers invoked before x completed
        cuts = bisect.bisect_right(rets, x.ret)  # cut candidates: completions up to x's
        caught_up = bisect.bisect_left(peaks, reading, 0, cuts)  # first cut whose clock reached x's
        # a cut at completion i: every taker still open at i and invoked before x completed may have gone
        # first, i.e. before - i of them; the clock advanced at least reading - high(ret_i) since
        candidates: list[tuple[Number, int]] = [(burst - (before - cuts), cuts)]
        if caught_up < cuts:
            candidates.append((burst - (before - caught_up), caught_up))
        if caught_up > 0:
            g_min, i_min = prefix_min[caught_up - 1]
            candidates.append((burst + rate * reading - before + g_min, i_min))
        level, cut = min(candidates, key=lambda lc: lc[0])
        if level >= 1:
            boundary = rets[cut] if cut < cuts else x.end
            others = [c for c in takers if c.call <= x.ret and c.end >= boundary]
            return _result(False, (
                f"needless rejection: {_name(x)} was rejected although the bucket provably held a token. Its "
                f"decision read the clock at {_num(reading + tolerance)} or later. Even if the bucket was last "
                f"full at event {int(boundary)} (clock at most {_num(frame.high(int(boundary)))}) and all "
                f"{len(others)} requests that could have decided between then and it took a token "
                f"({_names(others) or 'none'}), at least {_num(level)} tokens remained (burst {_num(burst)}, "
                f"rate {_num(rate)}, tolerance {_num(tolerance)})"
            ))
    return _result(True, f"{len(rejected)} rejections: none while the bucket provably held a token")


def check_rate_limit(
    history: History, *, rate: Number, burst: Number, f: str = "acquire", clock: ClockFrame | None = None,
    tolerance: Number = 0, reason: str | None = RATE_LIMITED,
) -> CheckOutcome:
    """Both properties: the admission bound first, then no needless rejection."""
    verdicts = [check_admissions(history, rate=rate, burst=burst, f=f, clock=clock, tolerance=tolerance)]
    if verdicts[0].valid is False:
        return verdicts[0]
    verdicts.append(
        check_rejections(history, rate=rate, burst=burst, f=f, clock=clock, tolerance=tolerance, reason=reason)
    )
    if verdicts[1].valid is False:
        return verdicts[1]
    if any(v.valid is not True for v in verdicts):
        return _result("unknown", "; ".join(v.explanation for v in verdicts if v.valid is not True))
    return _result(True, "; ".join(v.explanation for v in verdicts))


def check_queue_rejections(
    history: History, *, capacity: int, f: str = "enqueue", reason: str | None = QUEUE_FULL
) -> CheckOutcome:
    """A leaky bucket used as a queue of ``capacity``: a request is not rejected while the queue provably
    had room. At ``x``'s decision the queue can only hold requests accepted (``ok``) or possibly accepted
    (``info``) that were invoked before ``x`` completed and had not left before ``x`` was invoked (a
    request's completion follows its departure); fewer than ``capacity`` of those means there was room."""
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    calls = _calls(history, f)
    accepted = [c for c in calls if c.op.ok or c.op.unknown]
    rejected = _rejected(history, calls, reason)
    for x in rejected:
        assert x.ret is not None
        queued = [c for c in accepted if c.call <= x.ret and c.end >= x.call]
        if len(queued) < capacity:
            return _result(False, (
                f"needless rejection: {_name(x)} was turned away although the queue (capacity {capacity}) "
                f"provably had room: at most {len(queued)} requests could have been waiting in it "
                f"({_names(queued) or 'none'}); every other accepted request left before it was invoked or "
                f"was invoked after it completed"
            ))
    return _result(True, f"{len(rejected)} rejections: none while the queue provably had room")
