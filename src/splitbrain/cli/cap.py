"""``splitbrain cap``: what each system gives up when the network splits, measured.

Each workload's correct version runs on the same seeded schedules — the same seeds, the same fault
setting (:data:`CAP_FAULTS`: partitions and heals, nothing else), the same run length — and the report
sets side by side, per workload:

* **availability**: the fraction of operations that completed ``ok`` on the majority and on the minority
  side of a partition, and when healthy and after heals, with the ok latency
  (:mod:`splitbrain.histories.availability`);
* **the consistency it kept**, each ``held`` (in every schedule), ``violated`` (in how many),
  ``unknown`` (a check gave up) or ``n/a``:

  - *linearizable* — the client history against the workload's model when it names a registered one
    (``kv``, ``cas-register``), or against the ``linearizability_model`` a workload declares for the
    purpose (``gossip-kv``'s multi-value register, ``crdt-counter``'s ``counter``);
  - *causal* — the causality checker's causal anomalies (session guarantees, causal reads, clocks), for
    histories of reads and writes stamped with vector clocks;
  - *convergent* — the replicas' final reads agree after the run settles, for workloads that settle.

A workload is named as everywhere (``raft-kv``, ``mypkg.mod:workload``), optionally followed by its own
settings in the same argument — ``'gossip-kv r=2 w=2'`` — so one table can hold a system under several
settings; ``--set`` applies a setting to every workload named. Exit status: 0 when every workload was
measured (a consistency level a system gives up is a measurement, not a failure: ``splitbrain fuzz``
judges a system against its own claims), 3 usage error, 4 internal error.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from splitbrain.cli.exits import EXIT_OK
from splitbrain.cli.fuzz import parse_setting, settings_option
from splitbrain.cli.options import count_option, verbose_option

__all__ = [
    "CAP_FAULTS_WEIGHTS",
    "CAP_MAX_STEPS",
    "CAUSAL_ANOMALIES",
    "PROPERTIES",
    "CapResult",
    "Kept",
    "cap",
    "measure",
    "schedule_seeds",
    "table",
]

#: the fault setting every workload runs under: partitions (any grouping) and heals only, partitions
#: rare enough to last (a heal weighs half a partition) — about a third to a half of each run is spent
#: partitioned
CAP_FAULTS_WEIGHTS = {"partition": 4, "heal": 2}
#: steps per schedule for every workload (the same run length for all)
CAP_MAX_STEPS = 400
#: the causality checker's anomalies that causal consistency forbids; the others it reports are about
#: convergence and durability (``non-convergence``, ``lost-update``, ``stale-final-read``)
CAUSAL_ANOMALIES = frozenset({
    "read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads", "causal-read",
    "causal-delivery", "unwritten-read", "clock-cycle", "clock-regression", "receive-before-send",
})
_CAUSAL_FUNCTIONS = frozenset({"read", "r", "write", "w"})
PROPERTIES = ("linearizable", "causal", "convergent")


@dataclass
class Kept:
    """One consistency level over a workload's schedules: how many held it, violated it, or could not
    say; ``reason`` when it does not apply at all."""

    reason: str | None = None
    held: int = 0
    violated: int = 0
    unknown: int = 0
    example: str | None = None
    model: str | None = None

    def add(self, valid: Any, explanation: str) -> None:
        if valid is True:
            self.held += 1
        elif valid is False:
            self.violated += 1
            if self.example is None:
                self.example = explanation
        else:
            self.unknown += 1

    @property
    def verdict(self) -> str:
        if self.reason is not None:
            return "n/a"
        if self.violated:
            return "violated"
        if self.unknown or not self.held:
            return "unknown"
        return "held"

    def cell(self) -> str:
        checked = self.held + self.violated + self.unknown
        if self.verdict == "violated":
            return f"violated {self.violated}/{checked}"
        if self.verdict == "unknown" and checked:
            return f"unknown {self.unknown}/{checked}"
        return self.verdict

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict}
        if self.reason is not None:
            return out | {"reason": self.reason}
        out |= {"held": self.held, "violated": self.violated, "unknown": self.unknown}
        if self.model is not None:
            out["model"] = self.model
        if self.example is not None:
            out["example"] = self.example[:2000]
        return out


@dataclass
class CapResult:
    """What ``measure`` found for one workload (``label``: its name and settings)."""

    label: str
    workload: str
    settings: dict[str, Any]
    schedules: int
    availability: Any
    kept: dict[str, Kept] = field(default_factory=dict)
    #: schedules the implementation crashed in or broke an invariant of (left out of the consistency counts)
    broken: int = 0

    def to_json(self, *, seed: int, max_steps: int) -> dict[str, Any]:
        return {
            "workload": self.workload, "label": self.label, "settings": self.settings, "seed": seed,
            "schedules": self.schedules, "max_steps": max_steps,
            "faults": {"kinds": ["partition"], "weights": CAP_FAULTS_WEIGHTS},
            "availability": self.availability.to_json()["states"],
            "consistency": {name: self.kept[name].to_json() for name in PROPERTIES},
            "broken_schedules": self.broken,
        }


def schedule_seeds(seed: int, count: int) -> list[int]:
    """The schedules' seeds: the same for every workload measured with ``seed``."""
    rng = random.Random(f"splitbrain-cap-{seed}")
    return [rng.getrandbits(32) for _ in range(count)]


