"""Labelled graphs: a happens-before cycle, a causal violation, a transaction dependency cycle.

The input shape is deliberately generic, so any checker can hand its evidence over without the report
knowing the checker::

    {"title": "G-single: read skew",
     "description": "optional text shown above the drawing",
     "nodes": ["T1", {"id": "T2", "label": "T2 r x 1", "detail": "anything shown on click"}],
     "edges": [{"from": "T1", "to": "T2", "label": "wr x"}, {"from": "T2", "to": "T1", "label": "rw y"}]}

Nodes may be plain ids or objects with ``id`` (and optional ``label``, ``detail``); ``edges`` must name
known nodes. A cycle is laid out on a circle in edge order so it reads round clockwise.
"""

from __future__ import annotations

from typing import Any

from splitbrain.errors import UsageError
from splitbrain.report.text import clip, short

__all__ = [
    "build_graph",
]


def build_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """Validate ``graph`` (see the module docstring) and return the page data."""
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) or not isinstance(
        graph.get("edges"), list
    ):
        raise UsageError('a graph report needs a dict with "nodes" (a list) and "edges" (a list)')
    nodes: list[dict[str, str]] = []
    seen: set[str] = set()
    for n in graph["nodes"]:
        node = n if isinstance(n, dict) else {"id": n}
        if "id" not in node:
            raise UsageError(f"graph node {n!r} has no 'id'")
        nid = str(node["id"])
        if nid in seen:
            raise UsageError(f"graph node {nid!r} appears twice")
        seen.add(nid)
        label, detail = short(node.get("label", nid), 60), short(node.get("detail", ""), 2000)
        nodes.append({"id": nid, "label": label, "detail": detail})
    edges: list[dict[str, str]] = []
    for e in graph["edges"]:
        if not isinstance(e, dict) or "from" not in e or "to" not in e:
            raise UsageError(f"graph edge {e!r} needs 'from' and 'to'")
        a, b = str(e["from"]), str(e["to"])
        for end in (a, b):
            if end not in seen:
                raise UsageError(f"graph edge {a!r} -> {b!r} names unknown node {end!r} (known: {sorted(seen)})")
        edges.append({"from": a, "to": b, "label": short(e.get("label", ""), 60)})
    return {
        "kind": "graph",
        "title": clip(str(graph.get("title") or "graph"), 300),
        "description": clip(str(graph.get("description") or "")),
        "nodes": _cycle_order(nodes, edges),
        "edges": edges,
    }


def _cycle_order(nodes: list[dict[str, str]], edges: list[dict[str, str]]) -> list[dict[str, str]]:
    """Nodes in the order the edges first visit them (a cycle then reads round), the rest after."""
    by_id = {n["id"]: n for n in nodes}
    order: dict[str, None] = {}
    for e in edges:
        order.setdefault(e["from"], None)
        order.setdefault(e["to"], None)
    for n in nodes:
        order.setdefault(n["id"], None)
    return [by_id[i] for i in order]
