"""`Step` and `Trace`: the explicit record of a run, saved as JSON and replayable on its own.

A step says what ran, by stable id: ``{"step": 12, "t": 340, "kind": "deliver", "msg": 17, "src": "n1",
"dst": "n2"}``. Its :meth:`Step.key` (``"deliver:17"``, ``"crash:n2"``, ``"timer:n1:heartbeat"``) is the
choice a replay follows; the parameters a fault or a client invocation needs (partition groups, skew,
the operation and its node) are fields of the step, so a replay uses them as written. ``draws`` holds the
remaining random numbers drawn while the step ran (message delays, ``Node.randint``), in order. ``sent``
and ``lost`` list the message ids the step created and the ones it lost, for the reader.

The file holds one step per line so that diffs and eyes can follow it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

from splitbrain.errors import UsageError
from splitbrain.sim.faults import FaultConfig

__all__ = [
    "TRACE_VERSION",
    "TRACE_VERSIONS",
    "Step",
    "Trace",
]


#: the version of the traces this splitbrain writes. Version 2: a message in flight to a node that crashes
#: (or loses power) waits in the network for the node's next incarnation; version 1 traces, written before,
#: lost such messages with the crash, and replay that way still (see :mod:`splitbrain.sim.nemesis`)
TRACE_VERSION = 2
#: the versions it reads and replays
TRACE_VERSIONS = (1, 2)
#: what an error about a trace of another version says this splitbrain reads
READS_VERSIONS = f"this splitbrain reads versions {', '.join(map(str, TRACE_VERSIONS))}"

# sets and dict keys are written sorted, so that no value's bytes depend on PYTHONHASHSEED
_ENCODER = msgspec.json.Encoder(order="deterministic")

_MSG_KINDS = frozenset({"deliver", "drop", "duplicate", "delay"})
_NODE_KINDS = frozenset({"crash", "power-loss", "restart", "pause", "resume", "skew"})
_CLIENT_KINDS = frozenset({"invoke", "timeout"})


class Step(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One step of a run. Only the fields that matter for its kind are set."""

    step: int
    t: int
    kind: str
    msg: str | None = None
    src: str | None = None
    dst: str | None = None
    node: str | None = None
    timer: str | None = None
    client: int | None = None
    process: int | None = None
    f: str | None = None
    value: Any = None
    op_key: Any = None
    result: str | None = None
    groups: list[list[str]] | None = None
    skew: int | None = None
    drift: int | None = None
    delay: int | None = None
    to: int | None = None
    restarted: list[str] | None = None
    resumed: list[str] | None = None
    sent: list[str] | None = None
    lost: list[str] | None = None
    draws: list[int] | None = None
    #: what the step's node noted, for the reader (a controlled thread: where it stopped next)
    note: str | None = None
    #: the aimed fault that fired this step (:mod:`splitbrain.sim.aims`); replays take it like any step
    aim: str | None = None
    #: a power loss: the unsynced storage keys that landed anyway, ``-1`` whole or ``n`` torn after the
    #: first ``n`` appended items (every other unsynced key was lost)
    kept: dict[str, int] | None = None

    def key(self) -> str:
        """The stable id of the choice this step made (what a replay looks for among enabled events)."""
        if self.kind in _MSG_KINDS:
            return f"{self.kind}:{self.msg}"
        if self.kind == "timer":
            return f"timer:{self.node}:{self.timer}"
        if self.kind in _CLIENT_KINDS:
            return f"{self.kind}:{self.client}"
        if self.kind in _NODE_KINDS:
            return f"{self.kind}:{self.node}"
        return self.kind

    def describe(self, payload: str | None = None) -> str:
        """One readable line, e.g. ``  12 t=340   deliver msg n1>n2#3``; ``payload`` (the message's
        contents, which the trace does not hold) is shown after the message when given."""
        parts = [f"{self.step:>4} t={self.t:<5} {self.kind}"]
        if self.msg is not None:
            parts.append(f"msg {self.msg}")
            if payload is not None:
                parts.append(payload)
        if self.kind == "invoke":
            parts.append(f"c{self.client} p{self.process} {self.f} {_show(self.value)} to {self.node}")
        elif self.kind == "timeout":
            parts.append(f"c{self.client} p{self.process} {self.f}")
            if self.result == "retry":
                parts.append(f"(retries at {self.node})")
        elif self.kind == "deliver" and self.f is not None:
            parts.append(f"(p{self.process} {self.f} request)")
        elif self.result == "stale":
            parts.append("(stale reply: its operation had already completed)")
        elif self.result == "retry":
            parts.append(f"(c{self.client} p{self.process} retries at {self.node})")
        elif self.result is not None:
            answer = {"ok": _show(self.value), "redirect": f"to {self.node}"}.get(self.result, "")
            parts.append(f"(p{self.process} {self.result} {answer})".replace(" )", ")"))
        elif self.node is not None:
            parts.append(self.node + (f" {self.timer}" if self.timer is not None else ""))
        if self.groups is not None:
            sep = {"oneway": " -/-> ", "bridge": " <-> "}.get(self.kind, " | ")
            parts.append(sep.join(",".join(g) for g in self.groups))
        if self.skew is not None:
            parts.append(f"skew {self.skew} drift {self.drift}ppm")
        if self.delay is not None:
            parts.append(f"+{self.delay}")
        if self.to is not None:
            parts.append(f"to {self.to}")
        if self.restarted or self.resumed:
            parts.append(f"restarted {self.restarted or []} resumed {self.resumed or []}")
        if self.kept is not None:
            kept = ", ".join(k if n < 0 else f"{k} (torn after {n})" for k, n in self.kept.items())
            parts.append(f"unsynced writes kept: {kept or 'none'}")
        if self.note is not None:
            parts.append(f"-> {self.note}")
        if self.aim is not None:
            parts.append(f"[aimed: {self.aim}]")
        if self.sent:
            parts.append(f"sent {self.sent}")
        if self.lost:
            parts.append(f"lost {self.lost}")
        return " ".join(parts)


