"""``wrr``: what a smooth weighted round-robin balancer promises, as a sequential specification.

Smooth weighted round robin is nginx's algorithm (Maxim Dounin, nginx 1.3.1 / 1.2.2, 2012, "Upstream:
smooth weighted round-robin balancing"; ``ngx_http_upstream_get_peer``): each backend ``i`` of weight
``w_i`` keeps a current weight ``c_i``, initially 0. A pick adds ``w_i`` to every ``c_i``, takes the
backend with the largest ``c_i`` and subtracts ``W = sum(w)`` from it. This model does not fix that
algorithm: it states three properties that every correct balancer of this kind has, and accepts any
sequence of picks that keeps them. A *segment* is a run of picks while the healthy set (and so ``W``)
is unchanged; its *rounds* are its picks ``1..W``, ``W+1..2W``, ...

1. **down-backend** — only a healthy backend is picked (nothing, only when none is healthy).
2. **exact-share** — every ``W`` consecutive picks of a segment give each healthy backend exactly its
   weight (checked as "at most": the window has ``W = sum(w)`` picks, so at most everywhere is exact).
3. **smooth-share** — after the ``n``-th pick of a round, backend ``i`` has at most ``ceil(n * w_i / W)``
   picks of that round.

Why smooth WRR has them, when a segment starts with every ``c_i = 0`` (the balancer resets the current
weights on every change of the healthy set). A pick adds ``W`` in total and subtracts ``W``, so
``sum(c) = 0`` after every pick. Before the subtraction the largest ``c_i`` is at least the mean,
``W / N``, so the chosen backend ends at ``c >= W/N - W > -W``; the others only grew. Hence ``c_i > -W``
always. After ``n`` picks from the segment's start, ``c_i = n * w_i - W * k_i`` with ``k_i`` its picks, so
``k_i < n * w_i / W + 1``, i.e. ``k_i <= ceil(n * w_i / W)`` — property 3 for the first round. At
``n = W`` this gives ``k_i <= w_i`` for every ``i``, and the ``k_i`` add up to ``W = sum(w)``, so
``k_i = w_i`` exactly and every ``c_i`` is back to 0: the picks repeat with period ``W``, which gives
property 3 for every round and property 2 for every window (a window of one period's length holds each
backend as often as one period does).

Naive WRR — each backend ``w_i`` times in a row, ``aaabbc`` for weights 3, 2, 1 — has property 2 (it is
periodic too) but not 3: after 2 picks ``a`` has 2 > ceil(2 * 3 / 6) = 1. (Measured, not proved: smooth WRR
also keeps ``k <= ceil(L * w_i / W) + 1`` over *every* window of length ``L``, not just round prefixes;
the checks enforce only what is proved above.)

Operations: ``pick`` with output ``[backend, epoch, healthy]`` — the backend picked (``nil`` when none is
healthy), the balancer's *health epoch* (any comparable value that grows with every change of the
healthy set, e.g. ``[incarnation, version]``) and the healthy backends with their weights,
``[["n2", 3], ["n3", 2]]``, in the balancer's order. A pick whose epoch is older than an earlier pick's
is illegal (the balancer's view of health went back in time). An ``info`` pick may have picked any
healthy backend, or may belong to a later segment than any pick seen so far; those are kept pending and
may be placed at the start of the next segment.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, ClassVar, NamedTuple

from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.models._text import show
from splitbrain.models.base import Model

DOWN, EXACT, SMOOTH = "down-backend", "exact-share", "smooth-share"
PROPERTIES = (DOWN, EXACT, SMOOTH)

Healthy = tuple[tuple[str, int], ...]


class Segment(NamedTuple):
    """Picks since the healthy set last changed: the last ``W - 1`` picks and the current round."""

    epoch: Any
    healthy: Healthy
    window: tuple[str, ...]
    counts: tuple[int, ...]  # picks of each healthy backend (in ``healthy`` order) in the current round
    pos: int  # picks of the current round so far

    @property
    def total(self) -> int:
        return sum(w for _, w in self.healthy)


class Violation(NamedTuple):
    """A broken property (one of :data:`PROPERTIES`) and what happened."""

    property: str
    text: str


def new_segment(epoch: Any, healthy: Healthy) -> Segment:
    """The segment that starts when the healthy set becomes ``healthy``."""
    return Segment(epoch, healthy, (), (0,) * len(healthy), 0)


def advance(seg: Segment, backend: str | None) -> tuple[Segment | None, Violation | None]:
    """The segment after picking ``backend``, or the property the pick breaks."""
    names = [b for b, _ in seg.healthy]
    if backend is None:
        if names:
            return None, Violation(DOWN, f"no backend was picked although {show(names)} are healthy")
        return seg, None
    if backend not in names:
        return None, Violation(DOWN, f"picked {backend}, which is not among the healthy backends {show(names)}")
    total = seg.total
    i = names.index(backend)
    weight = seg.healthy[i][1]
    window = (*seg.window, backend)
    if len(window) == total:
        got = window.count(backend)
        if got > weight:
            return None, Violation(
                EXACT,
                f"the last {total} picks, {show(window)}, give {backend} {got} picks; every {total} consecutive "
                f"picks must give it exactly its weight {weight}",
            )
        window = window[1:]
    pos = seg.pos + 1
    counts = list(seg.counts)
    counts[i] += 1
    bound = -(-pos * weight // total)
    if counts[i] > bound:
        return None, Violation(
            SMOOTH,
            f"pick {pos} of a round of {total} gives {backend} its pick number {counts[i]} of the round, more "
            f"than ceil({pos} * {weight} / {total}) = {bound}",
        )
    if pos == total:
        counts, pos = [0] * len(counts), 0
    return Segment(seg.epoch, seg.healthy, window, tuple(counts), pos), None


def candidates(seg: Segment) -> list[str | None]:
    """What a pick of an unknown outcome may have returned in ``seg``."""
    return [b for b, _ in seg.healthy] or [None]


def parse_pick(op: Operation) -> tuple[str | None, Any, Healthy]:
    """``(backend, epoch, healthy)`` from a pick's output, or :class:`InvalidHistory` naming the op."""
    out = op.output
    try:
        backend, epoch, healthy = out
        pairs = tuple((str(b), int(w)) for b, w in healthy)
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or any(w < 1 for _, w in pairs) or not (backend is None or isinstance(backend, str)):
        raise InvalidHistory(
            f"pick by process {op.process} (event {op.call}) returned {show(out)}; expected "
            '[backend epoch healthy], e.g. ["n2" [1 0] [["n2" 3] ["n3" 1]]]'
        )
    return backend, epoch, pairs


