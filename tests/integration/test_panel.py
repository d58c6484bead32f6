"""The Mainsail / Fluidd panel (mainsail_panel/) in a real browser against the real stack.

Debian's Chromium driven by Playwright's Python API (no browser download): the panel page served
by the component, talking to the real Moonraker (websocket notifications, HTTP endpoints), the
real worker and the local camera (conftest.py's ``stack``). Screenshots at desktop and phone
width are kept under ``artifacts/panel/`` (``PINOZCAM_PANEL_ARTIFACTS`` moves them).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from tests.integration.moonraker_stack import (MoonrakerProcess, Stack, free_port, moonraker_missing_reason,
                                               moonraker_python)
from tests.servers import NotifyServer
from tests.worker.helpers import BOT_TOKEN, CHAT_ID, FAILING, GOOD, MODEL

playwright_sync = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_sync.expect
expect.set_options(timeout=20_000)

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PINOZCAM_PANEL_ARTIFACTS", ROOT / "artifacts" / "panel"))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
#: Options the tests change; each is reset (posted as null) afterwards, as the stack is shared.
DEFAULTS = {"preset": "webcam", "masks": []}


class PanelPage:
    """One browser page on the panel; records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, stack: Stack, viewport: dict[str, int], **context: Any) -> None:
        self.stack = stack
        self.context = browser.new_context(viewport=viewport, **context)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        #: The detections Moonraker sent this page, by frame id (read off its websocket).
        self.detections: dict[str, dict[str, Any]] = {}
        self.snapshot_urls: list[str] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        self.page.on("request", lambda r: self.snapshot_urls.append(r.url) if "/server/pinozcam/snapshot" in r.url else None)

    def _frame(self, payload: str | bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("method") == "notify_pinozcam_detection":
            detection = message["params"][0]
            self.detections[str(detection.get("frame_id"))] = detection

    def drawn_boxes(self) -> dict[str, Any]:
        """What the overlay draws now: the detection's frame id, its threshold, the box count."""
        return self.page.evaluate("""() => {
            const svg = document.querySelector('#overlay');
            return {frame: svg.dataset.frameId || '', threshold: svg.dataset.threshold || '',
                    boxes: svg.querySelectorAll('.box:not(.held)').length};
        }""")

    def shown_picture(self, width: int = 40, height: int = 30) -> np.ndarray:
        """The live picture as the page shows it, scaled to ``width`` x ``height`` (BGR)."""
        data = self.page.evaluate("""([w, h]) => {
            const img = document.querySelector('#frame img');
            const canvas = document.createElement('canvas');
            canvas.width = w; canvas.height = h;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(img, 0, 0, w, h);
            return Array.from(ctx.getImageData(0, 0, w, h).data);
        }""", [width, height])
        rgba = np.array(data, np.uint8).reshape(height, width, 4)
        return rgba[:, :, 2::-1].astype(np.int16)

    def open(self) -> Any:
        self.page.goto(self.stack.moonraker.url + "/server/pinozcam/panel")
        self.page.wait_for_selector("body[data-ready]", state="attached")
        expect(self.page.locator("#connection")).to_have_text("live")
        return self.page

    def tab(self, name: str) -> None:
        self.page.click(f'.tabs [data-tab="{name}"]')
        expect(self.page.locator(f"#tab-{name}")).to_be_visible()

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def assert_fits_width(self) -> None:
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def panel(browser: Any, stack: Stack) -> Iterator[Any]:
    """A factory of panel pages; every page must end with no console errors."""
    pages: list[PanelPage] = []

    def make(viewport: dict[str, int] = DESKTOP, **context: Any) -> PanelPage:
        pages.append(PanelPage(browser, stack, viewport, **context))
        return pages[-1]

    try:
        yield make
        for page in pages:
            assert page.errors == [], "\n".join(page.errors)
    finally:
        for page in pages:
            page.close()
        stack.end_print()
        # Dropped from the saved values, they go back to their defaults in the worker too.
        stack.moonraker.post("/server/pinozcam/settings", {"settings": {k: None for k in DEFAULTS}})


def _scaled(jpeg: bytes, width: int = 40, height: int = 30) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA).astype(np.int16)


