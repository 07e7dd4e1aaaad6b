"""`History` and `Operation`: a validated sequence of events, paired into operations.

Validation follows Jepsen's rules: each process is sequential (at most one open call), every completion
belongs to the open invoke of its process and names the same function, and a process's call that never
completes is treated as ``info`` (it may have happened). Errors name the source, the line and the problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec

from splitbrain.errors import InvalidHistory
from splitbrain.histories.op import MAX_DEPTH, NEMESIS, OP_TYPES, FrozenMap, Op, TooDeep, freeze

__all__ = [
    "UNKNOWN",
    "History",
    "Operation",
]


class _Unknown:
    """The output of an operation whose outcome is unknown (``info``, or never completed)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True, slots=True)
class Operation:
    """One call: an invoke paired with its completion.

    ``id`` numbers operations in invoke order from 0. ``call`` and ``ret`` are the history indices of the
    invoke and the completion; ``ret`` is ``None`` when the outcome is unknown (``info`` or never
    completed), meaning the operation may take effect at any point after its call, or never.
    ``output`` is :data:`UNKNOWN` in that case.
    """

    id: int
    process: int | str
    f: str
    key: Any
    input: Any
    output: Any
    status: str  # "ok" | "fail" | "info"
    call: int
    ret: int | None
    invoke: Op
    completion: Op | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def unknown(self) -> bool:
        return self.ret is None

    def describe(self) -> str:
        key = f" {self.key!r}" if self.key is not None else ""
        out = "?" if self.output is UNKNOWN else _show(self.output)
        return f"p{self.process} {self.f}{key} {_show(self.input)} -> {out}"


#: beyond these sizes a value is shown cut short, with its full size: explaining a verdict about a 20 MB
#: value must not print the value (a report of it printed 80 MB)
SHOWN_CHARS = 120
SHOWN_ITEMS = 16


