"""``splitbrain run TARGET``: test a real server on loopback under faults, then check the history.

Importing this module is cheap (click and the target names only); servers, proxies and the checker are
imported when the command runs.
"""

from __future__ import annotations

import sys

import click

from splitbrain.errors import UsageError
from splitbrain.live.targets import TARGETS

EXIT_OK, EXIT_VIOLATION, EXIT_UNKNOWN = 0, 1, 2
DEFAULT_TIME = 10.0


def _parse_nemesis(text: str) -> list[str]:
    from splitbrain.live.nemesis import KINDS

    if text.strip().lower() in ("", "none"):
        return []
    if text.strip().lower() == "all":
        return list(KINDS)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"unknown nemesis {', '.join(unknown)} (known: {', '.join(KINDS)}, all, none)")
    return kinds


@click.command("run")
@click.argument("target_name", metavar="TARGET", type=click.Choice(list(TARGETS)))
@click.option("--time", "time_limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Run for this many seconds (default {DEFAULT_TIME:g} unless --ops is given).")
@click.option("--ops", type=click.IntRange(min=1), default=None, help="Stop after this many operations.")
@click.option("--nemesis", default="none", show_default=True,
              help="Faults to inject, comma-separated: pause,kill,partition (or all, none).")
@click.option("--clients", type=click.IntRange(min=1), default=5, show_default=True,
              help="Concurrent client threads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the workload and the faults.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Cap each client at about this many operations per second.")
@click.option("--out", type=click.Path(file_okay=False), default=".splitbrain/runs", show_default=True,
              help="Directory for run directories (history.jsonl, server logs).")
@click.option("--check-timeout", type=float, default=120.0, show_default=True,
              help="Give up checking (verdict unknown) after this many seconds.")
def run(
    target_name: str, time_limit: float | None, ops: int | None, nemesis: str, clients: int, seed: int,
    rate: float | None, out: str, check_timeout: float,
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

    kinds = _parse_nemesis(nemesis)
    cls = get_target(target_name)
    cls.check_installed()
    target = cls()
    unsupported = [k for k in kinds if k not in target.faults]
    if unsupported:
        raise UsageError(f"target {target_name} does not support nemesis {', '.join(unsupported)}")
    if time_limit is None and ops is None:
        time_limit = DEFAULT_TIME
    click.echo(
        f"splitbrain run {target_name}: {clients} clients, "
        + (f"{time_limit:g} s" if time_limit is not None else f"{ops} ops")
        + f", nemesis {','.join(kinds) or 'none'}, seed {seed}", err=True,
    )
    outcome = run_workload(
        target, clients=clients, time_limit=time_limit, ops=ops, nemesis=kinds, seed=seed, out=out,
        rate=rate, check_timeout=check_timeout, progress=sys.stderr,
    )
    click.echo(
        f"{outcome.operations} operations in {outcome.seconds:.1f} s ({outcome.ops_per_second:.0f}/s), "
        f"{outcome.faults} faults", err=True,
    )
    for error in outcome.nemesis_errors:
        click.echo(click.style(f"nemesis error: {error}", fg="yellow"), err=True)
    for error in outcome.client_errors:
        click.echo(click.style(f"client crashed: {error}", fg="yellow"), err=True)
    result = outcome.result
    assert result is not None
    colour = "green" if result.valid is True else "red" if result.valid is False else "yellow"
    first, _, rest = result.explain().partition("\n")
    click.echo(click.style(first, fg=colour, bold=True))
    if rest:
        click.echo(rest)
    click.echo(f"history: {outcome.history_path}")
    from splitbrain.report import write_history_report  # the CLI face may use the report layer

    report = write_history_report(outcome.history, result, outcome.run_dir / "report.html")
    click.echo(f"report:  {report}")
    click.echo(f"re-check: splitbrain check {outcome.history_path} --model {target.model}")
    if result.valid is False:
        sys.exit(EXIT_VIOLATION)
    if result.valid is not True:
        sys.exit(EXIT_UNKNOWN)
