"""The HTML reports in a real browser: Playwright driving Debian's ``chromium`` (never a downloaded one).

Every page is opened from ``file://`` with every other request blocked, which proves it is
self-contained. Each view must load without a JavaScript error, draw something (a screenshot with many
distinct colours), and answer clicks. Skips only when chromium or the playwright package is absent;
``scripts/test.sh`` installs both.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

import splitbrain
from samples import eventual_failure_record, failure_record, register_history
from splitbrain.checker.result import CheckResult
from splitbrain.histories import History, Op
from splitbrain.report import (
    report_path_for,
    write_campaign_report,
    write_graph_report,
    write_history_report,
    write_trace_report,
)

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
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready]", timeout=20_000)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

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


def test_timeline_of_a_history_refuted_before_the_search(browser: Any, tmp_path: Path) -> None:
    """A read of a value nothing wrote is refuted with no search, so there is no prefix to draw: the page
    still rings the read, says why, and draws without errors."""
    history = History.from_ops([
        Op(process=0, type="invoke", f="write", value=1), Op(process=0, type="ok", f="write", value=1),
        Op(process=1, type="invoke", f="read", value=None), Op(process=1, type="ok", f="read", value=9),
    ])
    result = splitbrain.check(history, "register")
    assert result.valid is False and result.counterexample.reason is not None  # type: ignore[attr-defined]
    page = Opened(browser, write_history_report(history, result, tmp_path / "garbage.html"))
    try:
        page.check_clean()
        p = page.page
        assert p.locator("#verdict").inner_text() == "not linearizable"
        assert "blocked" in (p.locator('rect.op[data-i="1"]').get_attribute("class") or "")
        assert "none allows it" in p.locator("#panel").inner_text()  # the read, selected at load
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


def test_campaign_view_shows_the_search(browser: Any, tmp_path: Path) -> None:
    summary = {
        "title": "raft-kv/correct", "seconds": 5, "schedules": 266, "samples": [],
        "search": {"strategy": "portfolio", "distinct_states": 3856,
                   "coverage": [{"schedules": 1, "states": 42}, {"schedules": 266, "states": 3856}],
                   "arms": {"swarm": {"schedules": 38, "new_states": 726}},
                   "sometimes": {"leader-crashed": 0}, "vacuous": ["leader-crashed"]},
    }
    page = Opened(browser, write_campaign_report(summary, tmp_path / "campaign.html"))
    try:
        text = page.page.locator("#search").inner_text()
        assert "portfolio: 3,856 distinct abstract states" in text or "portfolio: 3856 distinct" in text, text
        assert "42 after 1" in text and "swarm" in text and "726 new states" in text
        assert "NEVER REACHED" in text
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


# Values a hostile history could hold: each would run script if it ever became markup (closing the data
# block, an element with an event handler, an attribute breakout, a forged reference to the value table).
HOSTILE = [
    "</script><script>window.PWNED=1</script>",
    "<img src=x onerror=\"window.PWNED=2\">",
    "\"--><svg onload=\"window.PWNED=3\">",
    "'><iframe srcdoc=\"<script>parent.PWNED=4</script>\"></iframe>",
    "\ue0000",
]
#: the script any element may legitimately hold: the data block and the drawing code
SCRIPTS = 2


def assert_inert(page: Opened) -> None:
    """No hostile value ran or became an element: no script beyond the page's own, no event handler
    attribute, no img/iframe, no dialog, nothing set on window."""
    p = page.page
    assert p.evaluate("window.PWNED === undefined")
    assert page.dialogs == []
    assert p.locator("script").count() == SCRIPTS
    assert p.locator("img, iframe, object, embed").count() == 0
    handlers = p.evaluate("""Array.from(document.querySelectorAll('*')).flatMap(e =>
        Array.from(e.attributes).filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))""")
    assert handlers == []
    page.check_clean()


def hostile_history() -> History:
    h0, h1, h2, h3, h4 = HOSTILE
    return History.from_ops([
        Op(process=h0, type="invoke", f="write", value=h1, node=h2),
        Op(process=h0, type="ok", f="write", value=h1, node=h2),
        Op(process="nemesis", type="info", f="partition", value=[[h3], [h2]]),
        Op(process=h3, type="invoke", f="read", value=None, node=h4),
        Op(process=h3, type="fail", f="read", value=None, error=h0),
        Op(process=h1, type="invoke", f="read", value=None),
        Op(process=h1, type="ok", f="read", value=h2 + h3 + h4),  # never written: cannot be placed
        Op(process="nemesis", type="info", f="heal", value=None),
    ])


def test_hostile_values_stay_text_in_the_timeline(browser: Any, tmp_path: Path) -> None:
    history = hostile_history()
    result = splitbrain.check(history, "register")
    assert result.valid is False
    page = Opened(browser, write_history_report(history, result, tmp_path / "h.html", title=HOSTILE[1]))
    try:
        p = page.page
        assert_inert(page)
        assert p.title().startswith(HOSTILE[1])
        lanes = p.locator("#lane-svg").text_content() or ""
        assert HOSTILE[0] in lanes and HOSTILE[3] in lanes and HOSTILE[1] in lanes
        panel = p.locator("#panel").inner_text()  # the blocked read, selected at load
        assert "cannot be placed" in panel and repr(HOSTILE[2] + HOSTILE[3] + HOSTILE[4]) in panel
        p.locator('rect.op[data-i="0"]').click()
        panel = p.locator("#panel").inner_text()
        assert repr(HOSTILE[1]) in panel and HOSTILE[2] in panel  # the value, and the node it ran on
        p.locator('rect.op[data-i="1"]').click()
        assert HOSTILE[0] in p.locator("#panel .err").inner_text()
        assert HOSTILE[4] in p.locator("#panel .node").inner_text()
        p.locator('rect.fault').first.hover()
        assert HOSTILE[3] in p.locator("#tip").inner_text()
        p.locator("details.explain summary").click()
        assert HOSTILE[1] in p.locator("#explain").inner_text()
        p.locator("#zoom-fit").click()
        assert_inert(page)
    finally:
        page.close()
    unchecked = History.from_ops([Op(process=0, type="invoke", f=HOSTILE[0], value=HOSTILE[2], key=HOSTILE[1]),
                                  Op(process=0, type="ok", f=HOSTILE[0], value=HOSTILE[2], key=HOSTILE[1])])
    page = Opened(browser, write_history_report(unchecked, None, tmp_path / "f.html"))
    try:
        page.page.locator('rect.op[data-i="0"]').click()
        call = page.page.locator("#panel .mono").first.inner_text()
        assert HOSTILE[0] in call and repr(HOSTILE[1])[:20] in call
        assert_inert(page)
    finally:
        page.close()


def test_hostile_values_stay_text_in_the_trace_graph_and_campaign_views(browser: Any, tmp_path: Path) -> None:
    h0, h1, h2, h3, h4 = HOSTILE
    record = {
        "workload": h0, "variant": h1, "signature": h2, "message": h3 + "\n" + h0, "seed": h4,
        "steps": {"found": h1},
        "trace": {"nodes": [h1, "n2"], "steps": [
            {"step": 0, "t": 0, "kind": "start"},
            {"step": 1, "t": 1, "kind": "invoke", "client": 0, "process": 0, "node": h1, "f": h0, "value": h2,
             "sent": [f"c0>{h1}#1"]},
            {"step": 2, "t": 2, "kind": "deliver", "msg": f"c0>{h1}#1", "src": "c0", "dst": h1, "value": h3},
            {"step": 3, "t": 3, "kind": "partition", "groups": [[h1], [h4]]},
            {"step": h2, "t": h3, "kind": h0, "node": h1},
        ]},
    }
    trace = Opened(browser, write_trace_report(record, tmp_path / "t.html"))  # replaying fails: a note says why
    try:
        p = trace.page
        assert_inert(trace)
        assert h1 in (p.locator("#head").text_content() or "") and h0 in p.locator("#explain").inner_text()
        assert h2 in (p.locator("#seq").text_content() or "")  # a step number that is not a number
        p.locator('rect.row[data-r="1"]').click(position={"x": 20, "y": 5})
        assert h2 in p.locator("#panel").inner_text()
        assert_inert(trace)
    finally:
        trace.close()
    graph = {"title": h0, "description": h1, "nodes": [{"id": h2, "label": h3, "detail": h4}, "__proto__", h0],
             "edges": [{"from": h2, "to": "__proto__", "label": h1}, {"from": "__proto__", "to": h0, "label": h0},
                       {"from": h0, "to": h2, "label": h2}]}
    page = Opened(browser, write_graph_report(graph, tmp_path / "g.html"))
    try:
        p = page.page
        assert_inert(page)
        assert p.locator(".edge text").all_text_contents() == [h1, h0, h2]
        assert p.locator("#desc").inner_text() == h1
        p.locator('.node[data-n="0"] rect').click()
        assert h4 in p.locator("#panel").inner_text()
        assert_inert(page)
    finally:
        page.close()
    summary = {"title": h0, "schedules": 5, "seconds": 2,
               "failures": [{"t": 1.0, "signature": h1, "message": h2, "path": "javascript:alert(1)//" + h3}],
               "faults": {h4: 3, h0: 1}}
    page = Opened(browser, write_campaign_report(summary, tmp_path / "c.html"))
    try:
        p = page.page
        assert_inert(page)
        table = p.locator("#failures").inner_text()
        assert h1 in table and h2 in table and "javascript:" in table
        assert p.locator("#failures a").count() == 0  # no such file: shown, not linked
        assert h0 in (p.locator("#faults").text_content() or "")
        p.locator("path.failmark").hover()
        assert h1 in p.locator("#tip").inner_text()
        assert_inert(page)
    finally:
        page.close()


def test_a_real_clock_axis_reads_in_distinct_relative_units(browser: Any, tmp_path: Path) -> None:
    # a server's time.monotonic_ns(), two hours after boot: the axis used to read "7351839M" twice
    history = register_history(300, seed=0, clock_origin=7_351_839_123_456, clock_step=1_234_567)
    page = Opened(browser, write_history_report(history, witness_by_construction(history), tmp_path / "ns.html"))
    try:
        p = page.page
        p.locator("#zoom-fit").click()
        labels = p.locator("#tl .axis text").all_text_contents()
        assert labels[0] == "0 s" and len(labels) >= 4
        assert len(set(labels)) == len(labels), labels
        assert all(re.fullmatch(r"\d+(\.\d+)? (s|ms)", label) for label in labels), labels
        values = [float(label.split()[0]) * (1 if label.endswith(" s") else 1e-3) for label in labels]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
        assert len(steps) == 1 and steps.pop() * 1e3 in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
        assert "time since the first event" in p.locator("#subtitle").inner_text()
        p.locator('rect.op[data-i="3"]').click()
        assert re.search(r"\+\d+(\.\d+)? m?s → \+\d+(\.\d+)? m?s, took", p.locator("#panel").inner_text())
        for _ in range(4):  # zoomed in: ticks 10 ms apart, still all distinct
            p.locator("#zoom-in").click()
        labels = p.locator("#tl .axis text").all_text_contents()
        assert len(set(labels)) == len(labels) and any(re.fullmatch(r"\d\.\d{2,3} s", label) for label in labels)
        page.check_clean()
    finally:
        page.close()
    ticks = register_history(40, seed=0)
    page = Opened(browser, write_history_report(ticks, witness_by_construction(ticks), tmp_path / "t.html"))
    try:
        labels = page.page.locator("#tl .axis text").all_text_contents()
        assert labels[0] == "0" and len(set(labels)) == len(labels) and all(x.isdigit() for x in labels)
        assert "ticks" in page.page.locator("#subtitle").inner_text()
    finally:
        page.close()


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("clock", ["ns", "events"])
def test_the_first_view_of_an_invalid_history_is_its_failure(browser: Any, tmp_path: Path, clock: str) -> None:
    options = {"clock_origin": 7_351_839_123_456, "clock_step": 1_234_567} if clock == "ns" else {}
    history = register_history(300, seed=0, bad_read_at=0.6, **options)
    if clock == "events":  # no times: the axis is the event index
        history = History.from_ops([msgspec.structs.replace(op, time=None) for op in history.ops])
    result = splitbrain.check(history, "register")
    assert result.valid is False and result.counterexample is not None
    cx = result.counterexample
    assert cx.blocked is not None
    page = Opened(browser, write_history_report(history, result, tmp_path / "x.html"))
    try:
        p = page.page
        view = p.locator("#scroll").bounding_box()
        assert view is not None
        blocked = p.locator(f'rect.op[data-i="{cx.blocked.id}"]').bounding_box()
        assert blocked is not None
        # inside the visible part of the chart, not squeezed against its left edge
        assert view["x"] + 0.15 * view["width"] < blocked["x"] < view["x"] + 0.85 * view["width"]
        assert blocked["width"] >= 20
        last = p.locator("#lp circle").nth(len(cx.prefix) - 1).bounding_box()
        assert last is not None and view["x"] <= last["x"] <= view["x"] + view["width"]
        mark = p.locator("text.xmark").bounding_box()
        assert mark is not None and view["x"] <= mark["x"] and mark["x"] + mark["width"] <= view["x"] + view["width"]
        boxes = """sel => Array.from(document.querySelectorAll(sel)).map(e => {
            const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; })"""
        others = p.evaluate(boxes, f'rect.op:not([data-i="{cx.blocked.id}"])')
        assert not any(boxes_overlap(mark, b) for b in others)
        faults = p.evaluate(boxes, "text.flbl")
        assert not any(boxes_overlap(a, b) for k, a in enumerate(faults) for b in faults[k + 1:])
        assert not any(boxes_overlap(mark, b) for b in faults)
        page.check_clean()
    finally:
        page.close()


def test_the_trace_view_folds_the_settle_phase(browser: Any, tmp_path: Path) -> None:
    record = eventual_failure_record()
    steps = record["trace"]["steps"]
    page = Opened(browser, write_trace_report(record, tmp_path / "ec.html"))
    try:
        p = page.page
        fold = p.locator("#foldrow")
        assert fold.count() == 1
        folded = p.locator("rect.row").count()
        assert folded < len(steps) - 90  # about a hundred steps in one row
        text = p.locator("#seq text.foldtxt").text_content() or ""
        assert re.search(r"\d+ settle steps folded \(t=\d+-\d+: \d+ timers \(anti-entropy\)", text)
        assert "unfold" in p.locator("#fold-toggle").inner_text()
        fold.click()
        assert p.locator("rect.row").count() == len(steps) and p.locator("#foldrow").count() == 0
        p.locator(f'rect.row[data-r="{len(steps) - 1}"]').click(position={"x": 20, "y": 5})
        assert "State that changed" in p.locator("#panel").inner_text()
        p.locator("#fold-toggle").click()
        assert p.locator("rect.row").count() == folded
        page.check_clean()
    finally:
        page.close()


def test_the_campaign_page_links_to_each_failure_report(browser: Any, tmp_path: Path) -> None:
    # laid out as `splitbrain fuzz` writes a store: the campaign page at its top, failures under failures/
    store = tmp_path / ".splitbrain"
    (store / "failures").mkdir(parents=True)
    saved = store / "failures" / "primary-backup--early-ack--abc.json"
    record = failure_record()
    saved.write_text(json.dumps({**record, "found_at": "2025-05-01T12:00:07+00:00"}))
    write_trace_report(record, report_path_for(saved), states=False)
    summary = {"title": "primary-backup/early-ack", "schedules": 10, "seconds": 12,
               "failures": [{"t": 7.0, "found_at": "2025-05-01T12:00:07+00:00", "signature": "checker:x",
                             "message": "m", "path": str(saved)}]}
    page = Opened(browser, write_campaign_report(summary, store / "campaign-primary-backup-early-ack.html"))
    try:
        p = page.page
        assert p.locator("#failures td.when").inner_text() == "after 7 s · 2025-05-01 12:00:07 UTC"
        assert p.locator("#failures a").get_attribute("href") == "failures/primary-backup--early-ack--abc.html"
        p.locator("#failures a").click()
        p.wait_for_selector("body[data-ready]")
        assert p.url == report_path_for(saved).resolve().as_uri()
        assert p.locator("#seq rect.row").count() == len(record["trace"]["steps"])
        page.check_clean()
    finally:
        page.close()


def test_a_huge_value_is_shown_cut_with_its_size(browser: Any, tmp_path: Path) -> None:
    big = "x" * 20_000_000
    history = History.from_ops([
        Op(process=0, type="invoke", f="write", value=big), Op(process=0, type="ok", f="write", value=big),
        Op(process=1, type="invoke", f="read"), Op(process=1, type="ok", f="read", value=big + "y"),
    ])
    path = write_history_report(history, splitbrain.check(history, "register"), tmp_path / "big.html")
    assert path.stat().st_size < 1_000_000
    page = Opened(browser, path)
    try:
        p = page.page
        out = p.locator("#panel .value.out").inner_text()
        assert out.startswith("'xxxx") and out.endswith("… (cut: 20,000,001 characters)")
        p.locator('rect.op[data-i="0"]').click()
        assert p.locator("#panel .value.in").inner_text().endswith("(cut: 20,000,000 characters)")
        page.check_clean()
    finally:
        page.close()


def test_campaign_availability_over_time_with_fault_periods_shaded(browser: Any, tmp_path: Path) -> None:
    """The availability plot of real simulated partitions: shaded where partitions were in force, a line
    of the ok fraction and one of latency, a bar per fault state; a hostile state name stays text."""
    from splitbrain.histories.availability import availability, merged
    from splitbrain.sim import FaultConfig, RandomSource, World
    from splitbrain.sim.loading import load_workload

    workload = load_workload("raft-kv")
    faults = FaultConfig(kinds=("partition",), weights={"partition": 4, "heal": 2})
    runs = [World(workload, "correct", source=RandomSource(seed), faults=faults, max_steps=300).run()
            for seed in range(6)]
    measured = merged(availability(run.history, nodes=workload.node_ids) for run in runs).to_json()
    measured["states"][HOSTILE[1]] = measured["states"]["healthy"]
    summary = {"title": "raft-kv/correct", "seconds": 2, "schedules": 6, "faults": {"partition": 9},
               "availability": measured}
    page = Opened(browser, write_campaign_report(summary, tmp_path / "campaign.html"))
    try:
        p = page.page
        assert p.locator("#availability-plots").is_visible()
        assert p.locator("#avail rect.shade-partition").count() > 3
        assert p.locator("#avail polyline.avail-line").count() >= 1
        assert p.locator("#avail polyline.lat-line").count() >= 1
        shaded = [float(x) for x in p.eval_on_selector_all(
            "#avail rect.shade-partition", "rs => rs.map(r => r.getAttribute('opacity'))")]
        assert all(0.08 <= o <= 0.48 for o in shaded) and len(set(shaded)) > 1  # the fraction of time partitioned
        states = p.locator("#states").text_content() or ""
        assert "partition-minority" in states and "0% of" in states and HOSTILE[1] in states
        assert p.locator("#states rect.sbar.fail").count() >= 1 and p.locator("#states rect.sbar.ok").count() >= 4
        p.locator("#avail rect.hover").nth(3).hover()
        tip = p.locator("#tip").inner_text()
        assert "operations" in tip and "partition in force" in tip
        assert "6 schedules" in p.locator("#avail-note").inner_text()
        assert page.distinct_colours("#avail") > 8
        assert_inert(page)
        page.check_clean()
    finally:
        page.close()
    plain = Opened(browser, write_campaign_report({"schedules": 3}, tmp_path / "plain.html"))
    try:
        assert not plain.page.locator("#availability-plots").is_visible()  # nothing measured: no empty plots
        plain.check_clean()
    finally:
        plain.close()
