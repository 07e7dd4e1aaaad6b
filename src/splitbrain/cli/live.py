"""``splitbrain run`` (a real server on loopback under faults) and ``splitbrain stress`` (a thread-safe
object under real OS threads): record every call, then check the history.

Importing this module is cheap (click and the target names only); servers, proxies and the checker are
imported when a command runs.
"""

from __future__ import annotations

import sys

import click

from splitbrain.cli.check import print_result
from splitbrain.cli.exits import for_verdicts
from splitbrain.cli.options import budget_seconds, count_option, option, positive_seconds, verbose_option
from splitbrain.errors import UsageError
from splitbrain.live.targets import TARGETS

__all__ = ["run", "stress"]

DEFAULT_TIME = 10.0


def _parse_faults(text: str) -> list[str]:
    from splitbrain.live.nemesis import KINDS

    if text.strip().lower() in ("", "none"):
        return []
    if text.strip().lower() == "all":
        return list(KINDS)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"unknown fault {', '.join(unknown)} (known: {', '.join(KINDS)}, all, none)")
    return kinds


@click.command("run")
@click.argument("target_name", metavar="TARGET", type=click.Choice(list(TARGETS)))
@budget_seconds(f"Run for this many seconds (default {DEFAULT_TIME:g} unless --count is given).",
                name="time_limit")
@count_option("Stop after this many operations.", aliases=("--ops",))
@option("--faults", "--nemesis", "faults", default="none", show_default=True,
        help="Faults to inject, comma-separated: pause,kill,partition (or all, none).")
@option("--workers", "--clients", "workers", type=click.IntRange(min=1), default=5, show_default=True,
        help="Concurrent client threads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the workload and the faults.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Cap each client at about this many operations per second.")
@option("--out", type=click.Path(file_okay=False), default=".splitbrain/runs", show_default=True,
        help="Directory for run directories (history.jsonl, server logs, report.html).")
@option("--check-time", "--check-timeout", "check_time", type=float, default=120.0, show_default=True,
        callback=positive_seconds, help="Give up checking (verdict unknown) after this many seconds.")
@option("--max-states", type=click.IntRange(min=1), default=None,
        help="Memory budget of the check: memoised search states (verdict unknown beyond it).")
@verbose_option
def run(
    target_name: str, time_limit: float | None, count: int | None, faults: str, workers: int, seed: int,
    rate: float | None, out: str, check_time: float, max_states: int | None, verbose: int,
) -> None:
    """Start TARGET's servers on loopback, drive them with concurrent clients under faults, and check the
    history for linearizability (model cas-register).

    \b
    Targets:
      redis              one redis-server, CAS via Lua; must be linearizable
      redis-replica      reads from a lagging replica; must be caught stale
      etcd               3-member cluster, linearizable reads; must be linearizable
      etcd-serializable  serializable reads from an isolated member; must be caught stale

    Progress goes to stderr. Exit status: 0 linearizable, 1 not, 2 unknown, 3 usage error (e.g. the
    server is not installed).
    """
    from splitbrain.live.runner import run_workload
    from splitbrain.live.targets import get_target
    from splitbrain.report import write_history_report

    kinds = _parse_faults(faults)
    cls = get_target(target_name)
    cls.check_installed()
    target = cls()
    unsupported = [k for k in kinds if k not in target.faults]
    if unsupported:
        raise UsageError(f"target {target_name} does not support fault {', '.join(unsupported)}")
    if time_limit is None and count is None:
        time_limit = DEFAULT_TIME
    click.echo(
        f"splitbrain run {target_name}: {workers} clients, "
        + (f"{time_limit:g} s" if time_limit is not None else f"{count} ops")
        + f", faults {','.join(kinds) or 'none'}, seed {seed}", err=True,
    )
    outcome = run_workload(
        target, clients=workers, time_limit=time_limit, ops=count, nemesis=kinds, seed=seed, out=out,
        rate=rate, check_timeout=check_time, max_states=max_states, progress=sys.stderr,
    )
    click.echo(
        f"{outcome.operations} operations in {outcome.seconds:.1f} s ({outcome.ops_per_second:.0f}/s), "
        f"{outcome.faults} faults", err=True,
    )
    for error in outcome.nemesis_errors:
        click.echo(click.style(f"fault error: {error}", fg="yellow"), err=True)
    for error in outcome.client_errors:
        click.echo(click.style(f"client crashed: {error}", fg="yellow"), err=True)
    result = outcome.result
    assert result is not None
    print_result(result, limit=1_000 if verbose else 12)
    click.echo(f"history: {outcome.history_path}")
    report = write_history_report(outcome.history, result, outcome.run_dir / "report.html")
    click.echo(f"report:  {report}")
    click.echo(f"re-check: splitbrain check {outcome.history_path} --model {target.model}")
    sys.exit(for_verdicts([result.valid]))


@click.command("stress")
@click.argument("target")
@click.option("--variant", default="correct", show_default=True,
              help="The target's variant: correct, or a bug name (check-then-act, clock-backwards).")
@option("--workers", "--threads", "workers", type=click.IntRange(min=1), default=8, show_default=True,
        help="Real OS threads.")
@count_option("try_acquire() calls per run, split over the threads.", aliases=("--calls",), default=2000)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=500.0, show_default=True,
              help="Tokens per second.")
@click.option("--burst", type=click.IntRange(min=1), default=5, show_default=True, help="Bucket size.")
@click.option("--noise/--no-noise", default=True, show_default=True,
              help="time.sleep(0) at every point the object declares (ConTest-style noise).")
@click.option("--switch-interval", type=click.FloatRange(min=0, min_open=True, max=1), default=1e-6,
              show_default=True, help="sys.setswitchinterval during the run, in seconds.")
@click.option("--attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Repeat the run until a violation is found, at most this many times.")
@option("--out", "--save", "out", type=click.Path(dir_okay=False), default=None,
        help="Write the (last) history as JSONL to this file.")
@verbose_option
def stress(
    target: str, variant: str, workers: int, count: int, rate: float, burst: int, noise: bool,
    switch_interval: float, attempts: int, out: str | None, verbose: int,
) -> None:
    """Call TARGET's try_acquire() from many real threads, record every call with monotonic timestamps, and
    check the history against the rate-limit properties (splitbrain.checker.rate_limit).

    TARGET is a registered stress target (token-bucket, leaky-bucket from the bug zoo) or an import path
    'module:Class' of a class built as Class(rate_per_ns, burst, sync) with a try_acquire() method.

    Exit status: 0 every run passed, 1 a violation was found, 2 unknown, 3 usage error.
    """
    from splitbrain.files import check_output
    from splitbrain.histories.io import write_history
    from splitbrain.live.stress import stress_until

    if out is not None:
        check_output(out)  # before the run: a path that cannot take the history is refused first

    result, ran = stress_until(
        target, variant, attempts=attempts, threads=workers, calls=count, rate=rate, burst=burst, noise=noise,
        switch_interval=switch_interval,
    )
    colour = "green" if result.valid is True else "red" if result.valid is False else "yellow"
    runs = f" (run {ran} of at most {attempts})" if attempts > 1 else ""
    click.echo(click.style(result.summary() + runs, fg=colour, bold=True))
    click.echo(result.explanation)
    if verbose:
        click.echo(f"{len(result.history.ops)} events recorded in {result.seconds:.3f} s")
    if out is not None:
        write_history(result.history, out)
        click.echo(f"history: {out}")
    sys.exit(for_verdicts([result.valid]))
