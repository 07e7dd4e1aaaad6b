"""How long a 10,000-operation history timeline takes to build, write, open and draw in Chromium.

Usage: python benchmarks/report_render.py [--operations N] [--repeat K] [--check] [--value-mb M]

The history is the sample register history (8 processes, a partition and a crash, some failed and
unknown-outcome operations). Without ``--check`` the witness is the one the history was built with (each
operation at its completion), so the figure is the report's own cost; ``--check`` runs the real
linearizability checker first and reports its time separately, once for the valid history and once for
a copy with one impossible read (which exercises the counterexample path and the prefix replay).

Opening is timed from ``page.goto`` on the ``file://`` URL to the page's ready mark (the SVG drawn);
Chromium is Debian's ``/usr/bin/chromium``, driven by Playwright.

A last line measures a report of two operations holding an ``M`` MB string (20 by default; a write and a
read that returns it with one more character, so it is not linearizable): the page embeds each value
once and cut to a few kilobytes, so its size and time do not grow with the value.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import splitbrain
from splitbrain.checker.result import CheckResult
from splitbrain.histories import History, Op
from splitbrain.report import build_timeline, write_history_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from samples import register_history

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def constructed_witness(history: History) -> CheckResult:
    done = [o for o in history.operations if o.status != "fail" and o.completion is not None]
    done.sort(key=lambda o: o.completion.index if o.completion else 0)
    return CheckResult(valid=True, model="register", operations=len(done), witness=[done])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="browser loads to time (median shown)")
    parser.add_argument("--check", action="store_true", help="run the real checker (slower) instead")
    parser.add_argument("--value-mb", type=float, default=20.0, help="size of the huge value (MB)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    cases: list[tuple[str, History, CheckResult]] = []
    valid = register_history(args.operations, seed=1)
    if args.check:
        for name, history in (("valid", valid), ("invalid", register_history(args.operations, seed=1,
                                                                             bad_read_at=0.9))):
            started = time.perf_counter()
            result = splitbrain.check(history, "register")
            print(f"check {name}: {time.perf_counter() - started:.2f} s ({result.verdict})")
            cases.append((name, history, result))
    else:
        cases.append(("valid", valid, constructed_witness(valid)))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for name, history, result in cases:
            started = time.perf_counter()
            build_timeline(history, result)
            built = time.perf_counter() - started
            started = time.perf_counter()
            path = write_history_report(history, result, Path(tmp) / f"{name}.html")
            written = time.perf_counter() - started
            loads = []
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1400, "height": 820})
                started = time.perf_counter()
                page.goto(path.as_uri())
                page.wait_for_selector("body[data-ready]")
                loads.append(time.perf_counter() - started)
                assert page.locator("rect.op").count() == len(history.operations)
                page.close()
            size = path.stat().st_size / 1e6
            print(f"{name}: {len(history.operations)} operations, build {built:.2f} s, build+render+write "
                  f"{written:.2f} s ({size:.1f} MB), open and draw in Chromium median {statistics.median(loads):.2f} s "
                  f"(min {min(loads):.2f}, max {max(loads):.2f})")
        huge(browser, Path(tmp) / "huge.html", int(args.value_mb * 1_000_000))
        browser.close()


def huge(browser: Any, path: Path, size: int) -> None:
    """Write and open the report of a two-operation history holding a ``size``-character string."""
    big = "x" * size
    history = History.from_ops([
        Op(process=0, type="invoke", f="write", value=big), Op(process=0, type="ok", f="write", value=big),
        Op(process=1, type="invoke", f="read"), Op(process=1, type="ok", f="read", value=big + "y"),
    ])
    result = splitbrain.check(history, "register")
    started = time.perf_counter()
    write_history_report(history, result, path)
    written = time.perf_counter() - started
    page = browser.new_page(viewport={"width": 1400, "height": 820})
    started = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready]")
    opened = time.perf_counter() - started
    page.close()
    print(f"huge value: 2 operations holding a {size / 1e6:g} MB string ({result.verdict}), build+render+write "
          f"{written:.2f} s ({path.stat().st_size / 1e3:.0f} KB), open and draw in Chromium {opened:.2f} s")


if __name__ == "__main__":
    main()
