"""The Python entry points for checking histories: ``check`` and ``assert_linearizable``."""

from __future__ import annotations

import os
from typing import Any

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.checker.result import CheckResult
from splitbrain.errors import CheckIncomplete, NotLinearizable
from splitbrain.histories import History


def _as_history(history: History | str | os.PathLike[str], format: str) -> History:
    if isinstance(history, History):
        return history
    from splitbrain.histories import read_history

    return read_history(history, format=format)


def check(
    history: History | str | os.PathLike[str],
    model: Any,
    *,
    timeout: float | None = None,
    max_states: int | None = None,
    partition: bool = True,
    format: str = "auto",
) -> CheckResult:
    """Check a history (a :class:`History` or a file path) against a model (name, class or instance).

    Returns a :class:`CheckResult` whose ``valid`` is ``True``, ``False`` or ``"unknown"``.
    """
    return check_linearizability(
        _as_history(history, format), model, timeout=timeout, max_states=max_states, partition=partition
    )


def assert_linearizable(
    history: History | str | os.PathLike[str],
    model: Any,
    *,
    timeout: float | None = None,
    max_states: int | None = None,
    format: str = "auto",
) -> CheckResult:
    """Assert that a history is linearizable; the failure message explains where linearization breaks.

    An incomplete check (timeout or memory budget) fails too, with :class:`CheckIncomplete`: unknown is not
    a pass.
    """
    result = check(history, model, timeout=timeout, max_states=max_states, format=format)
    if result.valid is True:
        return result
    if result.valid is False:
        raise NotLinearizable(result.explain(), result)
    raise CheckIncomplete(result.explain(), result)
