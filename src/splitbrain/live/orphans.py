"""What a run leaves for the next one when it is killed outright: a pidfile, and the means to clean up.

A runner killed by SIGKILL runs no ``finally``. Its servers get the parent-death signal
(:mod:`~splitbrain.live.processes`), but that is a best effort (a server forked without ``setpriv``, or
one whose runner died before the signal was armed), so every run also keeps ``run.json`` in its run
directory: the runner's pid, every server's pid, and the temporary data directory, each pid with the
process's start time (field 22 of ``/proc/PID/stat``) so that a pid the kernel has since given to an
unrelated process is never signalled.

:func:`reap` — called by every ``splitbrain run`` on its ``--out`` directory before it starts, and by
``splitbrain run --cleanup`` — finds the pidfiles of runners that are gone, kills what is left of
their servers (SIGKILL to the process group: a SIGSTOPped server dies too), removes the temporary data,
and turns the streamed history (``history.jsonl.part``, see :mod:`~splitbrain.live.journal`) into
``history.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

from splitbrain.files import atomic_write
from splitbrain.live.journal import PARTIAL, recover
from splitbrain.live.processes import ServerProcess, on_spawn

__all__ = ["RUNFILE", "RunFile", "process_start", "reap"]

RUNFILE = "run.json"


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z":  # a zombie is gone for our purposes
            return None
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(entry: dict[str, Any]) -> bool:
    pid, start = entry.get("pid"), entry.get("start")
    return isinstance(pid, int) and start is not None and process_start(pid) == start


class RunFile:
    """``run.json`` of one run, rewritten (atomically) whenever a server starts; removed by
    :meth:`close` when the run ends normally."""

    def __init__(self, run_dir: Path, *, workdir: Path | None, temporary: bool) -> None:
        self.path = run_dir / RUNFILE
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {
            "runner": {"pid": os.getpid(), "start": process_start(os.getpid())},
            "workdir": None if workdir is None else str(workdir),
            "temporary": temporary,
            "servers": {},
        }
        self._write()
        self._remove = on_spawn(self._spawned)

    def set_workdir(self, workdir: Path, *, temporary: bool) -> None:
        with self._lock:
            self._data["workdir"], self._data["temporary"] = str(workdir), temporary
            self._write()

    def _spawned(self, server: ServerProcess) -> None:
        pid = server.pid
        if pid is None:
            return
        with self._lock:
            self._data["servers"][f"{server.name}@{pid}"] = {"pid": pid, "start": process_start(pid)}
            self._write()

    def _write(self) -> None:
        atomic_write(self.path, json.dumps(self._data, indent=1).encode())

    def close(self) -> None:
        self._remove()
        with contextlib.suppress(OSError):
            self.path.unlink()


def reap(out: Path | str) -> list[str]:
    """Clean up after every run under ``out`` whose runner is gone; returns what was done, one line
    per action (empty when there was nothing to do)."""
    done: list[str] = []
    root = Path(out)
    if not root.is_dir():
        return done
    for runfile in sorted(root.glob(f"*/{RUNFILE}")):
        try:
            data = json.loads(runfile.read_text())
        except (OSError, ValueError):
            continue
        if _alive(data.get("runner") or {}):
            continue  # a run in progress
        run_dir = runfile.parent
        for name, entry in (data.get("servers") or {}).items():
            if _alive(entry):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(entry["pid"], signal.SIGKILL)
                done.append(f"{run_dir.name}: killed orphaned server {name}")
        workdir = data.get("workdir")
        # only a directory the runner made itself (tempfile, ``splitbrain-<target>-...``) is ever removed
        if data.get("temporary") and workdir and Path(workdir).name.startswith("splitbrain-") \
                and Path(workdir).is_dir():
            shutil.rmtree(workdir, ignore_errors=True)
            done.append(f"{run_dir.name}: removed its data directory {workdir}")
        if (run_dir / PARTIAL).exists():
            events = recover(run_dir)
            done.append(f"{run_dir.name}: saved the {events} events recorded before it died to history.jsonl")
        with contextlib.suppress(OSError):
            runfile.unlink()
    return done
