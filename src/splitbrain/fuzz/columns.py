"""The per-node view of a trace: one column per node, and under each step only what changed.

The trace records what ran; to show what each node *knew*, the trace is replayed and every node's public
attributes (and its durable storage) are snapshotted between steps. A cell shows the step's event in the
column of the node it happened on, then the attributes that changed there (``term=3``), so a reader
follows the story without wading through unchanged state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from splitbrain.sim import ReplaySource, Trace, Workload, World
from splitbrain.sim.scheduler import Choice, Phase
from splitbrain.sim.trace import Step

__all__ = [
    "Row",
    "build_rows",
    "render_columns",
    "snapshot",
]


_CONSTANT = frozenset({"id", "nodes", "storage"})
_WIDTH = 48


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def snapshot(world: World) -> dict[str, dict[str, str]]:
    """Every node's public state as short strings (``down`` for a crashed node)."""
    state: dict[str, dict[str, str]] = {}
    for node_id in world.node_ids:
        node = world.node(node_id)
        if node is None:
            state[node_id] = {"(down)": ""}
            continue
        fields = {
            k: _short(v) for k, v in sorted(vars(node).items()) if not k.startswith("_") and k not in _CONSTANT
        }
        for k, v in sorted(world.storage(node_id).items()):
            fields[f"storage.{k}"] = _short(v)
        state[node_id] = fields
    return state


class _SnapshotSource(ReplaySource):
    """Replays a trace, snapshotting the world before every choice (i.e. after every step)."""

    def __init__(self, trace: Trace) -> None:
        super().__init__(trace)
        self.world: World | None = None
        self.snapshots: list[dict[str, dict[str, str]]] = []

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        assert self.world is not None
        before = snapshot(self.world) if phase != "start" else {}
        key = super().choose(enabled, phase)
        if key is not None:  # a step will run: remember the state it starts from
            self.snapshots.append(before)
        return key


@dataclass(frozen=True)
class Row:
    step: Step
    cells: dict[str, list[str]]  # column -> lines


def _column(step: Step, nodes: Sequence[str]) -> str:
    if step.kind in ("deliver", "drop", "duplicate", "delay") and step.dst is not None:
        return step.dst if step.dst in nodes else "clients"
    if step.kind == "invoke" or step.kind == "timeout":
        return "clients"
    if step.node is not None and step.node in nodes:
        return step.node
    return "world"


def build_rows(workload: Workload, trace: Trace) -> list[Row]:
    """Replay ``trace`` and pair each step with the state changes it caused, per node."""
    source = _SnapshotSource(trace)
    world = World(workload, trace.variant, source=source, faults=trace.faults, max_steps=trace.max_steps)
    source.world = world
    world.run()
    source.snapshots.append(snapshot(world))
    nodes = list(world.node_ids)
    rows = []
    # snapshots[i] is the state before step i (the first step is "start")
    for i, step in enumerate(world.steps):
        before = source.snapshots[i] if i < len(source.snapshots) else {}
        after = source.snapshots[i + 1] if i + 1 < len(source.snapshots) else snapshot(world)
        cells: dict[str, list[str]] = {}
        event = step.describe().split(None, 2)[-1]
        cells.setdefault(_column(step, nodes), []).append(event)
        for node_id in nodes:
            old, new = before.get(node_id, {}), after.get(node_id, {})
            changed = [f"{k}={v}" if v else k for k, v in new.items() if old.get(k) != v]
            changed += [f"-{k}" for k in old if k not in new]
            if changed:
                cells.setdefault(node_id, []).extend(changed)
        rows.append(Row(step, cells))
    return rows


def render_columns(workload: Workload, trace: Trace, console: Console | None = None) -> None:
    """Print the trace as a table: step, time, one column per node, then clients and world events."""
    rows = build_rows(workload, trace)
    nodes = list(trace.nodes)
    table = Table(title=f"{trace.workload}/{trace.variant}: {len(trace.steps)} steps", show_lines=True)
    table.add_column("step", justify="right")
    table.add_column("t", justify="right")
    for name in [*nodes, "clients", "world"]:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            str(row.step.step), str(row.step.t),
            *("\n".join(row.cells.get(c, [])) for c in [*nodes, "clients", "world"]),
        )
    (console or Console()).print(table)
