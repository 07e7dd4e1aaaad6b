"""Values as reports show them: bounded, safe renderings of anything a history can hold.

A report shows values a history recorded — strings of any size, nested tuples, maps, sets, integers with
thousands of digits. :func:`show` renders one the way ``Operation.describe`` does (strings quoted,
``nil``, ``[a b]``) but stops at a limit and then says how big the value was (``… (cut: 20,000,000
characters)``), so a huge value costs the limit, not its size, and deep nesting or an integer too long
for ``str`` is shown instead of raising. :func:`short` is the same for labels (unquoted, cut with "…");
:func:`clip` and :func:`text_lines` cut text that was already made (a model's state, an explanation).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SAFE_INT",
    "TEXT_LIMIT",
    "clip",
    "short",
    "show",
    "text_lines",
]


#: characters of one string (a value, a state, a line of text) a page shows before cutting it
TEXT_LIMIT = 4096
#: JavaScript numbers are doubles: integers beyond this lose digits (pages carry them as text)
SAFE_INT = 2**53
#: nesting below this depth is shown as "[…]": keeps rendering off deep recursion
_MAX_DEPTH = 24
#: elements of a set rendered (they are sorted, so all of them would be rendered before the first is shown)
_SET_ITEMS = 1000


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how long it was when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (cut: {len(text):,} characters in all)"


def text_lines(text: str, limit: int = TEXT_LIMIT, max_lines: int = 400) -> list[str]:
    """A multi-line text as a list of lines, each cut to ``limit``: a long value on one line of an
    explanation costs ``limit`` characters, not its size."""
    lines = text.split("\n")
    out = [clip(line, limit) for line in lines[:max_lines]]
    if len(lines) > max_lines:
        out.append(f"… ({len(lines) - max_lines:,} more lines)")
    return out


class _Full(Exception):
    """Raised inside :class:`_Writer` once the budget is spent: stops rendering a huge value early."""


class _Writer:
    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.left = limit

    def write(self, text: str) -> None:
        if len(text) > self.left:
            self.parts.append(text[: max(self.left, 0)])
            self.left = -1
            raise _Full
        self.parts.append(text)
        self.left -= len(text)


def _size(value: Any) -> str:
    """How big a value is, for the marker of a cut text: characters, bytes or items."""
    if isinstance(value, str):
        return f"{len(value):,} characters"
    if isinstance(value, bytes | bytearray):
        return f"{len(value):,} bytes"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value.bit_length():,} bits"
    if isinstance(value, tuple | list | dict | set | frozenset):
        return f"{len(value):,} items"
    return f"{len(_scalar(value)):,} characters"


def _scalar(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # beyond sys.get_int_max_str_digits(): say how big instead of failing
            return f"<{'-' if value < 0 else ''}integer of {value.bit_length():,} bits>"
    try:
        return str(value) if isinstance(value, float | bool) else repr(value)
    except Exception as exc:  # a user object whose repr fails must not break the report
        return f"<{type(value).__name__}: repr failed ({type(exc).__name__})>"


def _render(value: Any, out: _Writer, quote: bool, depth: int) -> None:
    if value is None:
        out.write("nil")
    elif isinstance(value, str):
        # slicing first: the repr of a 20 MB string is never built
        text = value[: out.left + 1]
        out.write(repr(text) if quote else text)
        if quote and len(text) < len(value):
            raise _Full
    elif isinstance(value, tuple | list):
        if depth >= _MAX_DEPTH:
            out.write("[…]")
            return
        out.write("[")
        for k, item in enumerate(value):
            if k:
                out.write(" ")
            _render(item, out, quote, depth + 1)
        out.write("]")
    elif isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            out.write("{…}")
            return
        out.write("{")
        for k, (key, item) in enumerate(value.items()):
            if k:
                out.write(", ")
            _render(key, out, quote, depth + 1)
            out.write(": ")
            _render(item, out, quote, depth + 1)
        out.write("}")
    elif isinstance(value, set | frozenset):
        if depth >= _MAX_DEPTH:
            out.write("#{…}")
            return
        out.write("#{")
        # sorted by text so that a set always reads the same (set order depends on hashing); only the
        # first _SET_ITEMS are rendered and sorted, and a set with more is always marked as cut
        items = [v for _, v in zip(range(_SET_ITEMS), value, strict=False)]
        texts = sorted(show(v, out.left + 1) if quote else short(v, out.left + 1) for v in items)
        for k, text in enumerate(texts):
            if k:
                out.write(" ")
            out.write(text)
        if len(value) > len(items):
            raise _Full
        out.write("}")
    else:
        out.write(_scalar(value))


def show(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A value as the text reports show it (strings quoted, ``nil``, ``[a b]`` for sequences — as in
    ``Operation.describe``), at most ``limit`` characters plus, when cut, a marker with the value's size.

    Rendering stops once ``limit`` is reached, so a huge value costs ``limit``, not its size; deep
    nesting and integers too long for ``str`` are shown, never raised."""
    # the common cases first: a timeline renders two or three values for each of its operations
    kind = type(value)
    if value is None:
        return "nil"
    if kind is int and -SAFE_INT <= value <= SAFE_INT:
        text = str(value)
        if len(text) <= limit:
            return text
    elif kind is str and len(value) <= limit // 4:  # a repr is at most 4 characters a character
        text = repr(value)
        if len(text) <= limit:
            return text
    out = _Writer(limit)
    try:
        _render(value, out, True, 0)
    except _Full:
        return "".join(out.parts) + f"… (cut: {_size(value)})"
    return "".join(out.parts)


def short(value: Any, limit: int = 200) -> str:
    """A readable label of at most ``limit`` characters (strings unquoted, cut with "…")."""
    out = _Writer(limit)
    try:
        _render(value, out, False, 0)
    except _Full:
        return "".join(out.parts)[: max(limit - 1, 0)] + "…"
    return "".join(out.parts)
