"""The OctoPrint plugin in a real OctoPrint (PyPI, .venv-octoprint) with its virtual printer.

One OctoPrint for the module, in a temporary base folder, the plugin registered
through its ``octoprint.plugin`` entry point, the webcam served by a local
camera server through OctoPrint's classic webcam, alerts going to a local
recording Discord server. Skipped when .venv-octoprint is missing, except
under ``CI=true``, where that is a failure. The tab's tests open OctoPrint's own UI in the
shared headless Chromium (conftest.py's ``browser``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.octoprint.harness import (API_KEY, VIEWER_API_KEY, OctoPrintApi, OctoPrintServer,
                                                octoprint_python, wait_until)
from tests.servers import CameraServer, NotifyServer
from tests.worker.helpers import BOT_TOKEN, FAILING, GOOD, MODEL, BotServer

pytestmark = pytest.mark.timeout(170)

# Long enough never to finish during a test (2 minutes of dwells), short lines the virtual
# printer answers at once.
GCODE = "M117 pinozcam test\nG28\n" + "G4 P100\nG1 X10 Y10 F3000\n" * 1200 + "M117 done\n"


@pytest.fixture(scope="module")
def python() -> Path:
    found, why = octoprint_python()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return found


@pytest.fixture(scope="module")
def camera() -> Iterator[CameraServer]:
    with_server = CameraServer([GOOD]).start()
    yield with_server
    with_server.stop()


@pytest.fixture(scope="module")
def discord() -> Iterator[NotifyServer]:
    server = NotifyServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def octoprint(python: Path, camera: CameraServer, discord: NotifyServer,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintServer]:
    settings = {
        "model_path": str(MODEL),
        # Fast decisions: no warm-up, two failure frames open an incident, frequent checks.
        "warmup_frames": 0, "warmup_seconds": 0, "start_layer": 0, "max_failure_count": 2,
        "check_interval": 0.2, "fast_check_interval": 0.1, "action": "pause",
        "discord_webhook_url": discord.discord_webhook_url(), "notify_interval": 0,
        "action_confirm_timeout": 5,
    }
    server = OctoPrintServer(python, tmp_path_factory.mktemp("octoprint"), plugin_settings=settings,
                             webcam={"snapshot": camera.snapshot_url, "stream": camera.stream_url})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(octoprint: OctoPrintServer) -> OctoPrintApi:
    api = OctoPrintApi(octoprint.url)
    wait_until("the plugin connected to its worker", lambda: api.plugin_status()["connected"], 60,
               why=octoprint.tail)
    return api


@pytest.fixture(scope="module")
def printer(api: OctoPrintApi, octoprint: OctoPrintServer) -> OctoPrintApi:
    api.post("/api/connection", {"command": "connect", "port": "VIRTUAL", "baudrate": 115200})
    wait_until("the virtual printer to be operational", lambda: api.connection_state() == "Operational", 30,
               why=lambda: api.connection_state())
    return api


def _detections(api: OctoPrintApi) -> int:
    return api.plugin_status()["detections"]


def test_the_plugin_watches_octoprints_webcam_and_serves_the_annotated_picture(
        api: OctoPrintApi, octoprint: OctoPrintServer, camera: CameraServer) -> None:
    status = api.plugin_status()
    assert status["camera"] == {"url": camera.snapshot_url, "source": "webcam:classic", "problem": ""}
    assert status["worker"]["running"] and status["worker"]["address"].startswith("127.0.0.1:")

    reply = api.http.get("/plugin/pinozcam/snapshot.jpg")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/jpeg" and reply.content[:2] == b"\xff\xd8"
    raw = api.http.get("/plugin/pinozcam/snapshot.jpg?raw=1")
    assert raw.status_code == 200 and raw.content == GOOD  # the camera's own picture, nothing drawn
    # The tab's pieces are served.
    assert api.http.get("/plugin/pinozcam/static/js/pinozcam_panel.js").status_code == 200


def test_settings_round_trip_through_octoprints_settings_api(api: OctoPrintApi) -> None:
    api.post("/api/settings", {"plugins": {"pinozcam": {
        "printer_name": "Bench printer", "consider_time": "120", "check_interval": 1000}}}, expect=200)

    saved = api.get("/api/settings")["plugins"]["pinozcam"]
    assert saved["printer_name"] == "Bench printer"
    assert saved["discord_webhook_url"].startswith("http://127.0.0.1:")  # shown to admins only
    assert saved["consider_time"] == 120.0  # stored as a number, not the text sent
    assert saved["check_interval"] == 0.2  # out of range (max 60): refused, the old value stays
    status = api.plugin_status()
    assert [p["option"] for p in status["settings_problems"]] == ["check_interval"]
    assert "<= 60" in status["settings_problems"][0]["message"]

    # The worker got the new settings while running.
    configured = wait_until(
        "the worker to be reconfigured",
        lambda: (c := api.plugin_status()["configured"]) and
        c["settings"]["notify"]["printer_name"] == "Bench printer" and c, 20)
    assert configured["settings"]["detection"]["consider_time"] == 120.0
    assert configured["settings"]["notify"]["discord_webhook_url"] == "<redacted>"


def test_a_password_in_the_camera_url_is_shown_to_no_one(api: OctoPrintApi, octoprint: OctoPrintServer,
                                                          camera: CameraServer) -> None:
    secret_url = camera.snapshot_url.replace("http://", "http://cam:hunter2@") + "?user=admin&password=pw-secret"
    shown_url = camera.snapshot_url.replace("http://", "http://<redacted>@") + "?user=admin&password=<redacted>"
    viewer = OctoPrintApi(octoprint.url, VIEWER_API_KEY)
    try:
        api.post("/api/settings", {"plugins": {"pinozcam": {"camera": secret_url}}}, expect=200)
        # The status (what the tab shows) names the camera without its password.
        answer = api.http.get("/api/plugin/pinozcam")
        assert answer.json()["camera"] == {"url": shown_url, "source": "setting", "problem": ""}
        assert "hunter2" not in answer.text and "pw-secret" not in answer.text
        # The setting itself is for administrators only, like the webhook URL and bot token.
        assert api.get("/api/settings")["plugins"]["pinozcam"]["camera"] == secret_url
        assert viewer.get("/api/settings")["plugins"]["pinozcam"]["camera"] is None
        assert "hunter2" not in viewer.http.get("/api/plugin/pinozcam").text

        # The shown URL sent back (a client that only saw it) keeps the saved password...
        api.post("/api/settings", {"plugins": {"pinozcam": {"camera": shown_url}}}, expect=200)
        assert api.get("/api/settings")["plugins"]["pinozcam"]["camera"] == secret_url
        assert api.plugin_status()["settings_problems"] == []
        # ...another URL with <redacted> in it is refused: the password must be typed again.
        api.post("/api/settings", {"plugins": {"pinozcam": {
            "camera": shown_url.replace("snapshot", "other")}}}, expect=200)
        assert api.get("/api/settings")["plugins"]["pinozcam"]["camera"] == secret_url
        [problem] = api.plugin_status()["settings_problems"]
        assert problem["option"] == "camera" and "password again" in problem["message"]
    finally:
        api.post("/api/settings", {"plugins": {"pinozcam": {"camera": ""}}}, expect=200)
    assert api.plugin_status()["camera"]["source"] == "webcam:classic"


def _worker_camera(api: OctoPrintApi) -> dict[str, Any]:
    configured = api.plugin_status()["configured"]
    return configured["settings"]["camera"] if configured else {}


def test_a_flip_changed_in_octoprints_webcam_settings_reaches_the_worker(api: OctoPrintApi) -> None:
    """OctoPrint's settings dialog sends only what changed: a flip alone calls no hook of ours."""
    try:
        api.post("/api/settings", {"plugins": {"classicwebcam": {"flipH": True, "rotate90": True}}}, expect=200)
        wait_until("the worker to flip and turn the picture", lambda: (
            c := _worker_camera(api)).get("camera_flip_horizontal") is True and c.get("camera_rotate") == 270,
            20, why=lambda: str(_worker_camera(api)))
    finally:
        api.post("/api/settings", {"plugins": {"classicwebcam": {"flipH": False, "rotate90": False}}}, expect=200)
    wait_until("the worker to show the picture as it comes again", lambda: (
        c := _worker_camera(api)).get("camera_flip_horizontal") is False and c.get("camera_rotate") == 0, 20)


