"""`run_workload`: client threads drive a target while a nemesis injects faults; then check the history.

Each of ``clients`` threads is a Jepsen process that loops: draw an operation of the register workload
(``read``, ``write v``, ``cas [old new]``, small integer values, one key), ask its client which node it
goes to, and record it through a :class:`~splitbrain.histories.recorder.Worker`:

* a result is ``ok``; a :class:`~splitbrain.histories.recorder.DefiniteFailure` (a failed CAS, a refused
  connection) is ``fail``;
* any other error on a ``write`` or ``cas`` (a timeout, a reset) is ``info``: it may have taken effect,
  and the thread continues under a fresh process id;
* any error on a ``read`` is ``fail``: a read changes nothing, so pretending it did not happen is sound,
  and it keeps the history free of unknown operations that only slow the checker (Jepsen does the same).

After an error a thread backs off briefly, so a dead server yields a few failures, not thousands. The run
ends after ``time_limit`` seconds or ``ops`` operations; the nemesis is stopped (healing every fault),
the history is saved to ``<out>/<target>-<timestamp>/history.jsonl`` and checked.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from splitbrain.checker.result import CheckResult, Verdict
from splitbrain.errors import UsageError
from splitbrain.histories.history import History
from splitbrain.histories.io import write_history
from splitbrain.histories.recorder import Recorder
from splitbrain.live.nemesis import Nemesis
from splitbrain.live.target import Target

__all__ = [
    "DEFAULT_OUT",
    "VALUES",
    "RunResult",
    "draw_register_op",
    "run_workload",
]


DEFAULT_OUT = Path(".splitbrain") / "runs"
VALUES = 5  # register values are 0..VALUES-1: small, so reads often meet the writes they depend on


@dataclass
class RunResult:
    """What a live run produced. The CLI writes the HTML report (``report.html``) into ``run_dir``."""

    target: str
    history: History
    result: CheckResult | None
    run_dir: Path
    history_path: Path
    seconds: float
    faults: int
    nemesis_errors: list[str] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)  # client threads that crashed (adapter bugs)

    @property
    def valid(self) -> Verdict | None:
        """The checker's verdict (``None`` when the run was not checked)."""
        return None if self.result is None else self.result.valid

    @property
    def operations(self) -> int:
        return len(self.history.operations)

    @property
    def ops_per_second(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0


def draw_register_op(rng: random.Random) -> tuple[str, Any]:
    """One operation of the cas-register workload: half reads, a quarter writes, a quarter CAS."""
    roll = rng.random()
    if roll < 0.5:
        return "read", None
    if roll < 0.75:
        return "write", rng.randrange(VALUES)
    return "cas", (rng.randrange(VALUES), rng.randrange(VALUES))


class _Budget:
    """Shared stop condition: a deadline, an operation count, or an explicit stop."""

    def __init__(self, time_limit: float | None, ops: int | None) -> None:
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.left = ops
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def take(self) -> bool:
        if self.stopped.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline):
            self.stopped.set()
            return False
        if self.left is not None:
            with self._lock:
                if self.left <= 0:
                    self.stopped.set()
                    return False
                self.left -= 1
        return True


def _client_loop(target: Target, index: int, recorder: Recorder, budget: _Budget, seed: int,
                 rate: float | None) -> None:
    rng = random.Random(f"{seed}-client-{index}")
    client = target.client(index)
    worker = recorder.worker()
    pause = 1.0 / rate if rate else 0.0
    try:
        while budget.take():
            f, value = draw_register_op(rng)
            node = client.node_for(f)
            with worker.call(f, value, node=node) as call:
                call.ok(client.invoke(f, value, node))
            if _unreachable(call.exception):
                budget.stopped.wait(rng.uniform(0.02, 0.1))  # back off from a struggling server
            elif pause:
                budget.stopped.wait(rng.uniform(0, 2 * pause))
    finally:
        client.close()


def _unreachable(exc: BaseException | None) -> bool:
    """True when an operation failed for want of an answer (not, say, a CAS whose compare failed)."""
    while exc is not None:
        if isinstance(exc, OSError):  # timeouts, resets and refusals are all OSErrors
            return True
        exc = exc.__cause__
    return False


def _progress_loop(name: str, recorder: Recorder, nemesis: Nemesis | None, budget: _Budget,
                   started: float, out: TextIO, every: float) -> None:
    while not budget.stopped.wait(every):
        elapsed = time.monotonic() - started
        done = sum(recorder.counts.values())
        counts = recorder.counts
        fault = f"  nemesis: {nemesis.current or 'quiet'} ({nemesis.applied} faults)" if nemesis else ""
        print(f"[{name}] {elapsed:5.1f}s  {done} ops ({done / elapsed:.0f}/s)  ok {counts['ok']} "
              f"fail {counts['fail']} info {counts['info']}{fault}", file=out, flush=True)


