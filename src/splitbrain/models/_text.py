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


def show(value: Any) -> str:
    """One value, briefly: strings in double quotes, EDN keywords as ``:name`` (their ``repr``)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a str subclass (an EDN Keyword or Symbol) knows how to spell itself
        return json.dumps(value, ensure_ascii=False) if type(value) is str else repr(value)
    if isinstance(value, tuple | list):
        return "[" + " ".join(show(v) for v in value) + "]"
    if isinstance(value, frozenset | set):
        return "#{" + " ".join(sorted(show(v) for v in value)) + "}"
    if isinstance(value, dict):
        return show_map(value.items())
    return str(value)


def show_map(pairs: Iterable[tuple[Any, Any]]) -> str:
    """Key/value pairs as ``{"x": "a", "y": 1}``."""
    return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in pairs) + "}"


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
