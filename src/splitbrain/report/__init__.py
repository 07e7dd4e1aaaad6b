"""Reports people would rather look at than read: self-contained HTML pages (data as embedded JSON, drawn
by inline JavaScript and SVG, nothing fetched), one per report.

* :func:`write_history_report` — a history timeline with the checker's witness or counterexample
  (inspired by Porcupine's visualizer and Jepsen's ``timeline.html``);
* :func:`write_trace_report` — a saved simulator failure as a sequence diagram;
* :func:`write_graph_report` — a labelled graph (a happens-before or dependency cycle);
* :func:`write_campaign_report` — a fuzz campaign's runs, rate, failures and faults.

Each writes atomically and returns the path written. Text output in the terminal stays first-class; these
pages are for looking at a failure, not a replacement for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splitbrain.checker.result import Result
from splitbrain.histories.history import History
from splitbrain.report.campaign_view import build_campaign, fault_counts, report_path_for, summary_from_report
from splitbrain.report.graphs import build_graph
from splitbrain.report.html import render, write_page
from splitbrain.report.timeline import build_timeline
from splitbrain.report.trace_view import build_trace_view

__all__ = [
    "build_campaign",
    "build_graph",
    "build_timeline",
    "build_trace_view",
    "fault_counts",
    "report_path_for",
    "summary_from_report",
    "write_campaign_report",
    "write_graph_report",
    "write_history_report",
    "write_trace_report",
]

PathLike = str | os.PathLike[str]


def write_history_report(
    history: History,
    result: Result | None,
    path: PathLike,
    *,
    model: Any = None,
    faults: Sequence[dict[str, Any]] | None = None,
    title: str | None = None,
    unit: str | None = None,
) -> Path:
    """Write the timeline of ``history`` with ``result``'s witness or counterexample to ``path`` (any
    checker's result: one that is not about linearizability adds its verdict and explanation).

    ``model`` (a name, class or instance; default ``result.model``) is replayed for the states shown per
    operation. ``faults`` overrides the fault periods read from the history's nemesis events: a list of
    ``{"kind", "s", "e", "label"}`` in the history's own units (event indices, or ``time`` when every
    event has one). ``unit`` (``"ns"`` or ``"tick"``) says what the times count when the guess from their
    size would be wrong (see :func:`splitbrain.report.timeline.time_unit`).
    """
    data = build_timeline(history, result, model=model, faults=faults, title=title, unit=unit)
    verdict = data["verdict"] + (f" · {data['model']}" if data["model"] else "")
    return write_page(path, render("timeline.html.j2", title=data["title"], data=data, subtitle=verdict))


def write_trace_report(record: dict[str, Any], path: PathLike, *, states: bool = True) -> Path:
    """Write a saved failure (the dict ``fuzz.campaign.failure_record`` makes) as a sequence diagram.

    With ``states`` (the default) the trace is replayed once to show the node state each step changed.
    """
    data = build_trace_view(record, states=states)
    return write_page(path, render("trace.html.j2", title=data["title"], data=data))


def write_graph_report(graph: dict[str, Any], path: PathLike) -> Path:
    """Write a labelled graph ``{"title", "description", "nodes", "edges": [{"from", "to", "label"}]}``."""
    data = build_graph(graph)
    return write_page(path, render("graph.html.j2", title=data["title"], data=data))


def write_campaign_report(summary: dict[str, Any], path: PathLike) -> Path:
    """Write a campaign summary (see :mod:`splitbrain.report.campaign_view` for the dict's keys).

    Each failure links to its report (``report_path_for``), relative to the folder of ``path``, so the
    links work wherever the store is opened from."""
    data = build_campaign(summary, page_folder=Path(path).parent)
    return write_page(path, render("campaign.html.j2", title=data["title"], data=data))