class State(NamedTuple):
    segment: Segment | None
    pending: int  # info picks placed in a segment no known pick has shown yet


class WeightedRoundRobinModel(Model):
    """Smooth weighted round robin's guarantees over picks (see the module docstring)."""

    name: ClassVar[str] = "wrr"
    summary: ClassVar[str] = "weighted round robin: pick -> [backend epoch healthy], exact and smooth shares"
    functions: ClassVar[tuple[str, ...]] = ("pick",)

    def init(self) -> Hashable:
        return State(None, 0)

    def step(self, state: State, op: Operation) -> tuple[State, ...]:
        if op.f != "pick":
            return ()
        seg, pending = state
        if op.output is UNKNOWN:
            after = [State(seg, pending + 1)]
            if seg is not None:
                after += [State(s, pending) for s in _successors([seg])]
            return tuple(dict.fromkeys(after))
        backend, epoch, healthy = parse_pick(op)
        if seg is None or _newer(op, epoch, seg.epoch):
            starts = _with_pending(new_segment(epoch, healthy), pending)
        elif epoch != seg.epoch or healthy != seg.healthy:
            return ()  # an older epoch, or another healthy set under the same epoch
        else:
            starts = [state]
        out: dict[State, None] = {}
        for start in starts:
            assert start.segment is not None
            nxt, _ = advance(start.segment, backend)
            if nxt is not None:
                out[State(nxt, start.pending)] = None
        return tuple(out)

    def describe_state(self, state: State) -> str:
        seg, pending = state
        more = f"; {pending} unknown pick(s) pending" if pending else ""
        if seg is None:
            return "no pick yet" + more
        weights = ", ".join(f"{b}: {w}" for b, w in seg.healthy) or "none"
        round_ = ", ".join(f"{b} {n}" for (b, _), n in zip(seg.healthy, seg.counts, strict=True))
        return (
            f"epoch {show(seg.epoch)}, healthy {{{weights}}}, {seg.pos} pick(s) into the round ({round_}), "
            f"last picks {show(seg.window)}{more}"
        )


def _successors(segments: Iterable[Segment]) -> list[Segment]:
    return [nxt for seg in segments for b in candidates(seg) if (nxt := advance(seg, b)[0]) is not None]


def _with_pending(start: Segment, pending: int) -> list[State]:
    """The states a new segment can start in: any ``j`` of the pending unknown picks came first in it."""
    states = [State(start, pending)]
    frontier = [start]
    for j in range(1, pending + 1):
        frontier = list(dict.fromkeys(_successors(frontier)))
        states += [State(seg, pending - j) for seg in frontier]
    return states


def _newer(op: Operation, epoch: Any, than: Any) -> bool:
    try:
        return bool(epoch > than)
    except TypeError:
        raise InvalidHistory(
            f"pick by process {op.process} (event {op.call}) has epoch {show(epoch)}, which cannot be compared "
            f"with the epoch {show(than)} of an earlier pick"
        ) from None
