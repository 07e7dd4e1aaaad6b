"""The simulation verbs of the CLI: ``workloads``, ``fuzz``, ``replay``, ``shrink`` and ``show``.

Kept apart from ``cli.py`` (which registers them) so that each module stays about one idea. Exit codes:
0 no failure, 1 a failure found (or a saved failure still fails), 3 usage or input error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

EXIT_FAILURE = 1


@click.command()
def workloads() -> None:
    """List the workloads and their bug variants."""
    from splitbrain.impls import WORKLOADS
    from splitbrain.models import MODELS

    width = max(map(len, WORKLOADS))
    for name, workload in WORKLOADS.items():
        bugs = ", ".join(workload.bug_variants) or "-"
        # a workload that judges its histories with its own checks names what they check, not a model
        judged = f"model {workload.model}" if workload.model in MODELS else f"checks {workload.model}"
        nodes = f"{workload.node_count} node" + ("s" if workload.node_count != 1 else "")
        click.echo(f"{name:<{width}} {judged:<22} {nodes:<8} bugs: {bugs}")


def _faults(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value in ("all", ""):
        return None if value == "all" else ()
    if value == "none":
        return ()
    from splitbrain.sim import FaultConfig

    return FaultConfig.coerce(value).kinds


@click.command()
@click.argument("workload", required=False)
@click.option("--variant", "-v", default="correct", show_default=True, help="Implementation variant (a bug name).")
@click.option("--all", "all_workloads", is_flag=True,
              help="Fuzz the correct version of every workload, spreading the time budget over them.")
@click.option("--time", "seconds", type=float, default=None, help="Time budget in seconds (default 30).")
@click.option("--examples", type=int, default=None, help="Number of schedules instead of a time budget.")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Campaign seed: same seed, same schedules.")
@click.option("--faults", default=None, help="Fault kinds, comma-separated (default: the workload's; 'none').")
@click.option("--max-steps", type=int, default=None, help="Steps per schedule (default: the workload's).")
@click.option("--search", "use_search", is_flag=True,
              help="Use the bug variant's search settings (its faults and steps, as the tests and the README's "
                   "bug tables do); --faults / --max-steps still override them.")
@click.option("--store", default=".splitbrain", show_default=True, help="Where failures are saved.")
@click.option("--keep-going", is_flag=True, help="Continue after the first failure until the budget is spent.")
@click.option("--no-shrink", is_flag=True, help="Save failures as found, without shrinking.")
@click.option("--strategy", type=click.Choice(["hypothesis", "random", "pct", "swarm"]), default="hypothesis",
              show_default=True, help="How schedules are explored.")
@click.option("--depth", type=int, default=3, show_default=True, help="PCT bug depth d (with --strategy pct).")
@click.option("--executor", type=click.Choice(["process", "dask", "dask-local"]), default="process",
              show_default=True, help="Where shards run: this machine's processes, a Dask cluster, a local one.")
@click.option("--scheduler", default=None, help="Dask scheduler address for --executor dask (tcp://HOST:PORT).")
def fuzz(
    workload: str | None, variant: str, all_workloads: bool, seconds: float | None, examples: int | None,
    workers: int, seed: int, faults: str | None, max_steps: int | None, store: str, keep_going: bool,
    no_shrink: bool, strategy: str, depth: int, executor: str, scheduler: str | None, use_search: bool,
) -> None:
    """Fuzz WORKLOAD (or --all) under faults; save, shrink and report every failure."""
    from splitbrain.errors import UsageError
    from splitbrain.fuzz.campaign import CampaignSpec
    from splitbrain.fuzz.executors import make_executor
    from splitbrain.impls import WORKLOADS, get_workload, search_settings
    from splitbrain.sim import FaultConfig

    if all_workloads == (workload is not None):
        raise UsageError("give a WORKLOAD or --all (not both)")
    if seconds is not None and examples is not None:
        raise UsageError("give either --time or --examples, not both")
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if depth < 1:
        raise UsageError("--depth must be at least 1")
    names = list(WORKLOADS) if workload is None else [workload]
    if workload is not None:
        get_workload(workload).node_class(variant)  # a clear error for an unknown variant, before any work
    else:
        variant = "correct"
    fault_setting: tuple[str, ...] | FaultConfig | None = _faults(faults)
    if use_search:
        if workload is None:
            raise UsageError("--search needs a WORKLOAD and a --variant (search settings belong to bug variants)")
        search_faults, search_steps = search_settings(workload, variant)
        fault_setting = search_faults if faults is None else fault_setting
        max_steps = search_steps if max_steps is None else max_steps
    total = seconds if seconds is not None else (None if examples is not None else 30.0)
    each = None if total is None else total / len(names)
    specs = [CampaignSpec(
        workload=name, variant=variant, seed=seed, examples=examples, seconds=each, workers=workers,
        faults=fault_setting, max_steps=max_steps, store=store, shrink=not no_shrink, keep_going=keep_going,
        strategy=strategy, depth=depth,
    ) for name in names]
    budget = f"{examples} schedules" if examples is not None else f"{each:.1f} s"
    failed = False
    with make_executor(executor, workers=workers, scheduler=scheduler) as handle:
        for spec in specs:
            click.echo(f"fuzzing {spec.workload}/{spec.variant}: {budget}, {handle.description}, seed {seed}, "
                       f"strategy {strategy}", err=True)
            failed = _fuzz_one(spec, handle) or failed
    if failed:
        sys.exit(EXIT_FAILURE)


def _fuzz_one(spec: Any, handle: Any) -> bool:
    """Run one campaign on ``handle``'s executor and print its outcome and statistics."""
    from splitbrain.fuzz.campaign import run_campaign
    from splitbrain.fuzz.progress import Progress

    label = f"{spec.workload}/{spec.variant}"
    progress = Progress(label)
    report = run_campaign(spec, executor=handle.executor, parallelism=handle.parallelism, progress=progress)
    click.echo(
        f"{label}: {report.schedules} schedules in {report.seconds:.1f} s "
        f"({report.schedules / max(report.seconds, 1e-9):.1f}/s), {len(report.failures)} failure(s)"
        + (f", {report.unknown} unknown check(s)" if report.unknown else "")
    )
    for line in report.stats.lines(report.seconds, report.failed):
        click.echo(f"  {line}")
    from splitbrain.fuzz.store import load_failure
    from splitbrain.report import (
        report_path_for,
        summary_from_report,
        write_campaign_report,
        write_trace_report,
    )

    for failure in report.failures:
        page = write_trace_report(load_failure(failure.path), report_path_for(failure.path))
        click.echo(f"\nFAILURE {failure.signature}: trace shrunk from {failure.steps_found} to "
                   f"{failure.steps_shrunk} steps, saved to {failure.path}")
        click.echo(failure.message)
        click.echo(f"  replay: splitbrain replay {failure.path}\n  view:   splitbrain show {failure.path}"
                   f"\n  report: {page}")
    summary = write_campaign_report(
        summary_from_report(report, samples=progress.samples, faults=dict(report.stats.faults)),
        Path(spec.store) / f"campaign-{spec.workload}-{spec.variant}.html",
    )
    click.echo(f"campaign report: {summary}")
    for r in report.replayed:
        if r.still_fails:
            click.echo(f"known failure still fails: {r.path} ({r.signature})")
    return report.failed


