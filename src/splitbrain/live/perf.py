"""Latency and throughput over time, with the fault periods shaded: ``perf.svg`` in every run directory.

Jepsen's perf checker draws the same two plots for every test, because a verdict alone hides what the
faults did: a partition that stalled every client for its whole length looks like a pass. Here, from the
history alone:

* **latency** — every completed operation as a dot at its invocation time, height its latency (log
  scale), coloured by outcome (ok, fail, info — an info op has no completion, so it sits at the top);
* **throughput** — completed operations per second, ok and failed, in one-second buckets;
* fault periods (from the ``nemesis`` events) shaded behind both, one colour per kind.

A self-contained SVG (no script, no fetch), written atomically.
"""

from __future__ import annotations

import math
from collections import Counter
from html import escape
from pathlib import Path

from splitbrain.files import atomic_write
from splitbrain.histories.history import History

__all__ = ["fault_periods", "write_perf_svg"]

WIDTH, PANEL, MARGIN = 900, 220, 60
COLOURS = {"ok": "#2b8a3e", "fail": "#c92a2a", "info": "#e67700"}
FAULTS = {"pause": "#ffd8a8", "kill": "#ffc9c9", "partition": "#d0bfff", "latency": "#a5d8ff",
          "drop": "#c3fae8", "clock": "#fff3bf"}


def fault_periods(history: History, start: int, end: int) -> list[tuple[int, int, str, str]]:
    """(start ns, stop ns, kind, value) of every fault in ``history`` (still open at the end: ``end``)."""
    open_: dict[tuple[str, str], int] = {}
    periods = []
    for op in history.faults:
        kind = op.f.partition("-")[2]
        if op.f.startswith("start-") and op.time is not None:
            open_[(kind, str(op.value))] = op.time
        elif op.f.startswith("stop-") and op.time is not None and (kind, str(op.value)) in open_:
            periods.append((open_.pop((kind, str(op.value))), op.time, kind, str(op.value)))
    periods += [(t, end, kind, value) for (kind, value), t in open_.items()]
    return [(max(a, start), b, k, v) for a, b, k, v in periods]


def write_perf_svg(history: History, path: Path, *, start: int | None = None, title: str = "") -> Path:
    """Draw ``history``'s latency and throughput (times from ``start`` ns) to ``path``."""
    times = [op.time for op in history.ops if op.time is not None]
    if not times:
        atomic_write(path, b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
        return path
    t0 = start if start is not None else min(times)
    t1 = max(max(times), t0 + 1)
    span = (t1 - t0) / 1e9

    def x(ns: int) -> float:
        return MARGIN + (WIDTH - 2 * MARGIN) * min(1.0, max(0.0, (ns - t0) / (t1 - t0)))

    latencies = [op.completion.time - op.invoke.time for op in history.operations
                 if op.completion is not None and op.completion.time is not None and op.invoke.time is not None]
    top = max([*latencies, 1_000_000])
    low = 10_000  # 10 µs
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{2 * PANEL + 3 * MARGIN}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="{MARGIN}" y="20" font-size="14">{escape(title)}</text>']
    for panel in (0, 1):
        y0 = MARGIN + panel * (PANEL + MARGIN)
        for a, b, kind, value in fault_periods(history, t0, t1):
            parts.append(f'<rect x="{x(a):.1f}" y="{y0}" width="{max(1.0, x(b) - x(a)):.1f}" height="{PANEL}" '
                         f'fill="{FAULTS.get(kind, "#e9ecef")}" opacity="0.6"><title>{escape(kind)} '
                         f'{escape(value)}</title></rect>')
        parts.append(f'<rect x="{MARGIN}" y="{y0}" width="{WIDTH - 2 * MARGIN}" height="{PANEL}" fill="none" '
                     'stroke="#868e96"/>')
        for second in range(int(span) + 1):
            if span > 30 and second % 10:
                continue
            gx = x(t0 + second * 1_000_000_000)
            parts.append(f'<text x="{gx:.1f}" y="{y0 + PANEL + 14}" text-anchor="middle">{second}s</text>')

    def ly(ns: float) -> float:
        share = (math.log10(max(ns, low)) - math.log10(low)) / (math.log10(top) - math.log10(low) or 1)
        return MARGIN + PANEL - PANEL * min(1.0, share)

    parts.append(f'<text x="{MARGIN}" y="{MARGIN - 6}">latency (log scale, up to {top / 1e6:.0f} ms)</text>')
    for op in history.operations[:20000]:  # enough dots to see the shape; the SVG stays small
        if op.invoke.time is None:
            continue
        if op.completion is None or op.completion.time is None:
            cy, colour = MARGIN + 2.0, COLOURS["info"]
        else:
            cy, colour = ly(op.completion.time - op.invoke.time), COLOURS.get(op.status, "#495057")
        parts.append(f'<circle cx="{x(op.invoke.time):.1f}" cy="{cy:.1f}" r="1.5" fill="{colour}"/>')
    buckets: dict[str, Counter[int]] = {"ok": Counter(), "fail": Counter()}
    for op in history.operations:
        if op.completion is not None and op.completion.time is not None and op.status in buckets:
            buckets[op.status][(op.completion.time - t0) // 1_000_000_000] += 1
    peak = max([1, *buckets["ok"].values(), *buckets["fail"].values()])
    y0 = 2 * MARGIN + PANEL
    parts.append(f'<text x="{MARGIN}" y="{y0 - 6}">throughput (operations per second, up to {peak})</text>')
    for status, counts in buckets.items():
        points = " ".join(
            f"{x(t0 + s * 1_000_000_000 + 500_000_000):.1f},{y0 + PANEL - PANEL * counts.get(s, 0) / peak:.1f}"
            for s in range(int(span) + 1)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[status]}" stroke-width="1.5"/>')
    legend = [*(f'<tspan fill="{c}">● {k}</tspan>' for k, c in COLOURS.items()),
              *(f'<tspan fill="{c}" stroke="#868e96" stroke-width="0.3">■ {k}</tspan>' for k, c in FAULTS.items())]
    parts.append(f'<text x="{MARGIN}" y="{2 * PANEL + 3 * MARGIN - 10}">{" ".join(legend)}</text>')
    parts.append("</svg>")
    atomic_write(path, "\n".join(parts).encode())
    return path
