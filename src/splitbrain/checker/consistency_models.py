"""The transactional consistency models, how they relate, and which anomalies each one rules out.

Two small directed graphs, after the lattice Elle uses (Kingsbury & Alvaro, "Elle: Inferring Isolation
Anomalies from Experimental Observations", VLDB 2020) and the sources it draws on — Adya's thesis ("Weak
Consistency", MIT 1999: PL-1, PL-2, PL-CS, PL-2.99, PL-SI, PL-3, PL-SS), Bailis et al. ("Highly Available
Transactions", VLDB 2014: monotonic atomic view), Cerone, Bernardi & Gotsman (CONCUR 2015) and Cerone &
Gotsman ("Analysing Snapshot Isolation", PODC 2016), and Daudjee & Salem (strong session SI, VLDB 2006):

* :data:`IMPLIES` — model → the weaker models every history it allows also satisfies;
* :data:`DIRECT` — model → the anomalies it rules out beyond those of the weaker models it implies;
* :data:`ANOMALY_IMPLIES` — anomaly → anomalies its presence also shows (a G0 cycle is a G1c cycle; a
  cycle found without process edges is trivially one that may use them; a process edge is a real-time
  edge, as a process runs one operation at a time).

``forbidden(m)`` closes both: an anomaly is forbidden by ``m`` when it shows (through
:data:`ANOMALY_IMPLIES`) an anomaly ``m`` or any weaker model rules out directly. ``boundary(found)`` is
Elle's ``:not`` / ``:also-not``: the weakest models the anomalies rule out, the stronger ones they also rule
out, and the models still standing.

Choices that differ from Elle, each for a reason stated next to it in :data:`DIRECT`: monotonic atomic view
rules out ``fractured-read`` (Bailis' definition: once a transaction sees another's effects it sees all of
them) and ``internal`` (a transaction that cannot see its own writes or re-read its own reads); Elle gives
monotonic atomic view nothing of its own, so no history could separate it from read committed there.
With reads and writes of single keys only (no predicates), repeatable read and serializable rule out the
same histories: Adya's PL-2.99 and PL-3 differ only in predicate anti-dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

__all__ = [
    "ALIASES",
    "ANOMALY_IMPLIES",
    "CYCLE_ANOMALIES",
    "DIRECT",
    "IMPLIES",
    "MODELS",
    "boundary",
    "canonical",
    "forbidden",
    "stronger_or_equal",
    "weaker_or_equal",
]

#: every model, weakest first along each chain (Elle's friendly names)
MODELS: tuple[str, ...] = (
    "read-uncommitted",
    "read-committed",
    "monotonic-atomic-view",
    "cursor-stability",
    "repeatable-read",
    "snapshot-isolation",
    "serializable",
    "strong-session-read-uncommitted",
    "strong-session-read-committed",
    "strong-read-uncommitted",
    "strong-read-committed",
    "strong-session-snapshot-isolation",
    "strong-snapshot-isolation",
    "strong-session-serializable",
    "strict-serializable",
)

#: other names for the same models: Adya's PL names and common synonyms
ALIASES: dict[str, str] = {
    "PL-1": "read-uncommitted",
    "PL-2": "read-committed",
    "PL-CS": "cursor-stability",
    "PL-2.99": "repeatable-read",
    "PL-SI": "snapshot-isolation",
    "PL-3": "serializable",
    "conflict-serializable": "serializable",
    "PL-SS": "strict-serializable",
    "strong-serializable": "strict-serializable",
}

IMPLIES: dict[str, tuple[str, ...]] = {
    "read-uncommitted": (),
    "read-committed": ("read-uncommitted",),
    "monotonic-atomic-view": ("read-committed",),  # Bailis et al.
    "cursor-stability": ("read-committed",),  # Adya: PL-CS is PL-2 plus no lost cursor updates
    "repeatable-read": ("cursor-stability", "monotonic-atomic-view"),  # Adya; Bailis et al.
    # Adya (PL-SI is above PL-2+, itself above PL-CS); Bailis et al. (SI above MAV)
    "snapshot-isolation": ("cursor-stability", "monotonic-atomic-view"),
    "serializable": ("repeatable-read", "snapshot-isolation"),  # SQL; Cerone et al.
    # The "strong" family orders transactions by session (process) or by real time on top of a model:
    # Daudjee & Salem for SI; the read-uncommitted and read-committed ones generalise them as Elle does.
    "strong-session-read-uncommitted": ("read-uncommitted",),
    "strong-session-read-committed": ("read-committed", "strong-session-read-uncommitted"),
    "strong-read-uncommitted": ("strong-session-read-uncommitted",),
    "strong-read-committed": ("strong-session-read-committed", "strong-read-uncommitted"),
    "strong-session-snapshot-isolation": ("snapshot-isolation", "strong-session-read-committed"),
    "strong-snapshot-isolation": ("strong-session-snapshot-isolation", "strong-read-committed"),
    "strong-session-serializable": ("serializable", "strong-session-snapshot-isolation"),
    "strict-serializable": ("strong-session-serializable", "strong-snapshot-isolation"),
}

DIRECT: dict[str, tuple[str, ...]] = {
    # Adya PL-1: no write cycles. A list holding an element twice, a version order that loops and a value
    # nobody wrote cannot come from any execution at all, so the weakest model already rules them out.
    "read-uncommitted": ("G0", "duplicate-elements", "cyclic-versions", "garbage-read"),
    "read-committed": ("G1a", "G1b", "G1c"),  # Adya PL-2: G1
    # Bailis et al.: a transaction that observed another's effect observes all of its effects; Cerone et
    # al.'s read atomic (the same guarantee) includes INT, so a transaction also sees its own writes.
    "monotonic-atomic-view": ("fractured-read", "internal"),
    "cursor-stability": ("lost-update",),  # Adya's G-cursor, in the form of two read-modify-writes
    "repeatable-read": ("G2-item",),  # Adya PL-2.99
    # Cerone & Gotsman: SI allows a dependency cycle only when it has two adjacent anti-dependencies
    "snapshot-isolation": ("G-single", "G-nonadjacent"),
    "serializable": (),  # Adya PL-3 adds predicate anti-dependencies (G2), which key-value histories lack
    "strong-session-read-uncommitted": ("G0-process",),
    "strong-session-read-committed": ("G1c-process",),
    "strong-read-uncommitted": ("G0-realtime",),
    "strong-read-committed": ("G1c-realtime",),
    "strong-session-snapshot-isolation": ("G-single-process", "G-nonadjacent-process"),
    "strong-snapshot-isolation": ("G-single-realtime", "G-nonadjacent-realtime"),
    "strong-session-serializable": ("G2-item-process",),
    "strict-serializable": ("G2-item-realtime",),  # Adya PL-SS
}

#: the dependency-cycle anomalies, by base name and by the extra order they may use
CYCLE_ANOMALIES: tuple[str, ...] = tuple(
    base + suffix
    for base in ("G0", "G1c", "G-single", "G-nonadjacent", "G2-item")
    for suffix in ("", "-process", "-realtime")
)


def _cycle_implications() -> dict[str, tuple[str, ...]]:
    """G0 ⊂ G1c (a write cycle is a cycle of ww and wr edges); G-single ⊂ G-nonadjacent ⊂ G2-item (one
    anti-dependency is trivially "no two adjacent"; any of them is an item anti-dependency cycle); and a
    cycle of each class is one that may also use process edges, which are real-time edges."""
    out: dict[str, tuple[str, ...]] = {}
    wider = {"G0": "G1c", "G-single": "G-nonadjacent", "G-nonadjacent": "G2-item"}
    for base in ("G0", "G1c", "G-single", "G-nonadjacent", "G2-item"):
        for suffix, next_suffix in (("", "-process"), ("-process", "-realtime"), ("-realtime", None)):
            implied = [base + next_suffix] if next_suffix else []
            if base in wider:
                implied.append(wider[base] + suffix)
            out[base + suffix] = tuple(implied)
    return out


ANOMALY_IMPLIES: dict[str, tuple[str, ...]] = {
    **_cycle_implications(),
    "G1a": (), "G1b": (),
    "incompatible-order": ("G1a",),  # two reads no single order explains: one saw a write that vanished
    "dirty-update": ("G1a",),  # a committed append built on an aborted one
    "future-read": ("G1c",),  # a read of the transaction's own later write: a cycle of length one
    "fractured-read": ("G-single",),  # T saw U's write to x but an older y than U wrote: a G-single cycle
    "lost-update": ("G2-item",),  # two read-modify-writes of one version: an anti-dependency cycle
    "internal": (), "duplicate-elements": (), "cyclic-versions": (), "garbage-read": (),
}


def canonical(name: str) -> str:
    """The model's name in :data:`MODELS` (resolving :data:`ALIASES`); ``KeyError`` if unknown."""
    model = ALIASES.get(name, name)
    if model not in IMPLIES:
        raise KeyError(name)
    return model


