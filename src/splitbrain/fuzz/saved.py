"""A saved failure: the record a campaign writes, and how to run it again in any process.

A record is a JSON object: the workload's ``name``, its ``workload_ref`` (the import path a new process
resolves it from; see :mod:`splitbrain.sim.loading`), the variant, how it failed (``signature``,
``message``), the seeds and strategy that found it, the explicit trace (which replays it step for step,
whatever the strategy) and the history. :func:`replay_failure` runs it again.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import msgspec

from splitbrain._version import __version__
from splitbrain.errors import UsageError
from splitbrain.fuzz.schedule import ScheduleResult, replay_trace
from splitbrain.fuzz.store import load_failure
from splitbrain.sim import Trace, Workload
from splitbrain.sim.loading import load_workload, workload_options, workload_ref

__all__ = ["failure_record", "replay_failure", "trace_of", "workload_for"]


def failure_record(
    workload: Workload, seed: int, result: ScheduleResult, *, stage: str, steps_found: int,
    campaign: Any = None,
) -> dict[str, Any]:
    """The JSON-able record saved for a failure of ``workload`` found by schedule seed ``seed``.

    ``workload_ref`` (and ``workload_options`` when the reference is a class built with settings) is how
    ``splitbrain replay`` in a new process finds the workload again; ``None`` when it was defined where no
    other process can import it (a script's ``__main__``, a function). ``campaign`` (a
    :class:`~splitbrain.fuzz.campaign.CampaignSpec`) adds the campaign's seed and strategy.
    """
    ref = workload_ref(workload)
    options: Any = workload_options(workload)
    try:
        options = msgspec.to_builtins(options)
    except (TypeError, msgspec.EncodeError):
        ref, options = None, {}  # settings that cannot be written down cannot be rebuilt elsewhere either
    record: dict[str, Any] = {"workload": workload.name, "workload_ref": ref}
    if options:
        record["workload_options"] = options
    return record | {
        "variant": result.trace.variant,
        "signature": result.verdict.signature,
        "message": result.verdict.message,
        "seed": seed,
        "campaign_seed": getattr(campaign, "seed", None),
        "strategy": getattr(campaign, "strategy", None),
        "splitbrain": __version__,
        "found_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stage": stage,
        "steps": {"found": steps_found, "shrunk": len(result.trace.steps)},
        "trace": msgspec.to_builtins(result.trace),
        "history": [msgspec.to_builtins(op) for op in result.history.ops],
    }


def trace_of(record: dict[str, Any]) -> Trace:
    """The explicit trace a record holds."""
    return msgspec.convert(record["trace"], Trace)


def workload_for(record: dict[str, Any], workload: Workload | str | None = None) -> Workload:
    """The workload a saved failure was found on: ``workload`` when given (it must have the recorded
    name), else the one its ``workload_ref`` (or, in records written before references, its registered
    name) resolves to in this process."""
    name = record.get("workload")
    if workload is not None:
        found = load_workload(workload)
        if found.name != name:
            raise UsageError(f"the failure is of workload {name!r}, not {found.name!r}")
        return found
    if "workload_ref" in record and record["workload_ref"] is None:
        raise UsageError(
            f"the failure's workload {name!r} was defined where a new process cannot import it (a script run "
            "as __main__, or inside a function); define it in a module and fuzz it by 'module:attribute', or "
            "replay it from Python: splitbrain.replay_failure(path, workload)"
        )
    return load_workload(record.get("workload_ref") or name or "", record.get("workload_options"))


def replay_failure(path: str | os.PathLike[str], workload: Workload | str | None = None) -> ScheduleResult:
    """Run the saved failure at ``path`` again, step for step, and judge it: ``result.verdict.failed``
    says whether it still fails, ``result.verdict.signature`` how. ``workload`` overrides the recorded
    reference (for a workload no other process can import)."""
    record = load_failure(path)
    return replay_trace(workload_for(record, workload), trace_of(record))
