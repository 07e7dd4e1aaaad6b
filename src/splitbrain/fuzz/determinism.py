"""Run a trace twice and name the first step where the two runs part: the determinism check.

madsim's ``MADSIM_TEST_CHECK_DETERMINISM`` and seedloop's double run do this for their worlds: the same
schedule run twice must give the same events, and when it does not, the first event that differs is
where to look. :func:`compare_runs` finds it in two replays of one trace — the steps first (what each
step did, message by message), then the histories — and :func:`replay_elsewhere` runs the second replay
in a fresh interpreter with another ``PYTHONHASHSEED``, so that iteration over a ``set`` of strings,
``id()``-based ordering and state left behind by the first run in this process show up too.

The determinism auditor (:mod:`splitbrain.sim.audit`) already refuses the wall clock, the global
``random``, sockets, threads and processes while a world runs; this check catches what it cannot see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import msgspec

from splitbrain.errors import UsageError
from splitbrain.histories import History, dumps_history
from splitbrain.sim import Step, Trace

__all__ = ["Divergence", "compare_runs", "replay_elsewhere"]


@dataclass(frozen=True)
class Divergence:
    """Where two runs of one trace first differ: ``what`` is ``"step"`` or ``"history"``, ``index`` the
    step number (or history event index), ``first``/``second`` how each run has it (``None``: it ended
    before)."""

    what: str
    index: int
    first: str | None
    second: str | None

    def describe(self) -> str:
        head = f"the two runs part at {self.what} {self.index}:"
        return "\n".join([
            head,
            f"  first run:  {self.first if self.first is not None else '(ended before it)'}",
            f"  second run: {self.second if self.second is not None else '(ended before it)'}",
        ])


def _step_line(step: Step) -> str:
    return step.describe().strip() + (f" draws={step.draws}" if step.draws else "")


#: steps compare as their JSON: a trace read from a file has lists where a run has tuples (a ``cas``
#: operation's ``[old, new]``), and the two are the same step
_STEP_JSON = msgspec.json.Encoder(order="deterministic")


def compare_runs(
    first: Trace, first_history: bytes | History, second: Trace, second_history: bytes | History
) -> Divergence | None:
    """The first difference between two runs (steps, then history events), or ``None``."""
    encode = _STEP_JSON.encode
    for i, (step_a, step_b) in enumerate(zip(first.steps, second.steps, strict=False)):
        if step_a != step_b and encode(step_a) != encode(step_b):
            return Divergence("step", i, _step_line(step_a), _step_line(step_b))
    if len(first.steps) != len(second.steps):
        i = min(len(first.steps), len(second.steps))
        first_longer = len(first.steps) > i
        line = _step_line((first.steps if first_longer else second.steps)[i])
        return Divergence("step", i, line if first_longer else None, None if first_longer else line)
    ha = _lines(first_history)
    hb = _lines(second_history)
    for i, (line_a, line_b) in enumerate(zip(ha, hb, strict=False)):
        if line_a != line_b:
            return Divergence("history event", i, line_a, line_b)
    if len(ha) != len(hb):
        i = min(len(ha), len(hb))
        return Divergence("history event", i, ha[i] if len(ha) > i else None, hb[i] if len(hb) > i else None)
    return None


def _lines(history: bytes | History) -> list[str]:
    text = history.decode() if isinstance(history, bytes) else dumps_history(history)
    return text.splitlines()


_CHILD = (
    "import sys\n"
    "from splitbrain.fuzz.determinism import _child\n"
    "_child(sys.argv[1], sys.argv[2] or None)\n"
)


def replay_elsewhere(path: str, workload: str | None, *, hash_seed: int = 4242) -> tuple[Trace, bytes]:
    """Replay the saved failure at ``path`` in a new Python process with ``PYTHONHASHSEED=hash_seed``;
    returns the trace it recorded and its history (JSON lines)."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, os.fspath(path), workload or ""], env=env, capture_output=True,
        timeout=600, check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise UsageError(f"the second replay (a new process) failed: {' / '.join(tail) or done.returncode}")
    payload = msgspec.json.decode(done.stdout)
    return Trace.loads(payload["trace"]), payload["history"].encode()


def _child(path: str, workload: str | None) -> None:
    """The other process's side of :func:`replay_elsewhere`: replay and print trace and history."""
    from splitbrain.fuzz.saved import trace_of, workload_for
    from splitbrain.fuzz.schedule import replay_trace
    from splitbrain.fuzz.store import load_failure

    record = load_failure(path)
    result = replay_trace(workload_for(record, workload), trace_of(record))
    out = {"trace": result.trace.dumps().decode(), "history": dumps_history(result.history)}
    sys.stdout.buffer.write(msgspec.json.encode(out))
