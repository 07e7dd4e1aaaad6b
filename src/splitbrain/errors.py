"""The exception hierarchy: one root, user-facing subclasses that also subclass the natural builtin.

This module sits below every layer (it imports nothing) so that each layer can raise and catch the same
types. Following attrs, each error subclasses the builtin a caller would naturally catch.
"""

from __future__ import annotations

__all__ = [
    "CheckFailed",
    "CheckIncomplete",
    "InvalidHistory",
    "NondeterminismError",
    "NotLinearizable",
    "SplitbrainError",
    "UnknownModel",
    "UsageError",
]


class SplitbrainError(Exception):
    """Root of every error splitbrain raises on purpose."""


class InvalidHistory(SplitbrainError, ValueError):
    """A history file or object is malformed.

    The message names the source (file), the line when known, and the problem, so that a person can fix
    the input without reading a traceback.
    """

    def __init__(
        self, problem: str, *, source: str | None = None, line: int | None = None, event: int | None = None
    ) -> None:
        self.problem = problem
        self.source = source
        self.line = line
        #: the index of the history event at fault, when the raiser (a model's ``step``) knows only that:
        #: the checker turns it into the source's line
        self.event = event
        where = source or "history"
        if line is not None:
            where = f"{where}:{line}"
        elif event is not None:
            where = f"{where}, event {event}"
        super().__init__(f"{where}: {problem}")


class UnknownModel(SplitbrainError, LookupError):
    """A model name that is not registered."""


class UsageError(SplitbrainError, ValueError):
    """An argument to a public function or command is not acceptable."""


class NondeterminismError(SplitbrainError, RuntimeError):
    """Code running inside the simulator reached outside it (the wall clock, the global ``random``, a
    real socket, thread or process): the run could not be reproduced. The message names the call, where
    it was made, and what to use instead."""


class CheckFailed(SplitbrainError, AssertionError):
    """Raised by ``assert_valid`` when a history is invalid under the checker; carries the result."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class NotLinearizable(CheckFailed):
    """Raised by ``assert_valid``/``assert_linearizable`` when a history is not linearizable."""


class CheckIncomplete(SplitbrainError, AssertionError):
    """Raised by ``assert_linearizable`` when the check ran out of budget: unknown is not a pass."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