def assert_boxes_follow_the_display_threshold(view: PanelPage) -> None:
    """The overlay draws exactly the boxes of its detection that score at least the display
    threshold (detections carry every box down to the decode floor)."""
    def drawn_detection() -> Any:
        drawn = view.drawn_boxes()
        return drawn if drawn["frame"] in view.detections else None

    drawn = view.stack.moonraker.wait_for("the drawn detection's message", drawn_detection)
    detection = view.detections[drawn["frame"]]
    threshold = detection.get("display_threshold", float(drawn["threshold"] or 0))
    assert float(drawn["threshold"]) == pytest.approx(threshold)
    expected = [b for b in detection["boxes"] if b["score"] >= threshold]
    assert drawn["boxes"] == len(expected), (drawn, detection["boxes"])
    # The fixture model scores its patch 1.0 and nothing else: weak boxes (down to the decode
    # floor, as real models send them) are checked through the page's own filter.
    kept = view.page.evaluate("""async () => {
        const { boxesToDraw } = await import('/server/pinozcam/panel/frame.js');
        const box = (score) => ({label: 'spaghetti', score, x1: 0, y1: 0, x2: 9, y2: 9});
        const latest = {band: 'ok', boxes: [box(0.08), box(0.5), box(0.75), box(0.9)]};
        return boxesToDraw({latest, held: null}, 0, 5000, 0.75).map((b) => b.score);
    }""")
    assert kept == [0.75, 0.9]


def assert_picture_is_raw(view: PanelPage, camera_jpeg: bytes) -> None:
    """The live picture is the camera's frame as it was taken (no header, no boxes drawn in)."""
    assert view.snapshot_urls and all("raw=1" in url for url in view.snapshot_urls), view.snapshot_urls
    want = _scaled(camera_jpeg)
    view.stack.moonraker.wait_for("the camera's own picture on the page",
                                  lambda: np.abs(view.shown_picture() - want).mean() < 6)


def test_boxes_timeline_and_incident_during_a_failing_print(stack: Stack, panel: Any) -> None:
    view = panel()
    page = view.open()
    expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")
    stack.start_print()
    expect(page.locator('#health [data-health="camera"]')).to_contain_text("ok")
    # Checks while printing draw the severity timeline.
    page.wait_for_function("(document.querySelector('#timeline .severity')?.getAttribute('points') || '')"
                           ".split(' ').length >= 4")
    stack.set_camera(FAILING)
    # The fixture model boxes the red patch: the overlay draws it, the print is paused.
    expect(page.locator("#overlay .box.failure").first).to_be_visible()
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "paused", timeout=30)
    expect(page.locator("#timeline .incident-marker").first).to_be_attached()
    expect(page.locator("#gauge .band")).to_have_text("FAILURE")
    expect(page.locator('#health [data-health="print"]')).to_contain_text("paused")
    assert_boxes_follow_the_display_threshold(view)
    assert_picture_is_raw(view, FAILING)
    view.screenshot("desktop-live-incident")

    # A panel opened only now (a fresh browser: nothing recorded in it) shows the print's
    # severity so far and the incident, from the worker's history.
    late = panel(PHONE)
    late_page = late.open()
    late_page.wait_for_function("Number(document.querySelector('#timeline').dataset.points || 0) >= 4")
    late_page.wait_for_function("Number(document.querySelector('#timeline').dataset.incidents || 0) >= 1")
    expect(late_page.locator("#timeline .incident-marker").first).to_be_attached()
    expect(late_page.locator("#timeline-file")).to_contain_text(".gcode")
    late.screenshot("phone-live-opened-after-incident")

    view.tab("incidents")
    card = page.locator(".incident.open").first
    expect(card.locator("img.thumb")).to_have_js_property("complete", True)
    assert card.locator("img.thumb").evaluate("img => img.naturalWidth") > 0
    resume = card.locator('[data-action="resume"]')
    expect(resume).to_be_enabled()
    view.screenshot("desktop-incidents")
    incident_id = card.get_attribute("data-incident")
    card.locator('[data-action="false_alarm"]').click()
    stack.moonraker.wait_for("the label", lambda: stack.moonraker.get("/server/pinozcam/incidents")
                             ["incidents"][0]["label"] == "false_alarm")
    assert stack.moonraker.get("/server/pinozcam/incidents")["incidents"][0]["id"] == incident_id
    stack.set_camera(GOOD)
    page.locator(f'[data-incident="{incident_id}"] [data-action="resume"]').click()
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "printing", timeout=30)


def test_settings_change_survives_a_reload_and_errors_show_at_the_field(stack: Stack, panel: Any) -> None:
    view = panel()
    page = view.open()
    view.tab("settings")
    detection = page.locator('[data-group="detection"]')
    # Set in moonraker.conf by the fixture: shown, locked.
    expect(page.locator("#setting-max_failure_count")).to_be_disabled()
    expect(page.locator('[data-field="max_failure_count"] .lock')).to_be_visible()

    page.fill("#setting-score_threshold", "abc")
    detection.locator("[data-save]").click()
    expect(page.locator("#setting-score_threshold-error")).to_contain_text("not a number")
    page.fill("#setting-score_threshold", "5")
    detection.locator("[data-save]").click()
    # The worker's own message, naming the option, next to the field.
    expect(page.locator("#setting-score_threshold-error")).to_contain_text("score_threshold")
    view.screenshot("desktop-settings-error")
    # A decimal comma (most of Europe; a phone's decimal keypad may offer nothing else).
    page.fill("#setting-score_threshold", "0,5")
    detection.locator("[data-save]").click()
    expect(detection.locator(".group-message")).to_have_text("saved")
    expect(page.locator("#setting-score_threshold-error")).to_be_empty()
    assert stack.moonraker.get("/server/pinozcam/settings")["settings"]["score_threshold"] == 0.5

    page.fill("#setting-score_threshold", "")
    page.select_option("#setting-preset", "strict")
    detection.locator("[data-save]").click()
    expect(detection.locator(".group-message")).to_have_text("saved")
    assert stack.moonraker.get("/server/pinozcam/settings")["settings"]["preset"] == "strict"

    page.reload()
    page.wait_for_selector("body[data-ready]", state="attached")
    view.tab("settings")
    expect(page.locator("#setting-preset")).to_have_value("strict")