def _load(path: str) -> tuple[dict[str, Any], Any, Any]:
    from splitbrain.fuzz.campaign import trace_of
    from splitbrain.fuzz.store import load_failure
    from splitbrain.impls import get_workload

    record = load_failure(path)
    trace = trace_of(record)
    return record, trace, get_workload(trace.workload)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
def replay(file: str) -> None:
    """Re-run a saved failure (twice, to prove it is deterministic); say whether it still fails."""
    from splitbrain.fuzz.schedule import replay_trace
    from splitbrain.histories import dumps_history

    record, trace, workload = _load(file)
    first = replay_trace(workload, trace)
    second = replay_trace(workload, trace)
    same = (first.trace.dumps() == second.trace.dumps()
            and dumps_history(first.history) == dumps_history(second.history))
    click.echo(f"{trace.workload}/{trace.variant}: {len(trace.steps)} steps replayed twice: "
               + ("identical traces and histories" if same else "THE TWO REPLAYS DIFFER (nondeterminism)"))
    expected = record.get("signature")
    now = first.verdict.signature
    if now is None:
        click.echo(f"no longer fails (it failed with {expected} when saved)")
        sys.exit(0 if same else EXIT_FAILURE)
    click.echo(f"still fails: {now}" + ("" if now == expected else f" (saved as {expected})"))
    click.echo(first.verdict.message)
    sys.exit(EXIT_FAILURE)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--workload", "workload_name", default=None, help="With --seed: shrink a seeded RNG run instead.")
