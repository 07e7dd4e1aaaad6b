"""Controlled threads that cannot hang silently, and that interleave at every line of the code under test.

* Line mode finds a check-then-act race that has no ``sync.point`` at all — which points mode, where each
  call runs as one step, never can — then the failure replays byte for byte and shrinks.
* A thread blocked outside the simulator's primitives (a real lock held across a point, a real Event,
  ``time.sleep``, a busy loop) ends the run within its deadline with an error that names the thread, the
  call and the line, instead of hanging.
* ``threading.Lock``/``RLock`` made by the object under test are controlled; a real lock it holds is refused.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from threading import Lock as BoundBeforeTheSimulation
from typing import Any

import pytest

from consensus_support import shrinks_within
from splitbrain.errors import UsageError
from splitbrain.fuzz.schedule import run_schedule
from splitbrain.impls.traffic.rate_limit.threaded import (
    CheckThenActTokenBucketNode,
    TokenBucketNode,
    TokenBucketWorkload,
)
from splitbrain.sim import ClientOp, FaultConfig, Rand, RandomSource, Request, Workload, World, invariant, replay
from splitbrain.sim.threads import ControlledLock, ControlledRLock, Rejected, Sync, ThreadedNode, ThreadHung

HERE = os.path.basename(__file__)


# -- the object under test: plain Python, no Sync -------------------------------------------------------
class Booth:
    """Sells at most ``stock`` tickets. ``sell`` checks, then acts, with no scheduling point in between;
    the locked booth does both under a plain ``threading.Lock``."""

    def __init__(self, stock: int, *, locked: bool) -> None:
        self._lock = threading.Lock()
        self.locked = locked
        self.stock = stock

    def sell(self) -> bool:
        if self.locked:
            with self._lock:
                return self._sell()
        return self._sell()

    def _sell(self) -> bool:
        if self.stock > 0:  # check
            self.stock -= 1  # act
            return True
        return False


class BoothNode(ThreadedNode):
    locked = False

    def create(self, sync: Sync) -> Booth:
        return Booth(1, locked=self.locked)

    def call(self, obj: Booth, request: Request) -> Any:
        if obj.sell():
            return True
        raise Rejected("sold out")


class LineBoothNode(BoothNode):
    interleave = "lines"


class LockedLineBoothNode(LineBoothNode):
    locked = True


class BoothOnlyNode(LineBoothNode):
    code_under_test = (Booth,)


@invariant
def never_oversold(world: World) -> str | None:
    booth = getattr(world.node("n1"), "obj", None)
    if isinstance(booth, Booth) and booth.stock < 0:
        return f"the booth sold {1 - booth.stock} tickets; it had 1"
    return None


class BoothWorkload(Workload):
    name = "ticket-booth"
    model = "never-oversold"  # judged by the invariant alone
    variants = {
        "correct": LockedLineBoothNode, "points": BoothNode, "lines": LineBoothNode, "booth-only": BoothOnlyNode,
    }
    node_count = 1
    clients = 3
    faults = FaultConfig(kinds=())
    max_steps = 80
    invariants = (never_oversold,)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("sell")

    def history_checks(self) -> list[Any]:
        return []


BOOTH = BoothWorkload()


def failing_seeds(variant: str, seeds: range) -> list[int]:
    return [s for s in seeds if run_schedule(BOOTH, variant, RandomSource(s)).verdict.failed]


@functools.cache
def first_race() -> int:
    """The first seed whose line-mode schedule oversells (found by the test below; asserted there)."""
    return next(s for s in range(40) if run_schedule(BOOTH, "lines", RandomSource(s)).verdict.failed)


# -- line-level scheduling -----------------------------------------------------------------------------
def test_points_mode_runs_a_call_with_no_point_as_one_step_so_never_finds_the_race() -> None:
    assert failing_seeds("points", range(100)) == []
    # why: a thread's only scheduling point is its start; one resume runs the whole sale
    notes = [s.note for s in World(BOOTH, "points", seed=3).run().trace.steps if s.kind == "timer"]
    assert notes and set(notes) == {"done"}, notes


def test_line_mode_finds_the_check_then_act_race_within_a_few_dozen_seeds() -> None:
    found = failing_seeds("lines", range(40))
    assert found and found[0] == first_race(), "line mode did not find the oversold booth in 40 schedules"
    assert len(found) >= 3, found  # not a fluke of one seed
    result = run_schedule(BOOTH, "lines", RandomSource(found[0]))
    assert result.verdict.signature == "invariant:never-oversold"
    # the thread steps say where each thread stopped: two threads stood on the act after both checked
    notes = [s.note or "" for s in result.trace.steps if s.kind == "timer"]
    assert all(re.fullmatch(rf"at {HERE}:\d+|done", n) for n in notes), notes


def test_a_line_schedule_is_deterministic_and_replays_byte_for_byte() -> None:
    seed = first_race()
    first = World(BOOTH, "lines", seed=seed).run()
    assert first.invariant_violation is not None
    assert World(BOOTH, "lines", seed=seed).run().trace.dumps() == first.trace.dumps()
    again = replay(first.trace, BOOTH)
    assert again.trace.dumps() == first.trace.dumps()
    assert repr(again.history.ops) == repr(first.history.ops)


def test_line_schedules_are_the_same_in_a_fresh_process_under_any_hash_seed() -> None:
    script = (
        "import hashlib, sys\n"
        f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
        "from test_sim_thread_lines import BOOTH\n"
        "from splitbrain.sim import World\n"
        "for variant in ('lines', 'correct'):\n"
        f"    print(hashlib.sha256(World(BOOTH, variant, seed={first_race()}).run().trace.dumps()).hexdigest())\n"
    )
    outputs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.split()
        for seed in ("1", "2")
    ]
    runs = [World(BOOTH, v, seed=first_race()).run() for v in ("lines", "correct")]
    here = [hashlib.sha256(run.trace.dumps()).hexdigest() for run in runs]
    assert outputs[0] == outputs[1] == here


def test_the_line_race_shrinks_to_two_sales_interleaved_between_check_and_act() -> None:
    result = run_schedule(BOOTH, "lines", RandomSource(first_race()))
    small = shrinks_within(BOOTH, result, replays=200, bound=20, minimal=True)
    # two sales, and nothing else: both stand on the act line, having passed the check, before either acts
    text = small.trace.describe()
    assert text.count("invoke") == 2, text
    act = Booth._sell.__code__.co_firstlineno + 2
    assert text.count(f"-> at {HERE}:{act}") >= 2, text


def test_the_locked_booth_passes_every_line_interleaving_tried() -> None:
    assert failing_seeds("correct", range(40)) == []
    # its threading.Lock is a controlled lock: threads did wait for it
    notes = [s.note for seed in range(10) for s in World(BOOTH, "correct", seed=seed).run().trace.steps]
    assert any(n == "waits for L1" for n in notes)


def test_code_under_test_names_what_line_mode_stops_in() -> None:
    def lines_of(variant: str) -> set[int]:
        steps = World(BOOTH, variant, seed=5).run().trace.steps
        return {int(n.rsplit(":", 1)[1]) for s in steps if (n := s.note) and n.startswith("at ")}

    def span(fn: Any) -> set[int]:
        code = fn.__code__
        return {line for _, _, line in code.co_lines() if line is not None}

    booth = span(Booth.sell) | span(Booth._sell)
    everything = lines_of("lines")
    assert everything & span(BoothNode.call), "the default covers the whole file defining Booth"
    assert lines_of("booth-only") <= booth


def test_line_mode_threads_unwind_when_their_node_crashes_mid_line() -> None:
    crashy = BoothWorkload(faults=FaultConfig(kinds=("crash",), weights={"crash": 300}, max_down=1), invariants=())
    before = threading.active_count()
    crashes = 0
    for seed in range(10):
        run = World(crashy, "lines", seed=seed).run()
        crashes += sum(s.kind == "crash" for s in run.trace.steps)
        assert run.trace.dumps() == replay(run.trace, crashy).trace.dumps()
    assert crashes and threading.active_count() == before


def test_the_zoo_token_bucket_in_line_mode_is_never_flagged_and_its_race_still_found() -> None:
    class Lines(TokenBucketNode):
        interleave = "lines"

    class LinesCheckThenAct(CheckThenActTokenBucketNode):
        interleave = "lines"

    bucket = TokenBucketWorkload(variants={"correct": Lines, "check-then-act": LinesCheckThenAct})
    for seed in range(8):
        result = run_schedule(bucket, "correct", RandomSource(seed))
        assert not result.verdict.failed, (seed, result.verdict.message)
    notes = {s.note for s in World(bucket, seed=0).run().trace.steps if s.note}
    assert any(n.startswith("at token_bucket.py:") for n in notes), notes
    faults, steps = bucket.search_settings("check-then-act")
    found = [s for s in range(10) if run_schedule(bucket, "check-then-act", RandomSource(s), faults=faults,
                                                  max_steps=steps).verdict.failed]
    assert found


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"interleave": "opcodes"}, "interleave must be 'points' or 'lines'"),
        ({"hang_timeout": 0}, "hang_timeout must be a number of seconds > 0"),
        ({"code_under_test": ("threading",)}, "standard library or of splitbrain's engine"),
        ({"code_under_test": ("splitbrain.sim.world",)}, "standard library or of splitbrain's engine"),
        ({"code_under_test": (42,)}, "give modules"),
        ({"code_under_test": ("no_such_module_here",)}, "cannot be imported"),
    ],
)
def test_bad_thread_settings_are_refused_clearly(settings: dict[str, Any], message: str) -> None:
    node = type("Misconfigured", (LineBoothNode,), settings)
    with pytest.raises(UsageError, match=re.escape(message)):
        World(BoothWorkload(variants={"correct": node}), seed=0).run()


def test_line_mode_with_nothing_to_trace_says_so() -> None:
    class DictNode(LineBoothNode):
        def create(self, sync: Sync) -> Any:
            return {}

    with pytest.raises(UsageError, match="no code under test to stop in"):
        World(BoothWorkload(variants={"correct": DictNode}), seed=0).run()


# -- the watchdog --------------------------------------------------------------------------------------
REAL_LOCK = threading.Lock()  # made at import time: the simulator cannot see it being made
REAL_EVENT = threading.Event()


class Stuck:
    """Each method blocks a controlled thread on something the simulator does not control."""

    def __init__(self, sync: Sync) -> None:
        self.sync = sync
        self.flag = False

    def hold(self) -> int:
        with REAL_LOCK:  # a second thread blocks here while the first is parked inside
            self.sync.point("inside")
        return 1

    def wait(self) -> int:
        REAL_EVENT.wait()  # nobody the simulator runs will set it
        return 1

    def nap(self) -> int:
        time.sleep(0.6)  # twice the deadline
        return 1

    def spin(self) -> int:
        while not self.flag:  # points mode: no thread can set the flag while this one spins
            pass
        return 1


class StuckNode(ThreadedNode):
    hang_timeout = 0.3

    def create(self, sync: Sync) -> Stuck:
        return Stuck(sync)

    def call(self, obj: Stuck, request: Request) -> Any:
        return getattr(obj, request.f)()


class StuckWorkload(Workload):
    name = "stuck"
    model = "none"
    variants = {"correct": StuckNode}
    node_count = 1
    clients = 2
    faults = FaultConfig(kinds=())
    max_steps = 40
    f = "hold"

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp(self.f)

    def history_checks(self) -> list[Any]:
        return []


def stuck_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("splitbrain-n1-thread-p")]


@pytest.mark.parametrize(
    ("f", "call", "line"),
    [
        ("hold", "`with REAL_LOCK:`", "with REAL_LOCK:"),
        ("wait", "threading.Event.wait (called as `REAL_EVENT.wait()`)", "REAL_EVENT.wait()"),
        ("nap", "`time.sleep(0.6)`", "time.sleep(0.6)"),
        ("spin", "`while not self.flag:`", "while not self.flag:"),
    ],
)
def test_a_thread_blocked_outside_the_simulator_ends_the_run_within_its_deadline(
    f: str, call: str, line: str
) -> None:
    workload = StuckWorkload()
    workload.f = f
    source = Path(__file__).read_text().splitlines()
    lineno = next(i for i, text in enumerate(source, 1) if text.strip().startswith(line))
    started = time.monotonic()
    with pytest.raises(ThreadHung) as caught:
        World(workload, seed=1).run()
    assert time.monotonic() - started < StuckNode.hang_timeout + 1.5  # the deadline, and unwinding the rest
    error = caught.value
    assert error.node == "n1" and re.fullmatch(r"thread-p\d", error.thread)
    assert error.call == call
    assert error.where == f"{os.path.relpath(__file__)}:{lineno} in Stuck.{f}"
    message = str(error)
    assert f"(client process {error.thread[-1]}: {f})" in message
    assert ("ran 0.3 s" if f == "spin" else "blocked for 0.3 s") in message
    # the stuck thread's own stack is the traceback: a crash verdict points at the line
    verdict = run_schedule(workload, "correct", RandomSource(1)).verdict
    assert verdict.signature == "crash:ThreadHung"
    assert verdict.message.endswith(f"({__file__}:{lineno} in {f})")
    # given up, the thread is unwound as soon as it can be: the spinning one at once, the others when
    # what they wait for ends
    REAL_EVENT.set()
    deadline = time.monotonic() + 3
    while stuck_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    REAL_EVENT.clear()
    assert not stuck_threads()


# -- real threading primitives -------------------------------------------------------------------------
class Locks:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rlock = threading.RLock()
        self.event = threading.Event()  # its lock is made inside the standard library: real
        self.value = 0

    def nested(self) -> int:
        with self.rlock, self.rlock:
            self.value += 1
        return self.value


class LocksNode(ThreadedNode):
    def create(self, sync: Sync) -> Locks:
        return Locks()

    def call(self, obj: Locks, request: Request) -> Any:
        return obj.nested()


def test_threading_locks_made_by_the_object_are_controlled_and_only_during_the_run() -> None:
    real_lock = threading.Lock
    workload = BoothWorkload(variants={"correct": LocksNode}, invariants=())
    world = World(workload, seed=0)
    world.start()
    obj = world.node("n1").obj  # type: ignore[union-attr]
    assert isinstance(obj.lock, ControlledLock) and not isinstance(obj.lock, ControlledRLock)
    assert isinstance(obj.rlock, ControlledRLock) and (obj.lock.name, obj.rlock.name) == ("L1", "L2")
    assert not isinstance(obj.event._cond._lock, ControlledLock)
    assert not isinstance(threading.Lock(), ControlledLock)  # made outside create() and the threads
    world.close()
    assert threading.Lock is real_lock
    result = World(workload, seed=0).run()
    assert [op.value for op in result.history.ops if op.type == "ok"]  # the reentrant lock worked


def test_a_controlled_lock_refuses_a_thread_the_simulator_does_not_control() -> None:
    world = World(BoothWorkload(variants={"correct": LocksNode}, invariants=()), seed=0)
    world.start()
    lock = world.node("n1").obj.lock  # type: ignore[union-attr]
    errors: list[BaseException] = []

    def intruder() -> None:
        try:
            lock.acquire()
        except UsageError as exc:
            errors.append(exc)

    thread = threading.Thread(target=intruder, name="intruder")
    thread.start()
    thread.join()
    world.close()
    assert errors and "'intruder', which the simulator does not control" in str(errors[0])


def test_an_object_holding_a_real_lock_is_refused_when_it_is_created() -> None:
    class Bound:
        def __init__(self) -> None:
            self.guard = BoundBeforeTheSimulation()  # `from threading import Lock`: not seen

    class BoundNode(LocksNode):
        def create(self, sync: Sync) -> Any:
            return Bound()

    with pytest.raises(UsageError, match=r"attribute 'guard' is a real threading.Lock made outside the simulation"):
        World(BoothWorkload(variants={"correct": BoundNode}, invariants=()), seed=0).run()