def test_settings_are_not_saved_before_they_are_loaded(stack: Stack, panel: Any) -> None:
    """Moonraker not answering when the page opens (the printer just switched on): the form
    cannot be saved (it would send its blank defaults: watching off, another preset) until
    the saved settings come, which the page asks for again by itself."""
    view = panel()
    refused: list[str] = []

    def refuse_once(route: Any) -> None:
        if not refused and route.request.method == "GET":
            refused.append(route.request.url)
            route.fulfill(status=503, content_type="application/json",
                          body='{"error": {"code": 503, "message": "Moonraker is starting"}}')
        else:
            route.continue_()

    view.page.route("**/server/pinozcam/settings*", refuse_once)
    page = view.open()
    view.tab("settings")
    detection = page.locator('[data-group="detection"]')
    expect(page.locator("#setting-preset")).to_have_value("webcam")  # loaded on a later try
    expect(detection.locator("[data-save]")).to_be_enabled()
    assert refused, "the first GET settings was not refused: the test proved nothing"
    page.fill("#setting-score_threshold", "0.8")
    detection.locator("[data-save]").click()
    expect(detection.locator(".group-message")).to_have_text("saved")
    saved = stack.moonraker.get("/server/pinozcam/settings")["settings"]
    assert saved["score_threshold"] == 0.8 and saved["preset"] == "webcam" and saved["enabled"] is True
    stack.moonraker.post("/server/pinozcam/settings", {"settings": {"score_threshold": None}})
    view.errors[:] = [e for e in view.errors if "503" not in e]


def test_edits_survive_saving_another_group_and_a_new_secret_replaces_a_cleared_one(
        stack: Stack, panel: Any) -> None:
    view = panel()
    page = view.open()
    view.tab("settings")
    notify = page.locator('[data-group="notify"]')
    try:
        # Typed, not saved, in Detection; then Notifications saved: the typed value stays.
        page.fill("#setting-score_threshold", "0.77")
        page.fill("#setting-telegram_chat_id", "123456789")
        page.fill("#setting-telegram_topic_id", "77")  # a forum group's topic
        notify.locator("[data-save]").click()
        expect(notify.locator(".group-message")).to_have_text("saved")
        expect(page.locator("#setting-score_threshold")).to_have_value("0.77")
        saved = stack.moonraker.get("/server/pinozcam/settings")["settings"]
        assert saved["score_threshold"] is None and saved["telegram_topic_id"] == 77

        # "Clear" pressed, then a new token typed: the new token is saved, not nothing.
        page.fill("#setting-telegram_bot_token", "123456:first-token-ABCDEFGH")
        notify.locator("[data-save]").click()
        expect(notify.locator(".group-message")).to_have_text("saved")
        notify.get_by_role("button", name="Clear the saved Telegram bot token").click()
        page.fill("#setting-telegram_bot_token", "123456:second-token-ABCDEFGH")
        notify.locator("[data-save]").click()
        expect(notify.locator(".group-message")).to_have_text("saved")
        assert stack.moonraker.get("/server/pinozcam/settings")["settings"]["telegram_bot_token"] == "<redacted>"
        expect(page.locator("#setting-telegram_bot_token")).to_have_attribute("placeholder", "saved (hidden); type to replace")
    finally:
        stack.moonraker.post("/server/pinozcam/settings", {"settings": {
            "telegram_chat_id": None, "telegram_topic_id": None, "telegram_bot_token": None,
            "score_threshold": None}})


