"""The ``splitbrain`` command line: one click group, a module per verb group.

* :mod:`.check` — ``check``, ``models``: recorded histories;
* :mod:`.fuzz` — ``workloads``, ``fuzz``: campaigns in the simulator;
* :mod:`.bounded` — ``exhaust``: every schedule within a bound, for small configurations;
* :mod:`.cap` — ``cap``: availability and consistency under partitions, side by side;
* :mod:`.failures` — ``replay``, ``shrink``, ``show``: saved failures;
* :mod:`.live` — ``run``, ``stress``: real servers and real threads.

Exit statuses are defined once in :mod:`.exits` and flags share one vocabulary (:mod:`.options`). User
mistakes never print a traceback: the message names the file, the line and the problem (status 3). A
crash of splitbrain itself has its own status (4), never one a verdict uses; ``--debug`` (or
``SPLITBRAIN_DEBUG=1``) shows its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

import click

from splitbrain._version import __version__
from splitbrain.cli.bounded import exhaust
from splitbrain.cli.cap import cap
from splitbrain.cli.check import check, models
from splitbrain.cli.exits import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from splitbrain.cli.failures import replay, show, shrink
from splitbrain.cli.fuzz import fuzz, workloads
from splitbrain.cli.live import run, stress
from splitbrain.errors import SplitbrainError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="splitbrain")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
def cli(debug: bool) -> None:
    """Jepsen-style testing for distributed and concurrent Python code.

    \b
    Exit status, every verb: 0 checked and held, 1 a violation found, 2 unknown (a check gave up),
    3 bad input or usage, 4 internal error.
    """
    if debug:
        os.environ["SPLITBRAIN_DEBUG"] = "1"


for _command in (check, models, workloads, fuzz, exhaust, cap, replay, shrink, show, run, stress):
    cli.add_command(_command)


def _fail(message: str, status: int = EXIT_USAGE) -> NoReturn:
    # a message may quote input that is not valid text (a lone surrogate from a JSON escape): escape it
    # rather than fail to print the error
    safe = message.encode("utf-8", "backslashreplace").decode("utf-8")
    click.echo(f"splitbrain: error: {safe}", err=True)
    sys.exit(status)


def _tolerant_streams() -> None:
    """Print what a history holds even when it is not encodable (lone surrogates, a C locale)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: run the CLI and map every way it can end to its exit status."""
    args = list(argv) if argv is not None else sys.argv[1:]
    debug = "--debug" in args or os.environ.get("SPLITBRAIN_DEBUG", "") not in ("", "0")
    _tolerant_streams()
    try:
        cli.main(args=args, prog_name="splitbrain", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("splitbrain: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f"\n{exc.ctx.get_usage()}\nTry '{exc.ctx.command_path} --help' for help."
        _fail(f"{exc.format_message()}{hint}")
    except click.exceptions.ClickException as exc:
        _fail(exc.format_message())
    except SplitbrainError as exc:
        _fail(str(exc))
    except OSError as exc:
        where = getattr(exc, "filename", None)
        _fail(f"{where}: {exc.strerror or exc}" if where else str(exc.strerror or exc))
    except MemoryError:
        _fail("out of memory (lower the budget with --max-states, or give the check a --time limit)",
              EXIT_INTERNAL)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _fail(
            f"internal error: {type(exc).__name__}: {exc}\n"
            + ("" if debug else "This is a bug in splitbrain (or in the code it called), not a verdict; rerun "
               "with --debug for the traceback and please report it."),
            EXIT_INTERNAL,
        )
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
