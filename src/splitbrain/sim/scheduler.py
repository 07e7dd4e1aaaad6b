"""Choice sources: the one interface through which every nondeterministic decision of a world passes.

A world asks its source two things:

* ``choose(enabled, phase)`` — which event runs next. ``enabled`` lists ``(key, weight)`` pairs in a
  canonical order; keys are stable ids (``"deliver:17"``, ``"crash:n3"``), never positions, so a recorded
  choice still means the same thing after earlier steps are removed. Returning ``None`` ends the phase.
* ``draw(lo, hi)`` — an int in ``[lo, hi]`` (a message delay, a partition's groups, a client's operation,
  ``Node.randint``).

Sources: :class:`RandomSource` (one seeded ``random.Random``, for fast campaigns), :class:`ReplaySource`
(follows a recorded trace, matching messages by the step that sent them and skipping choices that are no
longer enabled — what shrinking needs) and
:class:`HypothesisSource` (draws from Hypothesis data, so Hypothesis generates and shrinks schedules).
The idea of putting all nondeterminism behind one seeded interface is FoundationDB's simulation testing.

The world hands ``choose`` an :class:`Enabled`: a sequence of ``(key, weight)`` pairs like any other,
stored as runs of keys that share a weight (every deliverable message, every message a ``drop`` could
hit). A source that only needs the total weight and the key at one position (:func:`total_weight`,
:func:`weighted`) pays for the runs, not for every key; the keys of a long run are never built.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, overload

from splitbrain.sim.trace import Step, Trace

__all__ = [
    "Choice",
    "ChoiceSource",
    "Enabled",
    "HypothesisSource",
    "Phase",
    "RandomSource",
    "ReplaySource",
    "has_key",
    "total_weight",
    "weighted",
]


Choice = tuple[str, int]
"""An enabled event: its stable key and its integer weight."""

Phase = Literal["start", "run", "quiesce"]

#: the kinds of step the world always takes, at the start and before quiescing (never a choice, never
#: removed by shrinking)
FRAME_KINDS = frozenset({"start", "quiesce"})
_new = object.__new__


class Enabled(Sequence[Choice]):
    """The enabled events in canonical order, as runs: each run is ``prefix + id`` for every id of a
    sequence, all with one weight. Indexing and iterating give the ``(key, weight)`` pairs; :meth:`total`,
    :meth:`pick` and :meth:`has` answer without building them.

    ``also`` optionally names keys the world accepts although they are not listed (with weight 0): a
    replay uses it for the faults a trace aimed (:mod:`splitbrain.sim.aims`).
    """

    __slots__ = ("_n", "_runs", "_total", "also")

    def __init__(self) -> None:
        self._runs: list[tuple[str, Sequence[str], int]] = []
        self._n = 0  # keys in all runs
        self._total = 0  # their total weight
        self.also: Callable[[str], bool] | None = None

    @classmethod
    def of(cls, runs: list[tuple[str, Sequence[str], int]], n: int, total: int) -> Enabled:
        """An :class:`Enabled` holding ``runs`` (every run non-empty): ``n`` keys weighing ``total``."""
        out = _new(cls)
        out._runs, out._n, out._total, out.also = runs, n, total, None
        return out

    def add(self, prefix: str, ids: Sequence[str], weight: int) -> None:
        """Append the keys ``prefix + id`` for each of ``ids``, each weighing ``weight``."""
        n = len(ids)
        if n:
            self._runs.append((prefix, ids, weight))
            self._n += n
            self._total += n * weight

    def add_one(self, key: str, weight: int) -> None:
        self._runs.append((key, ("",), weight))
        self._n += 1
        self._total += weight

    def extend(self, choices: Sequence[Choice]) -> None:
        for key, weight in choices:
            self.add_one(key, weight)

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def first(self) -> str:
        """The first key (the only one, when ``len(self) == 1``)."""
        prefix, ids, _ = self._runs[0]
        return prefix + ids[0]

    @overload
    def __getitem__(self, index: int) -> Choice: ...

    @overload
    def __getitem__(self, index: slice) -> list[Choice]: ...

    def __getitem__(self, index: int | slice) -> Choice | list[Choice]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += len(self)
        for prefix, ids, weight in self._runs:
            n = len(ids)
            if index < n:
                return prefix + ids[index], weight
            index -= n
        raise IndexError("enabled event index out of range")

    def __iter__(self) -> Iterator[Choice]:
        for prefix, ids, weight in self._runs:
            for item in ids:
                yield prefix + item, weight

    def total(self) -> int:
        return self._total

    def pick(self, r: int) -> str:
        """The key at position ``r`` of the cumulative weights (``0 <= r < total``), as :func:`weighted`."""
        for prefix, ids, weight in self._runs:
            span = len(ids) * weight
            if r < span:
                return prefix + ids[r // weight]
            r -= span
        prefix, ids, _ = self._runs[-1]
        return prefix + ids[len(ids) - 1]

    def has(self, key: str) -> bool:
        """Whether ``key`` is listed (:attr:`also` is not consulted)."""
        return any(key.startswith(prefix) and key[len(prefix):] in ids for prefix, ids, _ in self._runs)

    def keys(self) -> list[str]:
        return [key for key, _ in self]

    def __repr__(self) -> str:
        return f"Enabled({list(self)!r})"


def has_key(enabled: Sequence[Choice], key: str) -> bool:
    """Whether ``key`` is among ``enabled``."""
    if isinstance(enabled, Enabled):
        return enabled.has(key)
    return any(k == key for k, _ in enabled)


class ChoiceSource(ABC):
    """Where a world's choices come from."""

    #: the seed, when the source has one (recorded in the trace)
    seed: int | None = None
    #: the source follows a recorded trace: the world then fires no aimed fault of its own (the trace's
    #: aimed steps are followed like the others)
    follows_trace: bool = False

    @abstractmethod
    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        """The key of the next event (one of ``enabled``), or ``None`` to end the phase."""

    @abstractmethod
    def draw(self, lo: int, hi: int) -> int:
        """An int in ``[lo, hi]``."""

    def recorded(self) -> Step | None:
        """The recorded step behind the last choice, when replaying (its parameters are reused)."""
        return None

    @property
    def skipped(self) -> int:
        """Recorded choices that were no longer enabled (replay only)."""
        return 0

    def executed(self, step: Step) -> None:
        """Told after each step runs, with what it did (a replay maps message names with it); most
        sources ignore it."""
        return None


