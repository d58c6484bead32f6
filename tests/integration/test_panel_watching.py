"""The panel says whether anything is watched, and fits what it shows into the space it has.

Real Chromium against the real stack (conftest.py's ``stack``): a print is never shown as
"OK, watching" while nothing checks it (detection off, the camera offline, a hung worker,
Klipper shut down); a print that ended leaves no red FAILURE behind; the boxes' labels keep
their size after the Live tab was hidden; a long file name and the timeline's axis labels
fit; a camera with no frame yet is waiting, not offline.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from typing import Any

import pytest

from tests.fixtures.klippy_runner import KlippyApi
from tests.integration.moonraker_stack import SLOW_PRINT, Stack
from tests.integration.test_panel import DESKTOP, PanelPage, expect, panel  # noqa: F401 (fixture)
from tests.worker.helpers import FAILING, GOOD

pytestmark = pytest.mark.timeout(180)

#: A real-world print file name: 105 characters without a space.
LONG_NAME = ("Voron_2.4_StealthBurner_Toolhead_Main_Body_PETG_0.2mm_4walls_40pct_gyroid_"
             "supports_everywhere_final_v7.gcode")
STALE = re.compile(r"\bstale\b")


def _rgba(css: str) -> tuple[float, ...]:
    """``rgb(...)`` / ``rgba(...)`` as (r, g, b, alpha)."""
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    return tuple(values + [1.0] * (4 - len(values)))


class Watching:
    """What the live view says about being watched: the gauge, the band dot, the picture."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.gauge = page.locator("#gauge .band")
        self.dot = page.locator("#band-dot")
        self.frame = page.locator("#frame")
        self.engine = page.locator("#engine-state")

    def watching(self) -> None:
        expect(self.gauge).to_have_text("OK", timeout=30_000)
        expect(self.dot).to_have_class("dot ok")
        expect(self.frame).not_to_have_class(STALE)

    def not_watching(self, reason: str, timeout: int = 20_000) -> None:
        expect(self.gauge).to_have_text("NO DATA", timeout=timeout)
        expect(self.engine).to_contain_text(reason)
        expect(self.dot).to_have_class("dot")   # grey, neither ok nor a band
        expect(self.frame).to_have_class(STALE)
        # Said over the picture too (a dashboard tile shows nothing else), readable on it.
        placeholder = self.page.locator("#frame-placeholder")
        expect(placeholder).to_be_visible()
        background = placeholder.evaluate("e => getComputedStyle(e).backgroundColor")
        red, green, blue, alpha = _rgba(background)
        assert alpha >= 0.6 and red + green + blue < 120, background


