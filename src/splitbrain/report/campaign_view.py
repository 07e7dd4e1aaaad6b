"""The campaign summary: schedules run over time, the rate, the failures found and the faults exercised.

Input (all keys but ``schedules`` optional)::

    {"title": "primary-backup/early-ack", "seconds": 30.0, "schedules": 5200, "unknown": 0,
     "samples": [{"t": 0.0, "schedules": 0}, {"t": 1.0, "schedules": 180}, ...],   # cumulative counts
     "failures": [{"t": 12.5, "signature": "checker:linearizability", "message": "...", "path": "...",
                   "found_at": "2025-05-01T12:03:04+00:00"}],
     "faults": {"partition": 310, "crash": 122, "drop": 2400},
     "availability": {...}}     # Availability.to_json() of the schedules' histories

``availability`` (see :mod:`splitbrain.histories.availability`) draws two more plots: the ok fraction and
the ok latency over schedule time with the fraction of time a partition or a crash was in force shaded
behind, and one bar per fault state (ok, fail, info).

A failure's ``t`` is seconds into the campaign and ``found_at`` the wall-clock time its record was saved
(either may be missing); ``path`` is its saved record, whose report sits beside it
(:func:`report_path_for`). :func:`summary_from_report` builds this from a ``CampaignReport`` (and
optional samples and fault counts), reading each failure's time from its record; :func:`fault_counts`
counts the fault steps of traces.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

from splitbrain.errors import UsageError
from splitbrain.report.text import clip
from splitbrain.sim.faults import FAULT_KINDS

__all__ = [
    "FAULT_STEPS",
    "build_campaign",
    "fault_counts",
    "report_path_for",
    "summary_from_report",
]


#: the step kinds counted as faults: the injected kinds and their recoveries
FAULT_STEPS = (*FAULT_KINDS, "heal", "restart", "resume")


def report_path_for(failure_path: str | os.PathLike[str]) -> Path:
    """Where the report of a saved failure goes: beside it, ``.html`` instead of ``.json``."""
    return Path(failure_path).with_suffix(".html")


def build_campaign(summary: dict[str, Any], *, page_folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Validate a campaign summary and add the rate series (schedules per second between samples).

    ``page_folder`` is where the page will be written: each failure's link (``href``) is made relative
    to it. Without it the links are absolute ``file://`` URLs."""
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
    failures = []
    for f in summary.get("failures") or []:
        path = str(f.get("path") or "")
        failures.append({
            "t": None if f.get("t") is None else float(f["t"]), "at": _clock_time(f.get("found_at")),
            "signature": clip(str(f.get("signature") or "failure"), 200),
            "message": clip(str(f.get("message") or ""), 2000),
            "path": path, "href": _link(path, page_folder),
        })
    faults = {str(k): int(v) for k, v in (summary.get("faults") or {}).items()}
    return {
        "kind": "campaign",
        "title": str(summary.get("title") or "campaign"),
        "seconds": seconds or (samples[-1]["t"] if samples else 0.0),
        "schedules": int(summary["schedules"]),
        "unknown": int(summary.get("unknown") or 0),
        "samples": samples, "rates": rates, "failures": failures,
        "faults": dict(sorted(faults.items(), key=lambda kv: -kv[1])),
        "availability": _availability(summary.get("availability")),
        "search": _clean_search(summary.get("search")),
    }


