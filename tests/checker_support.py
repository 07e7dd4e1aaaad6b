"""Models shared by the checker tests: user models written in plain Python, subclassing nothing."""

from __future__ import annotations

from collections.abc import Iterable

from splitbrain.histories import UNKNOWN, Operation


class Flaky:
    """A nondeterministic model: ``inc`` may add 1 or 2; ``read`` observes."""

    name = "flaky-counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> Iterable[int]:
        if op.f == "inc":
            return (state + 1, state + 2)
        return (state,) if op.output is UNKNOWN or op.output == state else ()
