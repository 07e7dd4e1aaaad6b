"""``splitbrain workloads`` and ``splitbrain fuzz``: campaigns in the simulator.

A workload is named as everywhere in splitbrain: a name an installed package registers (entry-point group
``splitbrain.workloads``; the bug zoo registers its systems this way) or an import path
``package.module:attribute``, the current directory importable. Worker processes and Dask workers resolve
the same string themselves. ``--set NAME=VALUE`` builds it with settings (``--set r=2``), which the
workload validates and saved failures record.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from splitbrain.cli.exits import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION
from splitbrain.cli.options import budget_seconds, count_option, option, verbose_option

__all__ = ["fuzz", "parse_setting", "settings_option", "workloads"]


def parse_setting(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` as ``(name, value)``: the value read as JSON when it is JSON (``2``, ``true``,
    ``[1, 5]``, ``null``), else taken as the string it is (``local``)."""
    name, eq, raw = text.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise click.BadParameter(f"expected NAME=VALUE (a workload setting, e.g. r=2), got {text!r}",
                                 param_hint="'--set'")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name, value


def _settings(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    return dict(parse_setting(v) for v in values)


def settings_option(f: Any) -> Any:
    """``--set NAME=VALUE`` (repeatable): a setting to build the workload with, validated by the workload."""
    return click.option(
        "--set", "settings", multiple=True, metavar="NAME=VALUE", callback=_settings,
        help="A workload setting (repeatable), e.g. --set node_count=5 --set r=2; VALUE is read as JSON when it "
             "is JSON, else as a string. Saved failures record the settings.",
    )(f)


@click.command()
@verbose_option
def workloads(verbose: int) -> None:
    """List the registered workloads, their bug variants, and the package each comes from.

    Your own workload needs no registration: name it by import path, `splitbrain fuzz mymod:workload`.
    """
    from splitbrain.models import available_models
    from splitbrain.plugins import is_import_path
    from splitbrain.sim.loading import available_workloads, load_workload

    entries = available_workloads()
    if not entries:
        click.echo("no workloads registered (install a package that registers some under the entry-point group "
                   "splitbrain.workloads, or name your own as 'module:attribute')")
        return
    width = max(len(e.name) for e in entries)
    model_names = {name for name, _ in available_models()}
    for entry in entries:
        workload = load_workload(entry.name)
        bugs = ", ".join(workload.bug_variants) or "-"
        model = workload.model
        # a workload that judges its histories with its own checks names what they check, not a model
        if isinstance(model, str) and (model in model_names or is_import_path(model)):
            judged = f"model {model}"
        elif isinstance(model, str):
            judged = f"checks {model}"
        else:
            judged = f"model {getattr(model, 'name', type(model).__name__)}"
        nodes = f"{workload.node_count} node" + ("s" if workload.node_count != 1 else "")
        click.echo(f"{entry.name:<{width}} {judged:<22} {nodes:<8} bugs: {bugs}")
        if verbose:
            click.echo(f"{'':<{width}} {entry.value} (from {entry.origin})")
    if not verbose:
        origins = sorted({e.origin for e in entries})
        click.echo(f"\nregistered by: {', '.join(origins)} (-v for each workload's import path)")


def _faults(value: str | None) -> tuple[str, ...] | None:
    if value is None or value == "all":
        return None
    if value in ("none", ""):
        return ()
    from splitbrain.sim import FaultConfig

    return FaultConfig.coerce(value).kinds


def _workers_option(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    """``--workers``: a count of at least 1, or ``auto`` (``None``: decided once the budget is known)."""
    if value.strip().lower() == "auto":
        return None
    try:
        workers = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number nor 'auto'") from None
    if workers < 1:
        raise click.BadParameter(f"{workers} is not a number of workers (1 or more, or 'auto')")
    return workers


@click.command()
@click.argument("workload", required=False)
@click.option("--variant", default="correct", show_default=True, help="Implementation variant (a bug name).")
@click.option("--all", "all_workloads", is_flag=True,
              help="Fuzz the correct version of every registered workload, sharing the time budget.")
@budget_seconds("Time budget in seconds (default 30 unless --count is given).")
@count_option("Number of schedules to run, instead of a time budget.", aliases=("--examples",))
@click.option("--workers", default="auto", show_default=True, callback=_workers_option, metavar="N|auto",
              help="Worker processes (or Dask workers with --executor dask-local): a number, or 'auto' for one "
                   "per CPU this process may use (no more than a --count budget has shards).")
@click.option("--seed", type=int, default=0, show_default=True, help="Campaign seed: same seed, same schedules.")
@click.option("--faults", default=None, help="Fault kinds, comma-separated (default: the workload's; 'none').")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Steps per schedule (default: the workload's).")
@click.option("--search", "use_search", is_flag=True,
              help="Use the bug variant's search settings (the workload's `search`: its faults and steps); "
                   "--faults / --max-steps still override them.")
@option("--out", "--store", "store", default=".splitbrain", show_default=True,
        help="The failure store: failures are saved, and replayed first, here.")
@click.option("--keep-going", is_flag=True, help="Continue after the first failure until the budget is spent.")
@click.option("--no-shrink", is_flag=True, help="Save failures as found, without shrinking.")
@click.option("--strategy", type=click.Choice(["portfolio", "hypothesis", "random", "pct", "swarm"]),
              default="portfolio", show_default=True,
              help="How schedules are explored; the portfolio runs the others and feedback, sharing the budget.")
@click.option("--depth", type=click.IntRange(min=1, max=64), default=3, show_default=True,
              help="PCT bug depth d (with --strategy pct).")
@click.option("--executor", type=click.Choice(["process", "dask", "dask-local"]), default="process",
              show_default=True, help="Where shards run: this machine's processes, a Dask cluster, a local one.")
@click.option("--scheduler", default=None, help="Dask scheduler address for --executor dask (tcp://HOST:PORT).")
@settings_option
@click.option("--json", "as_json", is_flag=True,
              help="Print each campaign's statistics (availability included) as one JSON object on stdout; the "
                   "rest of the output goes to stderr.")
@verbose_option
def fuzz(
    workload: str | None, variant: str, all_workloads: bool, seconds: float | None, count: int | None,
    workers: int | None, seed: int, faults: str | None, max_steps: int | None, store: str, keep_going: bool,
    no_shrink: bool, strategy: str, depth: int, executor: str, scheduler: str | None, use_search: bool,
    settings: dict[str, Any], as_json: bool, verbose: int,
) -> None:
    """Fuzz WORKLOAD (a registered name or 'module:attribute') or --all under faults; save, shrink and
    report every failure.

    Exit status: 0 every schedule passed, 1 a failure was found (or a saved one still fails), 2 no
    failure but nothing was checked (no schedule ran, or every check gave up), 3 usage error, 4 internal
    error.
    """
    from splitbrain.errors import UsageError
    from splitbrain.fuzz.campaign import CampaignSpec
    from splitbrain.fuzz.executors import make_executor
    from splitbrain.sim.loading import available_workloads, load_workload

    if all_workloads == (workload is not None):
        raise UsageError("give a WORKLOAD or --all (not both)")
    if seconds is not None and count is not None:
        raise UsageError("give either --time or --count, not both")
    names = [e.name for e in available_workloads()] if workload is None else [workload]
    if not names:
        raise UsageError("--all: no workloads are registered")
    # with settings, each campaign gets the workload built with them (it travels to workers by pickle);
    # without, its name, which every worker resolves itself
    targets: list[Any] = [load_workload(name, settings) for name in names] if settings else list(names)
    if workload is not None:
        load_workload(targets[0]).node_class(variant)  # a clear error for an unknown variant, before any work
    else:
        variant = "correct"
    fault_setting: Any = _faults(faults)
    if use_search:
        if workload is None:
            raise UsageError("--search needs a WORKLOAD and a --variant (search settings belong to bug variants)")
        search_faults, search_steps = load_workload(targets[0]).search_settings(variant)
        fault_setting = search_faults if faults is None else fault_setting
        max_steps = search_steps if max_steps is None else max_steps
    total = seconds if seconds is not None else (None if count is not None else 30.0)
    if workers is None:
        from splitbrain.fuzz.executors import auto_workers

        workers = auto_workers(count, CampaignSpec.shard_size)
    each = None if total is None else total / len(names)
    specs = [CampaignSpec(
        workload=target, variant=variant, seed=seed, examples=count, seconds=each, workers=workers,
        faults=fault_setting, max_steps=max_steps, store=store, shrink=not no_shrink, keep_going=keep_going,
        strategy=strategy, depth=depth,
    ) for target in targets]
    budget = f"{count} schedules" if count is not None else f"{each:.1f} s"
    shown = "".join(f", {k}={json.dumps(v)}" for k, v in settings.items())
    failed = unknown = False
    with make_executor(executor, workers=workers, scheduler=scheduler) as handle:
        for spec in specs:
            click.echo(f"fuzzing {spec.label}: {budget}, {handle.description}, seed {seed}, strategy {strategy}"
                       f"{shown}", err=True)
            outcome = _fuzz_one(spec, handle, verbose, as_json=as_json, settings=settings)
            failed = failed or outcome == EXIT_VIOLATION
            unknown = unknown or outcome == EXIT_UNKNOWN
    sys.exit(EXIT_VIOLATION if failed else EXIT_UNKNOWN if unknown else EXIT_OK)


def _fuzz_one(
    spec: Any, handle: Any, verbose: int, *, as_json: bool = False, settings: dict[str, Any] | None = None
) -> int:
    """Run one campaign on ``handle``'s executor, print its outcome and statistics; its exit status. With
    ``as_json`` the text goes to stderr and one JSON object with the statistics to stdout."""
    from splitbrain.fuzz.campaign import run_campaign
    from splitbrain.fuzz.progress import Progress
    from splitbrain.fuzz.store import load_failure
    from splitbrain.report import report_path_for, summary_from_report, write_campaign_report, write_trace_report

    def echo(message: str = "") -> None:
        click.echo(message, err=as_json)

    progress = Progress(spec.label)
    started_at = datetime.now(UTC)
    report = run_campaign(spec, executor=handle.executor, parallelism=handle.parallelism, progress=progress)
    echo(
        f"{spec.label}: {report.schedules} schedules in {report.seconds:.1f} s "
        f"({report.schedules / max(report.seconds, 1e-9):.1f}/s), {len(report.failures)} failure(s)"
        + (f", {report.unknown} unknown check(s)" if report.unknown else "")
    )
    for line in report.stats.lines(report.seconds, report.failed):
        echo(f"  {line}")
    for failure in report.failures:
        record = load_failure(failure.path)
        page = write_trace_report(record, report_path_for(failure.path))
        found_by = f" (found by the portfolio's {failure.found_by} arm)" if failure.found_by else ""
        echo(f"\nFAILURE {failure.signature}: {_how_shrunk(spec, failure)}, saved to {failure.path}{found_by}")
        if verbose:
            from splitbrain.fuzz.saved import trace_of

            echo(trace_of(record).describe())
        echo(failure.message)
        echo(f"  replay: splitbrain replay {failure.path}\n  view:   splitbrain show {failure.path}"
             f"\n  report: {page}")
    if report.also_found:
        echo(f"\nalso found by shards that were running alongside, and saved (the report above is what running "
             f"the shards one by one gives): {len(report.also_found)}")
        reported = {failure.signature for failure in report.failures}
        for failure in report.also_found:
            # most often the same bug by another schedule: say so, so it does not read as a second bug
            same = " (the check the failure above failed, by another schedule)" if failure.signature in reported else ""
            echo(f"  {failure.signature}: {failure.path}{same}")
    summary = write_campaign_report(
        summary_from_report(report, samples=progress.samples, faults=dict(report.stats.faults), started_at=started_at),
        Path(spec.store) / f"campaign-{spec.name}-{spec.variant}.html",
    )
    echo(f"campaign report: {summary}")
    for name in report.vacuous:
        echo(f"\nVACUOUS: no schedule reached the sometimes property {name!r}, so this campaign says nothing "
             "about the situation it describes; give it more --time, or check the property")
    for r in report.replayed:
        if r.still_fails:
            echo(f"known failure still fails: {r.path} ({r.signature})")
    if as_json:
        click.echo(json.dumps({
            "workload": spec.name, "variant": spec.variant, "settings": dict(settings or {}), "seed": spec.seed,
            "schedules": report.schedules, "seconds": round(report.seconds, 3), "unknown": report.unknown,
            "failures": [{"signature": f.signature, "path": f.path, "steps_found": f.steps_found,
                          "steps_shrunk": f.steps_shrunk, "deviations": f.deviations, "shortest": f.shortest,
                          "found_by": f.found_by or None}
                         for f in report.failures],
            "also_found": [{"signature": f.signature, "path": f.path} for f in report.also_found],
            "vacuous": report.vacuous,
            "still_failing": [r.path for r in report.replayed if r.still_fails],
            "report": str(summary), "stats": report.stats.to_json(report.seconds, report.failed),
        }, default=str))
    if report.failed:
        return EXIT_VIOLATION
    if report.schedules == 0:
        echo("no schedule ran within the budget: nothing was checked (give more --time or a --count)")
        return EXIT_UNKNOWN
    return EXIT_UNKNOWN if report.unknown == report.schedules else EXIT_OK


def _how_shrunk(spec: Any, failure: Any) -> str:
    """What happened to a failure's trace: shrunk from so many steps to so many, or kept (--no-shrink)."""
    if not spec.shrink:
        how = f"trace of {failure.steps_found} steps, not shrunk (--no-shrink)"
    else:
        how = f"trace shrunk from {failure.steps_found} to {failure.steps_shrunk} steps"
    n = getattr(failure, "deviations", None)
    if n is not None:
        how += f" ({n} deviation{'s' * (n != 1)} from the default order)"
    shortest = getattr(failure, "shortest", None)
    if shortest:
        from splitbrain.fuzz.shortest import describe_summary

        how += "; " + describe_summary(shortest)
    return how
