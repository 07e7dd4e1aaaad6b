"""The native ``jsonl`` format: one JSON object per line, each an :class:`Op`.

Decoding goes straight into the ``Op`` struct with msgspec, which checks every field's type; its
error messages are reworded here to name the field and the line. Blank lines are allowed. Fields the
struct does not know are ignored, as msgspec does by default.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.formats import finish, normalise
from splitbrain.histories.history import History
from splitbrain.histories.op import OP_TYPES, Op

__all__ = [
    "dumps",
    "read",
]


_DECODER = msgspec.json.Decoder(Op)

_EXPECTED = re.compile(r"Expected `(?P<want>.+?)`, got `(?P<got>.+?)`(?: - at `\$(?P<path>.*)`)?$")
_ENUM = re.compile(r"Invalid enum value (?P<value>.+?) - at `\$\.type`$")
_MISSING = re.compile(r"Object missing required field `(?P<field>.+?)`")
_BYTE = re.compile(r"\(byte (?P<byte>\d+)\)")


def read(text: str, *, source: str | None = None) -> History:
    """Parse a ``jsonl`` history; raises :class:`InvalidHistory` naming the line and the field.

    The whole text is decoded at once (msgspec's ``decode_lines``); when that fails, or finds a line
    holding other than one object, the lines are decoded one by one, which says what is wrong where."""
    fast = _decode_all(text)
    if fast is not None:
        return finish(*fast, source)
    ops: list[Op] = []
    lines: list[int] = []
    # split on "\n" only: str.splitlines would also split on U+2028, which JSON strings may hold raw
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            op = _DECODER.decode(line)
        except msgspec.ValidationError as exc:
            raise InvalidHistory(_explain_validation(str(exc)), source=source, line=number) from None
        except msgspec.DecodeError as exc:
            raise InvalidHistory(_explain_syntax(str(exc)), source=source, line=number) from None
        except RecursionError:
            raise InvalidHistory("a value is nested too deeply", source=source, line=number) from None
        ops.append(normalise(op))
        lines.append(number)
    return finish(ops, lines, source)


def _decode_all(text: str) -> tuple[list[Op], list[int]] | None:
    """Every op and its line, decoded in one call; ``None`` when the line-by-line reader must say why not."""
    try:
        decoded = _DECODER.decode_lines(text)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    # one line at a time (a list of every line of a 100 MB history would outweigh the history); a StringIO
    # with newline="\n" splits on "\n" only, as the line-by-line reader does
    lines = [number for number, line in enumerate(io.StringIO(text, newline="\n"), start=1) if not line.isspace()]
    if len(lines) != len(decoded):  # two objects on one line: the line-by-line reader refuses that
        return None
    ops = [op if op.key is None and op.error is None and op.extra is None else normalise(op) for op in decoded]
    for i, op in enumerate(ops):
        if op.index != i:  # each op was just decoded, so no one else holds it: numbered in place, not copied
            msgspec.structs.force_setattr(op, "index", i)
    return ops, lines


def _explain_validation(message: str) -> str:
    """Reword a msgspec validation error so that it names the field in the history's terms."""
    if m := _ENUM.match(message):
        return f"unknown op type {m['value']} (expected one of {', '.join(OP_TYPES)})"
    if m := _MISSING.match(message):
        return f"missing required field `{m['field']}` (every op needs process, type and f)"
    if m := _EXPECTED.match(message):
        path = (m["path"] or "").lstrip(".")
        if not path:
            return f"expected a JSON object (one op per line), got {m['got']}"
        return f"field `{path}`: expected {m['want']}, got {m['got']}"
    return message


def _explain_syntax(message: str) -> str:
    """Reword a msgspec decode error: columns rather than bytes, plain words rather than jargon."""
    if "truncated" in message:
        return "invalid JSON: the line ends in the middle of a value"
    message = message.removeprefix("JSON is malformed: ")
    message = _BYTE.sub(lambda m: f"(column {int(m['byte']) + 1})", message)
    return f"invalid JSON: {message}"


def _enc_hook(obj: Any) -> Any:
    # Keyword (from EDN) and other str subclasses are written as plain JSON strings.
    if isinstance(obj, str):
        return str(obj)
    raise NotImplementedError(f"values of type {type(obj).__name__} cannot be written as JSON")


_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)


def dumps(ops: Iterable[Op]) -> str:
    """One JSON object per op, one per line. Tuples and sets become arrays; keywords become strings."""
    out: list[str] = []
    for i, op in enumerate(ops):
        try:
            out.append(_ENCODER.encode(op).decode())
        except (TypeError, NotImplementedError, msgspec.EncodeError) as exc:
            raise UsageError(
                f"cannot write op {i} ({op.f!r} by process {op.process!r}) as jsonl: {exc}"
            ) from None
        out.append("\n")
    return "".join(out)
