"""The plain, one-line-per-step view of a trace, with what each message carried.

A trace names messages (``n1>n2#3``) but does not hold their contents — they are the node code's own
values, and a replay makes them again. :func:`message_contents` replays the trace and keeps a short
``repr`` of every message as it is sent, so that ``splitbrain show --plain`` can print a delivery as
``deliver msg n1>n2#3 Append(term=2, ...)`` instead of a bare name.
"""

from __future__ import annotations

from typing import Any

from splitbrain.sim import ReplaySource, Step, Trace, Workload, World

__all__ = ["message_contents", "plain_lines"]

#: characters of a message's ``repr`` shown
WIDTH = 100


def _short(value: Any, width: int) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class _Capture(ReplaySource):
    """Replays a trace, keeping the contents of every message each step sends."""

    def __init__(self, trace: Trace, width: int) -> None:
        super().__init__(trace)
        self.world: World | None = None
        self.width = width
        self.contents: dict[str, str] = {}

    def executed(self, step: Step) -> None:
        super().executed(step)
        assert self.world is not None
        for message in self.world.last_sent():
            self.contents[message.id] = _short(message.payload, self.width)


def message_contents(workload: Workload, trace: Trace, *, width: int = WIDTH) -> dict[str, str]:
    """Message id -> a short ``repr`` of what it carried, for every message the trace's replay sent."""
    source = _Capture(trace, width)
    world = World(workload, trace.variant, source=source, faults=trace.faults, max_steps=trace.max_steps)
    source.world = world
    world.run()
    return source.contents


def plain_lines(workload: Workload, trace: Trace) -> str:
    """The trace as one line per step, each message step followed by the message's contents."""
    return trace.describe(header=False, payloads=message_contents(workload, trace))
