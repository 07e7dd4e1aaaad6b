"""The ``edn`` format: Jepsen and Knossos histories written as Clojure data.

A file is either one vector ``[...]`` or list ``(...)`` of op maps, or op maps one after another
(usually one per line, but a map may span lines). The reader is a small EDN parser of its own rather
than the ``edn_format`` package: that one parses the 4,000-line Porcupine ``c50-bad.txt`` in about two
seconds and cannot say on which line a map started, while error messages and reports need that line.

Values map to Python as: keyword -> :class:`Keyword` (a ``str``, so ``Keyword("read") == "read"``),
symbol -> :class:`Symbol`, nil -> None, vector and list -> tuple, map -> dict (keys kept as read, so
keyword keys are Keywords and still compare and hash equal to plain strings), set -> frozenset.
Tagged values such as ``#inst "..."`` or ``#jepsen.history.Op{...}`` read as the value after the tag.

Elle's and Jepsen's transaction histories are read as they are written:

* an op without ``:process`` gets a process of its own, a number no op of the file uses: an invoke opens
  one, and a completion without ``:process`` completes the one open invoke without ``:process`` of its
  ``:f`` (when several are open it cannot tell which, and says so). Each such operation is then alone on
  its process, so no process order is claimed between operations the file did not put on a process;
* an op without ``:f`` whose value is a list of micro-ops (``[[:append 1 2] [:r 3 nil]]``) is a ``:txn``,
  as Elle's checkers read it;
* when every op carries an ``:index`` and the file does not list them in that order, they are put in
  ``:index`` order (a repeated ``:index`` is an error).

Speed: a history of a million ops is read by :func:`_scan`, one tight loop over the tokens of the
whole text (maps, vectors, lists, sets, keywords, numbers, plain strings), with each distinct atom's value
made once. Anything else — comments, tags, discards, characters, strings with escapes, and every error —
sends the text to the :class:`EdnReader`, which reads it all and says exactly what is wrong where.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import msgspec

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.formats import finish, normalise
from splitbrain.histories.history import History
from splitbrain.histories.op import Op

__all__ = [
    "EdnReader",
    "Keyword",
    "Symbol",
    "Token",
    "dump_value",
    "dumps",
    "read",
]


class Keyword(str):
    """An EDN keyword, held without its colon: equal to the plain string, written back as ``:name``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f":{str.__str__(self)}"


