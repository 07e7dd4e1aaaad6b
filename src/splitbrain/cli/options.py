"""One option vocabulary for every verb: the same word means the same thing wherever it appears.

=================  ===================================================================================
``--time S``       the time budget of the verb's work (a check, a campaign, a run), in seconds
``--count N``      how much work: schedules (``fuzz``), operations (``run``), calls (``stress``)
``--workers N``    concurrency: worker processes (``fuzz``), client threads (``run``, ``stress``)
``--faults K,..``  the fault kinds to inject (``fuzz``, ``run``)
``--out PATH``     where results go: the failure store (``fuzz``, ``shrink``), run directories
                   (``run``), a history file (``stress``)
``-v``             more detail, in every verb (repeat for more)
=================  ===================================================================================

The names each verb had before stay as hidden aliases (``--examples``, ``--timeout``, ``--store``,
``--nemesis``, ``--clients``, ...): they work, but only the shared word is shown in ``--help``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

__all__ = ["AliasOption", "budget_seconds", "count_option", "option", "positive_seconds", "verbose_option"]

F = Callable[..., Any]


class AliasOption(click.Option):
    """An option whose first name is shown in help and whose other names are hidden aliases."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown, hidden = self.opts, self.secondary_opts
        try:
            self.opts = [name for name in self.opts if name.startswith("--")][:1] + [
                name for name in self.opts if not name.startswith("--")
            ]
            self.secondary_opts = hidden[:1]
            return super().get_help_record(ctx)
        finally:
            self.opts, self.secondary_opts = shown, hidden


def option(*names: str, **kwargs: Any) -> Callable[[F], F]:
    """``click.option`` whose names after the first long one are hidden aliases."""
    return click.option(*names, cls=AliasOption, **kwargs)


def _finite_positive(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter(f"must be a positive, finite number of seconds, got {value}", param_hint=name)
    return value


def positive_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Callback: a time budget is positive and finite (``nan``, ``inf``, 0 and negatives are refused)."""
    names = [name for name in getattr(param, "opts", ()) if name.startswith("--")]
    return _finite_positive(value, f"'{names[0]}'" if names else "'--time'")


def budget_seconds(help: str, *, default: float | None = None, name: str = "seconds", aliases: tuple[str, ...] = ()
                   ) -> Callable[[F], F]:
    """``--time S`` (plus hidden ``aliases``): a positive, finite time budget."""
    return option("--time", *aliases, name, type=float, default=default, callback=positive_seconds, help=help)


def count_option(help: str, *, name: str = "count", aliases: tuple[str, ...] = (), default: int | None = None
                 ) -> Callable[[F], F]:
    """``--count N`` (plus hidden ``aliases``): a positive amount of work."""
    return option("--count", *aliases, name, type=click.IntRange(min=1), default=default, help=help,
                  show_default=default is not None)


def verbose_option(f: F) -> F:
    """``-v/--verbose``, counted: the same flag, meaning "more detail", in every verb."""
    return click.option("-v", "--verbose", "verbose", count=True, help="More detail (repeat for more).")(f)