def test_a_print_that_nothing_watches_is_never_shown_ok(stack: Stack, panel: Any) -> None:
    """Mid-print, detection turned off, the camera offline and the worker hung (SIGSTOP: the
    component declares it hung only after worker_timeout, 60 s) each turn the green "OK ·
    watching" into NO DATA with the reason, a grey dot and a dimmed picture; it comes back
    once checks do."""
    # The stack checks every 0.2 s: a hung worker is overdue after 3 intervals + 10 s.
    assert stack.moonraker.get("/server/pinozcam/settings")["settings"]["check_interval"] <= 0.5
    view: PanelPage = panel()
    page = view.open()
    shown = Watching(page)
    stack.start_print()
    shown.watching()

    stack.moonraker.gcode("PINOZCAM_DISABLE")
    try:
        shown.not_watching("detection is off")
        expect(page.locator('#health [data-health="detection"]')).to_contain_text("off")
        view.screenshot("desktop-detection-off-mid-print")
    finally:
        stack.moonraker.gcode("PINOZCAM_ENABLE")
    shown.watching()

    stack.camera.stop()
    try:
        shown.not_watching("camera offline")
    finally:
        stack.camera.start()
    shown.watching()

    pid = stack.moonraker.status()["worker"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        # Overdue after 3 checks' time + 10 s (10.6 s), long before the component gives up on
        # the worker (its pings unanswered for 30 s, then worker_timeout).
        shown.not_watching("no check for")
        view.screenshot("desktop-worker-hung-mid-print")
    finally:
        os.kill(pid, signal.SIGCONT)
    shown.watching()
    # Requests the hung worker could not answer in time (Moonraker's 503 / 504).
    view.errors[:] = [e for e in view.errors if not re.search(r"status of 50[34]", e)]


def test_klipper_shut_down_is_shown(stack: Stack, panel: Any) -> None:
    """An emergency stop shuts Klipper down: the health list says so (Klipper's own words), and
    the gauge does not claim anything is watched, until Klipper is back."""
    page = panel().open()
    shown = Watching(page)
    klipper = page.locator('#health [data-health="klipper"]')
    expect(klipper).to_have_text("ready")
    stack.moonraker.post("/printer/emergency_stop")
    try:
        expect(klipper).to_contain_text("shutdown")
        expect(klipper).to_have_class("error")
        shown.not_watching("Klipper shutdown")
    finally:
        stack.moonraker.post("/printer/firmware_restart")
        stack.moonraker.wait_ready()
        stack.moonraker.wait_for("the component to see Klipper", lambda: stack.moonraker.status()["klippy_ready"])
        # Klipper's restart closed the tests' own API connection: the next tests need one.
        old, stack.printer.api = stack.printer.api, KlippyApi.connect(stack.printer.klippy.api_socket)
        old.close()
    expect(klipper).to_have_text("ready", timeout=30_000)
    expect(shown.gauge).not_to_have_text("NO DATA")
    expect(shown.frame).not_to_have_class(STALE)


def test_a_cancelled_failing_print_leaves_no_failure_and_labels_keep_their_size(
        stack: Stack, panel: Any) -> None:
    """A failing print, paused, is cancelled from the Incidents tab: the moment the page learns
    that the print ended, the red FAILURE, the red dot and the red boxes are gone (the print
    is over: a fresh check says what the bed shows now). Boxes drawn while the Live tab was
    hidden get labels of the usual size (about 12 px), not sized for a zero-height picture."""
    view: PanelPage = panel()
    page = view.open()
    shown = Watching(page)
    stack.start_print()
    stack.set_camera(FAILING)
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "paused", timeout=30)
    expect(shown.gauge).to_have_text("FAILURE")
    expect(page.locator("#overlay .box.failure text").first).to_be_visible()
    page.evaluate("""() => {
        window.atEnd = null;
        new MutationObserver(() => {
            const print = document.querySelector('#health [data-health="print"]')?.textContent || '';
            if (window.atEnd || /^(printing|paused)/.test(print)) return;
            window.atEnd = {print, band: document.querySelector('#gauge .band').textContent,
                            dot: document.querySelector('#band-dot').className,
                            boxes: document.querySelectorAll('#overlay .box.failure').length,
                            frame: document.querySelector('#overlay').dataset.frameId || ''};
        }).observe(document.querySelector('#health'), {subtree: true, childList: true, characterData: true});
    }""")

    view.tab("incidents")
    cancel = page.locator('.incident.open [data-action="cancel"]').first
    cancel.click()
    expect(cancel).to_have_text("Really cancel?")
    cancel.click()
    page.wait_for_function("window.atEnd !== null", timeout=30_000)
    at_end = page.evaluate("window.atEnd")
    assert at_end["band"] != "FAILURE" and "failure" not in at_end["dot"] and at_end["boxes"] == 0, at_end

    # The camera still shows the failure: the next check, made while the Live tab is hidden,
    # boxes it again.
    page.wait_for_function("""(before) => {
        const id = document.querySelector('#overlay').dataset.frameId;
        return id && id !== before;
    }""", arg=at_end["frame"], timeout=30_000)
    view.tab("live")
    labels = page.locator("#overlay .box text")
    expect(labels.first).to_be_visible()
    heights = labels.evaluate_all("(texts) => texts.map((t) => t.getBoundingClientRect().height)")
    assert heights and all(8 <= h <= 24 for h in heights), heights
    view.screenshot("desktop-after-cancel")
    stack.set_camera(GOOD)
    expect(shown.gauge).to_have_text("OK", timeout=30_000)
    expect(shown.dot).to_have_class("dot ok")