def test_failure_frames_while_idle_do_nothing(printer: OctoPrintApi, camera: CameraServer,
                                              discord: NotifyServer, octoprint: OctoPrintServer) -> None:
    camera.set_frames([FAILING])
    try:
        for _ in range(4):  # twice what opens an incident during a print
            before = _detections(printer)
            printer.post("/api/plugin/pinozcam", {"command": "detect_now"}, expect=200)
            wait_until("a detection", lambda: _detections(printer) > before, 20)
        last = printer.plugin_status()["last_detection"]
        assert last["band"] == "failure" and last["boxes"] >= 1  # the worker did see the failure
        status = printer.plugin_status()
        assert status["actions"] == []
        assert status["incidents"] == []
        assert status["status"]["print"]["state"] == "standby"
        assert printer.job_state() == "Operational"
        assert discord.discord_requests() == []
    finally:
        camera.set_frames([GOOD])


def test_a_failure_during_a_print_pauses_it_once_through_octoprint(
        printer: OctoPrintApi, camera: CameraServer, discord: NotifyServer, octoprint: OctoPrintServer) -> None:
    printer.upload_and_print("pinozcam_test.gcode", GCODE)
    wait_until("the print to start", lambda: printer.job_state() == "Printing", 30,
               why=lambda: printer.job_state())
    wait_until("the worker to know the print runs",
               lambda: (printer.plugin_status()["status"] or {}).get("print", {}).get("state") == "printing", 20)

    camera.set_frames([FAILING])
    try:
        wait_until("OctoPrint to pause the print", lambda: printer.job_state() == "Paused", 60,
                   why=lambda: f"job {printer.job_state()}; plugin {printer.plugin_status()}")
        status: dict[str, Any] = wait_until(
            "the worker to hear the print is paused",
            lambda: (s := printer.plugin_status())["status"]["print"]["state"] == "paused" and s, 20)
        [action] = status["actions"]
        assert action["action"] == "pause" and action["result"] == "done" and action["acted"]
        assert action["request_id"]  # the worker's id of the request, echoed in action_result
        history = wait_until("the print's history in the tab",
                             lambda: (h := printer.plugin_status()["history"]) and h["incidents"] and h, 20)
        assert history["print"]["file"].endswith("pinozcam_test.gcode")
        assert history["points"][-1][2] == "failure"
        assert status["last_detection"]["display_threshold"] is not None

        # Failure frames go on while paused: still one pause, one incident.
        seen = _detections(printer)
        wait_until("more checks while paused", lambda: _detections(printer) >= seen + 5, 30)
        status = printer.plugin_status()
        assert len(status["actions"]) == 1
        incident = wait_until("the incident to record the pause as done",
                              lambda: [i for i in printer.plugin_status()["incidents"]
                                       if i.get("action_state") == "done"], 20)
        assert len(incident) == 1 and incident[0]["id"] == action["incident_id"]
        assert octoprint.log().count(f"paused the print for incident {action['incident_id']}") == 1
        assert printer.job_state() == "Paused"

        # The alert with the picture went to Discord.
        wait_until("the Discord alert", lambda: discord.discord_requests(), 20)
    finally:
        camera.set_frames([GOOD])
        printer.post("/api/job", {"command": "cancel"})
    wait_until("the print to end", lambda: printer.job_state() in ("Operational", "Cancelled"), 30)
    wait_until("the worker to hear the print was cancelled",
               lambda: printer.plugin_status()["status"]["print"]["state"] == "cancelled", 20)