@click.option("--variant", default="correct", show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of a RandomSource run to shrink.")
@click.option("--store", default=".splitbrain", show_default=True)
def shrink(file: str | None, workload_name: str | None, variant: str, seed: int | None, store: str) -> None:
    """Shrink a saved failure further (or a failing seeded run) and save the result."""
    from splitbrain.errors import UsageError
    from splitbrain.fuzz.campaign import CampaignSpec, failure_record
    from splitbrain.fuzz.schedule import replay_trace, run_schedule
    from splitbrain.fuzz.shrink import shrink_trace
    from splitbrain.fuzz.store import FailureStore
    from splitbrain.impls import get_workload
    from splitbrain.sim import RandomSource

    if file is not None:
        record, trace, workload = _load(file)
        result = replay_trace(workload, trace)
        variant = trace.variant
    elif workload_name is not None and seed is not None:
        workload = get_workload(workload_name)
        result = run_schedule(workload, variant, RandomSource(seed))
        record = {"seed": seed}
    else:
        raise UsageError("give a saved failure FILE, or --workload W --seed S [--variant V]")
    signature = result.verdict.signature
    if signature is None:
        click.echo("it does not fail: nothing to shrink")
        sys.exit(0)
    shrunk = shrink_trace(workload, result.trace, signature)
    spec = CampaignSpec(workload=workload.name, variant=variant, store=store)
    path = FailureStore(Path(store)).save(failure_record(
        spec, int(record.get("seed") or 0), shrunk.result, stage="shrunk", steps_found=shrunk.before,
    ))
    reach = "1-minimal" if shrunk.minimal else "replay budget spent, may shrink further"
    click.echo(f"{signature}: shrunk from {shrunk.before} to {shrunk.after} steps, {reach} "
               f"({shrunk.replays} replays, {shrunk.seconds:.1f} s); saved to {path}")
    sys.exit(EXIT_FAILURE)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--plain", is_flag=True, help="One line per step instead of per-node columns.")
@click.option("--html", "html", type=click.Path(dir_okay=False), default=None,
              help="Also write the trace as a self-contained HTML sequence diagram to this file.")
def show(file: str, plain: bool, html: str | None) -> None:
    """Print a saved failure's trace, one column per node, showing only what changed at each step."""
    from rich.console import Console

    from splitbrain.fuzz.columns import render_columns

    record, trace, workload = _load(file)
    if html is not None:
        from splitbrain.report import write_trace_report

        click.echo(f"report: {write_trace_report(record, html)}", err=True)
    click.echo(f"{record.get('signature')}  ({len(trace.steps)} steps, seed {record.get('seed')})")
    if plain:
        click.echo(trace.describe())
    else:
        render_columns(workload, trace, Console(width=max(120, Console().width)))
    click.echo(record.get("message", ""))
