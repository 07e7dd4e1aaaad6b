"""The campaign summary: schedules run over time, the rate, the failures found and the faults exercised.

Input (all keys but ``schedules`` optional)::

    {"title": "primary-backup/early-ack", "seconds": 30.0, "schedules": 5200, "unknown": 0,
     "samples": [{"t": 0.0, "schedules": 0}, {"t": 1.0, "schedules": 180}, ...],   # cumulative counts
     "failures": [{"t": 12.5, "signature": "checker:linearizability", "message": "...", "path": "..."}],
     "faults": {"partition": 310, "crash": 122, "drop": 2400}}

:func:`summary_from_report` builds this from a ``CampaignReport`` (and optional samples and fault counts);
:func:`fault_counts` counts the fault steps of traces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.report.html import short
from splitbrain.sim.faults import FAULT_KINDS

__all__ = [
    "FAULT_STEPS",
    "build_campaign",
    "fault_counts",
    "summary_from_report",
]


#: the step kinds counted as faults: the injected kinds and their recoveries
FAULT_STEPS = (*FAULT_KINDS, "heal", "restart", "resume")


def build_campaign(summary: dict[str, Any]) -> dict[str, Any]:
    """Validate a campaign summary and add the rate series (schedules per second between samples)."""
    if not isinstance(summary, dict) or "schedules" not in summary:
        raise UsageError('a campaign report needs a dict with at least "schedules"')
    seconds = float(summary.get("seconds") or 0.0)
    samples = sorted(
        ({"t": float(s["t"]), "schedules": int(s["schedules"])} for s in summary.get("samples") or []),
        key=lambda s: s["t"],
    )
    if not samples:
        samples = [{"t": 0.0, "schedules": 0}, {"t": seconds, "schedules": int(summary["schedules"])}]
    rates = []
    for a, b in pairwise(samples):
        dt = b["t"] - a["t"]
        if dt > 0:
            rates.append({"t0": a["t"], "t1": b["t"], "rate": (b["schedules"] - a["schedules"]) / dt})
    failures = [
        {"t": None if f.get("t") is None else float(f["t"]), "signature": str(f.get("signature") or "failure"),
         "message": short(f.get("message") or "", 600), "path": str(f.get("path") or "")}
        for f in summary.get("failures") or []
    ]
    faults = {str(k): int(v) for k, v in (summary.get("faults") or {}).items()}
    return {
        "kind": "campaign",
        "title": str(summary.get("title") or "campaign"),
        "seconds": seconds or (samples[-1]["t"] if samples else 0.0),
        "schedules": int(summary["schedules"]),
        "unknown": int(summary.get("unknown") or 0),
        "samples": samples, "rates": rates, "failures": failures,
        "faults": dict(sorted(faults.items(), key=lambda kv: -kv[1])),
    }


def fault_counts(traces: Iterable[Any]) -> dict[str, int]:
    """Count the fault steps (drop, partition, crash, ...) in traces (``Trace`` objects or their dicts)."""
    counts: Counter[str] = Counter()
    for trace in traces:
        steps = trace.get("steps", []) if isinstance(trace, dict) else trace.steps
        for step in steps:
            kind = step.get("kind") if isinstance(step, dict) else step.kind
            if kind in FAULT_STEPS:
                counts[kind] += 1
    return dict(counts)


def summary_from_report(
    report: Any, *, samples: Sequence[dict[str, Any]] | None = None, faults: dict[str, int] | None = None
) -> dict[str, Any]:
    """A summary dict from a ``fuzz.campaign.CampaignReport`` (failure times are unknown there)."""
    spec = report.spec
    return {
        "title": f"{spec.workload}/{spec.variant}",
        "seconds": report.seconds,
        "schedules": report.schedules,
        "unknown": report.unknown,
        "samples": list(samples or []),
        "failures": [{"t": None, "signature": f.signature, "message": f.message, "path": f.path}
                     for f in report.failures],
        "faults": dict(faults or {}),
    }
