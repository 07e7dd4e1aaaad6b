"""The public surface is pinned: what ``import splitbrain`` offers, and that every module says what it
exports. A change to the surface must change this file too, on purpose."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import splitbrain

SRC = Path(splitbrain.__file__).parent

PUBLIC = {
    # checking histories
    "check", "assert_valid", "assert_linearizable", "Result", "CheckResult",
    "History", "Op", "Operation", "UNKNOWN", "read_history", "write_history", "Recorder",
    # models
    "Model", "get_model", "register_model",
    # simulating and fuzzing your system
    "Node", "Request", "Workload", "World", "ClientOp", "FaultConfig", "Invariant", "invariant",
    "load_workload", "fuzz_workload", "replay_failure", "FuzzFailure",
    # errors
    "SplitbrainError", "InvalidHistory", "UnknownModel", "UsageError", "CheckFailed", "NotLinearizable",
    "CheckIncomplete",
    "__version__",
}


def test_the_top_level_surface_is_exactly_the_pinned_one() -> None:
    assert set(splitbrain.__all__) == PUBLIC
    assert len(splitbrain.__all__) == len(set(splitbrain.__all__))
    for name in splitbrain.__all__:
        assert getattr(splitbrain, name) is not None, name


def test_errors_are_catchable_as_the_natural_builtins() -> None:
    assert issubclass(splitbrain.InvalidHistory, ValueError)
    assert issubclass(splitbrain.UsageError, ValueError)
    assert issubclass(splitbrain.UnknownModel, LookupError)
    assert issubclass(splitbrain.NotLinearizable, AssertionError)
    assert issubclass(splitbrain.FuzzFailure, AssertionError)
    for name in ("InvalidHistory", "UsageError", "UnknownModel", "CheckFailed", "CheckIncomplete", "FuzzFailure"):
        assert issubclass(getattr(splitbrain, name), splitbrain.SplitbrainError), name


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(splitbrain.__path__, "splitbrain."):
        parts = info.name.split(".")
        if parts[1] == "impls" or parts[-1] == "__main__" or any(p.startswith("_") for p in parts[1:]):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _core_modules())
def test_every_module_says_what_it_exports(name: str) -> None:
    """Each module has ``__all__``; every name in it exists; every class or function the module defines
    without a leading underscore is in it (anything else is internal and must say so with ``_``)."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"
    defined = [
        attr for attr, obj in vars(module).items()
        if not attr.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name and not attr.startswith("pytest_")
    ]
    assert not [attr for attr in defined if attr not in exported], f"{name}: public but not in __all__"


def test_the_core_never_imports_the_zoo_even_at_run_time() -> None:
    """Beside the import-linter contracts (static): checking a history, simulating a user's workload and the
    CLI's own start-up load nothing from ``splitbrain.impls``."""
    code = (
        "import sys, splitbrain, splitbrain.cli, splitbrain.fuzz.campaign, splitbrain.report\n"
        "h = splitbrain.History.from_ops([splitbrain.Op(process=0, type='invoke', f='read'),"
        " splitbrain.Op(process=0, type='ok', f='read')])\n"
        "assert splitbrain.check(h, 'register').valid is True\n"
        "print(sorted(m for m in sys.modules if m.startswith('splitbrain.impls')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_test_skips_when_one_of_splitbrains_own_modules_is_missing() -> None:
    """A missing module of our own is a failure, never a skip (``importorskip`` is for optional extras)."""
    for path in Path(__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "importorskip":
                target = node.args[0]
                assert not (isinstance(target, ast.Constant) and str(target.value).startswith("splitbrain")), (
                    f"{path.name} importorskips {target.value}"
                )