def test_a_worker_restart_mid_print_keeps_the_timeline_and_shows_nothing_is_watched(
        stack: Stack, panel: Any) -> None:
    view = panel()
    page = view.open()
    expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")
    stack.start_print()
    page.wait_for_function("Number(document.querySelector('#timeline').dataset.points || 0) >= 3")
    # What the page showed while the worker was away, recorded as it happened.
    page.evaluate("""() => {
        window.seen = {noData: false, stale: false, minPoints: Infinity};
        const note = () => {
            const s = window.seen;
            s.noData ||= document.querySelector('#gauge .band')?.textContent === 'NO DATA';
            s.stale ||= document.querySelector('#frame').classList.contains('stale');
            s.minPoints = Math.min(s.minPoints, Number(document.querySelector('#timeline').dataset.points || 0));
        };
        new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    }""")
    old = stack.moonraker.status()["worker"]
    os.kill(old["pid"], signal.SIGKILL)
    stack.moonraker.wait_for("the worker back", lambda: (s := stack.moonraker.status())["worker"]["connected"]
                             and s["worker"]["pid"] != old["pid"])
    page.wait_for_function("window.seen.noData && window.seen.stale")
    expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")
    page.wait_for_function("!document.querySelector('#frame').classList.contains('stale')")  # watching again
    seen = page.evaluate("window.seen")
    assert seen["minPoints"] >= 3, f"the timeline was cleared while the worker restarted: {seen}"


def test_a_muted_print_can_be_unmuted_from_the_panel(stack: Stack, panel: Any) -> None:
    page = panel().open()
    button = page.locator('[data-action="mute"]')
    expect(button).to_be_disabled()  # nothing prints: nothing to mute
    stack.start_print()
    expect(button).to_be_enabled()
    button.click()
    expect(button).to_have_text("Unmute")
    assert stack.moonraker.wait_for("the worker muted", lambda: (stack.moonraker.status()["detector"] or {}).get("muted"))
    button.click()
    expect(button).to_have_text("Mute this print")
    stack.moonraker.wait_for("the worker unmuted",
                             lambda: (stack.moonraker.status()["detector"] or {}).get("muted") is False)


def test_an_alert_telegram_refuses_shows_in_the_health_list(stack: Stack, panel: Any) -> None:
    """The bot was removed from its group: every alert fails. The panel says so (never with
    the token), instead of looking healthy while nobody is told about a pause."""
    with NotifyServer() as telegram:
        telegram.reply(403, json_body={"ok": False, "error_code": 403,
                                       "description": "Forbidden: bot was kicked from the group chat"}, times=50)
        stack.moonraker.post("/server/pinozcam/settings", {"settings": {
            "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": CHAT_ID, "alert_buttons": False,
            "telegram_api_base": telegram.telegram_api_base}})
        try:
            page = panel().open()
            stack.start_print()
            stack.set_camera(FAILING)
            row = page.locator('#health [data-health="telegram"]')
            expect(row).to_contain_text("kicked")
            expect(row).to_have_class("error")
            assert BOT_TOKEN not in page.content()
        finally:
            stack.moonraker.post("/server/pinozcam/settings", {"settings": {
                "telegram_bot_token": None, "telegram_chat_id": None, "alert_buttons": None,
                "telegram_api_base": None}})


def test_a_small_dashboard_tile_shows_the_picture(stack: Stack, panel: Any) -> None:
    """In Mainsail's dashboard the panel is an iframe webcam of another origin (Mainsail on port
    80, Moonraker on 7125), about 400x225, where browsers may refuse it storage: the picture
    fills the tile and a link opens the whole panel."""
    view = panel()
    # The parent page has an opaque origin here: the tile's storage is refused, as with
    # third-party storage blocked.
    view.page.set_content(f'<iframe src="{stack.moonraker.url}/server/pinozcam/panel" '
                          'style="width:400px;height:225px;border:0"></iframe>')
    tile = view.page.frame_locator("iframe")
    expect(tile.locator("#connection")).to_have_text("live")
    expect(tile.locator("#frame")).to_have_class("frame has-picture")
    frame = tile.locator("#frame").bounding_box()
    # The whole height of the tile, at the picture's own aspect ratio (the test camera's is 4:3).
    assert frame is not None and frame["height"] >= 220 and frame["x"] >= 0 \
        and frame["x"] + frame["width"] <= 401 and frame["width"] >= 0.95 * frame["height"] * 4 / 3, frame
    expect(tile.locator(".tabs")).to_be_hidden()
    expect(tile.locator("#open-full")).to_be_visible()
    assert "/server/pinozcam/panel" in (tile.locator("#open-full").get_attribute("href") or "")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    view.page.screenshot(path=str(ARTIFACTS / "dashboard-tile.png"), clip={"x": 0, "y": 0, "width": 420, "height": 245})