def _number(value: Any) -> float | None:
    """A finite number, or ``None`` (a page draws only numbers it was given as numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        return None
    return float(value)


def _availability(data: Any) -> dict[str, Any] | None:
    """The parts of ``Availability.to_json()`` the page draws, every number checked (``None`` without)."""
    if not isinstance(data, dict):
        return None
    states = []
    for name, st in (data.get("states") or {}).items():
        if not isinstance(st, dict):
            continue
        counts = {k: int(_number(st.get(k)) or 0) for k in ("ok", "fail", "info")}
        total = sum(counts.values())
        if not total:
            continue
        lat: dict[str, Any] = st["latency"] if isinstance(st.get("latency"), dict) else {}
        states.append({"state": clip(str(name), 80), "ops": total, **counts,
                       **{k: _number(lat.get(k)) for k in ("median", "p95", "max", "mean")}})
    series: dict[str, Any] = data["series"] if isinstance(data.get("series"), dict) else {}
    bins = []
    for b in series.get("bins") or []:
        if isinstance(b, dict) and _number(b.get("t0")) is not None and _number(b.get("t1")) is not None:
            bins.append({k: _number(b.get(k)) for k in (
                "t0", "t1", "ops", "ok", "fail", "info", "availability", "latency", "partition", "crash", "histories",
            )})
    if not states and not bins:
        return None
    unit = data.get("unit")
    return {"histories": int(_number(data.get("histories")) or 0), "states": states, "bins": bins,
            "unit": clip(str(unit), 20) if unit else "tick"}


def _link(path: str, page_folder: str | os.PathLike[str] | None) -> str | None:
    """The URL of a failure's report (or, without one, its record) as seen from the campaign page.

    The campaign page lives in the store (``<store>/campaign-....html``) and the failures under
    ``<store>/failures/``; a path as the campaign printed it (relative to the working directory) would
    resolve against the page's folder and miss, so the link is made relative to that folder instead.
    Only a file that exists is linked."""
    if not path:
        return None
    try:
        target = next((p for p in (report_path_for(path), Path(path)) if p.is_file()), None)
    except (OSError, ValueError):  # not a usable file name ("." has no suffix to change; too long)
        return None
    if target is None:
        return None
    if page_folder is None:
        return target.resolve().as_uri()
    try:
        relative = os.path.relpath(target.resolve(), Path(page_folder).resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return target.resolve().as_uri()
    # quote() leaves "/" alone and escapes what a URL would read otherwise ("#", "?", "%", ":")
    return quote(Path(relative).as_posix())


def _clock_time(found_at: Any) -> str | None:
    """An ISO timestamp as ``2025-05-01 12:03:04 UTC`` (as given if it cannot be read)."""
    if found_at is None:
        return None
    try:
        when = datetime.fromisoformat(str(found_at))
    except ValueError:
        return clip(str(found_at), 60)
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    report: Any, *, samples: Sequence[dict[str, Any]] | None = None, faults: dict[str, int] | None = None,
    started_at: datetime | None = None,
) -> dict[str, Any]:
    """A summary dict from a ``fuzz.campaign.CampaignReport``.

    A failure's time is read from its saved record (``found_at``: when its shrunk trace was saved) and
    placed relative to ``started_at``, the campaign's wall-clock start. Without ``started_at`` the start
    is taken as ``report.seconds`` before now, which is right when the summary is made as the campaign
    ends (later by however long writing its failure reports took)."""
    spec = report.spec
    start = started_at if started_at is not None else datetime.now(UTC) - timedelta(seconds=report.seconds)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    failures = []
    for f in report.failures:
        found = _found_at(f.path)
        # whole seconds: found_at is written to the second, so a fraction would be false precision
        t = None if found is None else float(min(max(round((found - start).total_seconds()), 0), report.seconds))
        failures.append({"t": t, "found_at": None if found is None else found.isoformat(),
                         "signature": f.signature, "message": f.message, "path": f.path})
    stats = getattr(report, "stats", None)
    measured = getattr(stats, "availability", None)
    search = _search(stats)
    return {
        "title": _title(spec),
        "seconds": report.seconds,
        "schedules": report.schedules,
        "unknown": report.unknown,
        "samples": list(samples or []),
        "failures": failures,
        "faults": dict(faults or {}),
        **({"availability": measured.to_json()} if measured is not None and measured.operations else {}),
        **({"search": search} if search else {}),
    }


def _search(stats: Any) -> dict[str, Any] | None:
    """What the campaign's search reached: distinct abstract states, their growth with the schedules run,
    the portfolio's arms, and the ``sometimes`` properties (from ``fuzz.stats.CampaignStats``)."""
    to_json = getattr(stats, "to_json", None)
    if not callable(to_json):
        return None
    data = to_json()
    return {key: data[key] for key in ("strategy", "distinct_states", "coverage", "arms", "sometimes", "vacuous")
            if key in data}


def _clean_search(data: Any) -> dict[str, Any] | None:
    """The ``search`` part of a summary with its numbers made numbers (it is rendered as text)."""
    if not isinstance(data, dict):
        return None
    coverage = [{"schedules": int(c["schedules"]), "states": int(c["states"])}
                for c in data.get("coverage") or [] if isinstance(c, dict)]
    arms = {str(k): {"schedules": int(v.get("schedules", 0)), "new_states": int(v.get("new_states", 0))}
            for k, v in (data.get("arms") or {}).items() if isinstance(v, dict)}
    sometimes = {str(k): int(v) for k, v in (data.get("sometimes") or {}).items()}
    return {"strategy": str(data.get("strategy") or ""), "distinct_states": int(data.get("distinct_states") or 0),
            "coverage": coverage, "arms": arms, "sometimes": sometimes,
            "vacuous": [str(v) for v in data.get("vacuous") or []]}


def _title(spec: Any) -> str:
    """``workload/variant``; a workload given as an object (built with settings) by its name and settings."""
    if isinstance(spec.workload, str):
        return f"{spec.workload}/{spec.variant}"
    settings = " ".join(f"{k}={v!r}" for k, v in (getattr(spec.workload, "overrides", None) or {}).items())
    return f"{spec.label} ({settings})" if settings else str(spec.label)


def _found_at(path: str) -> datetime | None:
    """When a saved failure record says it was saved (``found_at``), or ``None`` when it cannot say."""
    if not path:
        return None
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        when = datetime.fromisoformat(record["found_at"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