def _drive(
    target: Target, clients: int, recorder: Recorder, chaos: Nemesis | None, budget: _Budget, seed: int,
    rate: float | None, errors: list[str], progress: TextIO | None, progress_every: float,
) -> float:
    """Run the client threads (and the nemesis, and the progress line) until the budget is spent;
    returns the seconds the clients ran."""
    started = time.monotonic()

    def client(index: int) -> None:
        try:
            _client_loop(target, index, recorder, budget, seed, rate)
        except Exception as exc:  # an adapter bug: report it instead of dying silently in a thread
            errors.append(f"client {index}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}", daemon=True)
               for i in range(clients)]
    if progress is not None:
        threading.Thread(target=_progress_loop, args=(target.name, recorder, chaos, budget, started,
                                                      progress, progress_every),
                         name="progress", daemon=True).start()
    if chaos is not None:
        chaos.start()
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.1)
        return time.monotonic() - started
    finally:
        budget.stopped.set()
        if chaos is not None:
            chaos.stop()


def run_workload(
    target: Target,
    *,
    clients: int = 5,
    time_limit: float | None = None,
    ops: int | None = None,
    nemesis: Sequence[str] = (),
    seed: int = 0,
    out: Path | str | None = None,
    check: bool = True,
    check_timeout: float | None = 120.0,
    max_states: int | None = None,
    rate: float | None = None,
    nemesis_interval: tuple[float, float] = (1.0, 2.0),
    nemesis_duration: tuple[float, float] = (1.0, 2.0),
    progress: TextIO | None = sys.stderr,
    progress_every: float = 1.0,
) -> RunResult:
    """Run the register workload against ``target`` (started here, and stopped, if it is not running).

    Give ``time_limit`` (seconds) and/or ``ops`` (operations); ``rate`` caps each client's operations per
    second (unlimited by default). ``nemesis`` lists fault kinds (``pause``, ``kill``, ``partition``).
    The history is saved under ``out`` (default ``.splitbrain/runs``) and, with ``check``, checked
    against the target's model (``cas-register``) within ``check_timeout`` seconds and ``max_states``
    memoised search states (the checker's default budget when ``None``).
    """
    if clients < 1:
        raise UsageError(f"clients must be at least 1, not {clients}")
    if time_limit is None and ops is None:
        raise UsageError("give a time limit (seconds) or an operation count, or both")
    target.check_installed()
    recorder = Recorder(readonly={"read"})
    chaos = Nemesis(target, nemesis, recorder, seed=seed, interval=nemesis_interval,
                    duration=nemesis_duration) if nemesis else None  # validates the kinds first
    run_dir = _run_dir(Path(out) if out is not None else DEFAULT_OUT, target.name)
    path = run_dir / "history.jsonl"
    recorder.source = str(path)
    owned = not target.started
    if owned:
        target.logdir = run_dir / "logs"
    errors: list[str] = []
    try:
        if owned:
            target.start()
        budget = _Budget(time_limit, ops)
        seconds = _drive(target, clients, recorder, chaos, budget, seed, rate, errors, progress,
                         progress_every)
    except KeyboardInterrupt:
        write_history(recorder.history(), path, format="jsonl")  # an interrupted run is still evidence
        if progress is not None:
            print(f"interrupted: partial history saved to {path}", file=progress, flush=True)
        raise
    finally:
        if owned:
            target.stop()
    history = recorder.history()
    write_history(history, path, format="jsonl")  # atomic: a reader never sees half a file
    result = None
    if check:
        from splitbrain.checker.linearizability import check_linearizability

        result = check_linearizability(history, target.model, timeout=check_timeout, max_states=max_states)
    return RunResult(
        target=target.name, history=history, result=result, run_dir=run_dir, history_path=path,
        seconds=seconds, faults=chaos.applied if chaos else 0, nemesis_errors=chaos.errors if chaos else [],
        client_errors=errors,
    )


def _run_dir(out: Path, name: str) -> Path:
    """A fresh ``<out>/<name>-<timestamp>`` directory (suffixed when two runs share a second)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = out / (f"{name}-{stamp}" + (f"-{n}" if n else ""))
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise UsageError(f"cannot create a run directory under {out}")
