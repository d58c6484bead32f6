"""``pinozcam doctor`` against a Moonraker it cannot simply use: one that wants a login, one
reached over IPv6, one whose worker is not running.

Real Moonraker 0.11 (no Klipper behind it) for each; a small local HTTP server stands in for a
proxy that refuses the websocket itself with 401, which Moonraker 0.11 does not do.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.integration.moonraker_stack import (MoonrakerProcess, moonraker_without_klipper,
                                               pinozcam_section, run_doctor)

pytestmark = pytest.mark.timeout(90)

LOGIN_REFUSED = ("FAIL  Moonraker refused the login (401): pass --api-key KEY, or add this machine "
                 "to [authorization] trusted_clients")
TRUST_LOOPBACK = "trusted_clients:\n  127.0.0.0/8\n"


@contextlib.contextmanager
def _moonraker(section: str, edit: Callable[[str], str] = lambda text: text) -> Iterator[MoonrakerProcess]:
    """A Moonraker (no Klipper) with ``section``, its moonraker.conf passed through ``edit``;
    started, not waited for (one that wants a login answers no readiness check)."""

    def checked_edit(text: str) -> str:
        assert TRUST_LOOPBACK in text and "host: 127.0.0.1\n" in text  # what edit changes
        return edit(text)

    with moonraker_without_klipper(section, edit_conf=checked_edit) as server:
        yield server


def _answers(url: str) -> bool:
    """``/access/info`` needs no login: it answers once Moonraker serves requests."""
    return httpx.get(url + "/access/info", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def locked_moonraker() -> Iterator[MoonrakerProcess]:
    """[authorization] with no trusted client: every request needs an API key."""
    with _moonraker("", lambda text: text.replace(TRUST_LOOPBACK, "")) as server:
        server.wait_for("moonraker to answer", lambda: _answers(server.url))
        assert httpx.get(server.url + "/server/info").status_code == 401
        yield server


@pytest.mark.parametrize("key", [None, "not-the-key"])
def test_doctor_says_how_to_log_in_when_moonraker_answers_401(locked_moonraker: MoonrakerProcess,
                                                              key: str | None) -> None:
    code, text = run_doctor(locked_moonraker.url, *(["--api-key", key] if key else []))
    assert code == 1
    assert text.splitlines() == [LOGIN_REFUSED], text


class _Refuse401(http.server.BaseHTTPRequestHandler):
    """A proxy in front of Moonraker that wants a login: every request, the websocket
    upgrade included, is answered 401."""

    def do_GET(self) -> None:
        body = b'{"error": {"code": 401, "message": "Unauthorized"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_doctor_says_how_to_log_in_when_the_websocket_is_refused_with_401() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuse401)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code, text = run_doctor(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    assert text.splitlines() == [LOGIN_REFUSED], text


def test_doctor_reaches_moonraker_at_an_ipv6_address() -> None:
    def on_ipv6_loopback(text: str) -> str:
        return (text.replace("host: 127.0.0.1\n", "host: ::1\n")
                .replace(TRUST_LOOPBACK, "trusted_clients:\n  ::1/128\n"))

    with _moonraker("", on_ipv6_loopback) as server:
        url = f"http://[::1]:{server.port}"
        server.wait_for("moonraker to answer on ::1", lambda: _answers(url))
        code, text = run_doctor(url)
    assert "cannot reach Moonraker" not in text, text
    assert "OK    Moonraker 0.11" in text, text
    # No [pinozcam] section here: the check after the first one fails, as it should.
    assert "FAIL  the pinozcam component is not loaded" in text and code == 1


def test_doctor_does_not_call_notifications_missing_while_the_worker_is_down() -> None:
    """No camera set: the component does not start its worker, so its settings hold only its
    own options; the webhook set in moonraker.conf still counts."""
    section = pinozcam_section(None, "http://127.0.0.1:9/api/webhooks/1/token", model_path=None)
    with _moonraker(section) as server:
        server.wait_ready(klippy=False)
        server.wait_for("the component to give up on the camera",
                        lambda: (s := server.status())["worker"]["problem"] and s)
        code, text = run_doctor(server.url)
    assert "FAIL  the detector worker waits for a camera: no camera" in text and code == 1
    assert "no restart needed" in text and "pinozcam-worker.log" not in text, text  # it never ran
    assert "no notifications configured" not in text, text
    assert ("OK    notifications configured: Discord (set; not checked while the worker is not running)"
            in text), text
    assert "/api/webhooks/1/token" not in text
