"""Where a campaign's shards run: in this process, in a process pool, or on a Dask cluster.

Every executor is a ``concurrent.futures.Executor`` (Dask's through ``Client.get_executor``), so the
campaign loop is the same for all of them. ``parallelism`` says how many shards to keep in flight.

Dask is optional (``pip install 'splitbrain[dask]'``); it is imported only when asked for.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from splitbrain.errors import UsageError

__all__ = [
    "DASK_HINT",
    "EXECUTORS",
    "ExecutorHandle",
    "InlineExecutor",
    "auto_workers",
    "default_executor",
    "die_with_parent",
    "make_executor",
    "usable_cpus",
]


EXECUTORS: tuple[str, ...] = ("process", "dask", "dask-local")

DASK_HINT = "the Dask executor needs Dask: pip install 'splitbrain[dask]'"


class InlineExecutor(cf.Executor):
    """Runs each submitted call at once in this process: one worker, no pickling, easy to debug."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one: a container's or
    ``taskset``'s share, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_workers(count: int | None, shard_size: int) -> int:
    """``--workers auto``: one worker per usable CPU — a time budget buys that many times the schedules
    (Go's fuzzer uses every CPU by default, for the same reason) — but no more than a ``count`` budget
    has shards of ``shard_size``: a campaign of one shard runs in this process, with no pool to start.
    Results do not depend on it: shards are seeded by their index, and the report is that of the lowest
    failing one."""
    cpus = usable_cpus()
    if count is not None:
        cpus = min(cpus, -(-count // shard_size))
    return max(1, cpus)


def default_executor(workers: int) -> cf.Executor:
    """Inline for one worker, else a process pool (``spawn``: no state forked from the parent) whose
    workers die with the campaign (:func:`die_with_parent`)."""
    if workers <= 1:
        return InlineExecutor()
    return cf.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this process when the campaign's process ``parent`` is gone.

    A pool's workers outlive a parent killed with SIGKILL — for minutes, holding the CPU and the resource
    tracker — because nothing tells them. On Linux the kernel does (``prctl(PR_SET_PDEATHSIG)``: a signal
    when the parent dies); elsewhere, and as a backstop, a daemon thread looks at the parent id twice a
    second: a process whose parent died is adopted, so its parent id changes.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="splitbrain-parent-watch", daemon=True).start()


@dataclass
class ExecutorHandle:
    """An executor, how many shards to keep in flight on it, and what to close when done."""

    executor: cf.Executor
    parallelism: int
    description: str
    _close: list[Callable[[], Any]] = field(default_factory=list)

    def close(self) -> None:
        try:
            self.executor.shutdown(wait=True, cancel_futures=True)
        except TypeError:  # Dask's ClientExecutor.shutdown has no cancel_futures
            self.executor.shutdown(wait=True)
        for fn in reversed(self._close):
            fn()
        self._close.clear()

    def __enter__(self) -> ExecutorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(DASK_HINT) from None
    return distributed


def make_executor(kind: str = "process", *, workers: int = 1, scheduler: str | None = None) -> ExecutorHandle:
    """An executor by name: ``process`` (inline or a process pool of ``workers``), ``dask`` (connect to
    the scheduler at ``scheduler``, e.g. ``tcp://10.0.0.5:8786``) or ``dask-local`` (a local cluster of
    ``workers`` single-threaded worker processes)."""
    if kind == "process":
        if scheduler is not None:
            raise UsageError("--scheduler applies only to --executor dask")
        return ExecutorHandle(default_executor(workers), max(1, workers),
                              f"{workers} worker process(es)" if workers > 1 else "this process")
    if kind == "dask":
        if not scheduler:
            raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT (a running `dask scheduler`)")
        distributed = _distributed()
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except OSError as exc:
            raise UsageError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values())
        handle = ExecutorHandle(client.get_executor(pure=False), max(1, threads),
                                f"Dask cluster {scheduler} ({threads} worker thread(s))")
        handle._close.append(client.close)
        return handle
    if kind == "dask-local":
        if scheduler is not None:
            raise UsageError("--scheduler applies only to --executor dask")
        distributed = _distributed()
        cluster = distributed.LocalCluster(
            n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=":0",
        )
        client = distributed.Client(cluster)
        handle = ExecutorHandle(client.get_executor(pure=False), max(1, workers),
                                f"local Dask cluster of {workers} worker(s)")
        handle._close += [cluster.close, client.close]
        return handle
    raise UsageError(f"unknown executor {kind!r} (known: {', '.join(EXECUTORS)})")