def test_a_mute_survives_a_worker_restart(printer: OctoPrintApi) -> None:
    """The worker forgets everything when it dies; the plugin mutes the new one again. Between
    prints a mute is refused: it belongs to one print, and would be dropped at the next one."""
    idle = printer.http.post("/api/plugin/pinozcam", json={"command": "mute"})
    assert idle.status_code == 409 and "no print is running" in idle.json()["error"]
    assert printer.plugin_status()["status"]["muted"] is False
    printer.upload_and_print("pinozcam_test.gcode", GCODE)
    try:
        wait_until("the worker to know the print runs",
                   lambda: (printer.plugin_status()["status"] or {}).get("print", {}).get("state") == "printing", 30)
        printer.post("/api/plugin/pinozcam", {"command": "mute"})
        first = wait_until("the mute", lambda: (s := printer.plugin_status())["status"].get("muted") and s, 20)
        os.kill(first["worker"]["pid"], signal.SIGKILL)
        # The status must come from the new worker (its pid), not be the old one's last.
        wait_until("a new worker, muted for the same print", lambda: (
            s := printer.plugin_status())["worker"]["pid"] not in (None, first["worker"]["pid"])
            and (s["status"] or {}).get("pid") == s["worker"]["pid"]
            and s["status"]["print"]["state"] == "printing" and s["status"]["muted"] is True,
            60, why=lambda: printer.plugin_status())
    finally:
        printer.post("/api/job", {"command": "cancel"})
    wait_until("the mute to end with the print",
               lambda: printer.plugin_status()["status"].get("muted") is False, 30)


