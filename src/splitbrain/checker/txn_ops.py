"""Reading one transaction: its micro-ops ``[f key value]``, checked, with the names Jepsen writes.

Jepsen's list-append workload writes ``[:append k v]`` and ``[:r k [v ...]]``; its rw-register workload
``[:w k v]`` and ``[:r k v]``; ``read`` and ``write`` are accepted as spellings of ``r`` and ``w``. A micro-op
that cannot be read is an error naming the file and line, never skipped: a history checked without the
micro-ops it could not read would be judged on less than it says.
"""

from __future__ import annotations

from typing import Any

from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History, Operation

__all__ = [
    "MICRO_OPS",
    "Mop",
    "describe",
    "name",
    "parse",
    "show",
]

Mop = tuple[str, Any, Any]  # (fn, key, value) with fn one of "r", "w", "append"

#: the micro-op functions, as written in histories, to the three the checker knows
MICRO_OPS = {"r": "r", "read": "r", "w": "w", "write": "w", "append": "append"}


def show(v: Any) -> str:
    """A value as Jepsen prints it: ``nil``, ``[1 2 3]``, ``'x'``."""
    if v is None:
        return "nil"
    if isinstance(v, tuple):
        if len(v) > 12:
            return "[" + " ".join(show(x) for x in v[:3]) + f" … {len(v) - 6} more … " + \
                " ".join(show(x) for x in v[-3:]) + "]"
        return "[" + " ".join(show(x) for x in v) + "]"
    text = repr(v)
    return text if len(text) <= 80 else text[:70] + f"… ({len(text)} chars)"


def name(op: Operation) -> str:
    """How explanations name a transaction: ``T`` and its operation number (invoke order)."""
    return f"T{op.id}"


def parse(op: Operation, history: History | None = None) -> list[Mop]:
    """The micro-ops of a ``txn`` operation — its completion's when it is ok (they carry what the reads
    returned), else its invoke's — each normalised to ``(fn, key, value)``."""

    def bad(problem: str) -> InvalidHistory:
        source = history.source if history is not None else None
        at = op.ret if op.ok and op.ret is not None else op.call
        line = history.line_of(at) if history is not None and history.lines else None
        return InvalidHistory(f"txn by process {op.process}: {problem}", source=source, line=line)

    mops = op.output if op.ok and op.output is not None else op.input
    if not isinstance(mops, tuple):
        raise bad(f"the value must be a list of micro-ops [f key value], got {show(mops)}")
    out: list[Mop] = []
    for mop in mops:
        if not (isinstance(mop, tuple) and len(mop) == 3):
            raise bad(f"{show(mop)} is not a micro-op [f key value]")
        fn = mop[0]  # a string (an EDN keyword is one too)
        if not isinstance(fn, str) or fn not in MICRO_OPS:
            raise bad(f"micro-op {show(mop)} has function {show(fn)}; expected one of r, w, append (or read, "
                      "write)")
        kind, key, value = MICRO_OPS[fn], mop[1], mop[2]
        if key is None:
            raise bad(f"micro-op {show(mop)} has no key")
        if kind != "r" and value is None:
            raise bad(f"micro-op {show(mop)} writes nil; written values must be distinct non-nil values")
        try:
            hash(key)
            hash(value)
        except TypeError:
            raise bad(f"micro-op {show(mop)} holds a value that is not a value or a list of values") from None
        out.append((kind, key, value))
    return out


def describe(op: Operation, history: History | None = None) -> str:
    """One line for a transaction: ``T3 = p1 txn [append 'x' 2] [r 'y' [1]], event 6``."""
    try:
        body = " ".join(f"[{fn} {k!r} {show(v)}]" for fn, k, v in parse(op, history))
    except InvalidHistory:  # pragma: no cover - every node was parsed before it could be described
        body = show(op.input)
    status = "" if op.ok else f" ({op.status})"
    return f"{name(op)} = p{op.process} txn {body}{status}, event {op.call}"
