"""The HTML reports in a real browser: Playwright driving Debian's ``chromium`` (never a downloaded one).

Every page is opened from ``file://`` with every other request blocked, which proves it is
self-contained. Each view must load without a JavaScript error, draw something (a screenshot with many
distinct colours), and answer clicks. Skips only when chromium or the playwright package is absent;
``scripts/test.sh`` installs both.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import splitbrain
from samples import failure_record, register_history
from splitbrain.checker.result import CheckResult
from splitbrain.histories import History, Op
from splitbrain.report import write_campaign_report, write_graph_report, write_history_report, write_trace_report

CHROMIUM = os.environ.get("SPLITBRAIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: a 10,000-operation history must be loaded and drawn within this many seconds (benchmarks/report_render.py
#: records the actual figure; this bound only catches a regression by an order of magnitude)
LARGE_RENDER_SECONDS = 10.0

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (bash scripts/test.sh installs it)"
)
if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
    pytest.skip(f"chromium not found at {CHROMIUM} (Debian package `chromium`; scripts/system-deps.sh installs it)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A page opened from a file, with the JavaScript errors and the blocked requests seen."""

    def __init__(self, browser: Any, path: Path, width: int = 1400, height: int = 820) -> None:
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready]", timeout=20_000)

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.blocked == [], f"the page tried to fetch {self.blocked}"

    def distinct_colours(self, selector: str) -> int:
        box = self.page.locator(selector).first.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 50
        clip = {"x": box["x"], "y": box["y"], "width": min(box["width"], 700), "height": min(box["height"], 400)}
        return len(set(png_pixels(self.page.screenshot(clip=clip))))

    def close(self) -> None:
        self.page.close()


