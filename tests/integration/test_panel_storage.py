"""What the panel keeps in this browser's storage across an upgrade: entries kept before they
were kept per Moonraker mount path. Real Chromium against the real stack (conftest.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.moonraker_stack import Stack
from tests.integration.test_panel import PanelPage, expect, panel  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(120)

LEGACY_TIMELINE = "pinozcam-panel-timeline"
TIMELINE = "pinozcam-panel-timeline@/"   # Moonraker at the root of its address


def test_the_timeline_saved_before_the_upgrade_is_taken_over_once(stack: Stack, panel: Any) -> None:
    """The last print's severity, kept by the panel before timelines were kept per printer,
    still shows after the upgrade, and the old entry is gone from the browser's storage."""
    view: PanelPage = panel()
    page = view.page
    # A worker that has seen no print since it started: what this browser kept is all there is.
    page.route("**/server/pinozcam/history*", lambda route: route.fulfill(json={"result": {
        "print": None, "points": [], "incidents": [], "thresholds": {"warning": 0.33, "failure": 0.66}}}))
    started = (time.time() - 600) * 1000
    kept = {"file": "benchy-before-upgrade.gcode",
            "points": [{"t": started + i * 1000, "s": 0.1} for i in range(20)]}
    # Same origin as the panel (a panel file): the storage the panel will read.
    page.goto(stack.moonraker.url + "/server/pinozcam/panel/style.css")
    page.evaluate("([key, value]) => { localStorage.clear(); localStorage.setItem(key, value); }",
                  [LEGACY_TIMELINE, json.dumps(kept)])

    view.open()
    expect(page.locator("#timeline-file")).to_have_text("last print: benchy-before-upgrade.gcode")
    expect(page.locator("#timeline")).to_have_attribute("data-points", "20")
    stored = page.evaluate("(keys) => keys.map((k) => localStorage.getItem(k))", [LEGACY_TIMELINE, TIMELINE])
    assert stored[0] is None, "the old entry was left behind"
    assert json.loads(stored[1])["file"] == "benchy-before-upgrade.gcode"

    # Taken over once: a reload reads it from the printer's own entry.
    page.reload()
    page.wait_for_selector("body[data-ready]", state="attached")
    expect(page.locator("#timeline-file")).to_have_text("last print: benchy-before-upgrade.gcode")


def test_the_old_timeline_does_not_replace_a_printers_own(stack: Stack, panel: Any) -> None:
    """A printer whose panel has kept its own timeline keeps it; the old entry is removed all
    the same (it would otherwise wait for a printer forever)."""
    view: PanelPage = panel()
    page = view.page
    page.route("**/server/pinozcam/history*", lambda route: route.fulfill(json={"result": {
        "print": None, "points": [], "incidents": [], "thresholds": {"warning": 0.33, "failure": 0.66}}}))
    started = (time.time() - 600) * 1000
    own = {"file": "own.gcode", "points": [{"t": started + i * 1000, "s": 0.2} for i in range(5)]}
    old = {"file": "old.gcode", "points": [{"t": started + i * 1000, "s": 0.1} for i in range(9)]}
    page.goto(stack.moonraker.url + "/server/pinozcam/panel/style.css")
    page.evaluate("""([own, old]) => {
        localStorage.clear();
        localStorage.setItem(own[0], own[1]);
        localStorage.setItem(old[0], old[1]);
    }""", [[TIMELINE, json.dumps(own)], [LEGACY_TIMELINE, json.dumps(old)]])

    view.open()
    expect(page.locator("#timeline-file")).to_have_text("last print: own.gcode")
    assert page.evaluate("(key) => localStorage.getItem(key)", LEGACY_TIMELINE) is None
