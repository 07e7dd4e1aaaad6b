"""The trace view of a simulated failure: a sequence diagram built from a saved failure record.

One column per client and per node; one row per trace step. A message is an arrow from the step that
sent it (its ``sent`` list) to the step that delivered it; a message lost to a partition, a crash or a
``drop`` ends in a cross at the step that lost it. Partitions shade the rows they last, crashed and paused
nodes grey out their column. When the workload is importable, the trace is replayed once, snapshotting
every node's public fields after each step, and only the fields that *changed* are shown at that step.

An eventually consistent workload's settle phase (``fuzz.columns.settle_phase``: the hundred or so
anti-entropy steps after ``quiesce``) is described by ``fold`` — its rows, what they did and each node's
net change over them — and the page shows it folded into one row until asked to unfold it.
"""

from __future__ import annotations

from typing import Any

from splitbrain.fuzz.columns import settle_phase, settle_summary
from splitbrain.report.text import clip, short, text_lines
from splitbrain.sim.faults import FAULT_KINDS

__all__ = [
    "build_trace_view",
]


_NET_FAULTS = {"partition", "oneway", "bridge"}
_NET_HEAL = {"heal", "quiesce"}
_DOWN = {"crash": ("restart", "down"), "pause": ("resume", "paused")}
_FAULT_KINDS = {*FAULT_KINDS, "heal", "restart", "resume", "quiesce"}


def build_trace_view(record: dict[str, Any], *, states: bool = True) -> dict[str, Any]:
    """The JSON-able data of a trace page from a failure record (``fuzz.campaign.failure_record``)."""
    from splitbrain.sim.trace import Step

    trace = record.get("trace") or {}
    raw_steps = trace.get("steps") or []
    steps = [Step(**s) for s in raw_steps]
    nodes = [str(n) for n in trace.get("nodes") or []]
    clients = sorted({x for s in steps for x in (s.src, s.dst) if x is not None and x not in nodes}
                     | {f"c{s.client}" for s in steps if s.kind == "invoke" and s.client is not None},
                     key=_natural)
    columns = clients + nodes
    col = {name: i for i, name in enumerate(columns)}
    rows: list[dict[str, Any]] = []
    sent_at: dict[str, int] = {}
    for i, s in enumerate(steps):
        for m in s.sent or []:
            sent_at.setdefault(m, i)
        rows.append({"n": s.step, "t": s.t, "k": s.kind, "d": clip(s.describe().strip()), "c": _column_of(s, col),
                     "fault": s.kind in _FAULT_KINDS, "raw": raw_steps[i]})
    messages = _messages(steps, sent_at, col)
    bands, down = _fault_spans(steps, col)
    data: dict[str, Any] = {
        "kind": "trace",
        "title": clip(f"{record.get('workload', '?')}/{record.get('variant', '?')}", 200),
        "signature": record.get("signature"), "message": text_lines(str(record.get("message") or "")),
        "seed": record.get("seed"), "found": (record.get("steps") or {}).get("found"),
        "columns": columns, "clients": len(clients), "rows": rows, "messages": messages,
        "bands": bands, "down": down, "changes": [], "states_note": "", "fold": None,
    }
    if states:
        try:
            data["changes"] = _state_changes(record)
        except Exception as exc:  # the report still shows the trace when the workload cannot be replayed
            data["states_note"] = f"node states not shown: replaying the trace failed ({type(exc).__name__}: {exc})"
    phase = settle_phase(steps, nodes)
    if phase is not None:
        first, last = phase
        data["fold"] = {"from": first, "to": last, "summary": settle_summary(steps[first:last + 1]),
                        "net": _net_change(data["changes"], first, last)}
    return data


def _net_change(changes: list[dict[str, dict[str, str]]], first: int, last: int) -> dict[str, dict[str, str]]:
    """Each node's fields whose value after row ``last`` differs from before row ``first`` (the state
    changes of the rows in between, added up): what a folded run of rows changed, in one line a node."""
    if not changes:
        return {}
    before: dict[str, dict[str, str]] = {}
    for change in changes[:first]:
        for node, fields in change.items():
            before.setdefault(node, {}).update(fields)
    after = {node: dict(fields) for node, fields in before.items()}
    for change in changes[first:last + 1]:
        for node, fields in change.items():
            after.setdefault(node, {}).update(fields)
    net: dict[str, dict[str, str]] = {}
    for node, fields in after.items():
        old = before.get(node, {})
        diff = {k: v for k, v in fields.items() if old.get(k) != v}
        if diff:
            net[node] = diff
    return net


def _natural(name: str) -> tuple[str, int]:
    head = name.rstrip("0123456789")
    tail = name[len(head):]
    return head, int(tail) if tail else -1


def _column_of(s: Any, col: dict[str, int]) -> int | None:
    if s.kind == "deliver" and s.dst in col:
        return col[s.dst]
    if s.kind in ("invoke", "timeout") and s.client is not None and f"c{s.client}" in col:
        return col[f"c{s.client}"]
    if s.node is not None and s.node in col:
        return col[s.node]
    if s.src is not None and s.src in col:
        return col[s.src]
    return None


