"""The determinism auditor: code under simulation that reads the wall clock, uses the global random, or
opens a real socket, thread or process is stopped with an error naming the call and its line — and only
code under simulation: splitbrain's engine, other threads and runs with ``audit=False`` are left alone."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import random
import secrets
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from time import monotonic as imported_monotonic  # bound before any run: found by the module scan
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitbrain.errors import NondeterminismError
from splitbrain.fuzz.schedule import run_schedule
from splitbrain.sim import ClientOp, HypothesisSource, Node, Rand, RandomSource, Request, Workload, World
from splitbrain.sim.audit import guarded

ESCAPES: dict[str, Callable[[], Any]] = {
    "time.time()": lambda: time.time(),
    "time.monotonic()": lambda: time.monotonic(),
    "time.perf_counter()": lambda: time.perf_counter(),
    "time.time_ns()": lambda: time.time_ns(),
    "time.localtime() without a time": lambda: time.localtime(),
    "time.monotonic()#imported": lambda: imported_monotonic(),
    "datetime.datetime.now()": lambda: datetime.datetime.now(),
    "datetime.date.today()": lambda: datetime.date.today(),
    "random.random() (the global random)": lambda: random.random(),
    "random.randint() (the global random)": lambda: random.randint(1, 6),
    "random.shuffle() (the global random)": lambda: random.shuffle([1, 2, 3]),
    "random.Random() without a seed": lambda: random.Random(),
    "random.SystemRandom": lambda: random.SystemRandom().random(),
    "os.urandom()": lambda: os.urandom(4),
    "uuid.uuid4()": lambda: uuid.uuid4(),
    "random.SystemRandom#secrets": lambda: secrets.token_hex(4),
    "socket.socket()": lambda: socket.socket(),
    "socket.create_connection()": lambda: socket.create_connection(("127.0.0.1", 9), timeout=0.1),
    "threading.Thread.start()": lambda: threading.Thread(target=lambda: None).start(),
    "subprocess.Popen()": lambda: subprocess.run(["true"], check=False),
    "os.system()": lambda: os.system("true"),
}


class Escaper(Node):
    """Makes ``call`` when its first timer fires (``on_timer`` is node code, run inside the world)."""

    call: ClassVar[Callable[[], Any]] = staticmethod(lambda: None)
    swallow: ClassVar[bool] = False

    def on_start(self) -> None:
        self.set_timer(5, "go")

    def on_timer(self, name: str) -> None:
        if self.swallow:  # code under test that hides the auditor's error: the run must end anyway
            with contextlib.suppress(Exception):
                type(self).call()
        else:
            type(self).call()


class EscapeWorkload(Workload):
    name = "escape"
    model = "register"
    variants = {"correct": Escaper}
    node_count = 1
    clients = 0
    faults = ()  # type: ignore[assignment]
    max_steps = 10

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("read")


def escaping(call: Callable[[], Any], *, swallow: bool = False) -> EscapeWorkload:
    node = type("Node", (Escaper,), {"call": staticmethod(call), "swallow": swallow})
    return EscapeWorkload(variants={"correct": node})


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_the_auditor_refuses_each_escaped_call_and_names_it(name: str) -> None:
    with pytest.raises(NondeterminismError) as info:
        World(escaping(ESCAPES[name]), seed=0).run()
    message = str(info.value)
    assert message.startswith(name.partition("#")[0] + " called inside the simulator")
    assert "test_sim_audit.py:" in message  # the line of the code under test that made the call
    assert "cannot be replayed" in message


def test_a_swallowed_refusal_still_ends_the_run() -> None:
    with pytest.raises(NondeterminismError, match=r"time\.time\(\)"):
        World(escaping(lambda: time.time(), swallow=True), seed=0).run()


def test_a_refusal_is_an_error_not_a_verdict() -> None:
    with pytest.raises(NondeterminismError):
        run_schedule(escaping(lambda: random.random()), "correct", RandomSource(0))


def test_what_is_allowed_stays_allowed() -> None:
    ok = [
        lambda: random.Random(7).random(),  # a seeded generator of its own
        lambda: time.localtime(0),  # a conversion, not a clock read
        lambda: logging.getLogger("splitbrain-test").warning("a log record reads the clock; fine"),
        lambda: datetime.datetime(2020, 1, 1) + datetime.timedelta(days=1),
    ]
    for call in ok:
        World(escaping(call), seed=0).run()
    World(escaping(lambda: time.time()), seed=0, audit=False).run()  # the auditor can be turned off


def test_other_threads_are_never_audited_and_the_guards_go_when_the_run_ends() -> None:
    started, done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def elsewhere() -> None:  # another thread of the process, reading the clock while the world runs
        started.wait(5)
        seen.append(guarded(time.time))
        time.time()
        done.set()

    def node_code() -> None:
        started.set()
        assert done.wait(5), "the other thread was stopped"

    worker = threading.Thread(target=elsewhere)
    worker.start()
    World(escaping(node_code), seed=0).run()
    worker.join(5)
    assert seen == [True]  # the guard was installed, and let the other thread through
    assert not guarded(time.time) and not guarded(random.random) and datetime.datetime.now()


@settings(max_examples=5, deadline=None)
@given(st.data())
def test_the_engine_may_use_what_the_code_may_not(data: st.DataObject) -> None:
    # Hypothesis times its draws with the real clock: the engine's calls pass, the node's draw is fine
    class Draws(Node):
        def on_start(self) -> None:
            self.set_timer(self.randint(1, 9), "t")

        def on_client(self, request: Request) -> None:
            self.reply(request, self.randint(0, 3))

    World(EscapeWorkload(variants={"correct": Draws}, clients=1), source=HypothesisSource(data.draw)).run()
