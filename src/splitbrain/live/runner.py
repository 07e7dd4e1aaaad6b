"""`run_workload`: client threads drive a target while a nemesis injects faults; then heal, read, check.

Each of ``clients`` threads is a Jepsen process that loops: draw an operation of the target's workload
(:mod:`~splitbrain.live.workloads`: registers over independent keys, or list-append transactions), ask
its client which node it goes to, and record it through a :class:`~splitbrain.histories.recorder.Worker`:

* a result is ``ok``; a :class:`~splitbrain.histories.recorder.DefiniteFailure` (a failed CAS, a refused
  connection) is ``fail``;
* any other error on an operation that writes (a timeout, a reset) is ``info``: it may have taken
  effect, and the thread continues under a fresh process id;
* any error on a ``read`` is ``fail``: a read changes nothing, so pretending it did not happen is sound,
  and it keeps the history free of unknown operations that only slow the checker (Jepsen does the same).

After an error a thread backs off briefly, so a dead server yields a few failures, not thousands. The
run has three phases, as a Jepsen test does: the workload under faults until ``time_limit`` seconds or
``ops`` operations; then the nemesis heals everything, the target recovers (every server serves again)
and every key gets a final read; then the check (:mod:`~splitbrain.live.verdicts`).

Crash safety: the history streams to ``history.jsonl.part`` as it is recorded
(:mod:`~splitbrain.live.journal`) and ``run.json`` names the servers (:mod:`~splitbrain.live.orphans`);
SIGTERM and SIGHUP are turned into an interrupt like Ctrl-C, which stops every server (paused ones too:
SIGKILL needs no SIGCONT) and saves the history so far as ``history.jsonl`` before re-raising; a SIGKILL
leaves the journal and the pidfile, and the servers die of their parent-death signal (the next run's
cleanup, or ``splitbrain run --cleanup``, collects anything left).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from splitbrain.checker.result import Result, Verdict
from splitbrain.errors import UsageError
from splitbrain.histories.history import History
from splitbrain.histories.recorder import Recorder
from splitbrain.live import orphans
from splitbrain.live.journal import HISTORY, Journal, SpoolRecorder
from splitbrain.live.nemesis import Nemesis, parse_kinds
from splitbrain.live.perf import write_perf_svg
from splitbrain.live.target import Target
from splitbrain.live.verdicts import check_run, first_fault_ns
from splitbrain.live.workloads import VALUES, OpSpec, Workload, make_workload

__all__ = [
    "DEFAULT_OUT",
    "VALUES",
    "RunResult",
    "Terminated",
    "draw_register_op",
    "run_workload",
]


DEFAULT_OUT = Path(".splitbrain") / "runs"


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: the run stops as after Ctrl-C (servers stopped, history saved)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


@dataclass
class RunResult:
    """What a live run produced. The CLI writes the HTML report (``report.html``) into ``run_dir``.

    Times (``first_fault``, ``first_violation``, ``fault_periods``) are seconds since the clients started.
    """

    target: str
    history: History
    result: Result | None
    run_dir: Path
    history_path: Path
    seconds: float
    faults: int
    nemesis_errors: list[str] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)  # client threads that crashed (adapter bugs)
    nemesis_refused: list[str] = field(default_factory=list)  # faults the system declined (FaultRefused)
    workload: str = "register"
    keys: dict[Any, Any] = field(default_factory=dict)  # key -> verdict (keyed register runs)
    failing_key: Any = None
    failing_history: History | None = None  # the failing key's sub-history (for the report)
    first_fault: float | None = None
    first_violation: float | None = None
    fault_periods: list[tuple[float, float | None, str]] = field(default_factory=list)
    recovered: bool | None = None  # did every server serve again after the final heal?
    final_reads: int = 0  # final reads that answered
    perf_path: Path | None = None  # latency and throughput over time, faults shaded (perf.svg)

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

    @property
    def violation_after_fault(self) -> bool | None:
        """True when the first violation came after the first fault started (None: no violation)."""
        if self.first_violation is None:
            return None
        return self.first_fault is not None and self.first_violation >= self.first_fault


def draw_register_op(rng: random.Random) -> tuple[str, Any]:
    """One operation of the single-key cas-register workload: half reads, a quarter writes, a quarter CAS."""
    spec = make_workload("register").draw(rng)
    return spec.f, spec.value


class _Budget:
    """Shared stop condition: a deadline, an operation count, or an explicit stop."""

    def __init__(self, time_limit: float | None, ops: int | None) -> None:
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.time_limit = time_limit
        self.ops = ops
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


def _invoke(client: Any, spec: OpSpec, node: str) -> Any:
    if spec.key is None:
        return client.invoke(spec.f, spec.value, node)
    return client.invoke(spec.f, spec.value, node, key=spec.key)


def _client_loop(target: Target, index: int, recorder: Recorder, budget: _Budget, workload: Workload,
                 seed: int, rate: float | None) -> None:
    rng = random.Random(f"{seed}-client-{index}")
    client = target.client(index)
    worker = recorder.worker()
    pause = 1.0 / rate if rate else 0.0
    try:
        while budget.take():
            spec = workload.draw(rng)
            node = client.node_for(spec.f)
            with worker.call(spec.f, spec.value, node=node, key=spec.key) as call:
                call.ok(_invoke(client, spec, node))
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
    tty = hasattr(out, "isatty") and out.isatty()
    while not budget.stopped.wait(every):
        elapsed = time.monotonic() - started
        done = sum(recorder.counts.values())
        counts = recorder.counts
        fault = f"  nemesis: {nemesis.current or 'quiet'} ({nemesis.applied} faults)" if nemesis else ""
        line = (f"[{name}] {elapsed:5.1f}s  {done} ops ({done / elapsed:.0f}/s)  ok {counts['ok']} "
                f"fail {counts['fail']} info {counts['info']}{fault}")
        if tty:  # a progress bar that redraws in place
            share = elapsed / budget.time_limit if budget.time_limit else done / (budget.ops or done or 1)
            filled = int(20 * min(1.0, share))
            print(f"\r\x1b[K[{'#' * filled}{'.' * (20 - filled)}] {line}", end="", file=out, flush=True)
        else:
            print(line, file=out, flush=True)
    if tty:
        print(file=out, flush=True)


def _drive(target: Target, clients: int, recorder: Recorder, chaos: Nemesis | None, budget: _Budget,
           workload: Workload, seed: int, rate: float | None, errors: list[str], progress: TextIO | None,
           progress_every: float) -> float:
    """Run the client threads (and the nemesis, and the progress line) until the budget is spent;
    returns the seconds the clients ran. The nemesis is left running: the caller heals or kills."""
    started = time.monotonic()

    def client(index: int) -> None:
        try:
            _client_loop(target, index, recorder, budget, workload, seed, rate)
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


def _final_reads(target: Target, recorder: Recorder, workload: Workload, clients: int,
                 timeout: float) -> int:
    """Read every key once more, spread over ``clients`` threads, retrying a failed read until it
    answers or ``timeout`` passes (Jepsen's final generator); returns how many answered."""
    specs = workload.final_ops()
    deadline = time.monotonic() + timeout
    answered = [0] * clients

    def reader(index: int) -> None:
        client, worker = target.client(index), recorder.worker()
        try:
            for spec in specs[index::clients]:
                while time.monotonic() < deadline:
                    node = client.node_for(spec.f)
                    with worker.call(spec.f, spec.value, node=node, key=spec.key) as call:
                        call.ok(_invoke(client, spec, node))
                    if call.status == "ok":
                        answered[index] += 1
                        break
                    time.sleep(0.1)
        finally:
            client.close()

    threads = [threading.Thread(target=reader, args=(i,), name=f"final-{i}", daemon=True)
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(answered)


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (a no-op elsewhere); once one
    arrived, further SIGINT/SIGTERM/SIGHUP are ignored so that the cleanup runs to its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
    previous = {s: signal.getsignal(s) for s in names}

    def raise_terminated(signum: int, frame: FrameType | None) -> None:
        for s in names:
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        for s in names:
            signal.signal(s, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, raise_terminated)
    signal.signal(signal.SIGHUP, raise_terminated)
    signal.signal(signal.SIGINT, raise_interrupt)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_workload(
    target: Target,
    *,
    clients: int = 5,
    time_limit: float | None = None,
    ops: int | None = None,
    nemesis: str | Sequence[str] = (),
    seed: int = 0,
    out: Path | str | None = None,
    check: bool = True,
    check_timeout: float | None = 120.0,
    max_states: int | None = None,
    rate: float | None = None,
    nemesis_interval: tuple[float, float] = (1.0, 2.0),
    nemesis_duration: tuple[float, float] = (1.0, 2.0),
    nemesis_concurrent: int = 2,
    keys: int | None = None,
    ops_per_key: int | None = None,
    final_reads: bool = True,
    recovery_timeout: float = 30.0,
    client_timeout: float | None = None,
    progress: TextIO | None = sys.stderr,
    progress_every: float = 1.0,
    reap: bool = True,
) -> RunResult:
    """Run the target's workload against ``target`` (started here, and stopped, if it is not running).

    Give ``time_limit`` (seconds) and/or ``ops`` (operations); ``rate`` caps each client's operations per
    second (unlimited by default). ``nemesis`` lists fault kinds — ``"pause,kill"``, a list, or ``"all"``
    (every kind the target supports; see :mod:`~splitbrain.live.nemesis`) — started every
    ``nemesis_interval`` (a range of seconds), each lasting ``nemesis_duration``, at most
    ``nemesis_concurrent`` at once. ``keys`` and ``ops_per_key`` spread the work over independent keys
    (:mod:`~splitbrain.live.workloads`); ``client_timeout`` is how long a client waits for an answer
    before recording ``info``. The history is saved under ``out`` (default ``.splitbrain/runs``) and,
    with ``check``, checked within ``check_timeout`` seconds and ``max_states`` memoised search states
    (the checker's default budget when ``None``). With ``reap``, servers left by killed runs under
    ``out`` are stopped first.
    """
    if clients < 1:
        raise UsageError(f"clients must be at least 1, not {clients}")
    if time_limit is None and ops is None:
        raise UsageError("give a time limit (seconds) or an operation count, or both")
    if keys is not None and keys > 1 and target.workload == "register" and not target.keyed:
        raise UsageError(f"target {target.name} works on one key only (it does not take --keys)")
    if client_timeout is not None:
        if not client_timeout > 0:
            raise UsageError(f"the client timeout must be positive, not {client_timeout}")
        target.timeout = client_timeout
    target.check_installed()
    kinds = parse_kinds(nemesis, target.faults)
    workload = make_workload(target.workload, keys=keys, per_key=ops_per_key)
    recorder = SpoolRecorder(readonly=workload.readonly)  # events live in the journal: memory stays flat
    chaos = Nemesis(target, kinds, recorder, seed=seed, interval=nemesis_interval, duration=nemesis_duration,
                    concurrent=nemesis_concurrent) if kinds else None  # validates the kinds first
    if "clock" in kinds:
        target.clock = True
    root = Path(out) if out is not None else DEFAULT_OUT
    if reap and progress is not None:
        for line in orphans.reap(root):
            print(f"cleanup: {line}", file=progress, flush=True)
    elif reap:
        orphans.reap(root)
    run_dir = _run_dir(root, target.name)
    path = run_dir / HISTORY
    recorder.source = str(path)
    owned = not target.started
    if owned:
        target.logdir = run_dir / "logs"
    errors: list[str] = []
    runfile = orphans.RunFile(run_dir, workdir=None, temporary=False)
    journal = Journal(recorder, run_dir)
    started_ns = time.monotonic_ns()
    recovered: bool | None = None
    answered = 0
    try:
        with _signals_as_interrupts():
            try:
                if owned:
                    target.start()
                    runfile.set_workdir(target.workdir, temporary=target._own_workdir)
                budget = _Budget(time_limit, ops)
                started_ns = time.monotonic_ns()
                seconds = _drive(target, clients, recorder, chaos, budget, workload, seed, rate, errors,
                                 progress, progress_every)
                if chaos is not None:
                    chaos.stop(heal=True)
                if final_reads:
                    if chaos is not None:
                        target.heal_network()
                        recovered = target.wait_recovered(recovery_timeout)
                    answered = _final_reads(target, recorder, workload, clients, recovery_timeout)
            except KeyboardInterrupt:
                if chaos is not None:
                    chaos.stop(heal=False, timeout=1.0)  # no healing: every server is about to be killed
                if owned:
                    target.stop()
                _promote(journal, path)  # an interrupted run is evidence: what was recorded is kept
                if progress is not None:
                    print(f"\ninterrupted: servers stopped, partial history saved to {path}", file=progress,
                          flush=True)
                raise
            finally:
                if owned:
                    target.stop()
        history = recorder.history()  # read back from the journal, once
        _promote(journal, path)
    finally:
        if not path.exists():  # a run that failed (a server that would not start) keeps its evidence too
            with contextlib.suppress(Exception):
                _promote(journal, path)
        journal.close(keep=not path.exists())
        runfile.close()
    outcome = RunResult(
        target=target.name, history=history, result=None, run_dir=run_dir, history_path=path,
        seconds=seconds, faults=chaos.applied if chaos else 0, nemesis_errors=chaos.errors if chaos else [],
        client_errors=errors, workload=workload.name, nemesis_refused=chaos.refused if chaos else [],
        recovered=recovered, final_reads=answered,
    )
    with contextlib.suppress(Exception):  # a drawing is a courtesy: it never costs the run its verdict
        outcome.perf_path = write_perf_svg(history, run_dir / "perf.svg", start=started_ns,
                                           title=f"{target.name}: {outcome.operations} operations")
    fault = first_fault_ns(history)
    outcome.first_fault = None if fault is None else (fault - started_ns) / 1e9
    if chaos is not None:
        base = started_ns / 1e9
        outcome.fault_periods = [(a - base, None if b is None else b - base, what) for a, b, what in chaos.periods]
    if check:
        verdicts = check_run(history, workload=workload.name, model=target.model, consistency=target.consistency,
                             keyed=workload.keyed, timeout=check_timeout, max_states=max_states)
        outcome.result, outcome.keys = verdicts.result, verdicts.keys
        outcome.failing_key, outcome.failing_history = verdicts.failing_key, verdicts.history
        if verdicts.violation_ns is not None:
            outcome.first_violation = (verdicts.violation_ns - started_ns) / 1e9
    return outcome


def _promote(journal: Journal, path: Path) -> None:
    """The journal, complete and synced, becomes ``history.jsonl`` by a rename (atomic: a reader sees the
    whole history or none; and nothing is serialised twice)."""
    journal.close(keep=True)
    os.replace(journal.path, path)


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