def _show(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


class Trace(msgspec.Struct, kw_only=True):
    """A run's header (what to rebuild the world from) and its steps."""

    version: int = TRACE_VERSION
    workload: str
    variant: str
    seed: int | None = None
    max_steps: int
    nodes: list[str]
    faults: FaultConfig = msgspec.field(default_factory=FaultConfig)
    steps: list[Step] = msgspec.field(default_factory=list)

    def dumps(self) -> bytes:
        """The JSON text: the header on the first line, then one step per line."""
        head = _ENCODER.encode(msgspec.structs.replace(self, steps=[]))
        assert head.endswith(b'"steps":[]}')
        body = b",\n".join(_ENCODER.encode(step) for step in self.steps)
        return head[: -len(b"]}")] + b"\n" + body + b"\n]}\n"

    @classmethod
    def loads(cls, data: bytes | str, *, source: str = "<trace>") -> Trace:
        try:
            trace = msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UsageError(f"{source}: not a splitbrain trace ({exc})") from None
        if trace.version not in TRACE_VERSIONS:
            raise UsageError(f"{source}: trace version {trace.version}; {READS_VERSIONS}")
        return trace

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_bytes(self.dumps())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trace:
        return cls.loads(Path(path).read_bytes(), source=os.fspath(path))

    def describe(self, *, header: bool = True, payloads: dict[str, str] | None = None) -> str:
        """The whole trace as readable lines: a header (unless ``header`` is false), then one line per step,
        with each message's contents when ``payloads`` (message id -> text) has them."""
        seed = f" seed={self.seed}" if self.seed is not None else ""
        head = [f"{self.workload}/{self.variant}{seed} nodes={','.join(self.nodes)}"] if header else []
        found = payloads or {}
        lines = [s.describe(found.get(s.msg) if s.msg is not None else None) for s in self.steps]
        return "\n".join([*head, *lines])
