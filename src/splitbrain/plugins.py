"""Finding a user's objects: by import path (``pkg.mod:attr``) or by entry point.

splitbrain names every object that crosses a process boundary — a workload sent to a worker, a model in a
saved failure — by a string a fresh interpreter can resolve, never by a registry filled at run time: that
is what makes process pools, Dask workers and ``splitbrain replay`` in a new shell find the same object.
Two kinds of name resolve here, as in pytest/pluggy and setuptools:

* an **import path** ``package.module:attribute`` (the attribute may be dotted, ``mod:Class.attr``); the
  current directory is importable, as with ``python -m``;
* an **entry-point name** registered by an installed package under a group: ``splitbrain.workloads``,
  ``splitbrain.models`` or ``splitbrain.stress_targets``. The bug zoo registers itself this way, exactly
  as a third-party package does.

This module sits at the bottom of the layers (it imports only :mod:`splitbrain.errors`).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from splitbrain.errors import UsageError

__all__ = [
    "MODEL_GROUP",
    "STRESS_GROUP",
    "WORKLOAD_GROUP",
    "PluginEntry",
    "entry_point_value",
    "entry_points",
    "import_path",
    "is_import_path",
    "load_entry_point",
]

WORKLOAD_GROUP = "splitbrain.workloads"
MODEL_GROUP = "splitbrain.models"
STRESS_GROUP = "splitbrain.stress_targets"


def is_import_path(text: str) -> bool:
    """True for ``pkg.mod:attr`` (a module, a colon, an attribute), the form :func:`import_path` reads."""
    module, colon, attr = text.partition(":")
    return bool(colon and module and attr) and all(part.isidentifier() for part in module.split("."))


def import_path(text: str, *, what: str) -> Any:
    """The object named by ``pkg.mod:attr``; ``what`` ("workload", "model") words the errors.

    The module is imported as usual; if it is not found, the current directory is added to ``sys.path``
    (as ``python -m`` does) and the import is tried once more, so ``splitbrain fuzz mymod:workload`` works
    from the directory holding ``mymod.py`` without installing anything.
    """
    if not is_import_path(text):
        raise UsageError(f"{what} {text!r} is not an import path: expected 'package.module:attribute'")
    module_name, _, attr = text.partition(":")
    module = _import_module(module_name, text, what)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(
                f"{what} {text!r}: module {module_name!r} ({getattr(module, '__file__', '?')}) has no "
                f"attribute {attr!r}"
            ) from None
    return obj


def _import_module(name: str, text: str, what: str) -> Any:
    for attempt in range(2):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or name
            top = name.split(".")[0]
            cwd = os.getcwd()
            if attempt == 0 and missing.split(".")[0] == top and cwd not in sys.path:
                sys.path.insert(0, cwd)
                importlib.invalidate_caches()
                continue
            if missing.split(".")[0] != top:
                raise  # the module exists but one of its own imports is missing: the user's traceback helps
            raise UsageError(
                f"{what} {text!r}: cannot import module {name!r} (searched the current directory {cwd} and "
                "sys.path); run from the directory that holds it, or install its package"
            ) from None
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class PluginEntry:
    """One registered entry point: its ``name``, the ``value`` it points at, and the distribution
    (``origin``, with its version) that registered it."""

    name: str
    value: str
    origin: str


@cache
def _group(group: str) -> dict[str, tuple[PluginEntry, metadata.EntryPoint]]:
    found: dict[str, tuple[PluginEntry, metadata.EntryPoint]] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
        # the first registration of a name wins, as importlib.metadata lists them in sys.path order
        found.setdefault(ep.name, (PluginEntry(ep.name, ep.value, origin), ep))
    return found


def entry_points(group: str) -> list[PluginEntry]:
    """The entry points registered under ``group``, sorted by name."""
    return [entry for entry, _ in sorted(_group(group).values(), key=lambda pair: pair[0].name)]


def entry_point_value(group: str, name: str) -> str | None:
    """What the entry point ``name`` of ``group`` points at (``pkg.mod:attr``), or ``None``."""
    pair = _group(group).get(name)
    return None if pair is None else pair[0].value


def load_entry_point(group: str, name: str) -> Any | None:
    """The object the entry point ``name`` of ``group`` points at, or ``None`` when there is none."""
    pair = _group(group).get(name)
    if pair is None:
        return None
    try:
        return pair[1].load()
    except (ImportError, AttributeError) as exc:
        entry = pair[0]
        raise UsageError(
            f"entry point {name!r} of {group} ({entry.value}, from {entry.origin}) cannot be loaded: {exc}"
        ) from None
