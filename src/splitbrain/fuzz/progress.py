"""Live campaign progress on stderr: schedules run, schedules/s, failures, elapsed.

On a terminal this is a rich live line that redraws in place; when stderr is not a terminal (CI logs) it
prints a plain line every few seconds instead, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

__all__ = [
    "Progress",
]


class Progress:
    """Counts schedules and failures and shows them; use as a context manager."""

    def __init__(
        self, label: str, *, stream: TextIO | None = None, interval: float = 5.0, enabled: bool = True
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.enabled = enabled
        self.schedules = 0
        self.failures = 0
        self.replayed = 0
        self.started = time.monotonic()
        self._last_plain = self.started
        self._live: Live | None = None
        #: (seconds since start, schedules so far) after every update: the rate-over-time plot's data
        self.samples: list[dict[str, float]] = []
        self._console = Console(file=self.stream, stderr=self.stream is sys.stderr)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.schedules / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.label}: {self.schedules:,} schedules, {self.rate:,.1f}/s, "
            f"{self.failures} failure{'s' if self.failures != 1 else ''}, {self.elapsed:,.1f} s"
        )

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        self._last_plain = self.started
        if self.enabled and self._console.is_terminal:
            self._live = Live(Text(self.line()), console=self._console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def update(self, schedules: int = 0, failures: int = 0) -> None:
        self.schedules += schedules
        self.failures += failures
        self.samples.append({"t": round(self.elapsed, 3), "schedules": self.schedules})
        if not self.enabled:
            return
        if self._live is not None:
            self._live.update(Text(self.line()))
        elif time.monotonic() - self._last_plain >= self.interval:
            self._last_plain = time.monotonic()
            print(self.line(), file=self.stream, flush=True)

    def note(self, message: str) -> None:
        """Print a message above the live line (e.g. 'failure saved to ...')."""
        if not self.enabled:
            return
        if self._live is not None:
            self._live.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(Text(self.line()))
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
        elif self.enabled:
            print(self.line(), file=self.stream, flush=True)