def _client_history(history: Any) -> Any:
    """The clients' operations and the faults: a node's own events (its final reads) left out."""
    from splitbrain.histories import History

    kept = [op for op in history.ops if not (isinstance(op.process, str) and op.process == op.node)]
    return History.from_ops(kept, source=history.source)


def _linearizability_model(workload: Any) -> tuple[Any, str | None]:
    """The model to check linearizability against, or ``(None, why not)``."""
    from splitbrain.errors import SplitbrainError
    from splitbrain.models import get_model

    declared = getattr(workload, "linearizability_model", None)
    try:
        return get_model(declared if declared is not None else workload.model), None
    except SplitbrainError:
        return None, (f"judged by its own checks ({workload.model}), and it declares no linearizability_model to "
                      "check against")


def measure(
    workload: Any, *, count: int, seed: int = 0, max_steps: int = CAP_MAX_STEPS, check_seconds: float = 10.0,
    label: str | None = None, settings: dict[str, Any] | None = None,
) -> CapResult:
    """Run ``workload``'s correct version on ``count`` partition-only schedules and measure its
    availability and the consistency it kept (see the module docstring)."""
    from splitbrain.checker.causality import check_causal, check_convergence
    from splitbrain.checker.linearizability import check_linearizability
    from splitbrain.fuzz.schedule import run_schedule
    from splitbrain.histories.availability import Availability, availability
    from splitbrain.sim import FaultConfig, RandomSource

    faults = FaultConfig(kinds=("partition",), weights=dict(CAP_FAULTS_WEIGHTS))
    model, no_model = _linearizability_model(workload)
    kept = {name: Kept() for name in PROPERTIES}
    kept["linearizable"].reason = no_model
    if model is not None:
        kept["linearizable"].model = str(getattr(model, "name", type(model).__name__))
    measured = Availability()
    broken = 0
    causal_seen = convergent_seen = False
    for schedule_seed in schedule_seeds(seed, count):
        result = run_schedule(workload, "correct", RandomSource(schedule_seed), faults=faults, max_steps=max_steps,
                              checks=[])
        history = result.history
        measured.merge(availability(history, nodes=workload.node_ids, unit="tick"))
        if result.verdict.failed:
            broken += 1
            continue
        clients = _client_history(history)
        if model is not None:
            lin = check_linearizability(clients, model, timeout=check_seconds)
            kept["linearizable"].add(lin.valid, lin.explain())
        functions = {o.f for o in clients.operations}
        stamped = all(o.invoke.vclock is not None for o in clients.operations)
        if functions and functions <= _CAUSAL_FUNCTIONS and stamped:
            found = check_causal(history, timeout=check_seconds)
            bad = [a for a in found.anomalies if a.name in CAUSAL_ANOMALIES]
            # reads the checker cannot match to a write (a value written twice) make it a history it cannot
            # judge: not a verdict, unless something it could judge was wrong anyway
            if bad or not found.reason:
                causal_seen = True
                valid: Any = False if bad else "unknown" if found.valid == "unknown" else True
                kept["causal"].add(valid, "; ".join(f"{a.name}: {a.explanation}" for a in bad[:2]))
        finals = [o for o in history.operations if o.f == "final-read" and o.ok]
        if finals:
            convergent_seen = True
            split = list(check_convergence(finals))
            kept["convergent"].add(not split, "; ".join(a.explanation for a in split[:2]))
    if not causal_seen:
        kept["causal"].reason = ("its histories are not ones the causality checker can judge (reads and writes of "
                                 "unique values, stamped with vector clocks)")
    if not convergent_seen:
        kept["convergent"].reason = "its replicas are not read after the run settles (no final reads)"
    name = str(workload.name)
    return CapResult(label or name, name, dict(settings or {}), count, measured, kept, broken)


