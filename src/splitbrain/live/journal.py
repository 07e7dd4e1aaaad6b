"""`Journal`: the history streams to disk while it is recorded, so a run killed at any point keeps it.

A background thread appends the events recorded since its last pass to ``history.jsonl.part`` (one
JSON object per line, the JSONL history format) every ``every`` seconds, each batch with a single
``write(2)`` on an ``O_APPEND`` descriptor followed by ``fsync``: a reader finds whole lines, except
perhaps a torn last one if the machine itself went down, which :func:`recover` drops. When the run ends
normally the complete history is written atomically to ``history.jsonl`` and the journal is removed;
when it does not, :func:`recover` (called by the next run's cleanup, :func:`splitbrain.live.orphans.reap`)
turns the journal into ``history.jsonl``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from splitbrain.files import atomic_write
from splitbrain.histories.io import dumps_history
from splitbrain.histories.recorder import Recorder

__all__ = ["HISTORY", "PARTIAL", "Journal", "recover"]

HISTORY = "history.jsonl"
PARTIAL = "history.jsonl.part"


class Journal:
    """Stream ``recorder``'s events into ``run_dir/history.jsonl.part``."""

    def __init__(self, recorder: Recorder, run_dir: Path, *, every: float = 0.25) -> None:
        self.recorder = recorder
        self.path = run_dir / PARTIAL
        self.every = every
        self.written = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self) -> None:
        """Append every event recorded since the last flush."""
        with self._lock:
            if self._fd < 0 or len(self.recorder) == self.written:
                return
            batch = self.recorder.ops[self.written:]
            data = dumps_history(batch).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
            self.written += len(batch)

    def close(self, *, keep: bool = False) -> None:
        """Stop streaming (after a last flush); remove the journal unless ``keep``."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.flush()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        if not keep:
            with contextlib.suppress(OSError):
                self.path.unlink()


def recover(run_dir: Path) -> int:
    """Turn ``run_dir``'s journal into ``history.jsonl`` (whole lines only; a history already there is
    kept) and remove the journal; returns the number of events saved."""
    part = run_dir / PARTIAL
    data = part.read_bytes()
    lines = data.split(b"\n")
    whole = lines[:-1]  # the piece after the last newline is empty, or a torn line
    target = run_dir / HISTORY
    if not target.exists():
        atomic_write(target, b"".join(line + b"\n" for line in whole))
    part.unlink()
    return len(whole)
