"""The Python entry points for checking histories: ``check`` and ``assert_valid`` (and its older name
``assert_linearizable``). They mirror ``splitbrain check``: the same checkers, the same budgets, the same
result shape."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from splitbrain.checker.result import Result
from splitbrain.errors import CheckFailed, CheckIncomplete, NotLinearizable, UsageError
from splitbrain.histories import History
from splitbrain.models.base import DEFAULT

__all__ = ["CHECKERS", "assert_linearizable", "assert_valid", "check"]

#: the checkers :func:`check` runs, as ``splitbrain check --checker`` names them
CHECKERS = ("linearizable", "causal", "txn")


def _as_history(history: History | str | os.PathLike[str], format: str) -> History:
    if isinstance(history, History):
        return history
    from splitbrain.histories import read_history

    return read_history(history, format=format)


def check(
    history: History | str | os.PathLike[str],
    model: Any = None,
    *,
    checker: str = "linearizable",
    consistency: str = "serializable",
    timeout: float | None = None,
    max_states: int | None = None,
    max_memory: int | None = None,
    partition: bool = True,
    format: str = "auto",
    init: Any = DEFAULT,
    sequential_keys: bool = False,
    linearizable_keys: bool = False,
    wfr_keys: bool = True,
) -> Result:
    """Check a history (a :class:`History` or a file path) and return its :class:`Result`, whose
    ``valid`` is ``True``, ``False`` or ``"unknown"``.

    * ``checker="linearizable"`` (default): against ``model`` — a registered name (``"cas-register"``),
      an import path (``"mypkg.models:Gauge"``), a model class or instance. Returns a
      :class:`~splitbrain.CheckResult` with a witness or a counterexample.
    * ``checker="causal"``: causal consistency from the vector clocks; ``checker="txn"``: transactions
      under ``consistency`` (Elle's model names, from ``read-uncommitted`` to ``strict-serializable``; see
      ``splitbrain.checker.transactions.CONSISTENCY_MODELS``), with Elle's rw-register assumptions
      ``sequential_keys``, ``linearizable_keys`` and ``wfr_keys``. Both return an
      :class:`~splitbrain.checker.anomaly.AnomalyResult` listing named anomalies.

    ``timeout`` (seconds), ``max_states`` and ``max_memory`` (bytes) are budgets: running out gives
    ``"unknown"``, never a pass. ``init`` starts the model from a value instead of its own initial state
    (``init=0`` for a ``cas-register``, ``init={"x": 0, "y": 0}`` for a ``multi-register``).
    A history with nothing to check — no operation that may have taken effect (every one failed, or
    only faults were recorded) — is ``"unknown"`` too: a pass must mean that something held.
    """
    txn = {"sequential_keys": sequential_keys, "linearizable_keys": linearizable_keys, "wfr_keys": wfr_keys}
    if checker != "txn" and txn != {"sequential_keys": False, "linearizable_keys": False, "wfr_keys": True}:
        raise UsageError("sequential_keys, linearizable_keys and wfr_keys apply only to checker='txn'")
    result = _check(history, model, checker=checker, consistency=consistency, timeout=timeout,
                    max_states=max_states, max_memory=max_memory, partition=partition, format=format, txn=txn,
                    init=init)
    if result.valid is True and getattr(result, "operations", 1) == 0:
        return dataclasses.replace(  # type: ignore[type-var]
            result, valid="unknown",
            reason="nothing to check: no operation in the history may have taken effect (every one failed, "
                   "or only faults were recorded)",
        )
    return result


def _check(
    history: History | str | os.PathLike[str], model: Any, *, checker: str, consistency: str,
    timeout: float | None, max_states: int | None, max_memory: int | None, partition: bool, format: str,
    txn: dict[str, bool], init: Any,
) -> Result:
    _positive("timeout", timeout)
    _positive("max_states", max_states)
    _positive("max_memory", max_memory)
    if checker not in CHECKERS:
        raise UsageError(f"unknown checker {checker!r} (checkers: {', '.join(CHECKERS)})")
    loaded = _as_history(history, format)
    if checker == "linearizable":
        from splitbrain.checker.linearizability import check_linearizability

        if model is None:
            raise UsageError("checker 'linearizable' needs a model: check(history, model='cas-register', ...)")
        return check_linearizability(loaded, model, timeout=timeout, max_states=max_states, max_memory=max_memory,
                                     partition=partition, init=init)
    if init is not DEFAULT:
        raise UsageError(f"checker {checker!r} takes no model, so no init=; drop it")
    if model is not None:
        raise UsageError(f"checker {checker!r} takes no model (it judges the history itself); drop model=")
    if checker == "causal":
        from splitbrain.checker.causality import check_causal

        return check_causal(loaded, timeout=timeout)
    from splitbrain.checker.transactions import check_transactions

    return check_transactions(loaded, consistency, timeout=timeout, **txn)


def _positive(name: str, value: float | None) -> None:
    import math

    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a positive, finite number, got {value!r}")


def assert_valid(
    history: History | str | os.PathLike[str],
    model: Any = None,
    **options: Any,
) -> Result:
    """Assert that a history passes :func:`check` (same arguments); the failure message explains why not.

    An incomplete check (timeout or memory budget) fails too, with :class:`CheckIncomplete`: unknown is not
    a pass.
    """
    result = check(history, model, **options)
    if result.valid is True:
        return result
    if result.valid is False:
        linearizable = options.get("checker", "linearizable") == "linearizable"
        raise (NotLinearizable if linearizable else CheckFailed)(result.explain(), result)
    raise CheckIncomplete(result.explain(), result)


def assert_linearizable(
    history: History | str | os.PathLike[str],
    model: Any,
    *,
    timeout: float | None = None,
    max_states: int | None = None,
    format: str = "auto",
) -> Result:
    """:func:`assert_valid` with the linearizability checker (kept for its name)."""
    return assert_valid(history, model, timeout=timeout, max_states=max_states, format=format)
