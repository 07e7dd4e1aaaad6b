"""MkDocs hook: render the Sphinx cross-reference roles the docstrings use as plain code.

splitbrain's docstrings name other objects the Sphinx way (``:class:`Result```, ``:func:`~a.b.check```).
mkdocstrings renders docstrings as Markdown, where such a role would show as ``:class:`` followed by the
code; this hook keeps the code and drops the role (and, as Sphinx does for ``~``, the leading path).
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):<code>(~?)([^<]*)</code>")


def _plain(match: re.Match[str]) -> str:
    name = match.group(2)
    if match.group(1):
        name = name.rsplit(".", 1)[-1]
    return f"<code>{name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub(_plain, html)