@cache
def weaker_or_equal(model: str) -> frozenset[str]:
    """``model`` and every model it implies."""
    out = {model}
    for weaker in IMPLIES[model]:
        out |= weaker_or_equal(weaker)
    return frozenset(out)


@cache
def stronger_or_equal(model: str) -> frozenset[str]:
    """``model`` and every model that implies it."""
    return frozenset(m for m in MODELS if model in weaker_or_equal(m))


@cache
def _shows(anomaly: str) -> frozenset[str]:
    """``anomaly`` and every anomaly its presence shows."""
    out = {anomaly}
    for implied in ANOMALY_IMPLIES.get(anomaly, ()):
        out |= _shows(implied)
    return frozenset(out)


@cache
def forbidden(model: str) -> frozenset[str]:
    """Every anomaly whose presence rules ``model`` out."""
    direct = {a for m in weaker_or_equal(canonical(model)) for a in DIRECT[m]}
    return frozenset(a for a in ANOMALY_IMPLIES if _shows(a) & direct)


def boundary(anomalies: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(not, also_not, holds)`` for a set of anomaly names, each in :data:`MODELS` order: the weakest
    models the anomalies rule out (Elle's ``:not``), the stronger models ruled out with them
    (``:also-not``), and the models none of them rules out."""
    found = set(anomalies)
    impossible = {m for m in MODELS if forbidden(m) & found}
    weakest = {m for m in impossible if not (weaker_or_equal(m) - {m}) & impossible}
    return (
        tuple(m for m in MODELS if m in weakest),
        tuple(m for m in MODELS if m in impossible - weakest),
        tuple(m for m in MODELS if m not in impossible),
    )
