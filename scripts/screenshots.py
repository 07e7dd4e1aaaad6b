"""Write the README's screenshots of every report view to docs/img/ (PNG), from real data.

Usage: .venv/bin/python scripts/screenshots.py [--out docs/img]

* timeline-invalid.png — Jepsen's etcd_000 history (from $SPLITBRAIN_DATA, else a sample history with an
  impossible read), checked against cas-register: the longest linearizable prefix and the operation
  that cannot be placed;
* timeline-valid.png — a sample register history with its witness, one operation clicked;
* trace.png — primary-backup's early-ack bug, found by a seeded schedule and shrunk;
* trace-settle.png — crdt-counter's sum-merge bug: an eventual-consistency trace, its settle phase folded;
* graph.png — a hand-built G-single dependency cycle (the transaction checker's output shape);
* campaign.png — a short real run of primary-backup/early-ack schedules: rate, failures, faults.

The pages are opened from file:// in Debian's chromium through Playwright, as in the browser tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import splitbrain
from splitbrain.histories import read_history
from splitbrain.report import (
    fault_counts,
    write_campaign_report,
    write_graph_report,
    write_history_report,
    write_trace_report,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from samples import eventual_failure_record, failure_record, register_history

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPLITBRAIN_DATA", ROOT.parent / "shared" / "data"))

G_SINGLE = {
    "title": "G-single (read skew): a dependency cycle with one anti-dependency",
    "description": "T2 read x before T1 wrote it (rw), yet T2 read the y that T1 wrote (wr): no serial order "
                   "puts T2 both before and after T1.",
    "nodes": [{"id": "T1", "label": "T1: w x 2, w y 2", "detail": "process 0, ok"},
              {"id": "T2", "label": "T2: r x 1, r y 2", "detail": "process 1, ok"},
              {"id": "T0", "label": "T0: w x 1, w y 1", "detail": "process 2, ok"}],
    "edges": [{"from": "T0", "to": "T1", "label": "ww x"}, {"from": "T0", "to": "T2", "label": "wr x"},
              {"from": "T2", "to": "T1", "label": "rw x"}, {"from": "T1", "to": "T2", "label": "wr y"}],
}


def campaign_summary(schedules: int = 400) -> dict[str, Any]:
    """Run ``schedules`` seeded schedules of primary-backup/early-ack, sampling progress as a campaign."""
    from splitbrain import load_workload
    from splitbrain.fuzz.schedule import run_schedule
    from splitbrain.sim.scheduler import RandomSource

    workload = load_workload("primary-backup")
    started = time.perf_counter()
    samples, failures, traces = [{"t": 0.0, "schedules": 0}], [], []
    last = 0.0
    for seed in range(schedules):
        result = run_schedule(workload, "early-ack", RandomSource(1000 + seed))
        traces.append(result.trace)
        now = time.perf_counter() - started
        if result.verdict.failed:
            failures.append({"t": now, "signature": result.verdict.signature,
                             "message": result.verdict.message, "path": f"seed-{1000 + seed}.json"})
        if now - last >= 0.25:
            samples.append({"t": now, "schedules": seed + 1})
            last = now
    samples.append({"t": time.perf_counter() - started, "schedules": schedules})
    return {"title": "primary-backup/early-ack: 400 schedules", "seconds": samples[-1]["t"],
            "schedules": schedules, "samples": samples, "failures": failures[:12],
            "faults": fault_counts(traces)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        etcd = DATA / "porcupine" / "test_data" / "jepsen" / "etcd_000.log"
        if etcd.exists():
            history, model = read_history(etcd), "cas-register"
        else:
            history, model = register_history(40, seed=0, bad_read_at=0.6), "register"
        pages: list[tuple[str, Path, str | None]] = [
            ("timeline-invalid", write_history_report(history, splitbrain.check(history, model), tmp / "a.html"),
             None),
        ]
        valid = register_history(50, seed=4)
        result = splitbrain.check(valid, "register")
        click = f'rect.op[data-i="{(result.witness or [[]])[0][12].id}"]'
        pages.append(("timeline-valid", write_history_report(valid, result, tmp / "b.html"), click))
        pages.append(("trace", write_trace_report(failure_record(5, shrink=True), tmp / "c.html"),
                      'rect.row[data-r="7"]'))
        pages.append(("trace-settle", write_trace_report(eventual_failure_record(), tmp / "f.html"), None))
        pages.append(("graph", write_graph_report(G_SINGLE, tmp / "d.html"), '.edge[data-e="2"] rect'))
        pages.append(("campaign", write_campaign_report(campaign_summary(), tmp / "e.html"), None))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for name, path, selector in pages:
                page = browser.new_page(viewport={"width": 1400, "height": 820})
                page.goto(path.as_uri())
                page.wait_for_selector("body[data-ready]")
                if selector is not None:
                    page.locator(selector).first.click(position={"x": 4, "y": 4} if "row" in selector else None)
                page.mouse.move(0, 0)
                page.screenshot(path=str(out / f"{name}.png"))
                page.close()
                print(out / f"{name}.png")
            browser.close()


if __name__ == "__main__":
    main()