class Symbol(str):
    """An EDN symbol (a bare word such as ``foo``): equal to the plain string, written back bare."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str.__str__(self)!r})"


# One token per match, after any whitespace, commas (whitespace in EDN) and ; comments before it.
_DELIM = r"\s,;()\[\]{}\""
# Atomic (?>...), so that a failed token match cannot backtrack into a comment and read its tail as
# a token; written so that no stretch of whitespace can be split two ways either.
_WS_PATTERN = r"(?>[\s,]*(?:;[^\n]*[\s,]*)*)"
_WS = re.compile(_WS_PATTERN)
_TOKEN = re.compile(
    rf"""
    {_WS_PATTERN}
    (?:
    (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{{|[\[({{])
  | (?P<close>[\])}}])
  | (?P<discard>\#_)
  | (?P<special>\#\#(?:Inf|-Inf|NaN)\b)
  | (?P<tag>\#[^{_DELIM}\#_][^{_DELIM}]*)
  | (?P<char>\\(?:newline|space|tab|return|formfeed|backspace|u[0-9A-Fa-f]{{4}}|[^\s]))
  | (?P<atom>[^{_DELIM}\\\#][^{_DELIM}]*)
    )""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?\d+N?\Z")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?\Z")
_STRING_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "formfeed": "\f", "backspace": "\b"}
_SPECIAL = {"##Inf": math.inf, "##-Inf": -math.inf, "##NaN": math.nan}
_CLOSERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}

Token = tuple[str, str, int]  # kind, text, offset


class EdnReader:
    """A pull parser over EDN text that knows the line of every offset it has read.

    Tokens are scanned on demand, so :meth:`read` can take one value off the front of a text whose
    tail is not EDN at all (the Jepsen log reader relies on that).
    """

    def __init__(self, text: str, *, source: str | None = None, first_line: int = 1) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self._ahead: Token | None = None
        self._first_line = first_line
        self._line_pos, self._line = 0, first_line
        self._keywords: dict[str, Keyword] = {}

    # -- positions and errors ------------------------------------------------------------------------
    def line_at(self, offset: int) -> int:
        """The line holding ``offset``; counts incrementally, as offsets mostly grow."""
        if offset < self._line_pos:
            self._line_pos, self._line = 0, self._first_line
        self._line += self.text.count("\n", self._line_pos, offset)
        self._line_pos = offset
        return self._line

    def error(self, problem: str, offset: int) -> InvalidHistory:
        return InvalidHistory(f"invalid EDN: {problem}", source=self.source, line=self.line_at(offset))

    # -- tokens ------------------------------------------------------------------------------------
    def peek(self) -> Token | None:
        """The next token (None at the end of the text), without consuming it."""
        if self._ahead is None:
            self._ahead = self._scan()
        return self._ahead

    def take(self) -> Token | None:
        token = self.peek()
        self._ahead = None
        return token

    def _scan(self) -> Token | None:
        text, pos = self.text, self.pos
        m = _TOKEN.match(text, pos)
        if m is None:
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]  # matches the empty string
            self.pos = pos
            if pos == len(text):
                return None
            problem = "unterminated string" if text[pos] == '"' else f"unexpected character {text[pos]!r}"
            raise self.error(problem, pos)
        self.pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        return kind, m[kind], m.start(kind)

    def skip_discarded(self) -> None:
        """Drop ``#_ form`` pairs ahead (EDN's discard: the form is read and thrown away)."""
        while (token := self.peek()) is not None and token[0] == "discard":
            self.take()
            self.read()

    # -- values ------------------------------------------------------------------------------------
    def read(self) -> Any:
        """Read one complete value."""
        self.skip_discarded()
        token = self.take()
        if token is None:
            raise self.error("the text ends where a value was expected", len(self.text))
        kind, text, offset = token
        if kind == "atom":
            return self._atom(text, offset)
        if kind == "str":
            return self._string(text, offset)
        if kind == "open":
            try:
                return self._container(text, offset)
            except RecursionError:
                raise self.error("values are nested too deeply", offset) from None
        if kind == "close":
            raise self.error(f"unexpected {text!r} with nothing open", offset)
        if kind == "tag":
            return self.read()
        if kind == "special":
            return _SPECIAL[text]
        assert kind == "char"
        name = text[1:]
        if len(name) == 1:
            return name
        char = _CHARS[name] if name in _CHARS else chr(int(name[1:], 16))
        if _SURROGATE.match(char):
            raise self.error(f"the character {text} is a lone UTF-16 surrogate, not text", offset)
        return char

    def read_items(self, opener: str, offset: int) -> list[tuple[Any, int]]:
        """Read the values inside an opened container, each with the offset it starts at."""
        closer = _CLOSERS[opener]
        items: list[tuple[Any, int]] = []
        while True:
            token = self.peek()
            if token is None:
                raise self.error(f"this {opener!r} is never closed (the text ends first)", offset)
            if token[0] == "close":
                self.take()
                if token[1] != closer:
                    raise self.error(
                        f"{token[1]!r} cannot close the {opener!r} opened on line {self.line_at(offset)} "
                        f"(expected {closer!r})",
                        token[2],
                    )
                return items
            if token[0] == "discard":
                self.skip_discarded()
                continue
            items.append((self.read(), token[2]))

    def _container(self, opener: str, offset: int) -> Any:
        values = [value for value, _ in self.read_items(opener, offset)]
        if opener in "[(":
            return tuple(values)
        try:
            if opener == "#{":
                return frozenset(values)
            if len(values) % 2:
                raise self.error("the map opened here has a key without a value", offset)
            result = dict(zip(values[::2], values[1::2], strict=True))
        except TypeError as exc:  # an unhashable key or set element (a map)
            raise self.error(f"a map key or set element must not be a map ({exc})", offset) from None
        if len(result) * 2 != len(values):
            keys = values[::2]
            repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
            raise self.error(f"the map opened here repeats the key {_show(repeated)}", offset)
        return result

    def _atom(self, text: str, offset: int) -> Any:
        first = text[0]
        if first == ":":
            keyword = self._keywords.get(text)
            if keyword is None:
                if len(text) == 1:
                    raise self.error("a lone ':' is not a keyword", offset)
                keyword = self._keywords[text] = Keyword(text[1:])
            return keyword
        try:
            return _plain_atom(text)
        except _Slow:
            raise self.error(f"unsupported number {text!r}", offset) from None

    def _string(self, text: str, offset: int) -> str:
        body = text[1:-1]
        if "\\" not in body:
            return body

        def unescape(m: re.Match[str]) -> str:
            code = m[1]
            if code in _ESCAPES:
                return _ESCAPES[code]
            if len(code) == 5:
                return chr(int(code[1:], 16))
            raise self.error(f"unknown escape \\{code} in a string", offset)

        text = _STRING_ESCAPE.sub(unescape, body)
        if _SURROGATE.search(text):
            # \\uD83D\\uDE00 escapes one character as two UTF-16 halves: join them; a lone half is no text
            try:
                text = text.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                raise self.error("a \\u escape in a string is half of a UTF-16 pair (a lone surrogate)",
                                 offset) from None
        return text


# -- ops -------------------------------------------------------------------------------------------
_FIELDS = ("process", "type", "f", "value", "index", "time", "node", "vclock", "key", "error")
_FIELD_SET = frozenset(_FIELDS)


_READ: tuple[Any, int] = (None, 0)


def read(text: str, *, source: str | None = None) -> History:
    """Parse an ``edn`` history; each op's line is the line where its map starts."""
    reader = EdnReader(text, source=source)
    fast = _scan(text)  # (op map, its line)
    found: list[tuple[Any, int]] = []  # (op map, offset of its opening brace)
    while fast is None:
        reader.skip_discarded()
        token = reader.peek()
        if token is None:
            break
        kind, opener, offset = token
        if kind == "open" and opener in "[(":
            reader.take()  # a wrapped history: its elements are the ops
            found.extend(reader.read_items(opener, offset))
        else:
            found.append((reader.read(), offset))
    ops: list[Op] = []
    lines: list[int] = []
    indices: list[int | None] = []
    anonymous: list[int] = []  # positions of ops without :process
    placed = fast if fast is not None else [(value, reader.line_at(offset)) for value, offset in found]
    for position, (value, line) in enumerate(placed):
        placed[position] = _READ  # the op map can go once its Op is built: peak memory is one of the two
        op, index = _to_op(value, source, line, len(ops))
        if op.process is None:
            anonymous.append(len(ops))
        ops.append(op if op.key is None and op.error is None and op.extra is None else normalise(op))
        lines.append(line)
        indices.append(index)
    _in_index_order(ops, lines, indices, source)
    if anonymous:
        _give_processes(ops, lines, source)
    return finish(ops, lines, source)


# The tokens of the fast path: a line end, an opener, a closer, a plain string, an atom — or any other
# character, which sends the text to the EdnReader. Spaces, tabs and commas between them are skipped;
# every other position matches, so findall skips nothing but blanks at the very end.
_FAST = re.compile(
    r'[ \t\r\f\v,]*(\n|\#\{|[\[({\])}]|"(?:[^"\\]|\\.)*"|[^\s,;()\[\]{}"\\#][^\s,;()\[\]{}"]*|[^ \t\r\f\v,])', re.DOTALL
)
#: how deep the fast path nests; deeper values go to the EdnReader (which refuses what is too deep)
_FAST_DEPTH = 100
#: distinct atoms whose value the fast path keeps for reuse
_SHARED_ATOMS = 1 << 16
_NOT_CACHED: Any = object()
#: the characters no atom starts with: the catch-all token of _FAST
_NOT_ATOMS = frozenset(" \t\n\r\f\v,;()[]{}\"\\#")
_NEWLINE, _OPEN, _CLOSE, _STRING = range(4)
#: what a token that does not start an atom is, by its first character
_TOKEN_KIND = {"\n": _NEWLINE, "[": _OPEN, "(": _OPEN, "{": _OPEN, "#": _OPEN, "]": _CLOSE, ")": _CLOSE, "}": _CLOSE,
            '"': _STRING}


class _Slow(Exception):
    """The fast path meets something it leaves to the EdnReader."""


def _scan(text: str) -> list[tuple[Any, int]] | None:
    """The top-level values of ``text`` with the line each starts on, as :func:`read`'s EdnReader loop
    finds them (the elements of a top-level vector or list count as top-level); ``None`` when the text
    holds anything the fast path leaves to the EdnReader (see the module docstring)."""
    atoms: dict[str, Any] = {}
    found: list[tuple[Any, int]] = []
    # open containers: (opener, items, line of the opener, whether it wraps the history)
    stack: list[tuple[str, list[Any], int, bool]] = []
    items: list[Any] | None = None  # the innermost open container's items (None: values are top-level)
    line = 1
    special = _TOKEN_KIND
    try:
        for token in _tokens(text):
            kind = special.get(token[0])
            if kind is None:  # an atom, the common case
                value = atoms.get(token, _NOT_CACHED)
                if value is _NOT_CACHED:
                    value = _fast_atom(token)
                    if len(atoms) < _SHARED_ATOMS:
                        atoms[token] = value
                if items is not None:
                    items.append(value)
                else:
                    found.append((value, line))
                continue
            if kind == _NEWLINE:
                line += 1
                continue
            if kind == _OPEN:
                if len(stack) >= _FAST_DEPTH or (token[0] == "#" and token != "#{"):
                    return None
                wraps = not stack and token[0] != "{" and token != "#{"
                items = None if wraps else []
                stack.append((token, items, line, wraps))  # type: ignore[arg-type]
                continue
            if kind == _CLOSE:
                if not stack:
                    return None
                opener, done, start, wraps = stack.pop()
                items = stack[-1][1] if stack else None
                if wraps:
                    if token != _CLOSERS[opener]:
                        return None
                    continue
                value = _build(opener, token, done)
            else:  # a string
                value = token[1:-1]
                if len(token) < 2 or token[-1] != '"' or "\\" in value:
                    return None
                start = line
                line += value.count("\n")  # a line end inside a string is a line of the file too
            if items is not None:
                items.append(value)
            else:
                found.append((value, start))
    except _Slow:
        return None
    return None if stack else found


#: characters of text the fast path tokenizes at a time (see _tokens)
_CHUNK = 1 << 20


def _tokens(text: str) -> Iterable[str]:
    """The tokens of ``_FAST`` in ``text``, found a chunk of about :data:`_CHUNK` characters at a time, each
    ending just after a line end: a list of every token of a 100 MB history would take more memory than
    the history. A line end always ends a token, so no token is cut — but a string holding a line end
    may be: its opening quote then cannot match a closing one in its chunk and comes out as the lone
    character ``"``, which sends the text to the EdnReader, as any unusual string does."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + _CHUNK)
        end = len(text) if end < 0 else end + 1
        yield from _FAST.findall(text, start, end)
        start = end


def _build(opener: str, closer: str, items: list[Any]) -> Any:
    """The container ``opener ... closer`` of ``items``, as EdnReader builds it; :class:`_Slow` when it
    would complain."""
    if closer != _CLOSERS[opener]:
        raise _Slow
    if opener in "[(":
        return tuple(items)
    try:
        if opener == "#{":
            return frozenset(items)
        if len(items) % 2:
            raise _Slow
        pairs = iter(items)
        result = dict(zip(pairs, pairs, strict=False))
    except TypeError:
        raise _Slow from None
    if len(result) * 2 != len(items):
        raise _Slow
    return result


def _fast_atom(text: str) -> Any:
    """An atom's value as EdnReader._atom gives it; :class:`_Slow` where that would complain (or where
    the token is a single character no atom starts with)."""
    first = text[0]
    if first in _NOT_ATOMS:
        raise _Slow
    if first == ":":
        if len(text) == 1:
            raise _Slow
        return Keyword(text[1:])
    return _plain_atom(text)


def _plain_atom(text: str) -> Any:
    """A number, ``nil``, ``true``, ``false`` or a symbol (an atom that is not a keyword); :class:`_Slow`
    for a token that looks like a number and is not one."""
    first = text[0]
    if first.isdigit() or (first in "+-" and len(text) > 1 and text[1].isdigit()):
        if _INT.match(text):
            return int(text.rstrip("N"))
        if _FLOAT.match(text):
            return float(text.rstrip("M"))
        raise _Slow
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    return Symbol(text)


#: micro-op names of Jepsen's transactional workloads: a value of these is a :txn even without :f
_MICRO_OPS = frozenset({"r", "w", "append", "read", "write"})


def _is_txn(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value) and all(
        isinstance(m, tuple) and len(m) == 3 and isinstance(m[0], str) and m[0] in _MICRO_OPS for m in value)


def _in_index_order(ops: list[Op], lines: list[int], indices: list[int | None], source: str | None) -> None:
    """Put the ops in ``:index`` order when every op has one and the file lists them otherwise."""
    if not indices or any(i is None for i in indices):
        return
    given = [i for i in indices if i is not None]
    if all(a < b for a, b in pairwise(given)):
        return
    first: dict[int, int] = {}
    for i, line in zip(given, lines, strict=True):
        if i in first:
            raise InvalidHistory(f"invalid EDN: :index {i} is given twice (also on line {first[i]})",
                                 source=source, line=line)
        first[i] = line
    order = sorted(range(len(ops)), key=given.__getitem__)
    ops[:] = [ops[j] for j in order]
    lines[:] = [lines[j] for j in order]


def _give_processes(ops: list[Op], lines: list[int], source: str | None) -> None:
    """Each op without ``:process`` (held as None) gets its operation's own process (module docstring)."""
    taken = [op.process for op in ops if isinstance(op.process, int)]
    fresh = max(taken, default=-1) + 1
    open_calls: dict[str, list[tuple[int, int]]] = {}  # f -> (process, line) of open invokes without :process
    for i, op in enumerate(ops):
        if op.process is not None:
            continue
        waiting = open_calls.get(op.f, [])
        if op.type == "invoke" or not waiting:
            process, fresh = fresh, fresh + 1
            if op.type == "invoke":
                open_calls.setdefault(op.f, []).append((process, lines[i]))
        elif len(waiting) == 1:
            process = waiting.pop()[0]
        else:
            starts = ", ".join(str(line) for _, line in waiting)
            raise InvalidHistory(
                f"invalid EDN: this {op.type} of {op.f} has no :process, and {len(waiting)} invokes of {op.f} without "
                f":process are open (lines {starts}): which one it completes cannot be told; give the ops a "
                ":process", source=source, line=lines[i])
        ops[i] = msgspec.structs.replace(op, process=process)


def _to_op(value: Any, source: str | None, line: int, position: int) -> tuple[Op, int | None]:
    """Turn one EDN op map into an :class:`Op` (its ``index`` the ``position`` it is read at); keys Op
    has no field for go to ``extra``."""

    def bad(problem: str) -> InvalidHistory:
        return InvalidHistory(problem, source=source, line=line)

    if not isinstance(value, dict):
        raise bad(f"expected an op map like {{:process 0, :type :invoke, :f :read}}, got {_kind(value)}")
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if value.keys() <= _FIELD_SET:  # the common case: keywords Op has fields for (they equal the names)
        fields = value
    else:
        for k, v in value.items():
            if not isinstance(k, str):
                raise bad(f"op map keys must be keywords, got {_kind(k)} {_show(k)}")
            name = str(k)
            if name in _FIELDS:
                fields[name] = v
            else:
                extra[name] = v
    if "f" not in fields and _is_txn(fields.get("value")):
        fields = {**fields, "f": "txn"}  # Elle's own example histories leave :f out
    for name in ("type", "f"):
        if name not in fields:
            raise bad(f"the op map has no :{name} (every op needs :type and :f, and :process unless it is "
                      "alone on one)")
    process = fields.get("process")
    if process is None:
        pass  # given one by _give_processes
    elif isinstance(process, str):
        process = str(process)
    elif not isinstance(process, int) or isinstance(process, bool):
        raise bad(f":process must be an integer or a keyword, got {_kind(process)} {_show(process)}")
    for name in ("type", "f", "node"):
        field = fields.get(name)
        if not isinstance(field, str) and (field is not None or name != "node"):
            raise bad(f":{name} must be a keyword or a string, got {_kind(field)} {_show(field)}")
    for name in ("time", "index"):
        field = fields.get(name)
        if field is not None and (not isinstance(field, int) or isinstance(field, bool)):
            raise bad(f":{name} must be an integer, got {_kind(field)} {_show(field)}")
    return Op(
        process=process,  # type: ignore[arg-type]  # None until _give_processes
        type=str(fields["type"]),  # type: ignore[arg-type]  # History.from_ops rejects unknown types
        f=str(fields["f"]),
        value=fields.get("value"),
        time=fields.get("time"),
        node=None if fields.get("node") is None else str(fields["node"]),
        vclock=_vclock(fields.get("vclock"), bad),
        key=fields.get("key"),
        error=fields.get("error"),
        extra=extra or None,
        index=position,
    ), fields.get("index")


def _vclock(value: Any, bad: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()
    ):
        return {str(k): v for k, v in value.items()}
    raise bad(f":vclock must map node names to integers, got {_show(value)}")


def _show(value: Any) -> str:
    """A value as EDN text, for error messages."""
    try:
        return dump_value(value)
    except UsageError:
        return repr(value)


def _kind(value: Any) -> str:
    """The EDN name of a value's type, for error messages."""
    names = {
        type(None): "nil",
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        Keyword: "keyword",
        Symbol: "symbol",
        tuple: "vector",
        dict: "map",
        frozenset: "set",
    }
    return names.get(type(value), type(value).__name__)


# -- writing ---------------------------------------------------------------------------------------
_NAME = re.compile(r"[A-Za-z*+!?<>=_.$%&/-][\w*+!?<>=.$%&/:#'-]*\Z")


def dumps(ops: Iterable[Op]) -> str:
    """One op map per line, Jepsen style: ``{:process 0, :type :invoke, :f :read, :value nil}``."""
    out: list[str] = []
    for i, op in enumerate(ops):
        try:
            out.append(_dump_op(op))
        except UsageError as exc:
            raise UsageError(
                f"cannot write op {i} ({op.f!r} by process {op.process!r}) as EDN: {exc}"
            ) from None
        out.append("\n")
    return "".join(out)


def _dump_op(op: Op) -> str:
    parts = [
        f":process {_dump_name(op.process) if isinstance(op.process, str) else op.process}",
        f":type {_dump_name(op.type)}",
        f":f {_dump_name(op.f)}",
    ]
    if op.key is not None:
        parts.append(f":key {dump_value(op.key)}")
    parts.append(f":value {dump_value(op.value)}")
    if op.index >= 0:
        parts.append(f":index {op.index}")
    if op.time is not None:
        parts.append(f":time {op.time}")
    if op.node is not None:
        parts.append(f":node {dump_value(op.node)}")
    if op.error is not None:
        parts.append(f":error {dump_value(op.error)}")
    if op.vclock is not None:
        parts.append(f":vclock {dump_value(op.vclock)}")
    for name, value in (op.extra or {}).items():
        if name in _FIELDS:
            raise UsageError(f"extra field {name!r} has the name of an Op field")
        parts.append(f"{_dump_name(name)} {dump_value(value)}")
    return "{" + ", ".join(parts) + "}"


def _dump_name(name: str) -> str:
    """A name (process, type, f, extra key) as a keyword when it can be one, else as a string."""
    return f":{name}" if _NAME.match(name) else _dump_string(name)


def _is_bare_symbol(name: str) -> bool:
    """Whether ``name`` written bare reads back as the same symbol (not a number, nil or boolean)."""
    numeric = name[:1].isdigit() or (name[:1] in "+-." and name[1:2].isdigit())
    return bool(_NAME.match(name)) and not numeric and name not in ("nil", "true", "false")


def dump_value(value: Any) -> str:
    """Write one value as EDN text (the inverse of :meth:`EdnReader.read` for the types it yields)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)  # not str(): an IntEnum member must still be written as a number
    if isinstance(value, float):
        if math.isnan(value):
            return "##NaN"
        if math.isinf(value):
            return "##Inf" if value > 0 else "##-Inf"
        return float.__repr__(value)
    if isinstance(value, Keyword):
        return _dump_name(value)
    if isinstance(value, Symbol) and _is_bare_symbol(value):
        return str(value)
    if isinstance(value, str):
        return _dump_string(value)
    if isinstance(value, tuple | list):
        return "[" + " ".join(dump_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dump_value(k)} {dump_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, frozenset | set):
        return "#{" + " ".join(sorted(dump_value(v) for v in value)) + "}"
    raise UsageError(f"values of type {type(value).__name__} cannot be written as EDN")


def _dump_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(_escape_control, escaped) + '"'


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAMED_CONTROLS = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _escape_control(m: re.Match[str]) -> str:
    char = m.group()
    return _NAMED_CONTROLS.get(char, f"\\u{ord(char):04x}")
