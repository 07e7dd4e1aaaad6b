"""The ``splitbrain`` command line.

Exit codes are part of the interface: 0 all good, 1 a violation was found (some history invalid, or a
campaign failed), 2 a check was incomplete (``unknown``) and none invalid, 3 bad input or usage. User
mistakes never print a traceback: the message names the file, the line and the problem.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from splitbrain import __version__
from splitbrain.errors import SplitbrainError

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_UNKNOWN = 2
EXIT_USAGE = 3


def _fail_usage(message: str) -> NoReturn:
    click.echo(f"splitbrain: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="splitbrain")
def cli() -> None:
    """Jepsen-style testing for distributed and concurrent Python code."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--model", "-m", "model_name", default=None,
    help="Model to check against (see `splitbrain models`); required for --checker linearizable.",
)
@click.option(
    "--checker", "checker", default="linearizable", show_default=True,
    type=click.Choice(["linearizable", "causal", "txn"]),
    help="linearizable (against --model), causal (vector clocks) or txn (dependency cycles).",
)
@click.option(
    "--consistency", default="serializable", show_default=True,
    type=click.Choice(["serializable", "strict-serializable", "snapshot-isolation", "read-committed"]),
    help="With --checker txn: the consistency model to check.",
)
@click.option(
    "--format", "fmt", default="auto", show_default=True,
    type=click.Choice(["auto", "jsonl", "edn", "jepsen-log"]), help="History file format.",
)
@click.option(
    "--timeout", type=float, default=None, help="Give up (verdict unknown) after this many seconds per file."
)
@click.option("--max-states", type=int, default=None, help="Memory budget: memoised search states per file.")
@click.option(
    "--no-partition", is_flag=True, help="Check the history whole even when the model partitions it."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on its own line.")
@click.option(
    "--html", "html", default=None, type=click.Path(),
    help="Write a self-contained HTML report: a file for one input, a directory for several.",
)
def check(
    files: Sequence[str], model_name: str | None, checker: str, consistency: str, fmt: str,
    timeout: float | None, max_states: int | None, no_partition: bool, as_json: bool, html: str | None,
) -> None:
    """Check recorded histories: linearizability against a model, causal consistency, or transactions.

    Exit status: 0 all valid, 1 some not, 2 some unknown (and none invalid), 3 bad input.
    """
    from splitbrain.checker.linearizability import check_linearizability
    from splitbrain.histories import read_history
    from splitbrain.models import get_model

    if checker != "linearizable":
        _check_anomalies(files, checker, consistency, fmt, as_json, html)
        return
    if model_name is None:
        raise click.UsageError(
            "Missing option '--model' / '-m': it is required with --checker linearizable (see "
            "`splitbrain models`); --checker causal|txn need no model"
        )
    model = get_model(model_name)
    verdicts: list[Any] = []
    for path in files:
        history = read_history(path, format=fmt)
        result = check_linearizability(
            history, model, timeout=timeout, max_states=max_states, partition=not no_partition
        )
        verdicts.append(result.valid)
        if as_json:
            click.echo(json.dumps(_result_json(path, result)))
        else:
            _print_result(path, result)
        if html is not None:
            from splitbrain.report import write_history_report

            out = write_history_report(history, result, _html_path(html, path, len(files)), model=model)
            click.echo(f"report: {out}", err=as_json)
    _exit_for(verdicts)


def _html_path(html: str, source: str, count: int) -> Path:
    """``--html OUT``: OUT itself for one input; for several, OUT is a directory of ``<name>.html``."""
    if count == 1 and not Path(html).is_dir():
        return Path(html)
    return Path(html) / (Path(source).name + ".html")


def _exit_for(verdicts: list[Any]) -> None:
    if any(v is False for v in verdicts):
        sys.exit(EXIT_VIOLATION)
    if any(v == "unknown" for v in verdicts):
        sys.exit(EXIT_UNKNOWN)


def _check_anomalies(
    files: Sequence[str], checker: str, consistency: str, fmt: str, as_json: bool, html: str | None
) -> None:
    """``check --checker causal|txn``: a verdict and the anomalies found, per file."""
    from splitbrain.checker.causality import check_causal
    from splitbrain.checker.transactions import check_transactions
    from splitbrain.histories import read_history

    verdicts: list[Any] = []
    for path in files:
        history = read_history(path, format=fmt)
        if checker == "causal":
            result = check_causal(history)
        else:
            result = check_transactions(history, consistency)
        verdicts.append(result.valid)
        if as_json:
            click.echo(json.dumps(result.to_json(path), default=repr))
        else:
            _print_result(path, result)
        graphs = [a.graph for a in result.anomalies if a.graph is not None]
        if html is not None and graphs:
            from splitbrain.report import write_graph_report

            out = write_graph_report(graphs[0], _html_path(html, path, len(files)))
            click.echo(f"report: {out} (the first anomaly's cycle)", err=as_json)
    _exit_for(verdicts)


def _result_json(path: str, result: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "file": path,
        "valid": result.valid,
        "model": result.model,
        "operations": result.operations,
        "seconds": round(result.stats.seconds, 6),
        "partitions": result.stats.partitions,
        "states": result.stats.states,
    }
    if result.reason:
        data["reason"] = result.reason
    cx = result.counterexample
    if cx is not None:
        data["counterexample"] = {
            "partition": cx.partition,
            "prefix": [op.id for op in cx.prefix],
            "state": cx.state,
            "blocked": None if cx.blocked is None else {
                "op": cx.blocked.id, "event": cx.blocked.call, "text": cx.blocked.describe(),
            },
        }
    return data


def _print_result(path: str, result: Any) -> None:
    colour = {True: "green", False: "red"}.get(result.valid, "yellow")
    text = result.explain()
    first, _, rest = text.partition("\n")
    click.echo(click.style(first, fg=colour, bold=True))
    if rest:
        click.echo(rest)


@cli.command()
def models() -> None:
    """List the built-in models, one line each."""
    from splitbrain.models import MODELS

    width = max(len(name) for name in MODELS)
    for name, cls in MODELS.items():
        funcs = ", ".join(cls.functions)
        click.echo(f"{name:<{width}}  {cls.summary}  [{funcs}]")


from splitbrain.live.command import run as _run; cli.add_command(_run)  # noqa: E402, E702, I001
from splitbrain.live.stress_command import stress as _stress; cli.add_command(_stress)  # noqa: E402, E702, I001


from splitbrain.cli_fuzz import fuzz, replay, show, shrink, workloads  # noqa: E402

for _command in (workloads, fuzz, replay, shrink, show):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: run the CLI, mapping user errors to exit status 3 with a one-line message."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="splitbrain", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("splitbrain: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f"\n{exc.ctx.get_usage()}\nTry '{exc.ctx.command_path} --help' for help."
        _fail_usage(f"{exc.format_message()}{hint}")
    except click.exceptions.ClickException as exc:
        _fail_usage(exc.format_message())
    except SplitbrainError as exc:
        _fail_usage(str(exc))
    except OSError as exc:
        _fail_usage(f"{getattr(exc, 'filename', None) or ''}: {exc.strerror or exc}")
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
