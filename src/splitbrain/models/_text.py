"""Short human text for model states and values, shared by the built-in models' ``describe_state``.

The notation follows the op descriptions in reports: ``nil`` for None, ``[a b]`` for sequences (as
``Operation.describe`` writes them), ``#{a b}`` for sets and ``{"k": v}`` for maps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

__all__ = [
    "canonical",
    "show",
    "show_map",
]


#: beyond these sizes a value is shown cut short with its size (a state holding a 20 MB string must not
#: print 20 MB); the same limits as :meth:`Operation.describe`
SHOWN_CHARS = 120
SHOWN_ITEMS = 16


def show(value: Any) -> str:
    """One value, briefly: strings in double quotes, EDN keywords as ``:name`` (their ``repr``); long
    strings and collections cut short with their size."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a str subclass (an EDN Keyword or Symbol) knows how to spell itself
        head = value if len(value) <= SHOWN_CHARS else type(value)(value[:SHOWN_CHARS])
        text = json.dumps(head, ensure_ascii=False) if type(value) is str else repr(head)
        return text if len(value) <= SHOWN_CHARS else f"{text[:-1]}…{text[-1]} ({len(value):,} chars)"
    if isinstance(value, tuple | list):
        return "[" + " ".join(_items([show(v) for v in value[:SHOWN_ITEMS]], len(value))) + "]"
    if isinstance(value, frozenset | set):
        shown = sorted(show(v) for v in value)
        return "#{" + " ".join(_items(shown[:SHOWN_ITEMS], len(value))) + "}"
    if isinstance(value, dict):
        return show_map(value.items(), len(value))
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} chars)"


def _items(shown: list[str], total: int) -> list[str]:
    return shown + ([f"… {total - len(shown):,} more"] if total > len(shown) else [])


def show_map(pairs: Iterable[tuple[Any, Any]], total: int | None = None) -> str:
    """Key/value pairs as ``{"x": "a", "y": 1}`` (at most :data:`SHOWN_ITEMS` of them)."""
    shown = []
    for count, (k, v) in enumerate(pairs):
        if count == SHOWN_ITEMS:
            break
        shown.append(f"{show(k)}: {show(v)}")
    return "{" + ", ".join(_items(shown, total if total is not None else len(shown))) + "}"


def canonical(pairs: Iterable[tuple[Any, Any]]) -> tuple[tuple[Any, Any], ...]:
    """Pairs with distinct first elements, sorted into one canonical, hashable tuple.

    Equal collections must give equal tuples whatever order they were built in, because the checker
    memoises on states. Keys of one history are normally of one type; when they are not comparable,
    sort by type name and ``repr`` instead, which is still deterministic.
    """
    items = list(pairs)
    try:
        items.sort(key=itemgetter(0))
    except TypeError:
        items.sort(key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
    return tuple(items)
