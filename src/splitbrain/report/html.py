"""Rendering helpers: one self-contained HTML page per report, data embedded as JSON.

Every page is a Jinja2 template under ``templates/`` that extends ``base.html.j2`` (styles, the data
block, shared JavaScript). The data goes into ``<script type="application/json">`` and is read with
``JSON.parse``; nothing is fetched over the network: a page opens from ``file://`` offline.

Two rules keep a hostile or huge history from breaking a page:

* **Nothing from the data is ever markup.** :func:`embed_json` escapes ``<``, ``>`` and ``&`` (and the
  two JavaScript line separators) so that no value — an operation whose input is ``"</script>"`` — can
  end the data block early; the page scripts put data into the document only as text (``textContent``,
  or HTML built through ``esc``), and Jinja autoescapes the title.
* **Each value is embedded once, and cut for display.** :func:`pack` turns the page data into a table of
  the distinct long strings plus the data with each such string replaced by a reference into that table
  (the page resolves them after parsing), so a value that appears in an operation's input, output, model
  state and explanation is written to the file once. Every string is cut to a few kilobytes with a marker
  saying how long it was (:mod:`splitbrain.report.text` renders values that way without ever building
  the whole text of a huge one). A 20 MB value makes a page of a few kilobytes, not of 120 MB.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from splitbrain.files import atomic_write
from splitbrain.report.text import SAFE_INT, TEXT_LIMIT, clip, short, show

__all__ = [
    "embed_json",
    "pack",
    "render",
    "write_page",
]


#: room for the marker a cut text ends with: a text already cut by show() or clip() is not cut again
_MARKER_ROOM = 80
#: strings at least this long are written once, in the table, and referenced (shorter ones are cheaper
#: inline than as a reference)
_INTERN_FROM = 24
#: nesting below this depth is shown as text: keeps json.dumps and the page's own walk off deep recursion
_MAX_DEPTH = 24
#: the first character of a reference into the table (a private-use code point); a literal string that
#: starts with it is escaped by doubling it, so data can never forge a reference
_REF = "\ue000"

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class _Packer:
    """Makes page data JSON-safe and compact: see :func:`pack`. The exact-type tests come first
    because this walks every value of a 10,000-operation timeline (isinstance is the slow path)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.table: list[str] = []
        self.index: dict[str, int] = {}

    def string(self, text: str) -> str:
        if len(text) > self.limit:
            text = clip(text, self.limit)
        if len(text) >= _INTERN_FROM:
            at = self.index.get(text)
            if at is None:
                at = self.index[text] = len(self.table)
                self.table.append(text)
            return f"{_REF}{at}"
        return _REF + text if text.startswith(_REF) else text

    @staticmethod
    def _plain(value: Any) -> bool:
        """Whether ``value`` goes into the JSON as it is: the leaves most page data is made of (checked
        inline, without a call to :meth:`value`, for speed)."""
        kind = type(value)
        if kind is str:
            return len(value) < _INTERN_FROM and not value.startswith(_REF)
        if kind is int:
            return -SAFE_INT <= value <= SAFE_INT
        return value is None or kind is bool

    def key(self, key: Any) -> str:
        if type(key) is str and len(key) <= self.limit:
            return key
        return clip(key if isinstance(key, str) else short(key, self.limit), self.limit)

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.string(value)
        if kind is int:
            return value if -SAFE_INT <= value <= SAFE_INT else self.string(show(value, self.limit))
        if value is None or kind is bool:
            return value
        if kind is float:
            return value if math.isfinite(value) else self.string(str(value))
        if depth >= _MAX_DEPTH:
            return self.string(show(value, self.limit))
        if kind is dict:
            return {k if type(k) is str and len(k) <= self.limit else self.key(k):
                    v if self._plain(v) else self.value(v, depth + 1) for k, v in value.items()}
        if kind is list or kind is tuple:
            return [v if self._plain(v) else self.value(v, depth + 1) for v in value]
        if isinstance(value, str):  # subclasses of the JSON types, then everything else as text
            return self.string(str(value))
        if isinstance(value, int):  # an IntEnum, say (bool is exact-typed above)
            return self.value(int(value), depth)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else self.string(str(value))
        if isinstance(value, dict):
            return {self.key(k): self.value(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, depth + 1) for v in value]
        return self.string(show(value, self.limit))


def pack(data: Any, limit: int = TEXT_LIMIT + _MARKER_ROOM) -> dict[str, Any]:
    """``{"v": table, "d": data}``: ``data`` made JSON-safe with every string cut to ``limit`` (see
    :func:`clip`) and each distinct long string stored once in ``table``, referenced from ``data`` as
    ``"\\ue000<index>"`` (a short string that itself starts with ``\\ue000`` gets a second one). The page's
    ``unpack`` reverses it. Non-finite floats, integers beyond 2**53, deep nesting and other objects
    become text, so any value a history holds can be embedded."""
    packer = _Packer(limit)
    body = packer.value(data, 0)
    return {"v": packer.table, "d": body}


def embed_json(data: Any) -> Markup:
    """``data`` as JSON text safe to place inside a ``<script>`` element (no ``</script>`` can appear)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    # one str.replace per character: several times faster than str.translate on a page of megabytes
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return Markup(text)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    folder = Path(__file__).parent / "templates"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, *, title: str, data: Any, subtitle: str = "") -> str:
    """Render ``templates/<template>`` with ``data`` packed (:func:`pack`) and embedded as JSON."""
    from splitbrain._version import __version__

    page = _environment().get_template(template)
    return page.render(title=clip(title, 300), subtitle=clip(subtitle, 300), data_json=embed_json(pack(data)),
                       version=__version__)


def write_page(path: str | os.PathLike[str], html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a reader sees the old file or the whole new one)."""
    target = Path(path)
    atomic_write(target, html.encode("utf-8"))
    return target
