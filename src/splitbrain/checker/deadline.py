"""A time budget for the checkers whose work is not a search with its own budget (causality,
transactions): they call :func:`tick` in their inner loops, and :class:`OutOfTime` ends the check, which
the checker reports as ``unknown``.

The deadline is a context variable set around one check (:func:`within`), so the helpers deep in a
checker need no extra argument, and a check in another thread keeps its own. :func:`tick` looks at the
clock once every few thousand calls: cheap enough for the innermost loop.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["OutOfTime", "tick", "within"]

_DEADLINE: ContextVar[float | None] = ContextVar("splitbrain_checker_deadline", default=None)
_EVERY = 2048
_count = [0]


class OutOfTime(Exception):
    """The check ran past its deadline."""


@contextlib.contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Run the body with a deadline ``seconds`` from now (``None``: no deadline)."""
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def tick() -> None:
    """Raise :class:`OutOfTime` once the current deadline has passed (checked every few thousand calls)."""
    _count[0] += 1
    if _count[0] % _EVERY:
        return
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime
