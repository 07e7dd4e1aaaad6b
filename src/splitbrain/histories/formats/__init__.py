"""History file formats: one module per format, plus what the readers share.

Each reader turns text into ops and the line each op came from, then hands both to
:meth:`History.from_ops`, so that validation errors (a completion without an invoke, two open calls)
name the line of the file that holds the offending op. The public entry points are in
:mod:`splitbrain.histories.io`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from splitbrain.histories.history import History
from splitbrain.histories.op import Op, freeze

__all__ = [
    "finish",
    "normalise",
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
