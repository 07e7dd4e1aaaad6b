"""The per-node view of a trace: one column per node, and under each step only what changed.

The trace records what ran; to show what each node *knew*, the trace is replayed and every node's public
attributes (and its durable storage) are snapshotted between steps. A cell shows the step's event in the
column of the node it happened on, then the attributes that changed there (``term=3``), so a reader
follows the story without wading through unchanged state.

An eventually consistent workload ends with a *settle phase* (:func:`settle_phase`): after the
``quiesce`` step and the last client reply, a hundred or so steps of anti-entropy timers and messages
that let the replicas converge. They are folded into one row by default — the steps they span, what
they were, and each node's net change over them — since the story is rarely in them step by step.
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
    "FOLD_FROM",
    "Row",
    "build_rows",
    "render_columns",
    "settle_phase",
    "settle_summary",
    "snapshot",
]


_CONSTANT = frozenset({"id", "nodes", "storage"})
_WIDTH = 48
#: what a settling world does: fire timers, deliver messages, move the clock on
_SETTLE_KINDS = frozenset({"deliver", "timer", "advance"})
#: a settle phase shorter than this many steps is shown step by step: folding it would hide more than
#: it saves
FOLD_FROM = 12


def settle_phase(steps: Sequence[Step], nodes: Sequence[str]) -> tuple[int, int] | None:
    """``(first, last)``: positions of the settle phase in ``steps``, or ``None`` when there is none
    worth folding (no ``quiesce`` step, or fewer than :data:`FOLD_FROM` steps).

    The phase is the tail of the trace after the ``quiesce`` step in which every step only fires a
    timer, delivers a message between nodes or advances the clock: it starts after the last step that
    touches a client (a request or reply in flight after quiesce) or does anything else."""
    quiesce = next((i for i, s in enumerate(steps) if s.kind == "quiesce"), None)
    if quiesce is None:
        return None
    members = set(nodes)
    first = quiesce + 1
    for i in range(quiesce + 1, len(steps)):
        s = steps[i]
        client = s.client is not None or any(x is not None and x not in members for x in (s.src, s.dst))
        if client or s.kind not in _SETTLE_KINDS:
            first = i + 1
    last = len(steps) - 1
    return (first, last) if last - first + 1 >= FOLD_FROM else None


def settle_summary(steps: Sequence[Step]) -> str:
    """What a run of settle steps did, counted: ``"t=12-112: 27 timers, 52 messages delivered"``."""
    timers = sum(1 for s in steps if s.kind == "timer")
    delivered = sum(1 for s in steps if s.kind == "deliver")
    names = sorted({s.timer for s in steps if s.kind == "timer" and s.timer})
    span = f"t={steps[0].t}-{steps[-1].t}" if steps else "no steps"
    what = f"{timers} timer{'s' if timers != 1 else ''}" + (f" ({', '.join(names[:3])})" if names else "")
    return f"{span}: {what}, {delivered} message{'s' if delivered != 1 else ''} delivered"


def _short(value: Any) -> str:
    text = _stable_repr(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def _stable_repr(value: Any, depth: int = 0) -> str:
    """``repr``, but with sets in sorted order: a set's own order follows string hashing, which differs
    between processes, and the same trace must print the same way every time."""
    if depth > 20:
        return "…"
    if isinstance(value, set | frozenset):
        items = sorted(_stable_repr(v, depth + 1) for v in value)
        if not items:
            return "set()" if isinstance(value, set) else "frozenset()"
        body = ", ".join(items)
        return "{" + body + "}" if isinstance(value, set) else "frozenset({" + body + "})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_stable_repr(k, depth + 1)}: {_stable_repr(v, depth + 1)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_stable_repr(v, depth + 1) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_stable_repr(v, depth + 1) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


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
    world, snapshots = _replay(workload, trace)
    return _rows(world, snapshots)


def _replay(workload: Workload, trace: Trace) -> tuple[World, list[dict[str, dict[str, str]]]]:
    """The world after replaying ``trace`` and its snapshots: ``snapshots[i]`` is the state before step
    ``i`` (the first step is "start"), and the last one the state after every step."""
    source = _SnapshotSource(trace)
    world = World(workload, trace.variant, source=source, faults=trace.faults, max_steps=trace.max_steps)
    source.world = world
    world.run()
    source.snapshots.append(snapshot(world))
    return world, source.snapshots


def _changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    changed = [f"{k}={v}" if v else k for k, v in new.items() if old.get(k) != v]
    return changed + [f"-{k}" for k in old if k not in new]


def _rows(world: World, snapshots: list[dict[str, dict[str, str]]]) -> list[Row]:
    nodes = list(world.node_ids)
    rows = []
    for i, step in enumerate(world.steps):
        before = snapshots[i] if i < len(snapshots) else {}
        after = snapshots[i + 1] if i + 1 < len(snapshots) else snapshot(world)
        cells: dict[str, list[str]] = {}
        event = step.describe().split(None, 2)[-1]
        cells.setdefault(_column(step, nodes), []).append(event)
        for node_id in nodes:
            changed = _changes(before.get(node_id, {}), after.get(node_id, {}))
            if changed:
                cells.setdefault(node_id, []).extend(changed)
        rows.append(Row(step, cells))
    return rows


def render_columns(
    workload: Workload, trace: Trace, console: Console | None = None, *, fold_settle: bool = True
) -> None:
    """Print the trace as a table: step, time, one column per node, then clients and world events.

    With ``fold_settle`` (the default) the settle phase (:func:`settle_phase`) is one row saying how
    many steps it folds and what they did, with each node's net change over them."""
    world, snapshots = _replay(workload, trace)
    rows = _rows(world, snapshots)
    nodes = list(trace.nodes)
    columns = [*nodes, "clients", "world"]
    phase = settle_phase(world.steps, list(world.node_ids)) if fold_settle else None
    table = Table(title=f"{trace.workload}/{trace.variant}: {len(trace.steps)} steps", show_lines=True)
    table.add_column("step", justify="right")
    table.add_column("t", justify="right")
    for name in columns:
        table.add_column(name, overflow="fold")
    for i, row in enumerate(rows):
        if phase is not None and phase[0] <= i <= phase[1]:
            if i == phase[0]:
                table.add_row(*_folded(world.steps[phase[0]:phase[1] + 1], snapshots, phase, columns))
            continue
        table.add_row(
            str(row.step.step), str(row.step.t),
            *("\n".join(row.cells.get(c, [])) for c in columns),
        )
    (console or Console()).print(table)


def _folded(
    steps: Sequence[Step], snapshots: list[dict[str, dict[str, str]]], phase: tuple[int, int], columns: list[str]
) -> list[str]:
    """The one row standing for the settle phase: its step and time range, each node's net change from
    before the first folded step to after the last, and what the steps were."""
    first, last = phase
    before, after = snapshots[first], snapshots[min(last + 1, len(snapshots) - 1)]
    cells = {node: "\n".join(_changes(before.get(node, {}), after.get(node, {}))) for node in columns[:-2]}
    cells["world"] = f"… {len(steps)} settle steps folded ({settle_summary(steps)}); net change per node shown"
    return [f"{steps[0].step}-{steps[-1].step}", f"{steps[0].t}-{steps[-1].t}", *(cells.get(c, "") for c in columns)]
