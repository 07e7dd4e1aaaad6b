"""Raft's safety properties (Ongaro & Ousterhout 2014, Figure 3), checked on world state after every step.

Election Safety, Leader Completeness and State Machine Safety speak about the whole run, not one moment
(a leader of term 5 seen earlier; an entry committed earlier), so the checks keep an :class:`Audit` on the
world object: what they have seen so far. A replay builds a new world, hence a new audit.

Every check reads only the nodes and their storage, so each is declared ``state_only``: the world skips it
after a step that ran no node code (time advancing, a message fault, a client hearing back), when it
cannot have anything new to see — most steps of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from splitbrain.impls.raft.messages import Command, Entry
from splitbrain.sim import Node, World, invariant


@dataclass
class Audit:
    """What the checks have observed so far in one world."""

    leaders: dict[int, str] = field(default_factory=dict)  # term -> the node seen leading it
    committed: list[tuple[Entry, int]] = field(default_factory=list)  # index-1 -> (entry, term observed)
    applied: list[tuple[Command, str]] = field(default_factory=list)  # index-1 -> (command, first node)
    applied_seen: dict[Node, int] = field(default_factory=dict)  # node incarnation -> commands audited
    leader_seen: dict[Node, tuple[int, int]] = field(default_factory=dict)  # node -> (term, verified)
    logs_checked: list[list[Entry]] = field(default_factory=list)  # copies of the logs last found matching
    nodes_at: tuple[int, list[Any]] = (-1, [])  # (step count, the live Raft nodes then): shared by the checks


def audit(world: World) -> Audit:
    """The audit attached to ``world`` (created on first use)."""
    found: Any = world.__dict__.get("_raft_audit")
    if found is None:
        found = world.__dict__["_raft_audit"] = Audit()
    return found


def _raft_nodes(world: World, record: Audit) -> list[Any]:
    """The live Raft nodes (a node is up or down only between steps: the checks of one step share them)."""
    now = len(world.steps)
    if record.nodes_at[0] != now:
        record.nodes_at = (now, [n for n in world.live_nodes() if hasattr(n, "role")])
    return record.nodes_at[1]


def _logs(world: World) -> list[list[Entry]]:
    storage = world.storage
    return [storage(n).get("log") or [] for n in world.node_ids]


@invariant(state_only=True)
def election_safety(world: World) -> str | None:
    """At most one leader per term, over the whole run."""
    record = audit(world)
    leaders = record.leaders
    for node in _raft_nodes(world, record):
        if node.role == "leader":
            first = leaders.setdefault(node.term, node.id)
            if first != node.id:
                return f"{first} and {node.id} were both leader of term {node.term}"
    return None


@invariant(state_only=True)
def log_matching(world: World) -> str | None:
    """If two logs hold an entry with the same index and term, they are identical up to that index.
    Checking the highest such index of each pair suffices: its prefix contains every lower one. Logs
    unchanged since they last matched need no new check (most steps touch no log)."""
    current = _logs(world)
    record = audit(world)
    if current == record.logs_checked:  # entries are shared tuples: this compares pointers, mostly
        return None
    logs = list(zip(world.node_ids, current, strict=True))
    for i, (a, log_a) in enumerate(logs):
        for b, log_b in logs[i + 1:]:
            k = min(len(log_a), len(log_b))
            while k and log_a[k - 1][0] != log_b[k - 1][0]:
                k -= 1
            if k and log_a[:k] != log_b[:k]:
                j = next(j for j in range(k) if log_a[j] != log_b[j])
                return (
                    f"{a} and {b} agree on index {k} (term {log_a[k - 1][0]}) but differ at index {j + 1}: "
                    f"{log_a[j]} vs {log_b[j]}"
                )
    record.logs_checked = [list(log) for log in current]
    return None


@invariant(state_only=True)
def leader_completeness(world: World) -> str | None:
    """A committed entry is in the log of every leader of a later term. An entry's commit term is the term
    of the first node seen holding it committed: no earlier than the true one, so the check is sound."""
    record = audit(world)
    committed = record.committed
    nodes = _raft_nodes(world, record)
    for node in nodes:
        log = node.log
        top = min(node.commit, len(log))
        if top > len(committed):  # this node has seen entries committed that no node showed before
            for index in range(len(committed) + 1, top + 1):
                committed.append((log[index - 1], node.term))
    for node in nodes:
        if node.role != "leader":
            continue
        term, done = record.leader_seen.get(node, (node.term, 0))
        if term != node.term:
            done = 0
        log = node.log
        for index in range(done + 1, len(committed) + 1):
            entry, commit_term = committed[index - 1]
            if commit_term < node.term and (index > len(log) or log[index - 1] != entry):
                have = log[index - 1] if index <= len(log) else "nothing"
                return (
                    f"leader {node.id} of term {node.term} lacks entry {index} {entry}, committed in term "
                    f"{commit_term} or earlier (it has {have})"
                )
        record.leader_seen[node] = (node.term, len(committed))
    return None


@invariant(state_only=True)
def state_machine_safety(world: World) -> str | None:
    """No two nodes apply different commands at one log index."""
    record = audit(world)
    applied, seen = record.applied, record.applied_seen
    for node in _raft_nodes(world, record):
        mine = node.applied
        start = seen.get(node, 0)
        if start == len(mine):  # nothing applied since the last look
            continue
        for index in range(start, len(mine)):
            if index < len(applied):
                command, first = applied[index]
                if command != mine[index]:
                    return f"{first} applied {command} at index {index + 1}, {node.id} applied {mine[index]}"
            else:
                applied.append((mine[index], node.id))
        seen[node] = len(mine)
    return None


INVARIANTS = (election_safety, log_matching, leader_completeness, state_machine_safety)
