"""Checking a bank history: read totals, and the transactions as Elle sees them.

Every balance a shard holds is a *version*: ``None`` for the opening balance, else ``"tid:balance"``,
the transaction that wrote it and the amount (a string: the checker reads a tuple as a list-append
value). A committed transfer reads then writes each account it touches,
``(("r", "a", None), ("r", "d", "p2.5:12"), ("w", "a", "p0.9:7"), ("w", "d", "p0.9:15"))``; a read-only
transaction returns ``("r", account, version)`` for each account it read. These are exactly the
read-write register micro-ops of :mod:`splitbrain.checker.txn_graph`: written values are unique per key
(a transaction writes an account once), ``None`` is the initial version, and because every transfer reads
the version it overwrites, the version order of each account is known (read v1, wrote v2: v1 < v2).

:func:`txn_history` turns a bank history into that form. Completed transfers and reads carry their
micro-ops already. A transfer the client saw ``fail`` with ``("aborted", tid, reason)`` and one whose
outcome is unknown (``info``) carry nothing, yet their writes may have become visible (that is what the
bugs do); their writes are taken from the versions other transactions read, matched by tid — for a
failed one through the tid in its error, for an ``info`` one through its process (a process's ``info``
operation is its last, so at most one per process is unknown). A failed transfer whose write was read is
then a G1a (aborted read) for the checker.

:func:`check_strict_serializable` runs :func:`~splitbrain.checker.transactions.check_transactions` at
``strict-serializable`` on it; :func:`check_read_totals` checks that every read of all accounts sums to
:data:`~splitbrain.impls.bank.accounts.TOTAL`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from splitbrain.checker.transactions import check_transactions
from splitbrain.histories import History, Op
from splitbrain.histories.history import Operation
from splitbrain.impls.bank.accounts import ACCOUNTS, INITIAL, TOTAL, describe_balances, process_of

Version = str | None
"""A balance as written: ``"tid:balance"``, or ``None`` for the opening balance."""


def version(tid: str, balance: int) -> str:
    return f"{tid}:{balance}"


def balance_of(version: Version) -> int:
    return INITIAL if version is None else int(version.rsplit(":", 1)[1])


def writer_of(version: Version) -> str | None:
    return None if version is None else version.rsplit(":", 1)[0]


def _aborted_tid(op: Operation) -> str | None:
    error = op.completion.error if op.completion is not None else None
    if isinstance(error, tuple | list) and len(error) == 3 and error[0] == "aborted":
        return str(error[1])
    return None


def _mops(op: Operation) -> tuple[Any, ...]:
    return op.output if op.ok and isinstance(op.output, tuple) else ()


def txn_history(history: History) -> History:
    """``history``'s transfers and reads as ``txn`` operations of register micro-ops (module docstring);
    event for event, so indices in the checker's explanations are those of ``history``."""
    operations = [op for op in history.operations if op.f in ("transfer", "read")]
    claimed: set[str] = set()  # tids of transactions whose outcome the client learned
    observed: dict[str, dict[str, Version]] = {}  # tid -> account -> version of it that someone read
    for op in operations:
        for fn, account, written in _mops(op):
            tid = writer_of(written) if isinstance(written, str) else None
            if tid is not None and fn == "w":
                claimed.add(tid)
            elif tid is not None and fn == "r":
                observed.setdefault(tid, {})[account] = written
        tid = _aborted_tid(op)
        if tid is not None:
            claimed.add(tid)
    unknown: dict[int | str, Operation] = {op.process: op for op in operations if op.status == "info"}
    writes: dict[int, tuple[Any, ...]] = {}  # operation id -> the writes it is held to have made
    for tid in sorted(observed):
        if tid in claimed:
            continue
        process = process_of(tid)
        op_info = unknown.get(process) if process is not None else None
        if op_info is not None and op_info.f == "transfer":
            writes[op_info.id] = writes.get(op_info.id, ()) + _writes(observed[tid])
    for op in operations:
        tid = _aborted_tid(op)
        if tid is not None and tid in observed:
            writes[op.id] = _writes(observed[tid])
    by_call = {op.call: op for op in operations}
    by_ret = {op.completion.index: op for op in operations if op.completion is not None}
    events: list[Op] = []
    for event in history.ops:
        bank_op = by_call.get(event.index) or by_ret.get(event.index)
        if bank_op is None:
            events.append(event)
            continue
        value = _mops(bank_op) if event.index == bank_op.ret and bank_op.ok else writes.get(bank_op.id, ())
        events.append(msgspec.structs.replace(event, f="txn", value=value))
    return History.from_ops(events, source=history.source)


def _writes(versions: dict[str, Version]) -> tuple[Any, ...]:
    return tuple(("w", account, versions[account]) for account in sorted(versions))


def check_strict_serializable(history: History) -> tuple[Any, str]:
    """Strict serializability of the bank's transactions (Elle-style dependency cycles)."""
    result = check_transactions(txn_history(history), "strict-serializable")
    return result.valid, result.explain()


def check_read_totals(history: History) -> tuple[Any, str]:
    """Every committed read of all accounts sums to TOTAL: money is neither made nor lost in any state
    a transaction can observe."""
    reads = 0
    for op in history.operations:
        mops = _mops(op)
        if op.f != "read" or {m[1] for m in mops} != set(ACCOUNTS):
            continue
        reads += 1
        balances = {account: balance_of(v) for _, account, v in mops}
        if sum(balances.values()) != TOTAL:
            writers = sorted({str(writer_of(v)) for _, _, v in mops if v is not None})
            return False, (
                f"p{op.process} read (event {op.call}) saw {describe_balances(balances)}: "
                f"{sum(balances.values())} in the bank, not {TOTAL} (versions written by "
                f"{', '.join(writers) or 'nobody'})"
            )
    return True, f"{reads} reads of every account, each summing to {TOTAL}"
