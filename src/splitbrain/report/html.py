"""Rendering helpers: one self-contained HTML page per report, data embedded as JSON.

Every page is a Jinja2 template under ``templates/`` that extends ``base.html.j2`` (styles, the data
block, shared JavaScript). The data goes into ``<script type="application/json">`` and is read with
``JSON.parse``; :func:`embed_json` escapes ``<``, ``>`` and ``&`` (and the two JavaScript line
separators) so that no value — an operation whose input is ``"</script>"`` — can end the block early.
Nothing is fetched over the network: a page opens from ``file://`` offline.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from splitbrain.files import atomic_write

__all__ = [
    "embed_json",
    "render",
    "short",
    "write_page",
]


_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_TABLE = str.maketrans(_ESCAPES)


def embed_json(data: Any) -> Markup:
    """``data`` as JSON text safe to place inside a ``<script>`` element (no ``</script>`` can appear)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    return Markup(text.translate(_TABLE))


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
    """Render ``templates/<template>`` with ``data`` embedded as JSON."""
    from splitbrain._version import __version__

    page = _environment().get_template(template)
    return page.render(title=title, subtitle=subtitle, data_json=embed_json(data), version=__version__)


def write_page(path: str | os.PathLike[str], html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a reader sees the old file or the whole new one)."""
    target = Path(path)
    atomic_write(target, html.encode("utf-8"))
    return target


def short(value: Any, limit: int = 200) -> str:
    """A readable, bounded text for a value shown in a report."""
    if value is None:
        text = "nil"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, tuple | list):
        text = "[" + " ".join(short(v, limit) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