def test_a_long_file_name_fits_a_phone_and_a_dashboard_column(stack: Stack, panel: Any) -> None:
    """A 105-character file name is cut short (whole in its title) on a 375 px phone and in a
    500 px wide dashboard column; the page stays as wide as the window. The timeline's time
    labels never overlap (the start's "01:43 AM" and "now" early in a print, en-US)."""
    long_file = stack.printer.sdcard_dir / LONG_NAME
    shutil.copy(stack.printer.sdcard_dir / SLOW_PRINT, long_file)
    try:
        stack.moonraker.gcode(f"SDCARD_PRINT_FILE FILENAME={LONG_NAME}")
        stack.moonraker.wait_for("the long print", lambda: stack.moonraker.status()["print_state"] == "printing")
        phone: PanelPage = panel({"width": 375, "height": 667}, locale="en-US")
        page = phone.open()
        name = page.locator("#timeline-file")
        expect(name).to_have_text(LONG_NAME)
        phone.assert_fits_width()
        expect(name).to_have_attribute("title", LONG_NAME)   # cut short on screen
        card = page.locator(".timeline-card").bounding_box()
        shown = name.bounding_box()
        assert card and shown and shown["x"] + shown["width"] <= card["x"] + card["width"], (card, shown)
        phone.screenshot("phone-long-file-name")

        column = panel()
        column.page.set_content(f'<iframe src="{stack.moonraker.url}/server/pinozcam/panel" '
                                'style="width:500px;height:450px;border:0"></iframe>')
        tile = column.page.frame_locator("iframe")
        expect(tile.locator("#timeline-file")).to_have_text(LONG_NAME)
        overflow = tile.locator("html").evaluate("(html) => html.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the panel is {overflow} px wider than its 500 px column"

        overlaps = page.evaluate("""async () => {
            const { drawTimeline } = await import('/server/pinozcam/panel/charts.js');
            const start = new Date(2026, 0, 1, 1, 43).getTime();  // "01:43 AM"
            const found = [];
            for (const width of [1230, 355]) {  // the plot at 1280 px and at 375 px
                const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
                svg.setAttribute('class', 'timeline');
                svg.style.width = `${width}px`;
                document.body.append(svg);
                const seconds = [];
                for (let s = 0; s <= 30; s += 0.1) seconds.push(s);
                for (let s = 30; s <= 4 * 3600; s += 20) seconds.push(s);
                for (const s of seconds) {
                    const now = start + s * 1000;
                    drawTimeline(svg, [{t: start, s: 0.1}, {t: now, s: 0.1}], [], {now, live: true});
                    const boxes = [...svg.querySelectorAll('.axis.x')].filter((t) => t.textContent)
                        .map((t) => ({text: t.textContent, box: t.getBBox()}));
                    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                        const [a, b] = [boxes[i].box, boxes[j].box];
                        if (a.x < b.x + b.width && b.x < a.x + a.width) {
                            found.push(`${width} px, ${s.toFixed(1)} s: ${boxes[i].text} / ${boxes[j].text}`);
                        }
                    }
                }
                svg.remove();
            }
            return found;
        }""")
        start_label = "new Date(2026, 0, 1, 1, 43).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})"
        assert page.evaluate(start_label) == "01:43 AM"   # en-US: the widest start label
        assert overlaps == [], overlaps[:5]
    finally:
        stack.end_print()
        long_file.unlink(missing_ok=True)


def test_a_camera_with_no_frame_yet_is_waiting_not_offline(stack: Stack, panel: Any) -> None:
    """Right after the worker (re)starts its camera health says "no frame yet" while the
    picture may already be on screen: the health list says it waits for the first frame."""
    view: PanelPage = panel()

    def no_frame_yet(route: Any) -> None:
        status = route.fetch().json()
        status["result"]["detector"]["camera"] = {"state": "offline", "message": "no frame yet", "since": 0}
        route.fulfill(json=status)

    view.page.route("**/server/pinozcam/status*", no_frame_yet)
    # Every text the camera row shows, from the first.
    view.page.add_init_script("""document.addEventListener('DOMContentLoaded', () => {
        window.cameraTexts = [];
        new MutationObserver(() => {
            const text = document.querySelector('#health [data-health="camera"]')?.textContent;
            if (text && !window.cameraTexts.includes(text)) window.cameraTexts.push(text);
        }).observe(document.querySelector('#health'), {subtree: true, childList: true, characterData: true});
    })""")
    page = view.open()
    page.wait_for_function("window.cameraTexts.length > 0")
    texts = page.evaluate("window.cameraTexts")
    assert texts[0] == "waiting for the first frame", texts
    assert not [t for t in texts if "no frame yet" in t], texts
    expect(page.locator("#frame")).not_to_have_class(STALE)
