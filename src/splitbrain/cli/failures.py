"""``splitbrain replay``, ``shrink`` and ``show``: what to do with a saved failure.

A saved failure names its workload by reference (``workload_ref``), so each of these works from a fresh
process, anywhere the workload's module is importable; ``--workload`` names it when it is not.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from splitbrain.cli.exits import EXIT_OK, EXIT_VIOLATION
from splitbrain.cli.options import option, verbose_option

__all__ = ["replay", "show", "shrink"]

_WORKLOAD_HELP = "The workload, when the failure's recorded reference cannot be imported here ('module:attr')."


def _load(path: str, workload: str | None) -> tuple[dict[str, Any], Any, Any]:
    from splitbrain.fuzz.saved import trace_of, workload_for
    from splitbrain.fuzz.store import load_failure

    record = load_failure(path)
    trace = trace_of(record)
    return record, trace, workload_for(record, workload)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--workload", "workload_name", default=None, help=_WORKLOAD_HELP)
@verbose_option
def replay(file: str, workload_name: str | None, verbose: int) -> None:
    """Re-run a saved failure (twice, to prove it is deterministic); say whether it still fails.

    Exit status: 1 it still fails, 0 it no longer does, 3 bad input, 4 the two replays differed (or an
    internal error).
    """
    from splitbrain.cli.exits import EXIT_INTERNAL
    from splitbrain.fuzz.schedule import replay_trace
    from splitbrain.histories import dumps_history

    record, trace, workload = _load(file, workload_name)
    first = replay_trace(workload, trace)
    second = replay_trace(workload, trace)
    same = (first.trace.dumps() == second.trace.dumps()
            and dumps_history(first.history) == dumps_history(second.history))
    click.echo(f"{trace.workload}/{trace.variant}: {len(trace.steps)} steps replayed twice: "
               + ("identical traces and histories" if same else "THE TWO REPLAYS DIFFER (nondeterminism)"))
    if verbose:
        click.echo(first.trace.describe())
    if not same:
        click.echo("the code under test is not deterministic: it reads something the simulator does not control "
                   "(the wall clock, global random, a real socket, a thread)", err=True)
        sys.exit(EXIT_INTERNAL)
    expected = record.get("signature")
    now = first.verdict.signature
    if now is None:
        click.echo(f"no longer fails (it failed with {expected} when saved)")
        sys.exit(EXIT_OK)
    click.echo(f"still fails: {now}" + ("" if now == expected else f" (saved as {expected})"))
    click.echo(first.verdict.message)
    sys.exit(EXIT_VIOLATION)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--workload", "workload_name", default=None,
              help="With --seed: the workload of a seeded run to shrink; with FILE: " + _WORKLOAD_HELP)
@click.option("--variant", default="correct", show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of a RandomSource run to shrink.")
@click.option("--search", "use_search", is_flag=True,
              help="With --seed: run the variant with its search settings, as `fuzz --search` did.")
@option("--out", "--store", "store", default=".splitbrain", show_default=True,
        help="The failure store the shrunk failure is saved to.")
@verbose_option
def shrink(
    file: str | None, workload_name: str | None, variant: str, seed: int | None, store: str, verbose: int,
    use_search: bool,
) -> None:
    """Shrink a saved failure further (or a failing seeded run) and save the result.

    Exit status: 1 a failure was shrunk and saved, 0 it does not fail (nothing to shrink), 3 bad input,
    4 internal error.
    """
    from splitbrain.errors import UsageError
    from splitbrain.fuzz.saved import failure_record
    from splitbrain.fuzz.schedule import replay_trace, run_schedule
    from splitbrain.fuzz.shrink import shrink_trace
    from splitbrain.fuzz.store import FailureStore
    from splitbrain.sim import RandomSource
    from splitbrain.sim.loading import load_workload

    if file is not None:
        record, trace, workload = _load(file, workload_name)
        result = replay_trace(workload, trace)
    elif workload_name is not None and seed is not None:
        workload = load_workload(workload_name)
        faults, steps = workload.search_settings(variant) if use_search else (None, None)
        result = run_schedule(workload, variant, RandomSource(seed), faults=faults, max_steps=steps)
        record = {"seed": seed}
    else:
        raise UsageError("give a saved failure FILE, or --workload W --seed S [--variant V]")
    signature = result.verdict.signature
    if signature is None:
        click.echo("it does not fail: nothing to shrink")
        sys.exit(EXIT_OK)
    shrunk = shrink_trace(workload, result.trace, signature)
    path = FailureStore(Path(store)).save(failure_record(
        workload, int(record.get("seed") or 0), shrunk.result, stage="shrunk", steps_found=shrunk.before,
    ))
    reach = "1-minimal" if shrunk.minimal else "replay budget spent, may shrink further"
    click.echo(f"{signature}: shrunk from {shrunk.before} to {shrunk.after} steps, {reach} "
               f"({shrunk.replays} replays, {shrunk.seconds:.1f} s); saved to {path}")
    if verbose:
        click.echo(shrunk.result.trace.describe())
    sys.exit(EXIT_VIOLATION)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--plain", is_flag=True, help="One line per step instead of per-node columns.")
@click.option("--html", "html", type=click.Path(dir_okay=False), default=None,
              help="Also write the trace as a self-contained HTML sequence diagram to this file.")
@click.option("--workload", "workload_name", default=None, help=_WORKLOAD_HELP)
@verbose_option
def show(file: str, plain: bool, html: str | None, workload_name: str | None, verbose: int) -> None:
    """Print a saved failure's trace, one column per node, showing only what changed at each step."""
    from rich.console import Console

    from splitbrain.fuzz.columns import render_columns

    record, trace, workload = _load(file, workload_name)
    if html is not None:
        from splitbrain.files import check_output
        from splitbrain.report import write_trace_report

        check_output(html, inputs=(file,))
        click.echo(f"report: {write_trace_report(record, html)}", err=True)
    click.echo(f"{record.get('signature')}  ({len(trace.steps)} steps, seed {record.get('seed')})")
    if plain:
        click.echo(trace.describe())
    else:
        # -v shows every step, the settle phase of an eventually consistent run included
        render_columns(workload, trace, Console(width=max(120, Console().width)), fold_settle=not verbose)
    click.echo(record.get("message", ""))
    if verbose:
        click.echo(f"workload {record.get('workload')} ({record.get('workload_ref') or 'no import path'}), "
                   f"variant {record.get('variant')}, found {record.get('found_at')} by strategy "
                   f"{record.get('strategy')}, campaign seed {record.get('campaign_seed')}")
