"""``splitbrain check`` and ``splitbrain models``: recorded histories against a model or a checker."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from splitbrain.checker.transactions import CONSISTENCY_MODELS
from splitbrain.cli.exits import for_verdicts
from splitbrain.cli.options import budget_seconds, option, verbose_option
from splitbrain.files import check_output

__all__ = ["check", "models", "print_result"]

CHECKERS = ("linearizable", "causal", "txn")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--model", "-m", "model_name", default=None,
    help="Model to check against: a name (see `splitbrain models`) or an import path 'pkg.mod:Model'; "
         "required for --checker linearizable.",
)
@click.option(
    "--checker", "checker", default="linearizable", show_default=True, type=click.Choice(CHECKERS),
    help="linearizable (against --model), causal (vector clocks) or txn (dependency cycles).",
)
@click.option(
    "--consistency", default="serializable", show_default=True,
    type=click.Choice(CONSISTENCY_MODELS),
    help="With --checker txn: the consistency model to check (Elle's names, weakest first; Adya's PL-* too).",
)
@click.option("--sequential-keys", is_flag=True,
              help="With --checker txn: assume each register key is sequentially consistent (Elle's option).")
@click.option("--linearizable-keys", is_flag=True,
              help="With --checker txn: assume each register key is linearizable (Elle's option).")
@click.option("--no-wfr-keys", "no_wfr_keys", is_flag=True,
              help="With --checker txn: do not infer that a register write follows the read before it.")
@click.option(
    "--format", "fmt", default="auto", show_default=True,
    type=click.Choice(["auto", "jsonl", "edn", "jepsen-log"]), help="History file format.",
)
@budget_seconds("Give up (verdict unknown) after this many seconds per file.", aliases=("--timeout",))
@option("--max-states", type=click.IntRange(min=1), default=None,
        help="Memory budget: memoised search states per file (verdict unknown beyond it).")
@option("--max-memory", type=click.IntRange(min=1), default=None, metavar="BYTES",
        help="Memory budget: bytes of search structures per file (default 1 GiB; verdict unknown beyond it).")
@click.option("--init", "init", default=None, metavar="VALUE",
              help="Start the model from VALUE, written as the history writes values (EDN for edn and "
                   "jepsen-log histories, JSON for jsonl): --init 0, --init '{:x 0 :y 0}'.")
@click.option("--no-partition", is_flag=True, help="Check the history whole even when the model partitions it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on its own line.")
@click.option(
    "--html", "html", default=None, type=click.Path(),
    help="Write a self-contained HTML report: a file for one input, a directory for several.",
)
@verbose_option
def check(
    files: Sequence[str], model_name: str | None, checker: str, consistency: str, sequential_keys: bool,
    linearizable_keys: bool, no_wfr_keys: bool, fmt: str, seconds: float | None, max_states: int | None,
    max_memory: int | None, init: str | None, no_partition: bool, as_json: bool, html: str | None, verbose: int,
) -> None:
    """Check recorded histories: linearizability against a model, causal consistency, or transactions.

    Exit status: 0 all valid, 1 some not, 2 some unknown (and none invalid), 3 bad input, 4 internal
    error.
    """
    from splitbrain.api import check as check_history
    from splitbrain.histories import read_history
    from splitbrain.models import get_model

    if checker == "linearizable" and model_name is None:
        raise click.UsageError(
            "Missing option '--model' / '-m': it is required with --checker linearizable (see "
            "`splitbrain models`); --checker causal|txn need no model"
        )
    model = get_model(model_name) if checker == "linearizable" else None
    if html is not None:  # refuse a report path that would destroy an input, before any work
        for path in files:
            check_output(_html_path(html, path, len(files)), inputs=tuple(files))
    verdicts: list[Any] = []
    txn: dict[str, Any] = {"sequential_keys": sequential_keys, "linearizable_keys": linearizable_keys,
                           "wfr_keys": not no_wfr_keys} if checker == "txn" else {}
    for path in files:
        history = read_history(path, format=fmt)
        result = check_history(
            history, model, checker=checker, consistency=consistency, timeout=seconds, max_states=max_states,
            max_memory=max_memory, partition=not no_partition, init=_init_value(init, path, fmt), **txn,
        )
        verdicts.append(result.valid)
        if as_json:
            click.echo(json.dumps({**result.to_json(), "file": path}, default=repr))
        else:
            print_result(result, limit=1_000 if verbose else 12)
            if verbose:
                _print_stats(result)
        if html is not None:
            _write_html(html, path, len(files), history, result, model, as_json)
    sys.exit(for_verdicts(verdicts))


def _init_value(text: str | None, path: str, fmt: str) -> Any:
    """``--init``'s value, read in the syntax of the history at ``path`` (its format, or detected)."""
    from splitbrain.histories import detect_format
    from splitbrain.histories.formats import parse_value
    from splitbrain.models.base import DEFAULT

    if text is None:
        return DEFAULT
    if fmt == "auto":
        with open(path, "rb") as fh:
            fmt = detect_format(fh.read(1 << 20).decode("utf-8-sig", errors="replace"), source=path)
    try:
        return parse_value(text, fmt)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--init") from None


def _write_html(html: str, path: str, count: int, history: Any, result: Any, model: Any, as_json: bool) -> None:
    from splitbrain.report import write_graph_report, write_history_report

    target = _html_path(html, path, count)
    if result.checker == "linearizable":
        out = write_history_report(history, result, target, model=model)
        click.echo(f"report: {out}", err=as_json)
        return
    graphs = [a.graph for a in result.anomalies if a.graph is not None]
    if graphs:
        out = write_graph_report(graphs[0], target)
        click.echo(f"report: {out} (the first anomaly's cycle)", err=as_json)


def _html_path(html: str, source: str, count: int) -> Path:
    """``--html OUT``: OUT itself for one input; for several, OUT is a directory of ``<name>.html``."""
    if count == 1 and not Path(html).is_dir():
        return Path(html)
    return Path(html) / (Path(source).name + ".html")


def print_result(result: Any, *, limit: int = 12) -> None:
    """The verdict line in its colour (green valid, red invalid, yellow unknown), then the explanation."""
    colour = {True: "green", False: "red"}.get(result.valid, "yellow")
    first, _, rest = result.explain(limit).partition("\n")
    click.echo(click.style(first, fg=colour, bold=True))
    if rest:
        click.echo(rest)


def _print_stats(result: Any) -> None:
    stats = getattr(result, "stats", None)
    if stats is None:
        return
    fields = vars(stats) if hasattr(stats, "__dict__") else dict(stats)
    click.echo("  search: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in fields.items()))


@click.command()
@verbose_option
def models(verbose: int) -> None:
    """List the models: built-in ones and those installed packages register (entry points)."""
    from splitbrain.models import available_models, get_model

    listed = available_models()
    width = max(len(name) for name, _ in listed)
    for name, origin in listed:
        model = get_model(name)
        funcs = ", ".join(getattr(model, "functions", ()))
        summary = getattr(model, "summary", "")
        where = f"  ({origin})" if verbose or origin != "built-in" else ""
        click.echo(f"{name:<{width}}  {summary}  [{funcs}]{where}")
