"""The ``jepsen-log`` format: op records as old Jepsen versions logged them (read only).

Each line is ``INFO  jepsen.util - <process> <type> <f> <value>``, fields separated by tabs or runs of
spaces; the value is EDN (``nil``, ``3``, ``[4 4]``, ``:timed-out``), and anything after it is taken as
the op's error text. Lines without the ``INFO ... jepsen.util -`` prefix are accepted too. Every
non-blank line must be an op record: a log line of another kind is an error naming its line, because a
history that silently skipped records would be checked wrongly.

Lines end as a logger ends them — ``\n``, ``\r\n`` or a lone ``\r`` (old Mac line ends) — and nothing
else: a record holding another control character or a Unicode line separator (U+2028, U+0085, ...) is
refused, as is a record cut short before its value (Jepsen always logs one, ``nil`` included). Process
ids are ASCII digits (``\\d`` would also take other scripts' digits, which ``int`` may not read).

Speed: a million-operation log is two million lines of a few distinct values (``nil``, ``3``,
``[0 3]``, ``:timed-out``), so each value's text is parsed once and its (immutable) value shared, up to
:data:`SHARED_VALUES` distinct texts; the whole text is searched for forbidden characters once; ops are
built with their index, so :meth:`History.from_ops` has nothing to rewrite.
"""

from __future__ import annotations

import re
from typing import Any

from splitbrain.errors import InvalidHistory
from splitbrain.histories.formats import finish
from splitbrain.histories.formats.edn import EdnReader
from splitbrain.histories.history import History
from splitbrain.histories.op import Op

__all__ = [
    "looks_like",
    "read",
]


_PREFIX = r"(?:.*?\bINFO\s+(?:\S+\s+)*?jepsen\.util\s*[-:]\s+)"
_RECORD = re.compile(
    rf"^{_PREFIX}?(?P<process>\d+|:[^\s:]+)\s+:(?P<type>[^\s:]+)\s+:?(?P<f>[^\s:]\S*)(?:\s+(?P<value>\S.*?))?\s*$",
    re.ASCII,
)
# Detection is stricter than reading: a prefixed line, or a bare record whose type is an op type.
_DETECT = re.compile(rf"^(?:{_PREFIX}|\d+\s+:(?:invoke|ok|fail|info)\s+:?\S)", re.ASCII)
#: line ends of a log; any other vertical separator inside a record is refused (see the module docstring)
_LINE_ENDS = re.compile(r"\r\n|\r|\n")
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")


def looks_like(line: str) -> bool:
    """Whether ``line`` (the first non-blank line of a file) is a Jepsen log record."""
    return _DETECT.match(line) is not None


#: distinct value texts whose parsed value is kept for reuse (values repeat: each is parsed once)
SHARED_VALUES = 1 << 16


def read(text: str, *, source: str | None = None) -> History:
    """Parse a Jepsen log; each op's line is its line in the file."""
    ops: list[Op] = []
    lines: list[int] = []
    check_each = _FORBIDDEN.search(text) is not None  # else no line holds one: skip the per-line search
    values: dict[str, tuple[Any, str | None]] = {}
    names: dict[str, str] = {}  # one string per distinct type and function name
    record = _RECORD.match
    # without forbidden characters, str.splitlines splits exactly at the line ends (the other separators it
    # knows are all forbidden), and faster than the regular expression
    for number, line in enumerate(_LINE_ENDS.split(text) if check_each else text.splitlines(), start=1):
        if not line or line.isspace():
            continue
        bad = _FORBIDDEN.search(line) if check_each else None
        if bad is not None:
            raise InvalidHistory(
                f"the record holds the control character or line separator U+{ord(bad.group()):04X} at column "
                f"{bad.start() + 1}; records are one per line (ended by \\n, \\r\\n or \\r)",
                source=source, line=number,
            )
        m = record(line)
        if m is None:
            shown = line.strip()
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise InvalidHistory(f"not a jepsen log record: {shown!r}", source=source, line=number)
        if m["value"] is None:
            raise InvalidHistory(
                f"the record has no value (a line cut short?): {line.strip()[:80]!r}; Jepsen logs every "
                "op's value, nil included", source=source, line=number,
            )
        process, kind, f, shown = m.groups()
        found = values.get(shown)
        if found is None:
            found = _value(shown, source, number)
            if len(values) < SHARED_VALUES:
                values[shown] = found
        ops.append(
            Op(
                process=int(process) if process.isdigit() else process[1:],
                type=names.setdefault(kind, kind),  # type: ignore[arg-type]  # History.from_ops checks it
                f=names.setdefault(f, f),
                value=found[0],
                error=found[1],
                index=len(ops),
            )
        )
        lines.append(number)
    return finish(ops, lines, source)


def _value(text: str | None, source: str | None, line: int) -> tuple[object, str | None]:
    """The EDN value at the front of ``text`` and the error text after it, if any."""
    if text is None or text == "nil":
        return None, None
    if text.isascii() and text.isdigit():
        return int(text), None
    reader = EdnReader(text, source=source, first_line=line)
    value = reader.read()
    rest = text[reader.pos :].strip()
    return value, rest or None