def _spec(argument: str, common: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """``'gossip-kv r=2 w=2'`` as ``(reference, settings, label)``; ``common`` settings apply first."""
    ref, *rest = argument.split()
    own = dict(parse_setting(item) for item in rest)
    settings = {**common, **own}
    return ref, settings, " ".join([ref, *(f"{k}={_shown(v)}" for k, v in settings.items())])


def _shown(value: Any) -> str:
    """A setting's value as it would be typed: a string bare when it reads back as itself."""
    if isinstance(value, str) and parse_setting(f"x={value}")[1] == value and " " not in value:
        return value
    return json.dumps(value)


def _percent(stats: Any) -> str:
    a = stats.availability
    return "-" if a is None else f"{100 * a:.0f}% of {stats.total:,}"


def _latency(stats: Any) -> str:
    lat = stats.latency
    return "-" if not lat.n else f"{lat.quantile(0.5)} / {lat.quantile(0.95)}"


def table(results: Sequence[CapResult], *, seed: int, max_steps: int) -> list[str]:
    """The side-by-side text report."""
    rows: list[tuple[str, list[str]]] = [("", [r.label for r in results])]
    for state, title in (("partition-majority", "available, majority side"),
                         ("partition-minority", "available, minority side"),
                         ("healthy", "available, healthy"), ("after-heal", "available, after heals")):
        rows.append((title, [_percent(r.availability.state(state)) for r in results]))
    for state, title in (("partition-majority", "ok latency p50 / p95, majority"),
                         ("partition-minority", "ok latency p50 / p95, minority")):
        rows.append((title, [_latency(r.availability.state(state)) for r in results]))
    for name in PROPERTIES:
        rows.append((name, [r.kept[name].cell() for r in results]))
    widths = [max(len(row[0]) for row in rows)] + [
        max(len(row[1][i]) for row in rows) for i in range(len(results))
    ]
    lines = [f"splitbrain cap: {results[0].schedules if results else 0} schedules per workload, seed {seed}, "
             f"partitions and heals only, {max_steps} steps each (latency in ticks)", ""]
    for title, cells in rows:
        lines.append("  ".join([title.ljust(widths[0]), *(c.ljust(w) for c, w in zip(cells, widths[1:], strict=True))])
                     .rstrip())
    lines.append("")
    against = {r.label: r.kept["linearizable"].model for r in results if r.kept["linearizable"].model}
    if against:
        lines.append("linearizable against: " + ", ".join(f"{label} {model}" for label, model in against.items()))
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for name, k in r.kept.items():
            if k.reason:
                reasons.setdefault((name, k.reason), []).append(r.label)
    for (name, reason), labels in reasons.items():
        lines.append(f"{name} n/a for {', '.join(labels)}: {reason}")
    for r in results:
        if r.broken:
            lines.append(f"{r.label}: {r.broken} schedule(s) crashed or broke an invariant (left out of the "
                         "consistency counts)")
    return lines


@click.command()
@click.argument("workloads", nargs=-1, required=True)
@count_option("Schedules per workload.", default=20)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the schedules: the same seeds for every workload.")
@click.option("--max-steps", type=click.IntRange(min=1), default=CAP_MAX_STEPS, show_default=True,
              help="Steps per schedule, the same for every workload.")
@settings_option
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per workload, one per line, instead of the table.")
@verbose_option
def cap(workloads: tuple[str, ...], count: int, seed: int, max_steps: int, settings: dict[str, Any], as_json: bool,
        verbose: int) -> None:
    """Measure what each WORKLOAD gives up when the network splits: availability on the majority and
    minority side of partitions, and whether it stayed linearizable, causal and convergent.

    Every workload's correct version runs the same seeded schedules of partitions and heals. A WORKLOAD
    may carry its own settings: 'gossip-kv r=2 w=2'.

    Exit status: 0 measured (a consistency level given up is a finding, not a failure), 3 usage error,
    4 internal error.
    """
    from splitbrain.sim.loading import load_workload

    specs = [_spec(w, settings) for w in workloads]
    built = [(load_workload(ref, s), s, label) for ref, s, label in specs]  # every name checked before any run
    results = []
    for workload, s, label in built:
        click.echo(f"cap: measuring {label} ({count} schedules)", err=True)
        result = measure(workload, count=count, seed=seed, max_steps=max_steps, label=label, settings=s)
        results.append(result)
        if as_json:
            click.echo(json.dumps(result.to_json(seed=seed, max_steps=max_steps), default=str))
    if not as_json:
        for line in table(results, seed=seed, max_steps=max_steps):
            click.echo(line)
        if verbose:
            for r in results:
                for name in PROPERTIES:
                    example = r.kept[name].example
                    if example:
                        click.echo(f"\n{r.label}, {name} violated, first example:\n{example}")
    sys.exit(EXIT_OK)
