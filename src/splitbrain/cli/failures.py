"""``splitbrain replay``, ``shrink`` and ``show``: what to do with a saved failure.

A saved failure names its workload by reference (``workload_ref``), so each of these works from a fresh
process, anywhere the workload's module is importable; ``--workload`` names it when it is not.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from splitbrain.cli.exits import EXIT_OK, EXIT_VIOLATION
from splitbrain.cli.options import option, verbose_option

if TYPE_CHECKING:
    from splitbrain.histories import History

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
@click.option("--check-determinism", "elsewhere", is_flag=True,
              help="Run the second replay in a new Python process with another PYTHONHASHSEED, and name the "
                   "first step where the two runs part.")
@verbose_option
def replay(file: str, workload_name: str | None, elsewhere: bool, verbose: int) -> None:
    """Re-run a saved failure (twice, to prove it is deterministic); say whether it still fails.

    Exit status: 1 it still fails, 0 it no longer does, 3 bad input, 4 the two replays differed (the
    first step where they part is printed).
    """
    from splitbrain.cli.exits import EXIT_INTERNAL
    from splitbrain.fuzz.determinism import compare_runs, replay_elsewhere
    from splitbrain.fuzz.schedule import replay_trace

    record, trace, workload = _load(file, workload_name)
    first = replay_trace(workload, trace)
    second_history: bytes | History
    if elsewhere:
        second_trace, second_history = replay_elsewhere(file, workload_name)
        how = "here and in a new process (another PYTHONHASHSEED)"
    else:
        second = replay_trace(workload, trace)
        second_trace, second_history = second.trace, second.history
        how = "twice"
    divergence = compare_runs(first.trace, first.history, second_trace, second_history)
    click.echo(f"{trace.workload}/{trace.variant}: {len(trace.steps)} steps replayed {how}: "
               + ("identical traces and histories" if divergence is None
                  else "THE TWO REPLAYS DIFFER (nondeterminism)"))
    if verbose:
        click.echo(first.trace.describe())
    if divergence is not None:
        click.echo(divergence.describe())
        click.echo("the code under test is not deterministic: it depends on something the simulator does not "
                   "control (iteration over a set, id(), state kept between runs, the wall clock ...)", err=True)
        sys.exit(EXIT_INTERNAL)
    saved = compare_runs(trace, b"", first.trace, b"")
    if saved is not None and not first.run.skipped:
        click.echo(f"note: this replay departs from the saved trace at step {saved.index} (saved by another "
                   "version of the code?)")
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
@click.option("--shorter", "depth", type=click.IntRange(min=0, max=4), default=None, metavar="DEPTH",
              help="Then search breadth-first for a shorter trace: from each prefix of the shrunk one, every "
                   "sequence of up to DEPTH further choices, then the default order (3,000 replays, 60 s); "
                   "a campaign does this with depth 2 and a tenth of the budget.")
@verbose_option
def shrink(
    file: str | None, workload_name: str | None, variant: str, seed: int | None, store: str, verbose: int,
    use_search: bool, depth: int | None,
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
    best, extra, how = shrunk.result, {}, ""
    if depth is not None:
        from splitbrain.fuzz.shortest import shorter_trace

        search = shorter_trace(workload, shrunk.trace, signature, depth=depth, max_replays=3000, timeout=60.0)
        extra = {"shortest": search.summary()}
        how = "; " + search.describe()
        if search.result is not None:
            best = search.result
    saved = failure_record(workload, int(record.get("seed") or 0), best, stage="shrunk", steps_found=shrunk.before)
    path = FailureStore(Path(store)).save(saved | extra)
    reach = "1-minimal" if shrunk.minimal else "replay budget spent, may shrink further"
    click.echo(f"{signature}: shrunk from {shrunk.before} to {shrunk.after} steps, {reach} "
               f"({shrunk.replays} replays, {shrunk.seconds:.1f} s){how}; saved to {path}")
    if verbose:
        click.echo(best.trace.describe())
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
    # one header: the trace's own seed when a seeded source made it, else the schedule's (a Hypothesis-driven
    # trace has none of its own)
    seed = trace.seed if trace.seed is not None else record.get("seed")
    click.echo(f"{record.get('signature')}  {trace.workload}/{trace.variant}, {len(trace.steps)} steps, seed {seed}")
    if plain:
        from splitbrain.fuzz.plain import plain_lines

        click.echo(plain_lines(workload, trace))
    else:
        # -v shows every step, the settle phase of an eventually consistent run included
        render_columns(workload, trace, Console(width=max(120, Console().width)), fold_settle=not verbose)
    click.echo(record.get("message", ""))
    if verbose:
        click.echo(f"workload {record.get('workload')} ({record.get('workload_ref') or 'no import path'}), "
                   f"variant {record.get('variant')}, found {record.get('found_at')} by strategy "
                   f"{record.get('strategy')}, campaign seed {record.get('campaign_seed')}")
