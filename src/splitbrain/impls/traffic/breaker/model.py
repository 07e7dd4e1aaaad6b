"""``circuit-breaker``: the sequential specification of a circuit breaker with bounded half-open probes.

The breaker (Nygard, "Release It!", 2007, ch. 5) guards calls to a downstream service. *Closed*, it
admits every call and counts consecutive failures; the ``failure_threshold``-th trips it *open*. Open, it
rejects every call until ``cooldown`` has passed since it opened; the next call then *half-opens* it and
is admitted as a probe, and at most ``max_probes`` probes are in flight. A probe's success closes the
breaker, a probe's failure re-opens it (the cool-down starts again). Generations, as in sony/gobreaker:
every transition starts a new generation, and the outcome of a call admitted in an older generation is
ignored (it says nothing about the breaker's current state).

A guarded call is *two* atomic actions on the breaker, separated by the downstream call during which
other callers act: admitting it, and recording its outcome. So a history for this model has one
operation per action, not one per guarded call:

* ``acquire`` — input: the clock reading the breaker decided at (a number; ``None`` when unknown);
  output: ``[decision, generation]`` with decision ``pass`` (admitted while closed), ``probe`` (admitted
  while half-open) or ``reject``.
* ``record`` — input: ``[decision, generation, outcome, at]``, the permit being reported (``acquire``'s
  output), ``ok`` or ``failed``, and the clock reading the breaker recorded it at; output: what it did,
  ``ignored`` (a stale generation), ``counted``, ``tripped`` (closed -> open), ``closed`` (a probe's
  success) or ``reopened`` (a probe's failure).
* ``restart`` — the breaker was rebuilt (its process restarted): back to the initial state.

Time is an *input*: the breaker's decisions are a function of its state and the clock reading, as
gobreaker's ``currentState(now)``. A breaker reads its clock inside its critical section, so the reading
belongs to the same atomic action as the decision, and the history carries it as that action's input.
The model compares readings only with each other, so it holds for any clock, including one that steps
backwards. An unknown reading (``None``, from an ``info`` operation) allows both "the cool-down has
passed" and "it has not"; an unknown ``record`` input allows every effect a record could have had.

Reporting the effect of ``record`` is what makes a lost reset observable: two probes of one half-open
generation cannot both close and re-open the breaker in any sequential order.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar, NamedTuple

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.models._text import show
from splitbrain.models.base import Model

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
PASS, PROBE, REJECT = "pass", "probe", "reject"
IGNORED, COUNTED, TRIPPED, REOPENED = "ignored", "counted", "tripped", "reopened"
#: a record's effect when a probe's success closes the breaker (the same word as the phase)
CLOSED_BY_PROBE = CLOSED
OUTCOMES = ("ok", "failed")


class BreakerState(NamedTuple):
    """The model state. ``opened_at`` matters only while open (it is 0 otherwise, so that equal
    situations are equal states); ``None`` when the breaker opened at an unknown time."""

    phase: str
    generation: int
    failures: int
    opened_at: float | None
    probes: int


class CircuitBreakerModel(Model):
    """A circuit breaker: ``acquire``, ``record`` and ``restart``, with its three parameters."""

    name: ClassVar[str] = "circuit-breaker"
    summary: ClassVar[str] = "closed/open/half-open breaker: acquire(t), record(permit, outcome, t), restart"
    functions: ClassVar[tuple[str, ...]] = ("acquire", "record", "restart")

    def __init__(self, failure_threshold: int = 2, cooldown: float = 20, max_probes: int = 2) -> None:
        if failure_threshold < 1 or max_probes < 1 or cooldown < 0:
            raise UsageError(
                "circuit-breaker model needs failure_threshold >= 1, max_probes >= 1 and cooldown >= 0; got "
                f"{failure_threshold}, {max_probes}, {cooldown}"
            )
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.max_probes = max_probes

    def init(self) -> Hashable:
        return BreakerState(CLOSED, 0, 0, 0, 0)

    def step(self, state: BreakerState, op: Operation) -> tuple[BreakerState, ...]:
        if op.f == "restart":
            return (BreakerState(CLOSED, 0, 0, 0, 0),)
        if op.f == "acquire":
            outcomes = self.acquire(state, _reading(op, op.input))
        elif op.f == "record":
            outcomes = self.record(state, _permit(op))
        else:
            return ()
        out = op.output
        return tuple(dict.fromkeys(after for result, after in outcomes if out is UNKNOWN or result == out))

    # -- the transitions, each listing (output, next state) --------------------------------------------
    def acquire(self, s: BreakerState, now: float | None) -> list[tuple[Any, BreakerState]]:
        if s.phase == CLOSED:
            return [((PASS, s.generation), s)]
        if s.phase == OPEN:
            choices: list[tuple[Any, BreakerState]] = []
            elapsed = _elapsed(s.opened_at, now, self.cooldown)
            if elapsed is not True:
                choices.append(((REJECT, s.generation), s))
            if elapsed is not False:
                gen = s.generation + 1
                choices.append(((PROBE, gen), BreakerState(HALF_OPEN, gen, 0, 0, 1)))
            return choices
        if s.probes < self.max_probes:
            return [((PROBE, s.generation), s._replace(probes=s.probes + 1))]
        return [((REJECT, s.generation), s)]

    def record(
        self, s: BreakerState, permit: tuple[str, int, str, float | None] | None
    ) -> list[tuple[Any, BreakerState]]:
        if permit is None:  # unknown: any permit, either outcome, at an unknown time
            choices = [(IGNORED, s)]
            for decision in (PASS, PROBE):
                for outcome in OUTCOMES:
                    choices += self.record(s, (decision, s.generation, outcome, None))
            return choices
        decision, generation, outcome, at = permit
        if generation != s.generation:
            return [(IGNORED, s)]
        gen = s.generation + 1
        if s.phase == CLOSED and decision == PASS:
            if outcome == "ok":
                return [(COUNTED, s._replace(failures=0))]
            if s.failures + 1 < self.failure_threshold:
                return [(COUNTED, s._replace(failures=s.failures + 1))]
            return [(TRIPPED, BreakerState(OPEN, gen, 0, at, 0))]
        if s.phase == HALF_OPEN and decision == PROBE:
            if outcome == "ok":
                return [(CLOSED_BY_PROBE, BreakerState(CLOSED, gen, 0, 0, 0))]
            return [(REOPENED, BreakerState(OPEN, gen, 0, at, 0))]
        return []  # a permit of the current generation that this phase never issues

    def describe_state(self, state: BreakerState) -> str:
        phase, gen, failures, opened_at, probes = state
        when = "an unknown time" if opened_at is None else show(opened_at)
        if phase == CLOSED:
            return f"closed (generation {gen}, {failures} consecutive failure(s))"
        if phase == OPEN:
            return f"open since {when} (generation {gen}; probes from {when} + {show(self.cooldown)})"
        return f"half-open (generation {gen}, {probes} probe(s) admitted)"


def _elapsed(opened_at: float | None, now: float | None, cooldown: float) -> bool | None:
    """Whether the cool-down has passed: ``None`` when either time is unknown (both are possible)."""
    if opened_at is None or now is None:
        return None
    return now - opened_at >= cooldown


def _reading(op: Operation, value: Any) -> float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise InvalidHistory(
        f"{op.f} by process {op.process} (event {op.call}) has input {show(value)}; expected the clock "
        "reading the breaker decided at (a number, or nil when unknown)"
    )


def _permit(op: Operation) -> tuple[str, int, str, float | None] | None:
    value = op.input
    if value is None:
        return None
    if (
        isinstance(value, tuple) and len(value) == 4 and value[0] in (PASS, PROBE)
        and isinstance(value[1], int) and value[2] in OUTCOMES
    ):
        return value[0], value[1], value[2], _reading(op, value[3])
    raise InvalidHistory(
        f"record by process {op.process} (event {op.call}) has input {show(value)}; expected "
        "[decision generation outcome at] with decision pass|probe and outcome ok|failed"
    )