def test_a_drawn_mask_reaches_the_worker(stack: Stack, panel: Any) -> None:
    view = panel()
    page = view.open()
    expect(page.locator("#frame")).to_have_class("frame has-picture")
    page.click('[data-action="edit-masks"]')
    box = page.locator("#overlay").bounding_box()
    assert box is not None
    corners = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.45)]
    for x, y in corners:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.click(box["x"] + 0.1 * box["width"] + 2, box["y"] + 0.1 * box["height"] + 1)  # the first point closes it
    expect(page.locator("#overlay polygon.mask")).to_have_count(1)
    view.screenshot("desktop-mask-editor")
    page.click('[data-mask="save"]')
    expect(page.locator("#mask-tools")).to_be_hidden()

    masks = stack.moonraker.wait_for("the mask in the worker's settings",
                                     lambda: stack.moonraker.get("/server/pinozcam/settings")["settings"]["masks"])
    assert len(masks) == 1 and len(masks[0]) == 3
    for (x, y), (want_x, want_y) in zip(masks[0], corners):
        assert abs(x - want_x) < 0.01 and abs(y - want_y) < 0.01
    page.reload()
    page.wait_for_selector("body[data-ready]", state="attached")
    expect(page.locator("#overlay polygon.mask")).to_have_count(1)


def test_a_component_without_history_gets_the_annotated_picture(stack: Stack, panel: Any) -> None:
    """An older component (no history endpoint: 404) cannot serve the raw picture: the panel asks
    for the annotated one (its boxes drawn in) and draws no boxes over it."""
    view = panel()
    view.page.route("**/server/pinozcam/history*", lambda route: route.fulfill(
        status=404, content_type="application/json", body='{"error": {"code": 404, "message": "Not Found"}}'))
    page = view.open()
    expect(page.locator("#frame")).to_have_class("frame has-picture")
    assert view.snapshot_urls and not any("raw=1" in url for url in view.snapshot_urls), view.snapshot_urls
    assert page.locator("#overlay").get_attribute("data-boxes") == "off"
    # The browser logs the refused request; that one is expected here.
    view.errors[:] = [e for e in view.errors if "404" not in e]


def test_phone_width(stack: Stack, panel: Any) -> None:
    view = panel(PHONE)
    page = view.open()
    expect(page.locator("#frame")).to_have_class("frame has-picture")
    view.assert_fits_width()
    view.screenshot("phone-live")
    view.tab("incidents")
    view.assert_fits_width()
    view.screenshot("phone-incidents")
    view.tab("settings")
    view.assert_fits_width()
    view.screenshot("phone-settings")
    # The test button reports per channel (the recording Discord server answers).
    page.click('[data-action="test-notification"]')
    expect(page.locator('[data-group="notify"] .group-message')).to_contain_text("discord")


class Outage:
    """Cuts one page off Moonraker and gives it back (Wi-Fi gone, Moonraker restarting): while
    down, its websocket is closed and refused and its HTTP requests to Moonraker fail."""

    def __init__(self, page: Any) -> None:
        self.down = False
        self.sockets: list[Any] = []
        page.route_web_socket(re.compile(r"/websocket"), self._socket)
        for pattern in ("**/server/**", "**/access/**", "**/printer/**"):
            page.route(pattern, lambda route: route.abort() if self.down else route.continue_())

    def _socket(self, ws: Any) -> None:
        if self.down:
            ws.close()
            return
        ws.connect_to_server()  # forwards both ways
        self.sockets.append(ws)

    def cut(self) -> None:
        self.down = True
        for ws in self.sockets:
            ws.close()
        self.sockets.clear()

    def restore(self) -> None:
        self.down = False


def test_a_lost_connection_shows_no_data_and_the_reconnect_catches_up(stack: Stack, panel: Any) -> None:
    """While the page cannot reach Moonraker it shows nothing as current (no green OK over an
    old picture); an incident that opened meanwhile shows on the badge once it is back."""
    view = panel()
    outage = Outage(view.page)
    page = view.open()
    stack.start_print()
    gauge, badge = page.locator("#gauge .band"), page.locator("#incident-count")
    expect(gauge).to_have_text("OK")
    expect(badge).not_to_have_class(re.compile(r"\bopen\b"))

    outage.cut()
    expect(page.locator("#connection")).to_have_text("reconnecting")
    expect(gauge).to_have_text("NO DATA")
    expect(page.locator("#frame")).to_have_class(re.compile(r"\bstale\b"))
    # The print fails and is paused while the page is away.
    stack.set_camera(FAILING)
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "paused", timeout=30)
    stack.set_camera(GOOD)
    expect(gauge).to_have_text("NO DATA")
    view.screenshot("desktop-connection-lost")

    outage.restore()
    expect(page.locator("#connection")).to_have_text("live", timeout=40_000)
    # Without opening the Incidents tab: the badge says an incident is open.
    expect(badge).to_have_class(re.compile(r"\bopen\b"))
    expect(badge).to_contain_text("open")
    expect(gauge).not_to_have_text("NO DATA")
    expect(page.locator("#frame")).not_to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator('#health [data-health="print"]')).to_contain_text("paused")
    # The browser logs the requests that failed while the connection was down.
    view.errors[:] = [e for e in view.errors if "ERR_FAILED" not in e and "WebSocket" not in e]