def weighted(enabled: Sequence[Choice], r: int) -> str:
    """The key at position ``r`` of the cumulative weights (``0 <= r < total``)."""
    if isinstance(enabled, Enabled):
        return enabled.pick(r)
    for key, weight in enabled:
        if r < weight:
            return key
        r -= weight
    return enabled[-1][0]


def total_weight(enabled: Sequence[Choice]) -> int:
    if isinstance(enabled, Enabled):
        return enabled.total()
    return sum(weight for _, weight in enabled)


class RandomSource(ChoiceSource):
    """Choices from one ``random.Random(seed)``, weighted; the same seed gives the same choices."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        bits = self._bits = self.rng.getrandbits

        def below(n: int) -> int:
            # random.Random._randbelow (for n > 0), which randrange and randint use: the same numbers,
            # one call fewer, and independent of how a future Python spells it
            k = n.bit_length()
            r = bits(k)
            while r >= n:
                r = bits(k)
            return r

        self._below = below

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if type(enabled) is Enabled:  # the world's: the same choice as below, without building pairs
            n = enabled._n
            if n <= 1:
                if not n:
                    return None
                prefix, ids, _ = enabled._runs[0]
                return prefix + ids[0]
            total = enabled._total
            if total <= 0:
                return enabled[self.rng.randrange(n)][0]
            bits = self._bits  # self._below(total), inline
            k = total.bit_length()
            r = bits(k)
            while r >= total:
                r = bits(k)
            for prefix, ids, weight in enabled._runs:  # Enabled.pick, inline
                span = len(ids) * weight
                if r < span:
                    return prefix + ids[r // weight]
                r -= span
            return enabled.pick(r)
        if not enabled:
            return None
        if len(enabled) == 1:
            return enabled[0][0]
        total = total_weight(enabled)
        if total <= 0:
            return enabled[self.rng.randrange(len(enabled))][0]
        # randrange(n) for n > 0 is _randbelow(n): called directly, the same numbers at less cost
        return weighted(enabled, self._below(total))

    def draw(self, lo: int, hi: int) -> int:
        # randint(lo, hi) is randrange(lo, hi + 1), which for hi >= lo is lo + _randbelow(hi - lo + 1)
        if hi >= lo:  # lo + self._below(hi - lo + 1), inline
            n = hi - lo + 1
            k = n.bit_length()
            r = self._bits(k)
            while r >= n:
                r = self._bits(k)
            return lo + r
        return self.rng.randint(lo, hi)


class ReplaySource(ChoiceSource):
    """Follows a recorded trace by stable id.

    A recorded step whose key is not enabled any more is skipped (counted in :attr:`skipped`). When the
    recorded run phase is used up the run phase ends; in the quiesce phase a run-out trace continues with
    a :class:`RandomSource` seeded from ``fallback_seed`` (default: the trace's seed), so that replaying
    any edited trace is still deterministic. Draws come from the matched step's ``draws`` (clamped to the
    range asked for), then from the fallback. The ``start`` step and the ``quiesce`` marker are always
    taken; a trace without them still replays.

    Messages are followed by *who sent them*, not by their name alone: when a followed step runs, the
    messages it creates are matched, link by link and in order, to the ones its recording lists in
    ``sent``, and later steps that name a recorded message act on the message matched to it. A message
    whose sending step was removed or skipped (or that the step no longer sends) matches nothing, so the
    steps naming it are skipped — they do not silently act on whatever message now has that name. A
    full trace maps every name to itself, so it replays exactly as before. (Removing a step that sent on
    a link renumbers the later messages of that link; this mapping is what keeps an edited trace meaning
    what it said.) One exception, for sends that moved rather than vanished: a message a followed step
    sends beyond what its recording lists is kept as unclaimed on its link, and a recorded step whose
    own message no longer exists acts on the oldest unclaimed, enabled message of that link instead (see
    ``_key``).
    """

    follows_trace = True

    def __init__(self, trace: Trace, *, fallback_seed: int | None = None) -> None:
        self.trace = trace
        self.seed = trace.seed
        self.cursor = 0
        self.followed = 0
        self._skipped = 0
        self._step: Step | None = None
        self._draws: list[int] = []
        self._next_draw = 0
        self._names: dict[str, str] = {}  # recorded message name -> the name it has in this replay
        self._orphans: dict[str, list[str]] = {}  # link -> messages sent there that no recorded name claims
        seed = fallback_seed if fallback_seed is not None else (trace.seed or 0)
        self.fallback = RandomSource(seed)

    @property
    def skipped(self) -> int:
        return self._skipped

    def executed(self, step: Step) -> None:
        rec = self._step
        if rec is None and step.kind == "start":
            rec = step  # a trace without its start step: nothing came before, so the names are the same
        if rec is None or not (rec.sent or step.sent):
            return
        actual: dict[str, list[str]] = {}
        for name in step.sent or ():
            actual.setdefault(_link(name), []).append(name)
        for name in rec.sent or ():
            now = actual.get(_link(name))
            if now:
                self._names[name] = now.pop(0)
        for link, left in actual.items():
            if left:
                self._orphans.setdefault(link, []).extend(left)

    def _key(self, rec: Step, enabled: Sequence[Choice]) -> str | None:
        """The key ``rec`` stands for in this replay, or ``None`` when its message does not exist.

        A recorded message whose sending step is gone may be stood in for by a message on the same link
        that no recorded name claims — the oldest one that is enabled now: in an edited trace a later step
        often sends what a removed one used to (a TCP connection's handshake, opened by the next request
        once the first is gone), and without a stand-in every recorded delivery on that link would be
        skipped and the run would drift from the trace. A full trace sends nothing unclaimed, so it
        replays exactly as before; and whatever an edited trace replays to is what is recorded and kept."""
        if rec.msg is None:
            return rec.key()
        name = self._names.get(rec.msg)
        if name is None:
            orphans = self._orphans.get(_link(rec.msg))
            if not orphans:
                return None
            for i, candidate in enumerate(orphans):
                if has_key(enabled, f"{rec.kind}:{candidate}"):
                    name = self._names[rec.msg] = orphans.pop(i)
                    break
            else:
                return None
        return f"{rec.kind}:{name}"

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        steps = self.trace.steps
        if not enabled:
            return None
        if len(enabled) == 1 and enabled[0][0] in FRAME_KINDS:
            # the start step and the quiesce marker: follow the recorded one if it is next, and never
            # consume another kind of step for them
            self._step, self._draws, self._next_draw = None, [], 0
            if self.cursor < len(steps) and steps[self.cursor].kind == enabled[0][0]:
                self._step = steps[self.cursor]
                self._draws = self._step.draws or []
                self.cursor += 1
                self.followed += 1
            return enabled[0][0]
        while self.cursor < len(steps):
            rec = steps[self.cursor]
            if rec.kind == "quiesce" and phase == "run":
                break
            self.cursor += 1
            key = self._key(rec, enabled)
            if key is not None and (has_key(enabled, key) or (rec.aim is not None and _aimable(enabled, key))):
                self.followed += 1
                self._step = rec
                self._draws = rec.draws or []
                self._next_draw = 0
                return key
            self._skipped += 1
        self._step = None
        self._draws = []
        if phase == "run":
            return None
        return self.fallback.choose(enabled, phase)

    def draw(self, lo: int, hi: int) -> int:
        if self._next_draw < len(self._draws):
            value = self._draws[self._next_draw]
            self._next_draw += 1
            return min(max(value, lo), hi)
        return self.fallback.draw(lo, hi)

    def recorded(self) -> Step | None:
        return self._step


def _aimable(enabled: Sequence[Choice], key: str) -> bool:
    """Whether the world accepts the aimed fault ``key`` of a recorded step though it is not enabled."""
    also = enabled.also if isinstance(enabled, Enabled) else None
    return also is not None and also(key)


def _link(message: str) -> str:
    """``"n1>n2"`` for the message named ``"n1>n2#3"``."""
    return message.rpartition("#")[0]


class HypothesisSource(ChoiceSource):
    """Draws choices from Hypothesis: ``HypothesisSource(data.draw)`` inside ``@given(st.data())``.

    ``draw`` is any callable taking a strategy, so the fuzzing layer can wrap it. Each event choice is
    one integer over the cumulative weights, so Hypothesis shrinks it toward the first enabled event in
    canonical order (the oldest delivery; faults come last). To keep the data small, the quiesce phase
    uses a :class:`RandomSource` seeded by a single drawn integer unless ``draw_in_quiesce`` is set.
    """

    def __init__(self, draw: Callable[[Any], Any], *, draw_in_quiesce: bool = False) -> None:
        from hypothesis import strategies as st

        self._draw = draw
        self._st = st
        self.draw_in_quiesce = draw_in_quiesce
        self._fallback: RandomSource | None = None

    def _quiet(self, phase: Phase) -> RandomSource | None:
        if phase != "quiesce" or self.draw_in_quiesce:
            return None
        if self._fallback is None:
            self._fallback = RandomSource(self._draw(self._st.integers(0, 2**32 - 1)))
        return self._fallback

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if not enabled:
            return None
        fallback = self._quiet(phase)
        if fallback is not None:
            return fallback.choose(enabled, phase)
        if len(enabled) == 1:
            return enabled[0][0]
        total = total_weight(enabled)
        if total <= 0:
            return enabled[self._draw(self._st.integers(0, len(enabled) - 1))][0]
        return weighted(enabled, self._draw(self._st.integers(0, total - 1)))

    def draw(self, lo: int, hi: int) -> int:
        if self._fallback is not None:
            return self._fallback.draw(lo, hi)
        return int(self._draw(self._st.integers(lo, hi)))