def png_pixels(data: bytes) -> list[bytes]:
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) into pixels, without an imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    channels = 3
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    prev, pixels = bytearray(stride), []
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        ftype, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            a = cur[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if ftype == 1:
                cur[i] = (cur[i] + a) & 255
            elif ftype == 2:
                cur[i] = (cur[i] + b) & 255
            elif ftype == 3:
                cur[i] = (cur[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels += [bytes(cur[i:i + channels]) for i in range(0, stride, channels)]
        prev = cur
    return pixels


def stale_read() -> History:
    return History.from_ops([
        Op(process=0, type="invoke", f="write", value=1),
        Op(process=2, type="invoke", f="write", value=2),
        Op(process=0, type="ok", f="write", value=1),
        Op(process="nemesis", type="info", f="partition", value=[["n1"], ["n2", "n3"]]),
        Op(process=1, type="invoke", f="read", value=None),
        Op(process=2, type="fail", f="write", value=2),
        Op(process=1, type="ok", f="read", value=None),
        Op(process="nemesis", type="info", f="heal", value=None),
        Op(process=0, type="invoke", f="write", value="</script><b>"),
        Op(process=0, type="info", f="write", value="</script><b>"),
    ])


def test_timeline_of_an_invalid_history(browser: Any, tmp_path: Path) -> None:
    history = stale_read()
    result = splitbrain.check(history, "register")
    page = Opened(browser, write_history_report(history, result, tmp_path / "invalid.html"))
    try:
        page.check_clean()
        p = page.page
        assert p.locator("#verdict").inner_text() == "not linearizable"
        blocked = p.locator('rect.op[data-i="2"]')  # the read of nil after the write of 1 completed
        assert "blocked" in (blocked.get_attribute("class") or "")
        assert p.locator("rect.op.blocked").count() == 1
        assert "cannot be placed" in p.locator("#panel").inner_text()  # selected at load
        assert p.locator("rect.fault").count() == 1
        p.locator('rect.op[data-i="0"]').click()
        panel = p.locator("#panel")
        assert "p0 write 1 -> 1" in panel.inner_text()
        assert panel.locator(".state.before").inner_text() == "nil"
        assert panel.locator(".state.after").inner_text() == "1"
        assert "sel" in (p.locator('rect.op[data-i="0"]').get_attribute("class") or "")
        p.locator('rect.op[data-i="3"]').hover()  # the value "</script><b>" is shown as text
        assert "</script><b>" in p.locator("#tip").inner_text()
        assert page.distinct_colours("#tl") > 12
        page.check_clean()
    finally:
        page.close()


def test_timeline_of_a_valid_history_shows_the_witness(browser: Any, tmp_path: Path) -> None:
    history = register_history(60, seed=2)
    result = splitbrain.check(history, "register")
    assert result.valid is True
    page = Opened(browser, write_history_report(history, result, tmp_path / "valid.html"))
    try:
        p = page.page
        assert p.locator("#verdict").inner_text() == "linearizable"
        assert p.locator("rect.op.inpfx").count() == sum(len(part) for part in result.witness or [])
        assert p.locator("#lp circle").count() > 0
        first = (result.witness or [[]])[0][0]
        p.locator(f'rect.op[data-i="{first.id}"]').click()
        text = p.locator("#panel").inner_text()
        assert "step 1 of" in text and "state before" in text and "state after" in text
        p.locator("#zoom-in").click()
        p.locator("#zoom-fit").click()
        assert page.distinct_colours("#tl") > 12
        page.check_clean()
    finally:
        page.close()


def test_trace_view_of_a_simulated_failure(browser: Any, tmp_path: Path) -> None:
    record = failure_record()
    page = Opened(browser, write_trace_report(record, tmp_path / "trace.html"))
    try:
        p = page.page
        steps = record["trace"]["steps"]
        assert p.locator("rect.row").count() == len(steps)
        assert p.locator("path.msg").count() >= sum(1 for s in steps if s["kind"] == "deliver")
        assert p.locator("path.msg.lost").count() > 0 and p.locator("rect.band").count() > 0
        assert p.locator("#head text.colhead").all_text_contents()[:6] == ["c0", "c1", "c2", "n1", "n2", "n3"]
        p.locator('rect.row[data-r="0"]').click(position={"x": 20, "y": 5})
        assert "State that changed" in p.locator("#panel").inner_text()
        assert p.locator("#panel dl.changes dt").count() > 3
        p.locator("path.hit").first.click()
        assert "Message" in p.locator("#panel").inner_text()
        assert page.distinct_colours("#seq") > 12
        page.check_clean()
    finally:
        page.close()


def test_graph_view_of_a_dependency_cycle(browser: Any, tmp_path: Path) -> None:
    graph = {
        "title": "G-single: read skew", "description": "T1 reads x before T2's write, T2 wrote y T1 read",
        "nodes": [{"id": "T1", "label": "T1", "detail": "r x 1, r y 2"}, {"id": "T2", "label": "T2"}, "T3"],
        "edges": [{"from": "T1", "to": "T2", "label": "rw x"}, {"from": "T2", "to": "T3", "label": "wr y"},
                  {"from": "T3", "to": "T1", "label": "ww z"}, {"from": "T2", "to": "T1", "label": "wr y"}],
    }
    page = Opened(browser, write_graph_report(graph, tmp_path / "graph.html"))
    try:
        p = page.page
        assert p.locator(".edge text").all_text_contents() == ["rw x", "wr y", "ww z", "wr y"]
        assert p.locator(".node").count() == 3
        p.locator('.node[data-n="0"] rect').click()
        assert "r x 1, r y 2" in p.locator("#panel").inner_text()
        assert page.distinct_colours("#graph") > 8
        page.check_clean()
    finally:
        page.close()


def test_campaign_view(browser: Any, tmp_path: Path) -> None:
    summary = {
        "title": "primary-backup/early-ack", "seconds": 20, "schedules": 3000, "unknown": 1,
        "samples": [{"t": t, "schedules": 150 * t + (t * t) // 2} for t in range(21)],
        "failures": [{"t": 7.5, "signature": "checker:linearizability", "message": "a stale read", "path": "f.json"}],
        "faults": {"drop": 900, "partition": 310, "crash": 120, "skew": 40},
    }
    page = Opened(browser, write_campaign_report(summary, tmp_path / "campaign.html"))
    try:
        p = page.page
        assert p.locator("rect.rate").count() == 20 and p.locator("path.failmark").count() == 1
        assert p.locator("rect.fbar").count() == 4
        assert "3000" in p.locator("#cards").inner_text()
        assert page.distinct_colours("#runs") > 8
        page.check_clean()
    finally:
        page.close()


def witness_by_construction(history: History) -> CheckResult:
    """The sample history is linearizable with each operation at its completion: a witness for free."""
    done = [o for o in history.operations if o.status != "fail" and o.completion is not None]
    done.sort(key=lambda o: o.completion.index if o.completion else 0)
    return CheckResult(valid=True, model="register", operations=len(done), witness=[done])


def test_ten_thousand_operations_render_quickly(browser: Any, tmp_path: Path) -> None:
    history = register_history(10_000, seed=1)
    path = write_history_report(history, witness_by_construction(history), tmp_path / "big.html")
    started = time.perf_counter()
    page = Opened(browser, path)
    seconds = time.perf_counter() - started
    try:
        assert page.page.locator("rect.op").count() == 10_000
        assert seconds < LARGE_RENDER_SECONDS, f"10,000 operations took {seconds:.1f} s to open and draw"
        page.page.locator('rect.op[data-i="5000"]').click()
        assert "state after" in page.page.locator("#panel").inner_text()
        page.check_clean()
    finally:
        page.close()