@pytest.fixture(scope="module")
def tab(browser: Any, api: OctoPrintApi, octoprint: OctoPrintServer) -> Iterator[Any]:
    """OctoPrint's UI on the PiNozCam tab as the test admin: the API key rides on every request,
    which OctoPrint's own passive login accepts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers={"X-Api-Key": API_KEY})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(octoprint.url + "/#tab_plugin_pinozcam")
    page.locator("#tab_plugin_pinozcam .pinozcam-snapshot").wait_for(state="visible")
    yield page
    context.close()


def _expect() -> Any:
    """Playwright's ``expect``, as patient as the page (the tab polls every 2 s, the worker
    reports its status every 10 s)."""
    expect = pytest.importorskip("playwright.sync_api").expect
    expect.set_options(timeout=20_000)
    return expect


def _click_at(page: Any, selector: str, points: list[tuple[float, float]]) -> None:
    """Clicks at fractions of the element's width and height, once the picture under it has
    loaded (before that the overlay is a thin strip) and is scrolled into view (a reloaded
    page keeps its scroll position; mouse clicks outside the viewport go nowhere)."""
    page.wait_for_function("""() => {
        const img = document.querySelector('#tab_plugin_pinozcam .pinozcam-snapshot');
        return img && img.complete && img.naturalWidth > 0;
    }""")
    element = page.locator(selector)
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    for x, y in points:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def _saved_masks(api: OctoPrintApi) -> list[list[list[float]]]:
    return api.get("/api/settings")["plugins"]["pinozcam"]["masks"]


def test_masks_drawn_on_the_tabs_picture_reach_the_worker(tab: Any, api: OctoPrintApi) -> None:
    expect = _expect()
    overlay = "#tab_plugin_pinozcam .pinozcam-masks"
    message = tab.locator("#tab_plugin_pinozcam .pinozcam-mask-message")
    corners = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.5), (0.1, 0.5)]
    try:
        tab.click("#tab_plugin_pinozcam >> text=Edit masks")
        _click_at(tab, overlay, corners)
        expect(message).to_contain_text("0 shape(s), 4 point(s) placed")
        tab.click("#tab_plugin_pinozcam >> text=Finish shape")
        tab.click("#tab_plugin_pinozcam >> text=Save masks")
        expect(message).to_have_text("1 mask(s) saved")
        [mask] = _saved_masks(api)
        assert [x for point in mask for x in point] == pytest.approx([x for c in corners for x in c], abs=0.01)
        # The worker masks that part of the picture from now on.
        wait_until("the worker to get the mask",
                   lambda: (c := api.plugin_status()["configured"]) and c["settings"]["detection"]["masks"] == [mask],
                   20)

        # A fresh page draws the saved mask over the picture.
        tab.reload()
        expect(tab.locator(overlay + " polygon.mask")).to_have_count(1)

        # A mask hiding nearly everything is refused, with the reason, and the saved one stays.
        tab.click("#tab_plugin_pinozcam >> text=Edit masks")
        _click_at(tab, overlay, [(0.01, 0.01), (0.99, 0.01), (0.99, 0.99), (0.01, 0.99)])
        tab.click("#tab_plugin_pinozcam >> text=Save masks")
        expect(message).to_contain_text("Not saved: ")
        expect(message).to_contain_text("visible")
        assert _saved_masks(api) == [mask]

        # Clear all removes every mask.
        tab.click("#tab_plugin_pinozcam >> text=Clear all")
        tab.click("#tab_plugin_pinozcam >> text=Save masks")
        expect(message).to_have_text("masks removed")
        assert _saved_masks(api) == []
        expect(tab.locator(overlay + " polygon.mask")).to_have_count(0)
    finally:
        api.post("/api/settings", {"plugins": {"pinozcam": {"masks": []}}}, expect=200)


def test_the_tab_says_why_telegram_buttons_do_nothing(tab: Any, api: OctoPrintApi) -> None:
    """A bot with a webhook set: Telegram refuses getUpdates and the alert buttons would do
    nothing. The tab says so, never with the token."""
    expect = _expect()
    shown = tab.locator("#tab_plugin_pinozcam .pinozcam-telegram")
    with BotServer() as bot:
        bot.refuse_updates = (409, "Conflict: can't use getUpdates method while webhook is active")
        try:
            api.post("/api/settings", {"plugins": {"pinozcam": {
                "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "42",
                "telegram_api_base": bot.telegram_api_base}}}, expect=200)
            expect(shown).to_contain_text("deleteWebhook", timeout=40_000)
            assert BOT_TOKEN not in tab.content()
            bot.refuse_updates = None
            expect(shown).to_have_text("ok", timeout=40_000)
        finally:
            api.post("/api/settings", {"plugins": {"pinozcam": {
                "telegram_bot_token": "", "telegram_chat_id": ""}}}, expect=200)
    expect(shown).to_be_hidden(timeout=40_000)


def test_a_print_muted_from_the_tab_can_be_unmuted(tab: Any, printer: OctoPrintApi) -> None:
    expect = _expect()
    button = tab.locator("#tab_plugin_pinozcam button", has_text="ute")
    printer.upload_and_print("pinozcam_test.gcode", GCODE)
    try:
        wait_until("the worker to know the print runs",
                   lambda: (printer.plugin_status()["status"] or {}).get("print", {}).get("state") == "printing", 30)
        expect(button).to_have_text("Mute this print")
        button.click()
        expect(button).to_have_text("Unmute")
        assert printer.plugin_status()["status"]["muted"] is True
        button.click()
        expect(button).to_have_text("Mute this print")
        assert printer.plugin_status()["status"]["muted"] is False
    finally:
        printer.post("/api/job", {"command": "cancel"})
    wait_until("the print to end", lambda: printer.plugin_status()["status"]["print"]["state"] != "printing", 30)


@pytest.fixture
def closed_incident(printer: OctoPrintApi, camera: CameraServer) -> dict[str, Any]:
    """An incident that has closed: the pause test's, or one made here when run alone."""
    def closed() -> list[dict[str, Any]]:
        return [i for i in printer.plugin_status()["incidents"]
                if i.get("kind") == "incident" and i.get("state") == "closed"]
    if closed():
        return closed()[0]
    printer.upload_and_print("pinozcam_test.gcode", GCODE)
    try:
        wait_until("the worker to know the print runs",
                   lambda: (printer.plugin_status()["status"] or {}).get("print", {}).get("state") == "printing", 30)
        camera.set_frames([FAILING])
        wait_until("an incident", lambda: printer.plugin_status()["incidents"], 60)
    finally:
        camera.set_frames([GOOD])
        printer.post("/api/job", {"command": "cancel"})
    return wait_until("the incident to close with the print", closed, 30)[0]


