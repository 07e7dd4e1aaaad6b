"""The ``jepsen-log`` format: op records as old Jepsen versions logged them (read only).

Each line is ``INFO  jepsen.util - <process> <type> <f> <value>``, fields separated by tabs or runs of
spaces; the value is EDN (``nil``, ``3``, ``[4 4]``, ``:timed-out``), and anything after it is taken as
the op's error text. Lines without the ``INFO ... jepsen.util -`` prefix are accepted too. Every
non-blank line must be an op record: a log line of another kind is an error naming its line, because a
history that silently skipped records would be checked wrongly.
"""

from __future__ import annotations

import re

from splitbrain.errors import InvalidHistory
from splitbrain.histories.formats import finish, normalise
from splitbrain.histories.formats.edn import EdnReader
from splitbrain.histories.history import History
from splitbrain.histories.op import Op

__all__ = [
    "looks_like",
    "read",
]


_PREFIX = r"(?:.*?\bINFO\s+(?:\S+\s+)*?jepsen\.util\s*[-:]\s+)"
_RECORD = re.compile(
    rf"^{_PREFIX}?(?P<process>\d+|:[^\s:]+)\s+:(?P<type>[^\s:]+)\s+:?(?P<f>[^\s:]\S*)(?:\s+(?P<value>\S.*?))?\s*$"
)
# Detection is stricter than reading: a prefixed line, or a bare record whose type is an op type.
_DETECT = re.compile(rf"^(?:{_PREFIX}|\d+\s+:(?:invoke|ok|fail|info)\s+:?\S)")


def looks_like(line: str) -> bool:
    """Whether ``line`` (the first non-blank line of a file) is a Jepsen log record."""
    return _DETECT.match(line) is not None


def read(text: str, *, source: str | None = None) -> History:
    """Parse a Jepsen log; each op's line is its line in the file."""
    ops: list[Op] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        m = _RECORD.match(line)
        if m is None:
            shown = line.strip()
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise InvalidHistory(f"not a jepsen log record: {shown!r}", source=source, line=number)
        process = m["process"]
        value, error = _value(m["value"], source, number)
        ops.append(
            normalise(
                Op(
                    process=int(process) if process.isdigit() else process[1:],
                    type=m["type"],  # type: ignore[arg-type]  # History.from_ops rejects unknown types
                    f=m["f"],
                    value=value,
                    error=error,
                )
            )
        )
        lines.append(number)
    return finish(ops, lines, source)


def _value(text: str | None, source: str | None, line: int) -> tuple[object, str | None]:
    """The EDN value at the front of ``text`` and the error text after it, if any."""
    if text is None or text == "nil":
        return None, None
    if text.isdigit():
        return int(text), None
    reader = EdnReader(text, source=source, first_line=line)
    value = reader.read()
    rest = text[reader.pos :].strip()
    return value, rest or None
