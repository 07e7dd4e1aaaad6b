"""Reading and writing history files: the public entry points over the formats.

``read_history`` and ``parse_history`` pick a reader (or detect the format), and every problem comes
back as one :class:`InvalidHistory` naming the file, the line and what is wrong. ``write_history``
replaces its file atomically, so a crash mid-write never leaves half a history behind.
"""

from __future__ import annotations

import gc
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.files import atomic_write
from splitbrain.histories.formats import edn, jepsen_log, jsonl
from splitbrain.histories.history import History
from splitbrain.histories.op import Op

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "WRITABLE_FORMATS",
    "detect_format",
    "dumps_history",
    "max_history_bytes",
    "parse_history",
    "read_history",
    "write_history",
]


FORMATS: tuple[str, ...] = ("jsonl", "edn", "jepsen-log")
WRITABLE_FORMATS: tuple[str, ...] = ("jsonl", "edn")

_READERS: dict[str, Callable[..., History]] = {
    "jsonl": jsonl.read,
    "edn": edn.read,
    "jepsen-log": jepsen_log.read,
}
_WRITERS: dict[str, Callable[[Iterable[Op]], str]] = {"jsonl": jsonl.dumps, "edn": edn.dumps}


#: the largest history file read (bytes); ``$SPLITBRAIN_MAX_HISTORY_BYTES`` changes it. Parsed, a history
#: takes about ten times its size in memory, so the default keeps a check of the largest within a few GB.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def max_history_bytes() -> int:
    """The size limit in force: ``$SPLITBRAIN_MAX_HISTORY_BYTES`` when set (a positive integer), else
    :data:`DEFAULT_MAX_BYTES`."""
    text = os.environ.get("SPLITBRAIN_MAX_HISTORY_BYTES", "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"SPLITBRAIN_MAX_HISTORY_BYTES must be a positive number of bytes, got {text!r}")
    return int(text)


def read_history(path: str | os.PathLike[str], format: str = "auto") -> History:
    """Read and validate the history in the file at ``path``.

    ``format`` is one of :data:`FORMATS`, or ``"auto"`` to detect it from the first non-blank line. Only
    regular files are read (a device, FIFO or socket could block forever or never end), and at most
    :func:`max_history_bytes` of them.
    """
    _check_format(format, ("auto", *FORMATS))
    source = os.fspath(path)
    limit = max_history_bytes()
    try:
        info = os.stat(path)  # stat, not open: opening a FIFO with no writer would block
        if stat.S_ISDIR(info.st_mode):
            raise InvalidHistory("this is a directory, not a history file", source=source)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidHistory(
                "not a regular file (a device, FIFO or socket, which may never end): save the history to a "
                "file first", source=source,
            )
        if info.st_size > limit:
            raise InvalidHistory(
                f"the file is {info.st_size:,} bytes, over the limit of {limit:,} (set "
                "SPLITBRAIN_MAX_HISTORY_BYTES to read larger histories)", source=source,
            )
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # a file that grows while being read is still bounded
    except FileNotFoundError:
        raise InvalidHistory("no such file", source=source) from None
    except IsADirectoryError:
        raise InvalidHistory("this is a directory, not a history file", source=source) from None
    except OSError as exc:
        raise InvalidHistory(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    if len(data) > limit:
        raise InvalidHistory(f"the file grew past the limit of {limit:,} bytes while being read", source=source)
    try:
        text = data.decode("utf-8-sig")  # -sig: tolerate a byte-order mark written by some editors
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidHistory("the file is not UTF-8 text", source=source, line=line) from None
    del data  # the bytes are the size of the file again: not kept while the history is built
    return parse_history(text, format, source=source)


def parse_history(text: str, format: str = "auto", source: str | None = None) -> History:
    """Parse and validate a history held in a string (``source`` names it in error messages)."""
    _check_format(format, ("auto", *FORMATS))
    if not text.strip():
        raise InvalidHistory("the history is empty (the input has no operations)", source=source)
    if format == "auto":
        format = detect_format(text, source=source)
    # A history is millions of small acyclic objects: the cyclic collector's passes over them while they
    # are built find nothing and cost a third of the parse (measured on a million-operation Jepsen log),
    # so it waits until the history is built.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _READERS[format](text, source=source)
    finally:
        if paused:
            gc.enable()


def detect_format(text: str, *, source: str | None = None) -> str:
    """Tell the format of a history from its first non-blank line.

    ``jepsen-log`` when it is a Jepsen log record, ``jsonl`` when it is a JSON object, ``edn`` when it
    starts EDN data (a map, vector, list, comment or tag). Raises :class:`InvalidHistory` otherwise.
    """
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        start, offset = offset, offset + len(raw) + 1
        line = raw.strip()
        if not line:
            continue
        if jepsen_log.looks_like(line):
            return "jepsen-log"
        if line.startswith("{"):
            # JSON objects start with a string key ("{}" aside); EDN op maps with a keyword
            after = text[start + raw.index("{") + 1 :].lstrip()
            return "jsonl" if after.startswith(('"', "}")) else "edn"
        if line[0] in "[(;#":
            return "edn"
        raise InvalidHistory(
            "cannot tell the history format: the first line is not a JSON object (jsonl), EDN data "
            "(edn) or a Jepsen log record (jepsen-log); pass the format explicitly",
            source=source,
            line=number,
        )
    raise InvalidHistory("the history is empty (the input has no operations)", source=source)


def dumps_history(history: History | Iterable[Op], format: str = "jsonl") -> str:
    """The text of ``history`` in a writable format (``jsonl`` or ``edn``)."""
    _check_writable(format)
    return _WRITERS[format](history)


def write_history(
    history: History | Iterable[Op], path: str | os.PathLike[str], format: str = "jsonl"
) -> None:
    """Write ``history`` to ``path`` atomically: a temporary file in the same directory, then a rename."""
    text = dumps_history(history, format)  # fails before the file is touched
    atomic_write(Path(path), text.encode("utf-8"))


def _check_format(format: str, allowed: tuple[str, ...]) -> None:
    if format not in allowed:
        raise UsageError(f"unknown history format {format!r} (expected one of {', '.join(allowed)})")


def _check_writable(format: str) -> None:
    if format not in WRITABLE_FORMATS:
        _check_format(format, FORMATS)
        raise UsageError(
            f"cannot write {format} histories; the formats that can be written are "
            f"{', '.join(WRITABLE_FORMATS)}"
        )