def test_an_incident_marked_in_the_tab_shows_its_label(tab: Any, printer: OctoPrintApi,
                                                        closed_incident: dict[str, Any]) -> None:
    """Nothing else changes a closed incident: the label must come from asking the worker again."""
    expect = _expect()
    row = tab.locator("#tab_plugin_pinozcam table tbody tr").nth(
        [i["id"] for i in printer.plugin_status()["incidents"]].index(closed_incident["id"]))
    label = row.locator("td").nth(4)
    expect(label).to_have_text(closed_incident["label"] or "")
    for link, wanted in (("false alarm", "false_alarm"), ("real failure", "real_failure")):
        row.locator("a", has_text=link).click()
        expect(label).to_have_text(wanted)
        [incident] = [i for i in printer.plugin_status()["incidents"] if i["id"] == closed_incident["id"]]
        assert incident["label"] == wanted
    assert tab.locator("#tab_plugin_pinozcam .pinozcam-command-message").text_content() == ""


def test_a_refused_command_is_explained_in_the_tab(browser: Any, api: OctoPrintApi,
                                                    octoprint: OctoPrintServer) -> None:
    """A read-only user may look at the tab, not control the detector: the button says why."""
    expect = _expect()
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"X-Api-Key": VIEWER_API_KEY})
    try:
        page = context.new_page()
        page.goto(octoprint.url + "/#tab_plugin_pinozcam")
        check = page.locator("#tab_plugin_pinozcam button", has_text="Check now")
        expect(check).to_be_enabled()  # the worker is connected: only the permission is missing
        check.click()
        expect(page.locator("#tab_plugin_pinozcam .pinozcam-command-message")).to_have_text(
            "Check now failed: detect_now needs OctoPrint's CONTROL permission, which this user does not have")
    finally:
        context.close()


