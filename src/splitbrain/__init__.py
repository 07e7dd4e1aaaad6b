"""splitbrain: Jepsen-style testing for distributed and concurrent Python code.

The public API, on one page:

* **check a history** — :func:`check` (linearizability against a model, causal consistency, or
  transactions), :func:`assert_valid`; every checker returns a :class:`Result` (``valid`` is ``True``,
  ``False`` or ``"unknown"``, plus ``explain()`` and ``to_json()``). Histories: :class:`History`,
  :class:`Op`, :func:`read_history`, :func:`write_history`, and :class:`Recorder` for real systems.
* **write a model** — subclass :class:`Model` (``init``, ``step``); name it by import path
  (``"mypkg.models:Gauge"``) or register it (:func:`register_model`, or the entry-point group
  ``splitbrain.models``).
* **simulate your system** — subclass :class:`Node` and :class:`Workload` (with :class:`ClientOp`,
  :func:`invariant`, :class:`FaultConfig`); run one schedule with :class:`World`.
* **fuzz it** — :func:`fuzz_workload` (also the pytest fixture ``splitbrain_fuzz``), then
  :func:`replay_failure`; from the shell, ``splitbrain fuzz mypkg.mymod:workload``.
* **errors** — everything raised on purpose derives from :class:`SplitbrainError`, and each also from
  the builtin a caller would catch (``InvalidHistory`` is a ``ValueError``).

Names not listed in ``__all__`` are internal. The fuzzing names are imported on first use, so that
``import splitbrain`` stays cheap for the pytest plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from splitbrain._version import __version__
from splitbrain.api import assert_linearizable, assert_valid, check
from splitbrain.checker.result import CheckResult, Result
from splitbrain.errors import (
    CheckFailed,
    CheckIncomplete,
    InvalidHistory,
    NotLinearizable,
    SplitbrainError,
    UnknownModel,
    UsageError,
)
from splitbrain.histories import UNKNOWN, History, Op, Operation, read_history, write_history
from splitbrain.histories.recorder import Recorder
from splitbrain.models import Model, get_model, register_model
from splitbrain.sim import ClientOp, FaultConfig, Invariant, Node, Request, Workload, World, invariant
from splitbrain.sim.loading import load_workload

if TYPE_CHECKING:
    from splitbrain.fuzz.assertions import FuzzFailure, fuzz_workload
    from splitbrain.fuzz.saved import replay_failure

__all__ = [
    "UNKNOWN",
    "CheckFailed",
    "CheckIncomplete",
    "CheckResult",
    "ClientOp",
    "FaultConfig",
    "FuzzFailure",
    "History",
    "InvalidHistory",
    "Invariant",
    "Model",
    "Node",
    "NotLinearizable",
    "Op",
    "Operation",
    "Recorder",
    "Request",
    "Result",
    "SplitbrainError",
    "UnknownModel",
    "UsageError",
    "Workload",
    "World",
    "__version__",
    "assert_linearizable",
    "assert_valid",
    "check",
    "fuzz_workload",
    "get_model",
    "invariant",
    "load_workload",
    "read_history",
    "register_model",
    "replay_failure",
    "write_history",
]

_LAZY = {
    "FuzzFailure": "splitbrain.fuzz.assertions",
    "fuzz_workload": "splitbrain.fuzz.assertions",
    "replay_failure": "splitbrain.fuzz.saved",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'splitbrain' has no attribute {name!r}")
    import importlib

    # not cached here: the module in sys.modules is the one source of truth (a test runner that unloads
    # and re-imports modules then still gets one class, not two)
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
