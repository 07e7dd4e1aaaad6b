"""`Nemesis`: a thread that injects faults into a running target on a seeded schedule.

It alternates quiet and fault periods (lengths drawn from ``interval`` and ``duration``). Faults come
in rounds that apply every kind in ``kinds`` once, in a shuffled order, each to a random node; all the
draws come from one ``random.Random(seed)``, so a seed fixes the sequence of faults (their real-time
effects still depend on the machine):

* ``pause``     — SIGSTOP the node's processes; healed by SIGCONT;
* ``kill``      — SIGKILL the node; healed by restarting it on the same data directory;
* ``partition`` — the target cuts the node off through its fault proxies; healed by passing again.

Every fault is recorded in the history as ``nemesis`` events (``start-pause`` … ``stop-pause``, value the
node) so that reports can shade the periods; a fault that could not be applied is recorded as
``nemesis-error``. :meth:`Nemesis.stop` always heals whatever is still in effect.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

from splitbrain.errors import UsageError
from splitbrain.histories.recorder import Recorder
from splitbrain.live.target import Target

__all__ = [
    "KINDS",
    "Nemesis",
]


KINDS = ("pause", "kill", "partition")


class Nemesis:
    """Inject ``kinds`` of faults into ``target`` from a background thread, recording into ``recorder``."""

    def __init__(
        self,
        target: Target,
        kinds: Sequence[str],
        recorder: Recorder,
        *,
        seed: int = 0,
        interval: tuple[float, float] = (1.0, 2.0),
        duration: tuple[float, float] = (1.0, 2.0),
    ) -> None:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise UsageError(f"unknown nemesis {', '.join(unknown)} (known: {', '.join(KINDS)})")
        unsupported = [k for k in kinds if k not in target.faults]
        if unsupported:
            raise UsageError(
                f"target {target.name} does not support nemesis {', '.join(unsupported)} "
                f"(it supports: {', '.join(sorted(target.faults))})"
            )
        self.target = target
        self.kinds = list(dict.fromkeys(kinds))
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.interval = interval
        self.duration = duration
        self.applied = 0
        self.current: str | None = None  # e.g. "pause n2", for progress lines
        self.errors: list[str] = []
        self._active: tuple[str, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Nemesis:
        if self.kinds and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop injecting and heal the fault in effect, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self._heal()

    def _run(self) -> None:
        bag: list[str] = []
        while not self._stop.wait(self.rng.uniform(*self.interval)):
            if not bag:  # every kind once per round, in a seeded order: short runs still see them all
                bag = self.rng.sample(self.kinds, len(self.kinds))
            kind = bag.pop()
            node = self.rng.choice(self.target.nodes)
            self._inject(kind, node)
            self._stop.wait(self.rng.uniform(*self.duration))
            self._heal()

    def _inject(self, kind: str, node: str) -> None:
        with self._lock:
            self.recorder.nemesis(f"start-{kind}", node)
            self._active = (kind, node)
            self.current = f"{kind} {node}"
            try:
                if kind == "pause":
                    self.target.pause(node)
                elif kind == "kill":
                    self.target.kill(node)
                else:
                    self.target.isolate(node)
                self.applied += 1
            except Exception as exc:  # a fault that fails must not end the run
                self._error(f"start-{kind} {node}", exc)

    def _heal(self) -> None:
        with self._lock:
            if self._active is None:
                return
            kind, node = self._active
            try:
                if kind == "pause":
                    self.target.resume(node)
                elif kind == "kill":
                    self.target.restart(node)
                else:
                    self.target.heal_network()
            except Exception as exc:
                self._error(f"stop-{kind} {node}", exc)
            self.recorder.nemesis(f"stop-{kind}", node)
            self._active = None
            self.current = None

    def _error(self, what: str, exc: Exception) -> None:
        message = f"{what}: {type(exc).__name__}: {exc}"
        self.errors.append(message)
        self.recorder.nemesis("nemesis-error", message)