def test_the_tab_shows_no_data_while_the_detector_is_down(tab: Any, api: OctoPrintApi) -> None:
    """Another program holds the worker's port, so the detector cannot start: the tab stops
    showing the last severity it was told as if it were live (a grey "no data", the picture
    greyed, and why), and shows it again once the detector is back. The same while OctoPrint
    itself does not answer."""
    expect = _expect()
    severity = tab.locator("#tab_plugin_pinozcam .pinozcam-severity .label")
    why = tab.locator("#tab_plugin_pinozcam .pinozcam-severity")
    frame = tab.locator("#tab_plugin_pinozcam .pinozcam-frame")
    live = re.compile(r"^ok \(\d+ %\)$")
    expect(severity).to_have_text(live)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            api.post("/api/settings", {"plugins": {"pinozcam": {"worker_port": taken.getsockname()[1]}}}, expect=200)
            wait_until("the worker to be down", lambda: not api.plugin_status()["connected"], 30)
            assert api.plugin_status()["status"]["band"] == "ok"   # the plugin still holds the last word
            expect(severity).to_have_text("no data")
            expect(severity).not_to_have_class(re.compile(r"label-success"))
            expect(why).to_contain_text("not connected")
            expect(frame).to_have_class(re.compile(r"\bstale\b"))
        finally:
            api.post("/api/settings", {"plugins": {"pinozcam": {"worker_port": 0}}}, expect=200)
    wait_until("the worker back", lambda: api.plugin_status()["connected"], 60)
    expect(severity).to_have_text(live)
    expect(frame).not_to_have_class(re.compile(r"\bstale\b"))

    tab.route("**/api/plugin/pinozcam", lambda route: route.abort())
    try:
        expect(severity).to_have_text("no data")
        expect(why).to_contain_text("no answer from OctoPrint")
    finally:
        tab.unroute("**/api/plugin/pinozcam")
    expect(severity).to_have_text(live)


def test_the_worker_does_not_outlive_a_killed_octoprint(api: OctoPrintApi, octoprint: OctoPrintServer) -> None:
    # Last in this module: it ends the module's OctoPrint.
    pid = api.plugin_status()["worker"]["pid"]
    assert octoprint.proc is not None
    octoprint.proc.kill()
    octoprint.proc.wait(10)
    wait_until("the worker to exit", lambda: not _alive(pid), 15)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))