def _show(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        items = [_show(v) for v in value[:SHOWN_ITEMS]]
        if len(value) > SHOWN_ITEMS:
            items.append(f"… {len(value) - SHOWN_ITEMS:,} more")
        return "[" + " ".join(items) + "]"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > SHOWN_CHARS:
        size = f"{len(value):,} chars" if isinstance(value, str) else f"{len(text):,} chars shown whole"
        return f"{text[: SHOWN_CHARS - 20]}… ({size})"
    return text


@dataclass(frozen=True)
class History:
    """A validated history. Build one with :meth:`from_ops` (or a reader in ``splitbrain.histories``).

    ``ops`` holds every event in order with ``index`` set to its position; ``lines`` gives, for each
    event, the line of the source it came from (for error messages and reports).
    """

    ops: tuple[Op, ...]
    source: str | None = None
    lines: tuple[int, ...] | None = None
    _operations: list[Operation] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_ops(
        cls,
        ops: Iterable[Op],
        *,
        source: str | None = None,
        lines: Sequence[int] | None = None,
        allow_empty: bool = True,
    ) -> History:
        """Validate ``ops`` and pair them. Raises :class:`InvalidHistory` naming the offending line."""
        given = list(ops)
        line_numbers = tuple(lines) if lines is not None else tuple(range(1, len(given) + 1))
        if len(line_numbers) != len(given):
            raise ValueError("lines must give one line number per op")
        indexed: list[Op] = []
        for i, op in enumerate(given):
            if not isinstance(op, Op):
                raise InvalidHistory(f"expected an Op, got {type(op).__name__}", source=source, line=line_numbers[i])
            # the common case tested inline (exact types: a bool, a subclass or a bad type takes the full check)
            kind, t = type(op.process), op.time
            if not ((kind is int or kind is str) and type(op.f) is str and (t is None or type(t) is int)):
                _check_fields(op, source, line_numbers[i])
            value, key = op.value, op.key
            try:
                if not (value is None or type(value) in _ATOMS or _frozen(value)):
                    value = freeze(value)
                if not (key is None or type(key) in _ATOMS or _frozen(key)):
                    key = freeze(key)
            except TooDeep as exc:
                raise InvalidHistory(str(exc), source=source, line=line_numbers[i]) from None
            if op.index != i or value is not op.value or key is not op.key:
                op = msgspec.structs.replace(op, index=i, value=value, key=key)
            indexed.append(op)
        if not indexed and not allow_empty:
            raise InvalidHistory("the history is empty (no operations)", source=source)
        history = cls(ops=tuple(indexed), source=source, lines=line_numbers)
        history._operations.extend(_pair(history))
        return history

    # -- views -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    @property
    def operations(self) -> list[Operation]:
        """Every call paired with its completion, in invoke order (including failed ones)."""
        return self._operations

    @property
    def faults(self) -> list[Op]:
        """Nemesis events: partitions, crashes and other faults recorded in the history."""
        return [op for op in self.ops if op.is_nemesis]

    def line_of(self, index: int) -> int:
        assert self.lines is not None
        return self.lines[index]

    def keys(self) -> list[Any]:
        """The distinct ``key`` values of operations, in first-seen order."""
        seen: dict[Any, None] = {}
        for op in self._operations:
            seen.setdefault(op.key, None)
        return list(seen)

    def by_key(self) -> dict[Any, History]:
        """Project the history onto each key: one sub-history per distinct ``key`` (nemesis events go
        to every projection)."""
        buckets: dict[Any, list[tuple[Op, int]]] = {}
        assert self.lines is not None
        keys = self.keys()
        for k in keys:
            buckets[k] = []
        for op, line in zip(self.ops, self.lines, strict=True):
            if op.is_nemesis:
                for bucket in buckets.values():
                    bucket.append((op, line))
            else:
                buckets.setdefault(freeze(op.key), []).append((op, line))
        return {
            k: History.from_ops([o for o, _ in b], source=self.source, lines=[ln for _, ln in b])
            for k, b in buckets.items()
        }


_ATOMS = frozenset({str, int})  # exact types _frozen accepts at once
_NAMES_AND_INTS = (str, int)  # isinstance's tuple, built once (``str | int`` in the call builds a union each time)


def _frozen(value: Any, depth: int = 0) -> bool:
    """Whether ``freeze(value)`` would equal ``value`` as it is: names, integers, nil and tuples of them.
    Checking costs a fraction of rebuilding, and histories of a million transactions are mostly such
    tuples (read lists of integers), so :meth:`History.from_ops` freezes only what this refuses."""
    if value is None or isinstance(value, _NAMES_AND_INTS):
        return True
    if depth > MAX_DEPTH:
        return False  # freeze says why
    if isinstance(value, FrozenMap):
        return True
    if type(value) is not tuple:
        return False
    for item in value:
        if item is None or isinstance(item, _NAMES_AND_INTS):
            continue
        if not _frozen(item, depth + 1):
            return False
    return True


def _check_fields(op: Op, source: str | None, line: int) -> None:
    """The fields every reader and the Python API must give an op a usable type."""
    if isinstance(op.process, bool) or not isinstance(op.process, _NAMES_AND_INTS):
        raise InvalidHistory(f"process must be an integer or a name, got {op.process!r}", source=source, line=line)
    if not isinstance(op.f, str):
        raise InvalidHistory(f"f (the function) must be a name, got {op.f!r}", source=source, line=line)
    if op.time is not None and (isinstance(op.time, bool) or not isinstance(op.time, int)):
        raise InvalidHistory(f"time must be an integer, got {op.time!r}", source=source, line=line)


def _pair(history: History) -> list[Operation]:
    """Pair invokes with completions, validating per-process sequential behaviour."""
    open_calls: dict[int | str, tuple[Op, int]] = {}
    operations: list[Operation | None] = []
    slots: dict[int, int] = {}  # invoke index -> operation id
    assert history.lines is not None
    for op, line in zip(history.ops, history.lines, strict=True):
        kind = op.type
        if kind not in _TYPES:
            raise InvalidHistory(
                f"unknown op type {op.type!r} (expected one of invoke, ok, fail, info)",
                source=history.source,
                line=line,
            )
        process = op.process
        if process == NEMESIS:  # Op.is_nemesis, inline
            continue
        if kind == "invoke":
            if process in open_calls:
                prev, prev_line = open_calls[process]
                raise InvalidHistory(
                    f"process {op.process} invokes {op.f} while its {prev.f} invoked on line {prev_line} "
                    "is still open (a process is sequential: at most one open call)",
                    source=history.source,
                    line=line,
                )
            open_calls[process] = (op, line)
            slots[op.index] = len(operations)
            operations.append(None)
            continue
        if process not in open_calls:
            raise InvalidHistory(
                f"{op.type} completion of {op.f} by process {op.process} has no open invoke",
                source=history.source,
                line=line,
            )
        inv, inv_line = open_calls.pop(process)
        if inv.f != op.f:
            raise InvalidHistory(
                f"{op.type} completion of {op.f} by process {op.process} does not match its open "
                f"invoke of {inv.f} on line {inv_line}",
                source=history.source,
                line=line,
            )
        oid = slots[inv.index]
        operations[oid] = _operation(oid, inv, op)
    for inv, _line in open_calls.values():
        oid = slots[inv.index]
        operations[oid] = _operation(oid, inv, None)
    result = [o for o in operations if o is not None]
    assert len(result) == len(operations)
    return result


_TYPES = frozenset(OP_TYPES)
# Operation's fields set through their slots' descriptors: what its frozen __init__ does, without a call to
# object.__setattr__ per field (that took 1.5 us an operation, a third of pairing a simulated history)
_new_operation = object.__new__
_OPERATION_FIELDS = ("id", "process", "f", "key", "input", "output", "status", "call", "ret", "invoke", "completion")
assert tuple(f.name for f in fields(Operation)) == _OPERATION_FIELDS, "Operation's fields changed: update _operation"
(_set_id, _set_process, _set_f, _set_key, _set_input, _set_output, _set_status, _set_call, _set_ret, _set_invoke,
 _set_completion) = (Operation.__dict__[name].__set__ for name in _OPERATION_FIELDS)


def _operation(oid: int, inv: Op, done: Op | None) -> Operation:
    status = "info" if done is None else done.type
    key = inv.key if inv.key is not None else (done.key if done is not None else None)
    if key is not None:
        key = freeze(key)
    if status == "ok":
        assert done is not None
        output, ret = done.value, done.index
    else:
        output, ret = UNKNOWN, None
        if status == "fail":
            assert done is not None
            ret = done.index
    out = _new_operation(Operation)
    _set_id(out, oid)
    _set_process(out, inv.process)
    _set_f(out, inv.f)
    _set_key(out, key)
    _set_input(out, inv.value)
    _set_output(out, output)
    _set_status(out, status)
    _set_call(out, inv.index)
    _set_ret(out, ret)
    _set_invoke(out, inv)
    _set_completion(out, done)
    return out
