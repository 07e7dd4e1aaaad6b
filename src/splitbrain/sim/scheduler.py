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
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Literal

from splitbrain.sim.trace import Step, Trace

__all__ = [
    "Choice",
    "ChoiceSource",
    "HypothesisSource",
    "Phase",
    "RandomSource",
    "ReplaySource",
    "total_weight",
    "weighted",
]


Choice = tuple[str, int]
"""An enabled event: its stable key and its integer weight."""

Phase = Literal["start", "run", "quiesce"]

_FRAME = frozenset({"start", "quiesce"})  # steps the world always takes, at the start and before quiescing


class ChoiceSource(ABC):
    """Where a world's choices come from."""

    #: the seed, when the source has one (recorded in the trace)
    seed: int | None = None

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
    for key, weight in enabled:
        if r < weight:
            return key
        r -= weight
    return enabled[-1][0]


def total_weight(enabled: Sequence[Choice]) -> int:
    return sum(weight for _, weight in enabled)


class RandomSource(ChoiceSource):
    """Choices from one ``random.Random(seed)``, weighted; the same seed gives the same choices."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if not enabled:
            return None
        if len(enabled) == 1:
            return enabled[0][0]
        total = total_weight(enabled)
        if total <= 0:
            return enabled[self.rng.randrange(len(enabled))][0]
        return weighted(enabled, self.rng.randrange(total))

    def draw(self, lo: int, hi: int) -> int:
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
    what it said.)
    """

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
        seed = fallback_seed if fallback_seed is not None else (trace.seed or 0)
        self.fallback = RandomSource(seed)

    @property
    def skipped(self) -> int:
        return self._skipped

    def executed(self, step: Step) -> None:
        rec = self._step
        if rec is None and step.kind == "start":
            rec = step  # a trace without its start step: nothing came before, so the names are the same
        if rec is None or not rec.sent:
            return
        actual: dict[str, list[str]] = {}
        for name in step.sent or ():
            actual.setdefault(_link(name), []).append(name)
        for name in rec.sent:
            now = actual.get(_link(name))
            if now:
                self._names[name] = now.pop(0)

    def _key(self, rec: Step) -> str | None:
        """The key ``rec`` stands for in this replay, or ``None`` when its message does not exist."""
        if rec.msg is None:
            return rec.key()
        name = self._names.get(rec.msg)
        return None if name is None else f"{rec.kind}:{name}"

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        keys = {key for key, _ in enabled}
        steps = self.trace.steps
        if not keys:
            return None
        if keys <= _FRAME:
            # the start step and the quiesce marker: follow the recorded one if it is next, and never
            # consume another kind of step for them
            self._step, self._draws, self._next_draw = None, [], 0
            if self.cursor < len(steps) and steps[self.cursor].kind in keys:
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
            key = self._key(rec)
            if key is not None and key in keys:
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
