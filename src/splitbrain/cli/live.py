"""``splitbrain run`` (a real server on loopback under faults) and ``splitbrain stress`` (a thread-safe
object under real OS threads): record every call, then check the history.

Importing this module is cheap (click and the target names only); servers, proxies and the checker are
imported when a command runs.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from splitbrain.cli.check import print_result
from splitbrain.cli.exits import for_verdicts
from splitbrain.cli.options import budget_seconds, count_option, option, positive_seconds, verbose_option
from splitbrain.errors import UsageError
from splitbrain.live.targets import TARGETS

__all__ = ["run", "stress"]

DEFAULT_TIME = 10.0
REPORT_LIMIT = 20_000  # operations: a timeline of more is megabytes of HTML nobody can scroll


def _parse_faults(text: str, supported: frozenset[str] | None = None) -> list[str]:
    from splitbrain.live.nemesis import parse_kinds

    return parse_kinds(text, supported)


def _seconds_range(ctx: click.Context, param: click.Parameter, value: float | None) -> tuple[float, float] | None:
    """``--nemesis-interval S``: gaps drawn uniformly from [S/2, 3S/2]."""
    if value is None:
        return None
    seconds = positive_seconds(ctx, param, value)
    assert seconds is not None
    return (seconds / 2, seconds * 3 / 2)


@click.command("run")
@click.argument("target_name", metavar="TARGET", type=click.Choice(list(TARGETS)), required=False)
@budget_seconds(f"Run for this many seconds (default {DEFAULT_TIME:g} unless --count is given).",
                name="time_limit")
@count_option("Stop after this many operations.", aliases=("--ops",))
@option("--faults", "--nemesis", "faults", default="none", show_default=True,
        help="Faults to inject, comma-separated: pause, kill, partition (or partition-one, -halves, -bridge, "
             "-ring, -oneway, -leader), latency, drop, clock, member; or all (what the target supports), none.")
@option("--workers", "--clients", "workers", type=click.IntRange(min=1), default=5, show_default=True,
        help="Concurrent client threads.")
@click.option("--keys", type=click.IntRange(min=1), default=None,
              help="Spread the work over this many independent keys at a time (register default 1, "
                   "append 8); each key is checked on its own.")
@click.option("--ops-per-key", type=click.IntRange(min=1), default=None,
              help="Retire a key after this many operations and start a fresh one (register default 300 "
                   "with --keys > 1, append 32).")
@click.option("--nemesis-interval", type=float, default=None, callback=_seconds_range,
              help="Mean seconds between fault starts (default 1.5; gaps are drawn from S/2..3S/2).")
@click.option("--fault-duration", type=float, default=None, callback=_seconds_range,
              help="Mean seconds a fault lasts (default 1.5; drawn from S/2..3S/2).")
@click.option("--concurrent-faults", type=click.IntRange(min=1), default=2, show_default=True,
              help="At most this many faults in effect at once.")
@click.option("--client-timeout", type=float, default=None, callback=positive_seconds,
              help="Seconds a client waits for an answer before recording the outcome as unknown "
                   "(default: the target's, 0.5-1.5 s).")
@click.option("--final-reads/--no-final-reads", default=True, show_default=True,
              help="After the faults: heal, wait for recovery, read every key once more.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the workload and the faults.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Cap each client at about this many operations per second.")
@option("--out", type=click.Path(file_okay=False), default=".splitbrain/runs", show_default=True,
        help="Directory for run directories (history.jsonl, server logs, report.html).")
@option("--check-time", "--check-timeout", "check_time", type=float, default=120.0, show_default=True,
        callback=positive_seconds, help="Give up checking (verdict unknown) after this many seconds.")
@option("--max-states", type=click.IntRange(min=1), default=None,
        help="Memory budget of the check: memoised search states per key (verdict unknown beyond it).")
@click.option("--cleanup", is_flag=True,
              help="Only stop the servers of runs under --out whose runner was killed, save their "
                   "histories, and exit.")
@verbose_option
def run(
    target_name: str | None, time_limit: float | None, count: int | None, faults: str, workers: int,
    keys: int | None, ops_per_key: int | None, nemesis_interval: tuple[float, float] | None,
    fault_duration: tuple[float, float] | None, concurrent_faults: int, client_timeout: float | None,
    final_reads: bool, seed: int, rate: float | None, out: str, check_time: float, max_states: int | None,
    cleanup: bool, verbose: int,
) -> None:
    """Start TARGET's servers on loopback, drive them with concurrent clients under faults, heal, read
    every key once more, and check the history: registers for linearizability (model cas-register, key
    by key), list-append transactions for strict serializability (dependency cycles).

    \b
    Targets:
      redis                   one redis-server, CAS via Lua; must be linearizable
      redis-replica           reads from a lagging replica; must be caught stale
      redis-append            list-append transactions in MULTI/EXEC; must be strict-serializable
      redis-append-weak       reads outside MULTI/EXEC; must be caught
      etcd                    3-member cluster, linearizable reads; must be linearizable
      etcd-serializable       serializable reads from an isolated member; must be caught stale
      etcd-append             list-append over guarded etcd txns; must be strict-serializable
      etcd-append-weak        reads not guarded at commit; must be caught
      pysyncobj               3 PySyncObj (Raft) nodes, local reads (the library's default)
      pysyncobj-leader-reads  local reads on the believed leader: stale only under faults
      pysyncobj-log-reads     reads through the Raft log

    Progress goes to stderr. SIGTERM or Ctrl-C stops every server and saves the history so far. Exit
    status: 0 valid, 1 not, 2 unknown, 3 usage error (e.g. the server is not installed), 130 interrupted.
    """
    from splitbrain.live.orphans import reap
    from splitbrain.live.runner import run_workload
    from splitbrain.live.targets import get_target

    if cleanup:
        for line in reap(out) or ["nothing to clean up"]:
            click.echo(line)
        return
    if target_name is None:
        raise UsageError("give a TARGET (one of: " + ", ".join(TARGETS) + ")")
    cls = get_target(target_name)
    cls.check_installed()
    target = cls()
    kinds = _parse_faults(faults, target.faults)
    unsupported = [k for k in kinds if k.partition("-")[0] not in target.faults]
    if unsupported:
        raise UsageError(f"target {target_name} does not support fault {', '.join(unsupported)} "
                         f"(it supports: {', '.join(sorted(target.faults))})")
    if time_limit is None and count is None:
        time_limit = DEFAULT_TIME
    click.echo(
        f"splitbrain run {target_name}: {workers} clients, "
        + (f"{time_limit:g} s" if time_limit is not None else f"{count} ops")
        + f", faults {','.join(kinds) or 'none'}, seed {seed}", err=True,
    )
    outcome = run_workload(
        target, clients=workers, time_limit=time_limit, ops=count, nemesis=kinds, seed=seed, out=out,
        rate=rate, check_timeout=check_time, max_states=max_states, progress=sys.stderr, keys=keys,
        ops_per_key=ops_per_key, nemesis_interval=nemesis_interval or (0.75, 2.25),
        nemesis_duration=fault_duration or (0.75, 2.25), nemesis_concurrent=concurrent_faults,
        client_timeout=client_timeout, final_reads=final_reads,
    )
    _summary(outcome)
    result = outcome.result
    assert result is not None
    print_result(result, limit=1_000 if verbose else 12)
    click.echo(f"history: {outcome.history_path}")
    report = _report(outcome)
    if report is not None:
        click.echo(f"report:  {report}")
    if outcome.perf_path is not None:
        click.echo(f"perf:    {outcome.perf_path}  (latency and throughput over time, faults shaded)")
    if outcome.workload == "append":
        click.echo(f"re-check: splitbrain check {outcome.history_path} --checker txn "
                   f"--consistency {target.consistency}")
    else:
        click.echo(f"re-check: splitbrain check {outcome.history_path} --model {target.model}")
    sys.exit(for_verdicts([result.valid]))


def _summary(outcome: Any) -> None:
    click.echo(
        f"{outcome.operations} operations in {outcome.seconds:.1f} s ({outcome.ops_per_second:.0f}/s), "
        f"{outcome.faults} faults", err=True,
    )
    if outcome.first_fault is not None:
        click.echo(f"first fault at {outcome.first_fault:.2f} s", err=True)
    if outcome.first_violation is not None:
        when = "after" if outcome.violation_after_fault else "before"
        click.echo(f"first violation at {outcome.first_violation:.2f} s ({when} the first fault)", err=True)
    if outcome.recovered is False:
        click.echo(click.style("the servers did not all recover after the final heal", fg="yellow"), err=True)
    if outcome.keys:
        bad = [k for k, v in outcome.keys.items() if v is False]
        unknown = [k for k, v in outcome.keys.items() if v not in (True, False)]
        click.echo(f"keys: {len(outcome.keys)} checked, {len(bad)} invalid"
                   + (f" ({', '.join(map(str, bad[:10]))})" if bad else "")
                   + (f", {len(unknown)} unknown" if unknown else ""), err=True)
    if outcome.nemesis_refused:
        click.echo(f"{len(outcome.nemesis_refused)} faults refused by the system (nothing changed), e.g. "
                   f"{outcome.nemesis_refused[0]}", err=True)
    for error in outcome.nemesis_errors:
        click.echo(click.style(f"fault error: {error}", fg="yellow"), err=True)
    for error in outcome.client_errors:
        click.echo(click.style(f"client crashed: {error}", fg="yellow"), err=True)


def _report(outcome: Any) -> Any:
    from splitbrain.report import write_graph_report, write_history_report

    path = outcome.run_dir / "report.html"
    result = outcome.result
    if outcome.workload == "append":
        graphs = [a.graph for a in result.anomalies if a.graph is not None]
        return write_graph_report(graphs[0], path) if graphs else None
    if outcome.failing_history is None and outcome.operations > REPORT_LIMIT:
        click.echo(f"report:  not drawn: {outcome.operations} operations are too many for one timeline "
                   "(perf.svg shows the run; re-check the history with --html for a page anyway)", err=True)
        return None
    history = outcome.failing_history if outcome.failing_history is not None else outcome.history
    return write_history_report(history, result, path)


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
