# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""The HTTP endpoints under ``/server/pinozcam`` and the panel's files.

Errors are raised as ``server.error`` through ``_fail`` (its text becomes the HTTP reason
phrase, made safe by :func:`~.options.http_safe`). Secrets are never sent back: they come as
:data:`~.options.REDACTED`, and a client echoing that value keeps what is saved. The panel
page and its files need no login (they hold no data; the API does).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.httpclient

from .options import OWN_OPTIONS, REDACTED, SECRET_OPTIONS, hide_url_password, parse_own_option, redact_saved
from .printer import NOTHING_TO_MUTE
from .worker_process import run_notify_test

if TYPE_CHECKING:
    from ...common import WebRequest

logger = logging.getLogger(__name__)

_INCIDENT_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")
_FRAME_NAME = re.compile(r"^(annotated|onset|before-[0-9]{1,2}|after-[0-9]{1,2})$")


class EndpointsMixin:
    """The endpoints' callbacks and the panel; part of :class:`~.component.Pinozcam`, which
    registers them (``_register``) and sets the state used here."""

    # -- the panel ----------------------------------------------------------------------
    def _register_panel(self) -> None:
        """The panel page and its files: no login needed, they hold no data (the API does)."""
        self.server.register_endpoint("/server/pinozcam/panel", ["GET"], self._ep_panel,
                                      transports=["http"], wrap_result=False,
                                      content_type="text/html; charset=utf-8", auth_required=False)
        if not self.panel_dir.is_dir():
            return
        count = 0
        for path in sorted(self.panel_dir.rglob("*")):
            relative = path.relative_to(self.panel_dir).as_posix()
            if not path.is_file() or relative == "index.html" or relative.startswith(".") or count >= 200:
                continue
            if not re.match(r"^[A-Za-z0-9_./-]+$", relative):
                continue
            count += 1
            kind = mimetypes.guess_type(relative)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"

            async def serve(web_request: WebRequest, file: Path = path) -> bytes:
                return await asyncio.to_thread(file.read_bytes)

            self.server.register_endpoint(f"/server/pinozcam/panel/{relative}", ["GET"], serve,
                                          transports=["http"], wrap_result=False, content_type=kind,
                                          auth_required=False)

    # -- endpoints ----------------------------------------------------------------------
    async def _ep_status(self, web_request: WebRequest) -> dict[str, Any]:
        """``?refresh=true`` asks the worker for its status first (else: its last report)."""
        if web_request.get_boolean("refresh", False) and self.ws is not None:
            await self._request({"type": "status"}, "status")
        return self.status()


    async def _ep_settings(self, web_request: WebRequest) -> dict[str, Any]:
        if web_request.get_request_type().name == "POST":
            changes = web_request.get("settings", None)
            if changes is None:
                changes = {k: v for k, v in web_request.get_args().items() if k != "settings"}
            if not isinstance(changes, dict):
                raise self._fail("'settings' must be an object of option: value", 400)
            await self._apply_settings(changes)
        saved = redact_saved(self.ui_options)
        return {"settings": self._effective_settings(), "locked": sorted(self.locked),
                "saved": saved, "restart_needed": self.restart_needed}

    async def _apply_settings(self, changes: dict[str, Any]) -> None:
        """Validate ``changes`` (own options here, the rest by the worker), then save them."""
        if "worker_python" in changes:
            # Choosing the program Moonraker runs is for whoever edits moonraker.conf only.
            raise self._fail("option 'worker_python' can only be set in moonraker.conf", 400)
        locked = sorted(k for k in changes if k in self.locked)
        if locked:
            raise self._fail(f"option '{locked[0]}' is set in moonraker.conf, which wins over the "
                             "UI; change it there", 400)
        new_ui = dict(self.ui_options)
        for name, value in changes.items():
            if value is None or value == "":
                new_ui.pop(name, None)  # back to the default
            elif name in SECRET_OPTIONS and value == REDACTED:
                continue  # the UI echoed the redacted value back: keep what is saved
            elif name == "camera" and REDACTED in str(value):
                if str(value) == hide_url_password(str(self._own_value("camera"))):
                    continue  # the hidden camera password echoed back: keep what is saved
                raise self._fail("option 'camera': type the camera's password again (the one "
                                 "saved is only shown as <redacted>)", 400)
            elif name in OWN_OPTIONS:
                try:
                    new_ui[name] = parse_own_option(name, value)
                except ValueError as exc:
                    raise self._fail(f"option '{name}': {value!r} is not valid; expected {exc}", 400) from None
            else:
                new_ui[name] = value
        camera = (self.camera_url, self.camera_orientation)
        if "camera" in changes:
            try:
                camera = await self._resolve_camera(str(new_ui.get("camera", self.own.camera)))
            except ValueError as exc:
                raise self._fail(f"option 'camera': {exc}", 400) from None
        old_ui, old_camera = self.ui_options, (self.camera_url, self.camera_orientation)
        self.ui_options, (self.camera_url, self.camera_orientation) = new_ui, camera
        if self.ws is None:
            # Nothing to check them with: save them; the worker checks them when it starts
            # (a rejected one is dropped with a warning). This is how a camera gets fixed.
            await self.db.insert("settings", self._saveable_ui())
            if "enabled" in changes:
                self._set_enabled_option()
            self._wake.set()
            self._notify_status()
            return
        try:
            reply = await self._request(self._configure_message(), "configure")
        except Exception:
            self.ui_options, (self.camera_url, self.camera_orientation) = old_ui, old_camera
            raise
        if reply.get("type") == "error":
            self.ui_options, (self.camera_url, self.camera_orientation) = old_ui, old_camera
            raise self._fail(str(reply.get("message")), 400)
        await self.db.insert("settings", self._saveable_ui())
        if "enabled" in changes:
            self._set_enabled_option()
            self._send_print_state(force=True)
        if self.restart_needed and self.process is not None:
            self._restart_requested = True
            await self.process.stop()
        self._notify_status()


    async def _ep_snapshot(self, web_request: WebRequest) -> bytes:
        if self.ws is None or self.process is None:
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        # raw=1: the camera's frame as it came, for viewers that draw the boxes themselves.
        raw = str(web_request.get("raw", "")).strip().lower() in ("1", "true", "yes", "on")
        query = "?raw=1" if raw else ""
        request = tornado.httpclient.HTTPRequest(
            f"http://{self.process.address}/snapshot.jpg{query}",
            headers={"Authorization": f"Bearer {self.process.token}"}, request_timeout=15)
        try:
            response = await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, tornado.httpclient.HTTPClientError) as exc:
            # raise_error=False covers answers only: a refused connection, a connection the
            # worker closed (it was killed or restarts) or a timeout still raise.
            logger.debug("pinozcam snapshot from the worker failed: %s", exc)
            raise self._fail("the detector worker is not reachable (restarting?)", 503) from None
        if response.code != 200:
            raise self._fail(f"no picture from the worker ({response.code})", 503)
        return response.body

    async def _ep_incidents(self, web_request: WebRequest) -> dict[str, Any]:
        limit = web_request.get_int("limit", 50)
        reply = await self._request({"type": "list_incidents", "limit": max(1, min(limit, 1000))},
                                    "incidents")
        if reply.get("type") == "error":
            raise self._fail(str(reply.get("message")), 503)
        return {"incidents": reply.get("incidents", [])}

    async def _ep_history(self, web_request: WebRequest) -> dict[str, Any]:
        """The worker's severity history of the current (or last) print, asked for now."""
        reply = await self._request({"type": "history"}, "history")
        if reply.get("type") == "error":
            raise self._fail(str(reply.get("message")), 503)
        return {k: v for k, v in reply.items() if k != "type"}

    def _incident_dir(self) -> Path:
        configured = self.file_options.get("incident_dir") or self.ui_options.get("incident_dir")
        # As the worker reads it: "~" expanded, a relative path inside the data folder.
        return self.data_dir / Path(str(configured)).expanduser() if configured else self.data_dir / "incidents"

    async def _ep_incident_picture(self, web_request: WebRequest) -> bytes:
        incident = web_request.get_str("id")
        frame = web_request.get_str("frame", "annotated")
        if not _INCIDENT_ID.match(incident) or not _FRAME_NAME.match(frame):
            raise self._fail("unknown incident or picture", 404)
        path = self._incident_dir() / incident / f"{frame}.jpg"
        try:
            return await asyncio.to_thread(path.read_bytes)
        except OSError:
            raise self._fail("unknown incident or picture", 404) from None

    async def _ep_feedback(self, web_request: WebRequest) -> dict[str, Any]:
        label = web_request.get_str("label")
        if label not in ("real_failure", "false_alarm"):
            raise self._fail("'label' must be real_failure or false_alarm", 400)
        message: dict[str, Any] = {"type": "feedback", "label": label}
        incident = web_request.get_str("incident_id", None)
        frame = web_request.get_int("frame_id", None)
        if incident:
            message["incident_id"] = incident
        if frame is not None:
            message["frame_id"] = frame
        reply = await self._request(message, "feedback_saved")
        if reply.get("type") == "error":
            raise self._fail(str(reply.get("message")), 400)
        return {k: v for k, v in reply.items() if k != "type"}

    async def _ep_detect_now(self, web_request: WebRequest) -> dict[str, Any]:
        if not self._send({"type": "detect_now"}):
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        return {"requested": True}

    async def _ep_mute(self, web_request: WebRequest) -> dict[str, Any]:
        muted = web_request.get_boolean("muted", True)
        done = await self._set_muted(muted)
        if done is None:
            # 409: the request is fine, the printer's state (idle) is what refuses it.
            raise self._fail(NOTHING_TO_MUTE, 409)
        if not done and not self.muted_this_print:
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        return {"muted": muted}

    async def _ep_test_notification(self, web_request: WebRequest) -> dict[str, Any]:
        """Send a test message through ``pinozcam notify-test`` with the current settings."""
        results, problem = await run_notify_test(str(self._own_value("worker_python")), self.data_dir,
                                                 self._worker_settings())
        if problem:
            raise self._fail(problem, 400)
        return {"results": results, "ok": all(r["ok"] for r in results)}

    async def _ep_panel(self, web_request: WebRequest) -> bytes:
        page = self.panel_dir / "index.html"
        if page.is_file():
            return await asyncio.to_thread(page.read_bytes)
        return _PLACEHOLDER_PANEL.encode()


_PLACEHOLDER_PANEL = """<!doctype html>
<html><head><meta charset="utf-8"><title>PiNozCam</title>
<style>body{font-family:sans-serif;background:#1e1e1e;color:#ddd;margin:0;padding:8px}
img{max-width:100%;display:block}</style></head>
<body><div id="state">PiNozCam</div><img id="pic" alt="PiNozCam snapshot">
<script>
async function tick() {
  try {
    const r = await fetch("/server/pinozcam/status");
    const s = (await r.json()).result;
    const d = s.detector || {};
    document.getElementById("state").textContent =
      "PiNozCam: " + (s.enabled ? "on" : "off") + ", worker " + s.worker.state +
      ", severity " + (d.severity ?? "-") + ", camera " + ((d.camera || {}).state || "-");
    document.getElementById("pic").src = "/server/pinozcam/snapshot?t=" + Date.now();
  } catch (e) { document.getElementById("state").textContent = "PiNozCam: " + e; }
}
tick(); setInterval(tick, 2000);
</script></body></html>
"""