@pytest.mark.parametrize("browser_ahead_min", [-10, 10], ids=["browser-behind", "browser-ahead"])
def test_the_timeline_follows_the_printer_clock(stack: Stack, panel: Any, browser_ahead_min: int) -> None:
    """The printer's clock (a Pi without a real-time clock or internet) and the browser's
    differ by 10 minutes: the newest check is still drawn at "now", inside the plot, the axis
    counts the print's seconds, not the clocks' difference, and the incident's flag is there."""
    view = panel()
    view.page.clock.install(time=datetime.datetime.now() + datetime.timedelta(minutes=browser_ahead_min))
    view.page.clock.resume()  # the time then goes on as usual, 10 minutes off
    page = view.open()
    stack.start_print()
    stack.set_camera(FAILING)
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "paused", timeout=30)
    stack.set_camera(GOOD)
    page.wait_for_function("""() => {
        const svg = document.querySelector('#timeline');
        return Number(svg.dataset.incidents || 0) >= 1 && Number(svg.dataset.points || 0) >= 5
            && [...svg.querySelectorAll('.axis.x')].some((t) => t.textContent === 'now');
    }""")
    drawn = page.evaluate("""() => {
        const svg = document.querySelector('#timeline');
        const width = Number(svg.getAttribute('viewBox').split(' ')[2]);
        const xs = svg.querySelector('.severity').getAttribute('points').split(' ').map((p) => Number(p.split(',')[0]));
        const ticks = [...svg.querySelectorAll('.axis.x')];
        const now = ticks.find((t) => t.textContent === 'now');
        return {left: 30, right: width - 8, xs, now: Number(now.getAttribute('x')),
                last: Number(svg.querySelector('circle.last').getAttribute('cx')),
                labels: ticks.map((t) => t.textContent),
                flags: [...svg.querySelectorAll('.incident-marker line')].map((l) => Number(l.getAttribute('x1')))};
    }""")
    plot = drawn["right"] - drawn["left"]
    assert all(drawn["left"] - 0.5 <= x <= drawn["right"] + 0.5 for x in drawn["xs"]), drawn
    # Checks come 5 a second: the newest was made at most a second or so before "now".
    assert abs(drawn["now"] - drawn["last"]) <= 0.03 * plot, drawn
    # The print is seconds old: no tick minutes back.
    assert not [label for label in drawn["labels"] if re.fullmatch(r"-\d+[mh]", label)
                and label != "-1m"], drawn["labels"]
    assert drawn["flags"] and all(drawn["xs"][0] - 0.5 <= x <= drawn["now"] + 0.5 for x in drawn["flags"]), drawn


