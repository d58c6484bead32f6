"""The panel when this browser's clock and the printer's differ (a Pi without a real-time clock
or internet access keeps whatever time it booted with): what the panel says about times, and
whether it lets a front end's login in, follows the printer's clock (Moonraker's), not the
browser's. Real Chromium, real Moonraker and worker (conftest.py's ``stack``).
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

import pytest

from tests.integration.moonraker_stack import Stack, moonraker_without_klipper
from tests.integration.test_panel import DESKTOP, PanelPage, _lan_address, expect, panel  # noqa: F401 (fixture)
from tests.worker.helpers import FAILING, GOOD, MODEL

pytestmark = pytest.mark.timeout(120)


def _newest_incident(stack: Stack) -> dict[str, Any]:
    """The newest incident the worker keeps; one is made (a failing print, paused) if none is."""
    incidents = stack.moonraker.get("/server/pinozcam/incidents")["incidents"]
    if incidents:
        return incidents[0]
    stack.start_print()
    stack.set_camera(FAILING)
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "paused", timeout=30)
    stack.set_camera(GOOD)
    return stack.moonraker.wait_for("the incident", lambda: stack.moonraker.get(
        "/server/pinozcam/incidents")["incidents"])[0]


def test_an_incident_of_the_printers_today_shows_no_date(stack: Stack, panel: Any) -> None:
    """This browser's clock is a day ahead of the printer's: an incident the printer opened
    today is labelled with its time alone, not dated as if it were from another day."""
    incident = _newest_incident(stack)
    view: PanelPage = panel()
    view.page.clock.install(time=datetime.datetime.now() + datetime.timedelta(days=1))
    view.page.clock.resume()  # the time then goes on as usual, a day off
    page = view.open()
    view.tab("incidents")
    # What the label must read by the printer's clock (this machine's: Moonraker runs here).
    wanted = page.evaluate("""([opened, printerNow]) => {
        const date = new Date(opened * 1000), now = new Date(printerNow * 1000);
        const time = date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
        return date.toDateString() === now.toDateString() ? time
            : `${date.toLocaleDateString([], {day: 'numeric', month: 'short'})} ${time}`;
    }""", [incident["opened_at"], datetime.datetime.now().timestamp()])
    expect(page.locator(f'[data-incident="{incident["id"]}"] .title span:not(.badge)')).to_have_text(wanted)


def test_a_fluidd_login_works_while_the_browsers_clock_is_hours_ahead(browser: Any) -> None:
    """Moonraker asks this browser for a login, and Fluidd's fresh token (valid for an hour by
    the printer's clock, as Fluidd keeps it while the clocks differ) is in this origin's
    storage: the panel logs in with it, though by the browser's clock, two hours ahead of the
    printer's, it expired an hour ago."""
    address = _lan_address()
    if address is None:
        pytest.skip("no non-loopback address to reach Moonraker as an untrusted client")

    def untrusted_lan(conf: str) -> str:
        # Reachable from the LAN address, which it does not trust: it asks for a login there.
        return (conf.replace("host: 127.0.0.1", "host: 0.0.0.0")
                .replace("trusted_clients:\n  127.0.0.0/8", "trusted_clients:\n  127.0.0.1/32"))

    # No camera: the worker waits for one; the page and the login are what is tested.
    section = (f"[pinozcam]\ncamera: http://127.0.0.1:9/none.jpg\nworker_python: {sys.executable}\n"
               f"model_path: {MODEL}\n")
    with moonraker_without_klipper(section, edit_conf=untrusted_lan) as moonraker:
        moonraker.wait_ready(klippy=False)
        login = moonraker.post("/access/user", {"username": "clock-test", "password": "a-long-test-password"})
        context = browser.new_context(viewport=DESKTOP)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.clock.install(time=datetime.datetime.now() + datetime.timedelta(hours=2))
            page.clock.resume()
            base = f"http://{address}:{moonraker.port}/server/pinozcam/panel"
            # Fluidd keeps its token in this origin's storage (a panel file needs no login).
            page.goto(f"{base}/style.css")
            page.evaluate("([key, token]) => localStorage.setItem(key, token)",
                          ["user-token-" + "0123456789abcdef" * 2, login["token"]])
            page.goto(base)
            expect(page.locator("#connection")).to_have_text("live")
            expect(page.locator("#auth")).to_be_hidden()
            expect(page.locator('#health [data-health="worker"]')).to_contain_text("connected")
            assert errors == []
        finally:
            context.close()

