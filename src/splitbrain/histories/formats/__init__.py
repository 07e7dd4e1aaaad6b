"""History file formats: one module per format, plus what the readers share.

Each reader turns text into ops and the line each op came from, then hands both to
:meth:`History.from_ops`, so that validation errors (a completion without an invoke, two open calls)
name the line of the file that holds the offending op. The public entry points are in
:mod:`splitbrain.histories.io`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History
from splitbrain.histories.op import Op, TooDeep, freeze

__all__ = [
    "finish",
    "normalise",
    "parse_value",
]


def normalise(op: Op) -> Op:
    """Freeze the fields a format may decode as lists (``key``, ``error``, ``extra``).

    ``History.from_ops`` already freezes ``value``; doing the same for the other free-form fields
    makes a write/read round trip compare equal whatever the format spells sequences as.
    """
    key, error, extra = freeze(op.key), freeze(op.error), freeze(op.extra)
    if key is op.key and error is op.error and extra is op.extra:
        return op
    return msgspec.structs.replace(op, key=key, error=error, extra=extra)


def finish(ops: Sequence[Op], lines: Sequence[int], source: str | None) -> History:
    """Validate and pair what a reader decoded; an input without ops is an error."""
    return History.from_ops(ops, source=source, lines=lines, allow_empty=False)


def parse_value(text: str, format: str) -> Any:
    """One value written as histories of ``format`` write theirs — JSON for ``jsonl``, EDN for ``edn`` and
    ``jepsen-log`` — and normalised like a history's values (what ``splitbrain check --init`` reads).
    Raises :class:`ValueError` saying what is wrong."""
    from splitbrain.histories.formats.edn import EdnReader

    if format == "jsonl":
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a JSON value ({exc}); values in jsonl histories are JSON, e.g. 0 or "
                             '{"x": 0}') from None
    else:
        reader = EdnReader(text)
        try:
            value = reader.read()
            rest = reader.peek()
        except InvalidHistory as exc:
            raise ValueError(f"not an EDN value ({exc.problem}); values in {format} histories are EDN, e.g. 0 "
                             "or {:x 0 :y 0}") from None
        if rest is not None:
            raise ValueError(f"more than one EDN value (the first ends before {text[rest[2]:][:20]!r})")
    try:
        return freeze(value)
    except TooDeep as exc:
        raise ValueError(str(exc)) from None
