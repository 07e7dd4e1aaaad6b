"""``splitbrain exhaust``: every schedule within a bound, for a small configuration (:mod:`splitbrain.fuzz.bounded`).

Where ``fuzz`` samples schedules, ``exhaust`` runs all of them up to ``--bound`` deviations from the
default order, fewest first, and says so: a pass is a proof within that bound (for the data of one
seed), a failure is one with the fewest deviations there are, and a budget spent first is ``unknown``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from splitbrain.cli.exits import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION
from splitbrain.cli.fuzz import settings_option
from splitbrain.cli.options import budget_seconds, count_option, option, verbose_option

__all__ = ["exhaust"]


@click.command()
@click.argument("workload")
@click.option("--variant", default="correct", show_default=True, help="Implementation variant (a bug name).")
@click.option("--bound", type=click.IntRange(min=0, max=8), default=2, show_default=True,
              help="Deviations from the default order a schedule may make (the space grows as (steps x "
                   "choices)^bound: keep it small).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the data the world draws (message delays, client operations): the same in every "
                   "schedule.")
@click.option("--faults", default=None, help="Fault kinds, comma-separated (default: the workload's; 'none').")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Steps per schedule (default: the workload's; keep it small).")
@budget_seconds("Time budget in seconds; spent before the space is, the verdict is unknown.")
@count_option("Most schedules to run; reached before the space is exhausted, the verdict is unknown.")
@option("--out", "--store", "store", default=".splitbrain", show_default=True,
        help="The failure store: a failure found is saved here.")
@click.option("--no-shrink", is_flag=True, help="Save the failure as found, without shrinking.")
@settings_option
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object on stdout.")
@verbose_option
def exhaust(
    workload: str, variant: str, bound: int, seed: int, faults: str | None, max_steps: int | None,
    seconds: float | None, count: int | None, store: str, no_shrink: bool, settings: dict[str, Any],
    as_json: bool, verbose: int,
) -> None:
    """Run every schedule of WORKLOAD within --bound deviations of the default order (the oldest message
    first, then timers, clients and time, never a fault), fewest deviations first.

    Exit status: 0 no schedule within the bound fails (a proof within it), 1 a failure was found (saved,
    with the fewest deviations there are), 2 unknown (a budget ran out first, or a check gave up), 3 usage
    error, 4 internal error.
    """
    from splitbrain.cli.fuzz import _faults
    from splitbrain.fuzz.bounded import bounded_search
    from splitbrain.fuzz.deviations import count_deviations
    from splitbrain.fuzz.progress import Progress
    from splitbrain.fuzz.saved import failure_record
    from splitbrain.fuzz.shrink import shrink_trace
    from splitbrain.fuzz.store import FailureStore
    from splitbrain.sim.loading import load_workload

    def echo(message: str = "") -> None:
        click.echo(message, err=as_json)

    loaded = load_workload(workload, settings) if settings else load_workload(workload)
    loaded.node_class(variant)  # a clear error for an unknown variant, before any work
    failure_store = FailureStore(Path(store))
    failure_store.check_writable()
    label = f"{loaded.name}/{variant}"
    echo(f"exhausting {label}: bound {bound}, data seed {seed}, faults {faults or 'the workload default'}, "
         f"max steps {max_steps or loaded.max_steps}")
    with Progress(label) as progress:
        outcome = bounded_search(
            loaded, variant, bound=bound, seed=seed, faults=_faults(faults), max_steps=max_steps,
            max_schedules=count, timeout=seconds, on_progress=lambda n, level: progress.update(1),
        )
        if outcome.failure is not None:
            progress.update(0, 1)
    echo(f"{label}: {outcome.schedules} schedules in {outcome.seconds:.1f} s")
    echo(outcome.describe())
    path: Path | None = None
    steps_found = steps_shrunk = deviations = 0
    if outcome.failure is not None:
        best = found = outcome.failure
        signature = found.verdict.signature
        assert signature is not None
        if not no_shrink:
            shrunk = shrink_trace(loaded, found.trace, signature)
            if shrunk.result.verdict.signature == signature:
                best = shrunk.result
        steps_found, steps_shrunk = len(found.trace.steps), len(best.trace.steps)
        deviations = count_deviations(loaded, best.trace)
        record = failure_record(loaded, seed, best, stage="shrunk" if not no_shrink else "found",
                                steps_found=steps_found)
        record["strategy"] = f"exhaust bound {bound}"
        record["deviations"] = deviations
        path = failure_store.save(record)
        how = (f"trace of {steps_found} steps, not shrunk (--no-shrink)" if no_shrink
               else f"trace shrunk from {steps_found} to {steps_shrunk} steps")
        how += f" ({deviations} deviation{'s' * (deviations != 1)} from the default order)"
        echo(f"\nFAILURE {signature}: {how}, saved to {path}")
        if verbose:
            echo(best.trace.describe())
        echo(best.verdict.message)
        echo(f"  replay: splitbrain replay {path}\n  view:   splitbrain show {path}")
    if as_json:
        click.echo(json.dumps({
            "workload": loaded.name, "variant": variant, "bound": bound, "seed": seed,
            "verdict": outcome.verdict, "schedules": outcome.schedules, "seconds": round(outcome.seconds, 3),
            "levels_done": outcome.levels_done, "reason": outcome.reason or None,
            "deviations": [list(d) for d in outcome.deviations] if outcome.failure is not None else None,
            "failure": None if path is None else {
                "signature": outcome.failure.verdict.signature if outcome.failure else None, "path": str(path),
                "steps_found": steps_found, "steps_shrunk": steps_shrunk, "deviations": deviations},
        }))
    sys.exit({"failed": EXIT_VIOLATION, "unknown": EXIT_UNKNOWN, "passed": EXIT_OK}[outcome.verdict])
