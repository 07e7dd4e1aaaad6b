"""`Journal`: the history streams to disk while it is recorded, so a run killed at any point keeps it —
and, with a :class:`SpoolRecorder`, a long run's memory stays flat.

A background thread appends the events recorded since its last pass to ``history.jsonl.part`` (one
JSON object per line, the JSONL history format) every ``every`` seconds, each batch with a single
``write(2)`` on an ``O_APPEND`` descriptor followed by ``fsync``: a reader finds whole lines, except
perhaps a torn last one if the machine itself went down, which :func:`recover` drops. When the run ends
normally the complete history is written atomically to ``history.jsonl`` and the journal is removed;
when it does not, :func:`recover` (called by the next run's cleanup, :func:`splitbrain.live.orphans.reap`)
turns the journal into ``history.jsonl``.

A plain :class:`~splitbrain.histories.recorder.Recorder` keeps every event in memory, about 300 bytes
each: a 10-minute run at 1,000 events per second holds 180 MB before the check even starts. A
:class:`SpoolRecorder` keeps in memory only the events the journal has not written yet (a quarter
second's worth) and reads the history back from the journal when it is asked for it — once, for the
check, at the end of the run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from splitbrain.files import atomic_write
from splitbrain.histories.history import History
from splitbrain.histories.io import dumps_history, parse_history
from splitbrain.histories.op import Op, OpType
from splitbrain.histories.recorder import Recorder

__all__ = ["HISTORY", "PARTIAL", "Journal", "SpoolRecorder", "recover"]


class SpoolRecorder(Recorder):
    """A :class:`~splitbrain.histories.recorder.Recorder` whose events live in its journal, not in memory.

    Events wait in a short in-memory queue until :class:`Journal` writes them (``drain``); ``ops`` and
    ``history()`` flush the queue and read the journal back. Attach the journal with ``journal=``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal: Journal | None = None
        self._count = 0
        self._pending: list[Op] = []

    def _append(
        self, process: int | str, type: OpType, f: str, value: Any, node: str | None, error: str | None,
        key: Any,
    ) -> None:
        # called with the recorder's lock held, as Recorder._append is: the timestamp order is the event order
        self._pending.append(
            Op(process=process, type=type, f=f, value=value, index=self._count, time=self._clock(),
               node=node, error=error, key=key)
        )
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def drain(self) -> list[Op]:
        """The events recorded since the last drain (the journal writes them)."""
        with self._lock:
            batch, self._pending = self._pending, []
        return batch

    @property
    def ops(self) -> list[Op]:
        if self.journal is None:
            raise RuntimeError("a SpoolRecorder keeps its events in its journal: attach one first")
        return list(self.journal.read().ops)

    def history(self) -> History:
        if self.journal is None:
            raise RuntimeError("a SpoolRecorder keeps its events in its journal: attach one first")
        history = self.journal.read()
        return History.from_ops(history.ops, source=self.source)

HISTORY = "history.jsonl"
PARTIAL = "history.jsonl.part"


class Journal:
    """Stream ``recorder``'s events into ``run_dir/history.jsonl.part``."""

    def __init__(self, recorder: Recorder, run_dir: Path, *, every: float = 0.25) -> None:
        self.recorder = recorder
        if isinstance(recorder, SpoolRecorder):
            recorder.journal = self
        self.path = run_dir / PARTIAL
        self.every = every
        self.written = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._stop = threading.Event()
        self._lock = threading.RLock()
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
            if isinstance(self.recorder, SpoolRecorder):
                batch = self.recorder.drain()
            else:
                batch = self.recorder.ops[self.written:]
            data = dumps_history(batch).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
            self.written += len(batch)

    def read(self) -> History:
        """Everything recorded so far, read back from the journal (after a flush)."""
        with self._lock:
            if self._fd >= 0:
                self.flush()
            text = self.path.read_text(encoding="utf-8")
        if not text.strip():
            return History.from_ops([], source=str(self.path))  # nothing recorded yet (a run that never started)
        return parse_history(text, format="jsonl", source=str(self.path))

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