def test_a_connection_dropped_during_the_login_handshake_is_retried(stack: Stack, panel: Any) -> None:
    """The websocket drops while the panel identifies itself (Moonraker restarting): that is
    no refused login, and the next connection shows the panel. A refused one asks for a key."""
    view = panel()
    dropped: list[str] = []

    def drop_first_identify(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if not dropped and "server.connection.identify" in str(message):
                dropped.append(str(message))
                ws.close()
                server.close()
                return
            server.send(message)

        ws.on_message(from_page)
        server.on_message(ws.send)

    view.page.route_web_socket(re.compile(r"/websocket"), drop_first_identify)
    page = view.open()
    assert dropped, "no handshake was dropped: the test proved nothing"
    expect(page.locator("#tab-live")).to_be_visible()
    expect(page.locator("#auth")).to_be_hidden()
    expect(page.locator("#frame")).to_have_class(re.compile(r"has-picture"))

    refused = panel()
    refused.page.route_web_socket(re.compile(r"/websocket"), lambda ws: ws.on_message(
        lambda message: ws.send(json.dumps({"jsonrpc": "2.0", "id": json.loads(message)["id"],
                                            "error": {"code": 401, "message": "Unauthorized"}}))))
    refused.page.goto(stack.moonraker.url + "/server/pinozcam/panel")
    expect(refused.page.locator("#auth")).to_be_visible()
    expect(refused.page.locator("#connection")).to_have_text("login needed")


def test_a_long_print_keeps_its_start_on_the_timeline(stack: Stack, panel: Any) -> None:
    """A print of more checks than the page keeps points (3000, 50 minutes at a check a
    second): older points are merged, keeping the worst, and the print's start stays, with
    the failure spike it had then."""
    view = panel()
    started = (int(time.time()) // 60 - 120) * 60  # two hours ago, on the minute
    checks = 3600

    def printing(route: Any) -> None:
        status = route.fetch().json()
        status["result"].update(print_state="printing", print_started_at=started, open_incident=None)
        status["result"]["detector"]["print"] = {"state": "printing", "file": "long.gcode"}
        route.fulfill(json=status)

    view.page.route("**/server/pinozcam/status*", printing)
    view.page.route("**/server/pinozcam/history*", lambda route: route.fulfill(json={"result": {
        "print": {"file": "long.gcode", "started": started}, "points": [], "incidents": [],
        "thresholds": {"warning": 0.33, "failure": 0.66}}}))
    sockets: list[Any] = []

    def fake_moonraker(ws: Any) -> None:
        # Answers every call; the checks are sent by the test below.
        ws.on_message(lambda message: ws.send(json.dumps({"jsonrpc": "2.0", "id": json.loads(message)["id"],
                                                          "result": {"connection_id": 1}})))
        sockets.append(ws)

    view.page.route_web_socket(re.compile(r"/websocket"), fake_moonraker)
    page = view.open()
    expect(page.locator("#timeline-file")).to_have_text("long.gcode")
    for i in range(checks):
        severity = 0.9 if i == 5 else 0.2 if i == checks - 1 else 0.1
        sockets[-1].send(json.dumps({"jsonrpc": "2.0", "method": "notify_pinozcam_detection", "params": [{
            "frame_id": i, "time": started + i, "severity": severity,
            "band": "failure" if severity > 0.66 else "ok", "boxes": [], "display_threshold": 0.5,
            "engine_state": "watching", "failures_in_window": 0}]}))
    expect(page.locator("#gauge .value")).to_have_text("0.20")  # the last check came
    start_label = page.evaluate("(t) => new Date(t * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})",
                                started)
    expect(page.locator("#timeline .axis.x.first")).to_have_text(start_label)
    drawn = page.evaluate("""() => {
        const svg = document.querySelector('#timeline');
        const points = svg.querySelector('.severity').getAttribute('points').split(' ').map((p) => p.split(',').map(Number));
        const failureY = Number(svg.querySelector('.threshold.failure').getAttribute('y1'));
        return {count: Number(svg.dataset.points), xs: points.map((p) => p[0]),
                spike: points.filter(([x, y]) => x < 30 + 20 && y < failureY).length};
    }""")
    assert drawn["count"] <= 3000, drawn["count"]
    assert drawn["spike"] >= 1, "the failure spike at the print's start is not drawn"


def _lan_address() -> str | None:
    """This machine's address on a non-loopback interface (what a LAN browser would use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_login_required_api_key_in_the_url(browser: Any, tmp_path: Path) -> None:
    """Moonraker trusting only 127.0.0.1: from the LAN address the panel asks for a key, and
    ``#apikey=`` gets it connected (HTTP with X-Api-Key, websocket through a oneshot token)."""
    python = moonraker_python()
    address = _lan_address()
    if python is None or moonraker_missing_reason() is not None:
        pytest.skip("no Moonraker virtualenv")
    if address is None:
        pytest.skip("no non-loopback address to reach Moonraker as an untrusted client")
    port = free_port()
    conf = tmp_path / "mr" / "config" / "moonraker.conf"
    conf.parent.mkdir(parents=True)
    # No camera: the worker waits for one; the page and the login are what is tested.
    conf.write_text(f"[server]\nhost: 0.0.0.0\nport: {port}\nklippy_uds_address: {tmp_path}/none.sock\n\n"
                    "[authorization]\ntrusted_clients:\n  127.0.0.1/32\n\n"
                    "[machine]\nprovider: none\nvalidate_service: False\n\n"
                    f"[pinozcam]\ncamera: http://127.0.0.1:9/none.jpg\nworker_python: {sys.executable}\n"
                    f"model_path: {MODEL}\n")
    moonraker = MoonrakerProcess(tmp_path / "mr", conf, port, python).start()
    context = browser.new_context(viewport=DESKTOP)
    try:
        moonraker.wait_ready(klippy=False)
        key = moonraker.get("/access/api_key")  # from 127.0.0.1: trusted
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        panel_url = f"http://{address}:{port}/server/pinozcam/panel"
        page.goto(panel_url)
        expect(page.locator("#auth")).to_be_in_viewport()
        expect(page.locator("#connection")).to_have_text("login needed")
        assert all("401" in e for e in errors), errors  # the browser logs the refused request
        # An old key in the address (a webcam URL made before the key was reset): the key
        # pasted into the form is used, not the address's again.
        page.goto(f"{panel_url}#apikey=0123456789abcdef0123456789abcdef")
        expect(page.locator("#auth")).to_be_in_viewport()
        page.fill("#auth-key", key)
        page.click("#auth-form button")
        expect(page.locator("#connection")).to_have_text("live")
        assert "apikey" not in page.url
        page.evaluate("localStorage.clear()")
        errors.clear()
        page.goto("about:blank")
        page.goto(f"{panel_url}#apikey={key}")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")
        page.click('.tabs [data-tab="incidents"]')
        expect(page.locator("#incidents")).to_contain_text("No incidents")
        assert errors == []

        # Fluidd's login on the same origin: the panel (in Fluidd's iframe, or a tab beside
        # it) uses the Moonraker token Fluidd keeps in this origin's localStorage.
        login = moonraker.post("/access/user", {"username": "panel-test", "password": "a-long-test-password"})
        page.goto(panel_url)
        expect(page.locator("#auth")).to_be_visible()   # no key in the URL, none saved
        page.evaluate("([key, token]) => localStorage.setItem(key, token)",
                      ["user-token-" + "0123456789abcdef" * 2, login["token"]])
        errors.clear()
        page.reload()
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")
        assert errors == []
        # An expired token Fluidd left behind is not tried (it would only earn a 401).
        assert page.evaluate("""async (expired) => {
            const api = await import('/server/pinozcam/panel/api.js');
            localStorage.setItem('user-token-' + 'f'.repeat(32), expired);
            return api.frontendTokens([localStorage]).includes(expired);
        }""", _expired_jwt()) is False
    finally:
        context.close()
        moonraker.stop()


def _expired_jwt() -> str:
    """A JWT-shaped token whose ``exp`` has passed (its signature is never checked here)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256'})}.{part({'exp': 1000, 'token_type': 'access'})}.c2ln"


def test_two_printers_behind_one_address_keep_their_own_key_and_print(stack: Stack, panel: Any) -> None:
    """A reverse proxy shows two printers at /printer1/ and /printer2/ of one address (here both
    lead to the test's Moonraker, each asking for its own API key): one browser storage, and
    each printer keeps its own key and its own last print."""
    view = panel()
    page = view.page
    keys = {"printer1": "1" * 32, "printer2": "2" * 32}
    started = time.time() - 600
    histories = {
        "printer1": {"print": {"file": "benchy-one.gcode", "started": started},
                     "points": [[started + i, 0.1, "ok"] for i in range(20)]},
        "printer2": {"print": None, "points": []},
    }

    def proxy(route: Any) -> None:
        url = urlsplit(route.request.url)
        mount, _, path = url.path.lstrip("/").partition("/")
        # The panel's own files need no login (they hold no data); everything else does.
        if not path.startswith("server/pinozcam/panel") and route.request.headers.get("x-api-key") != keys[mount]:
            route.fulfill(status=401, json={"error": {"code": 401, "message": "Unauthorized"}})
        elif path.startswith("server/pinozcam/history"):
            route.fulfill(json={"result": {**histories[mount], "incidents": [],
                                           "thresholds": {"warning": 0.33, "failure": 0.66}}})
        else:
            # The test's Moonraker trusts this browser, and would refuse a key it does not know.
            headers = {k: v for k, v in route.request.headers.items() if k != "x-api-key"}
            target = f"{stack.moonraker.url}/{path}{'?' + url.query if url.query else ''}"
            try:
                route.fulfill(response=route.fetch(url=target, headers=headers))
            except playwright_sync.Error as exc:
                # The page moved on (the next printer's panel opened) while this request was
                # proxied: its answer has nowhere to go.
                if "disposed" not in str(exc) and "closed" not in str(exc):
                    raise

    page.route(re.compile(r"/printer[12]/"), proxy)
    page.route_web_socket(re.compile(r"/printer[12]/websocket"), lambda ws: ws.on_message(
        lambda message: ws.send(json.dumps({"jsonrpc": "2.0", "id": json.loads(message)["id"],
                                            "result": {"connection_id": 1}}))))

    def open_printer(mount: str, key: str | None) -> None:
        page.goto(f"{stack.moonraker.url}/{mount}/server/pinozcam/panel")
        if key is not None:
            expect(page.locator("#auth")).to_be_visible()
            page.fill("#auth-key", key)
            page.click("#auth-form button")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")

    open_printer("printer1", keys["printer1"])
    expect(page.locator("#timeline-file")).to_have_text("last print: benchy-one.gcode")
    open_printer("printer2", keys["printer2"])
    # Printer 1 is still logged in (its key was not replaced by printer 2's), with its print.
    open_printer("printer1", None)
    expect(page.locator("#timeline-file")).to_have_text("last print: benchy-one.gcode")
    # Printer 2 has printed nothing: printer 1's print is not shown as its own.
    open_printer("printer2", None)
    expect(page.locator("#timeline-file")).to_have_text("no print running")

    # A key saved before keys were kept per printer still logs its printer in.
    page.evaluate("(key) => { localStorage.clear(); localStorage.setItem('pinozcam-panel-apikey', key); }",
                  keys["printer2"])
    open_printer("printer2", None)
    open_printer("printer2", None)   # taken over: read again from its own key
    page.unroute_all(behavior="ignoreErrors")  # requests still being proxied end quietly
    # The browser logs the refused requests; those are expected here.
    view.errors[:] = [e for e in view.errors if "401" not in e]
