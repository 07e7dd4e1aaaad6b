"""Finding a workload: by entry-point name, by import path, or from an object in hand.

``load_workload("raft-kv")`` looks the name up in the entry-point group ``splitbrain.workloads`` (how the
bug zoo and any installed package register workloads); ``load_workload("mypkg.mymod:workload")`` imports
it, the current directory importable as with ``python -m``. The attribute may be a :class:`Workload`
instance, a subclass (built with no arguments) or a function returning one.

Every workload that leaves this process — sent to a worker, written into a saved failure — travels as a
*reference*, a string a fresh interpreter resolves again with :func:`load_workload`; :func:`workload_ref`
finds that string for a workload in hand. Nothing depends on a registry filled at run time, which is
what lets process pools, Dask workers and ``splitbrain replay`` in a new shell find the user's workload.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.plugins import (
    WORKLOAD_GROUP,
    entry_point_value,
    entry_points,
    import_path,
    is_import_path,
    load_entry_point,
)
from splitbrain.sim.workload import Workload

__all__ = ["WorkloadEntry", "available_workloads", "load_workload", "workload_options", "workload_ref"]

#: the attribute that records how a loaded workload was found (its reference)
_REF = "_splitbrain_ref"


def load_workload(ref: str | Workload, options: Mapping[str, Any] | None = None) -> Workload:
    """The workload ``ref`` names (entry-point name or ``pkg.mod:attr``), or ``ref`` itself if it is one.

    ``options`` are settings to build it with (``node_count``, ``clients``, ...) when the reference names
    a class. An unknown name lists the registered ones and the closest match.
    """
    if isinstance(ref, Workload):
        return ref
    if not isinstance(ref, str) or not ref:
        raise UsageError(f"a workload is named by a string ('name' or 'package.module:attribute'); got {ref!r}")
    path = ref
    if is_import_path(ref):
        found = import_path(ref, what="workload")
    else:
        found = load_entry_point(WORKLOAD_GROUP, ref)
        if found is None:
            raise UsageError(_unknown_message(ref))
        path = entry_point_value(WORKLOAD_GROUP, ref) or ref
    workload = _as_workload(found, ref, options)
    if not options:
        # remember the import path (an entry point's too), so that a saved failure names the code itself
        setattr(workload, _REF, path)
    return workload


def _as_workload(found: Any, ref: str, options: Mapping[str, Any] | None) -> Workload:
    if isinstance(found, Workload):
        if options:
            raise UsageError(f"workload {ref!r} is an instance: settings cannot be applied to it")
        return found
    if isinstance(found, type) and issubclass(found, Workload):
        return found(**dict(options or {}))
    if callable(found):
        made = found(**dict(options or {}))
        if isinstance(made, Workload):
            return made
        raise UsageError(f"workload {ref!r}: calling it returned {type(made).__name__}, not a Workload")
    raise UsageError(
        f"workload {ref!r} is a {type(found).__name__}: expected a splitbrain.Workload instance, a Workload "
        "subclass, or a function that returns one"
    )


def workload_ref(workload: Workload) -> str | None:
    """The reference a fresh process can rebuild ``workload`` from with :func:`load_workload`, or ``None``.

    A workload loaded by reference keeps it. Otherwise a module-level attribute holding this very object
    is found in its class's module (``mymod:workload``); failing that, its class (``mymod:MyWorkload``),
    to be built with :attr:`Workload.overrides` (see :func:`workload_options`). A class defined inside a
    function or in ``__main__`` has no reference a new process could import: ``None``.
    """
    ref = getattr(workload, _REF, None)
    if isinstance(ref, str):
        return ref
    cls = type(workload)
    module = cls.__module__
    if module == "__main__" or "<locals>" in cls.__qualname__:
        return None
    import sys

    # the instance as a module-level attribute: its class's module first, then any other loaded module
    # (a test module that builds the zoo's class with settings), never __main__ (no process imports it)
    others = sorted(m for m in list(sys.modules) if m not in (module, "__main__") and not m.startswith("_"))
    for name in (module, *others):
        namespace = getattr(sys.modules.get(name), "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if value is workload and not attr.startswith("_"):
                return f"{name}:{attr}"
    if workload.overrides and not _writable(workload.overrides):
        return None  # built with settings that cannot be written down: no process could rebuild it
    return f"{module}:{cls.__qualname__}"


def _writable(options: dict[str, Any]) -> bool:
    import msgspec

    try:
        msgspec.json.encode(options)
    except (TypeError, msgspec.EncodeError):
        return False
    return True


def workload_options(workload: Workload) -> dict[str, Any]:
    """The settings :func:`load_workload` needs with :func:`workload_ref`'s reference: the constructor's
    overrides when the reference names the class, else none."""
    ref = workload_ref(workload)
    if ref is None or ref == getattr(workload, _REF, None):
        return {}
    cls = type(workload)
    if ref == f"{cls.__module__}:{cls.__qualname__}":
        return dict(workload.overrides)
    return {}


@dataclass(frozen=True)
class WorkloadEntry:
    """A workload registered through the entry-point group ``splitbrain.workloads``."""

    name: str
    value: str
    origin: str


def available_workloads() -> list[WorkloadEntry]:
    """Every workload registered by an installed package, sorted by name."""
    return [WorkloadEntry(e.name, e.value, e.origin) for e in entry_points(WORKLOAD_GROUP)]


def _unknown_message(name: str) -> str:
    names = [entry.name for entry in available_workloads()]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(names) or "none installed"
    return (
        f"unknown workload {name!r}{hint} (registered workloads: {known}); name your own as "
        "'package.module:attribute', e.g. 'mysystem:workload' for the object `workload` in mysystem.py"
    )