def _messages(steps: list[Any], sent_at: dict[str, int], col: dict[str, int]) -> list[dict[str, Any]]:
    """One arrow per message: from its sending row to the row that delivered, dropped or lost it."""
    out: dict[str, dict[str, Any]] = {}
    for m, i in sent_at.items():
        src, _, rest = m.partition(">")
        dst = rest.split("#", 1)[0]
        if src in col and dst in col:
            out[m] = {"id": m, "a": col[src], "b": col[dst], "from": i, "to": None, "how": "open"}
    for i, s in enumerate(steps):
        if s.kind == "deliver" and s.msg in out:
            arrow = out[s.msg]
            if arrow["to"] is None:
                arrow.update(to=i, how="deliver")
            else:  # a duplicate delivered again
                out[f"{s.msg}@{i}"] = {**arrow, "to": i, "how": "deliver", "id": f"{s.msg} (again)"}
        elif s.kind == "drop" and s.msg in out:
            out[s.msg].update(to=i, how="lost")
        for m in s.lost or []:
            if m in out and out[m]["to"] is None:
                out[m].update(to=i, how="lost")
    return sorted(out.values(), key=lambda a: (a["from"], a["id"]))


def _fault_spans(steps: list[Any], col: dict[str, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Partition bands (rows from the cut to the heal) and node down/paused spans (per column)."""
    bands: list[dict[str, Any]] = []
    down: list[dict[str, Any]] = []
    net: dict[str, Any] | None = None
    open_nodes: dict[tuple[str, str], dict[str, Any]] = {}
    last = max(len(steps) - 1, 0)
    for i, s in enumerate(steps):
        if s.kind in _NET_FAULTS:
            if net is not None:
                net["to"] = i
                bands.append(net)
            sep = {"oneway": " -/-> ", "bridge": " <-> "}.get(s.kind, " | ")
            label = s.kind + " " + sep.join(",".join(g) for g in s.groups or [])
            net = {"from": i, "to": last, "label": label}
        elif s.kind in _NET_HEAL and net is not None:
            net["to"] = i
            bands.append(net)
            net = None
        if s.kind in _DOWN and s.node in col:
            open_nodes[(s.kind, s.node)] = {"c": col[s.node], "from": i, "to": last, "how": _DOWN[s.kind][1]}
        for kind, (end, _) in _DOWN.items():
            if s.kind == end:
                ended = [s.node]
            else:
                ended = (s.restarted or []) + (s.resumed or []) if s.kind == "quiesce" else []
            for node in ended:
                span = open_nodes.pop((kind, node), None)
                if span is not None:
                    span["to"] = i
                    down.append(span)
    if net is not None:
        bands.append(net)
    down.extend(open_nodes.values())
    return bands, down


def _state_changes(record: dict[str, Any]) -> list[dict[str, dict[str, str]]]:
    """Replay the trace, snapshotting each node's public fields after every step; keep only changes."""
    from splitbrain.fuzz.saved import trace_of, workload_for
    from splitbrain.sim import World
    from splitbrain.sim.scheduler import ReplaySource

    trace = trace_of(record)
    workload = workload_for(record)
    snapshots: list[dict[str, dict[str, str]]] = []

    class SnapshotWorld(World):
        def _execute(self, key: str, params: Any) -> Any:
            step = super()._execute(key, params)
            snapshots.append({n: _snapshot(self.node(n)) for n in self.node_ids})
            return step

    world = SnapshotWorld(workload, trace.variant, source=ReplaySource(trace), faults=trace.faults,
                          max_steps=trace.max_steps)
    world.run()
    changes: list[dict[str, dict[str, str]]] = []
    before: dict[str, dict[str, str]] = {}
    for snap in snapshots[: len(trace.steps)]:
        diff: dict[str, dict[str, str]] = {}
        for node, fields in snap.items():
            old = before.get(node, {})
            changed = {k: v for k, v in fields.items() if old.get(k) != v}
            changed.update({k: "(gone)" for k in old if k not in fields and not _reshaped(k, fields)})
            if changed:
                diff[node] = changed
        changes.append(diff)
        before = snap
    return changes


def _reshaped(key: str, fields: dict[str, str]) -> bool:
    """A dict field that went from empty to entries (or back) is shown by its new form, not as gone."""
    head = key.split(".", 1)[0]
    return head in fields or any(k.startswith(key + ".") for k in fields)


def _snapshot(node: Any) -> dict[str, str]:
    if node is None:
        return {"(node)": "down"}
    out: dict[str, str] = {}
    for k, v in sorted(vars(node).items()):
        if k.startswith("_") or k in ("id", "nodes"):
            continue
        if isinstance(v, dict) and v and len(v) <= 24:  # one entry per key, so a change names the key
            for kk, vv in v.items():
                out[f"{k}.{kk}"] = short(vv, 160)
        else:
            out[k] = short(v, 160)
    return out
