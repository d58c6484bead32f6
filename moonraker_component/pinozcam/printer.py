# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""Klipper's side: the print state, the actions with their safety rules, the macros.

The component subscribes to a few printer objects (copies, never Moonraker's cache), tells the
worker the print state, and carries out the worker's action requests: each request once, and
only when Klipper, asked at that moment, says the print allows it (pause while printing,
cancel while printing or paused, resume while paused). After its pause it raises a
Mainsail/Fluidd dialog and, once the print is no longer paused, puts back the idle timeout
``PINOZCAM_PAUSE`` raised. The ``pinozcam_*`` remote methods behind the macros live here too,
with the switches that last until the print ends (a mute, ``PINOZCAM_DISABLE`` during a print):
they are kept in Moonraker's database with the print they belong to, so that a restarted
Moonraker, or detection switched off and on again, does not forget them mid-print.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Optional

from .options import gcode_text

logger = logging.getLogger(__name__)

PRINT_STATES = ("printing", "paused", "standby", "complete", "cancelled", "error")
RUNNING_STATES = ("printing", "paused")
#: Bytes the print's objects may take in a print_state message: the worker refuses a message
#: over 64 KiB, and a refused print_state would leave the whole print unwatched.
OBJECTS_BUDGET = 40 * 1024
#: What the component watches in Klipper (copied, never shared with Moonraker's cache).
SUBSCRIPTION: dict[str, Optional[list[str]]] = {
    "print_stats": ["state", "filename", "info", "total_duration"],
    # Set by PINOZCAM_PAUSE to Klipper's configured idle timeout once it has raised it.
    "gcode_macro PINOZCAM_PAUSE": ["restore_idle_timeout"],
    "virtual_sdcard": ["progress", "is_active"],
    "pause_resume": ["is_paused"],
    "webhooks": ["state", "state_message"],
    "exclude_object": ["objects", "excluded_objects", "current_object"],
}
#: The answer to a mute asked for while no print runs (macros and the mute endpoint).
#: (No ";" or "'": Klipper's RESPOND would lose them.)
NOTHING_TO_MUTE = ("no print is running: nothing to mute (use PINOZCAM_MUTE during the print, or in "
                   "the slicer start gcode)")
#: The database key (the component's namespace) of this print's switches: {"file", "started",
#: "muted", "disabled"}, or {} between prints.
PRINT_SWITCHES_KEY = "this_print"
#: The database key of PINOZCAM_DISABLE run while no print runs: true until PINOZCAM_ENABLE (or the
#: ``enabled`` option saved from the UI), so that a restarted Moonraker keeps detection off.
IDLE_DISABLE_KEY = "disabled_until_enable"
#: Seconds two reckonings of a print's start (now - Klipper's total_duration) may differ and
#: still be the same print: status updates are 0.25 s apart, while a new print of the same file
#: starts at least that print's length later.
SAME_PRINT_SLACK = 5.0


class PrinterMixin:
    """Print state, actions and remote methods; part of :class:`~.component.Pinozcam`, whose
    ``__init__`` sets the state used here (``printer``, ``klippy_ready``, ``enabled``,
    ``off_for_this_print``, ``muted_this_print``, ``_switches_print``, ``_saved_switches``,
    ``_acted``, ``_acting``, ``last_action``, ``open_incident``)."""

    # -- printer state ------------------------------------------------------------------
    async def _on_klippy_ready(self) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        # Read before subscribing: from then on, updates may change (and save) the switches.
        saved = await self.db.get(PRINT_SWITCHES_KEY, {})
        try:
            result = await kapis.subscribe_objects(SUBSCRIPTION, self._on_printer_update)
        except self.server.error as exc:
            logger.warning("pinozcam: cannot subscribe to printer objects: %s", exc)
            return
        # Copy: the dicts handed out are Moonraker's own cache objects.
        self.printer = {name: copy.deepcopy(result.get(name) or {}) for name in SUBSCRIPTION}
        self.klippy_ready = True
        self._restore_print_switches(saved)  # before the worker hears that a print runs
        self._send_print_state(force=True)
        self._notify_status()
        self._restore_idle_timeout_if_due()

    def _on_klippy_gone(self) -> None:
        if not self.server.is_running():
            # Moonraker is shutting down (it disconnects from Klipper first): Klipper prints
            # on, so the print has not ended; its switches stay saved for the next Moonraker.
            return
        self.klippy_ready = False
        self.prompt_open = False  # a restarted Klipper shows no dialog
        self._print_ended()  # Klipper shut down or went away: whatever printed has ended
        self._send_print_state()
        self._notify_status()  # the panel shows Klipper's state: tell it now, not at the next status

    def _on_printer_update(self, status: dict[str, Any], eventtime: float) -> None:
        changed = False
        for name, values in status.items():
            if name in SUBSCRIPTION and isinstance(values, dict):
                self.printer.setdefault(name, {}).update(copy.deepcopy(values))
                changed = True
        new_state = (status.get("print_stats") or {}).get("state")
        if new_state is not None and new_state not in RUNNING_STATES:
            # Only a reported change ends the print: a DISABLE from a print's start gcode can
            # come before the update that says the print started.
            self._print_ended()
        if new_state is not None and new_state != "paused" and self.prompt_open:
            # Resumed or cancelled elsewhere (Mainsail, Telegram, the console): the dialog's
            # buttons would act on a pause that is over.
            self.prompt_open = False
            asyncio.ensure_future(self._close_prompt())
        if changed:
            self._send_print_state()
        if new_state is not None or "gcode_macro PINOZCAM_PAUSE" in status:
            self._restore_idle_timeout_if_due()

    def _print_ended(self) -> None:
        was_off = self.off_for_this_print
        self.muted_this_print = self.off_for_this_print = False
        self._save_print_switches()
        if was_off:
            logger.info("pinozcam: the print ended; detection is on again")
            self._notify_status()

    # -- this print's switches (a mute, PINOZCAM_DISABLE during a print) -----------------
    @staticmethod
    def _print_identity(stats: dict[str, Any]) -> Optional[dict[str, Any]]:
        """Which print Klipper's ``print_stats`` (``stats``) describes: its file and its start
        (unix time, now less ``total_duration``: Klipper's own count, so the same reckoning
        after a Moonraker restart). None when ``total_duration`` is missing."""
        duration = stats.get("total_duration")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration < 0:
            return None
        return {"file": str(stats.get("filename") or ""), "started": round(time.time() - duration, 1)}

    def _save_print_switches(self, identity: Optional[dict[str, Any]] = None) -> None:
        """Keep ``muted_this_print`` and ``off_for_this_print`` in Moonraker's database with the
        print they belong to (``identity``, else the print as last seen); {} once both are off.
        Call after changing either; nothing is written when nothing changed."""
        if self.muted_this_print or self.off_for_this_print:
            if self._switches_print is None:
                self._switches_print = identity or self._print_identity(self.printer.get("print_stats", {}))
            record = {**(self._switches_print or {}), "muted": self.muted_this_print,
                      "disabled": self.off_for_this_print}
        else:
            self._switches_print = None
            record = {}
        if record != self._saved_switches:
            self._saved_switches = record
            asyncio.ensure_future(self.db.insert(PRINT_SWITCHES_KEY, record))

    def _restore_print_switches(self, saved: Any) -> None:
        """Klipper is ready (again): the switches saved by :meth:`_save_print_switches` come
        back while the same print runs (same file, same start); a record of any other print
        is forgotten. Call before the print state goes to the worker."""
        self._saved_switches = saved if isinstance(saved, dict) else None  # None: rewritten
        running = self.print_state() in RUNNING_STATES
        now = self._print_identity(self.printer.get("print_stats", {})) if running else None
        record = self._saved_switches or {}
        started = record.get("started")
        if (now is not None and record.get("file") == now["file"]
                and isinstance(started, (int, float)) and abs(started - now["started"]) <= SAME_PRINT_SLACK):
            self.muted_this_print = self.muted_this_print or record.get("muted") is True
            self.off_for_this_print = self.off_for_this_print or record.get("disabled") is True
            self._switches_print = {"file": now["file"], "started": started}
            logger.info("pinozcam: still the print of %s: %s", now["file"], ", ".join(
                what for what, on in (("muted", self.muted_this_print),
                                      ("detection off until it ends", self.off_for_this_print)) if on))
        self._save_print_switches()

    def _restore_idle_timeout_if_due(self) -> None:
        """PINOZCAM_PAUSE raised the idle timeout (so the heaters stay on while paused) and left
        Klipper's configured value in its ``restore_idle_timeout``: once the print is no longer
        paused (resumed, cancelled, ended), put that value back. Nothing if it did not raise it.

        Called on changes of the print state or of that variable only. The last update may be
        stale, so ``_PINOZCAM_RESTORE_IDLE_TIMEOUT`` checks both again inside Klipper, in line
        with other gcode (a PINOZCAM_PAUSE queued just before it is never undone)."""
        configured = self.printer.get("gcode_macro PINOZCAM_PAUSE", {}).get("restore_idle_timeout")
        if (not isinstance(configured, (int, float)) or isinstance(configured, bool) or configured <= 0
                or not self.klippy_ready or self.print_state() == "paused" or self._restoring_idle_timeout):
            return
        self._restoring_idle_timeout = True
        asyncio.ensure_future(self._restore_idle_timeout())

    async def _restore_idle_timeout(self) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        try:
            await kapis.run_gcode("_PINOZCAM_RESTORE_IDLE_TIMEOUT")
        except self.server.error as exc:
            logger.warning("pinozcam: could not restore the idle timeout: %s", exc)
        finally:
            self._restoring_idle_timeout = False

    def print_state(self) -> str:
        """Klipper's print_stats.state as the component sees it ("error" if Klipper is gone mid-print)."""
        state = str(self.printer.get("print_stats", {}).get("state") or "standby")
        if state not in PRINT_STATES:
            state = "standby"
        if not self.klippy_ready and state in ("printing", "paused"):
            return "error"
        return state

    def print_started_at(self) -> Optional[float]:
        """Unix time the running print started (Klipper's ``total_duration`` back from now), or
        None between prints. Klipper's own count, so a restarted worker does not move it."""
        identity = self._print_identity(self.printer.get("print_stats", {}))
        if self.print_state() not in RUNNING_STATES or identity is None:
            return None
        return float(identity["started"])

    def _print_state_message(self) -> dict[str, Any]:
        stats = self.printer.get("print_stats", {})
        info = stats.get("info") or {}
        progress = self.printer.get("virtual_sdcard", {}).get("progress")
        raw = self.printer.get("exclude_object", {}).get("objects") or []
        # Sized once per list Klipper sends (a status update without the key keeps the same
        # list object), not at every update of the print's progress.
        if raw is not self._objects_raw:
            self._objects_raw, self._objects_sized = raw, _objects_within_budget(raw)
        objects = self._objects_sized

        def whole(value: Any) -> Optional[int]:
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

        message = {
            "type": "print_state",
            # Detection off: the worker is told nothing prints, so it does not check at all.
            "state": self.print_state() if self.watching() else "standby",
            "file": str(stats.get("filename") or "")[:1024],
            "progress": min(max(float(progress), 0.0), 1.0) if isinstance(progress, (int, float)) else None,
            "layer": whole(info.get("current_layer")),
            "total_layers": whole(info.get("total_layer")),
            "objects": objects,
        }
        duration = stats.get("total_duration")
        if (message["state"] in RUNNING_STATES and isinstance(duration, (int, float))
                and not isinstance(duration, bool) and duration >= 0):
            # How long the print has run (pauses included): a worker that starts watching it
            # part-way (restarted, or Moonraker was) warms up only for what is left.
            message["elapsed"] = round(float(duration), 1)
        return message

    def _send_print_state(self, force: bool = False) -> None:
        """Tell the worker the print state (when it changed, or ``force``). A worker put into a
        print it was not watching (a new connection, detection back on, Klipper back) takes it
        for a new print and unmutes: a mute of this print goes with it again.

        Nothing is sent before Klipper's state is first known (Moonraker just started, Klippy not
        ready yet): a made-up "standby" would tell a restarted worker that the print paused by
        its incident has ended, and it would close the incident. ``_on_klippy_ready`` sends it."""
        if not self.printer:
            return
        message = self._print_state_message()
        last = self._last_print_state

        def steady(fields: dict[str, Any]) -> dict[str, Any]:  # without what moves all the time
            return {k: v for k, v in fields.items() if k not in ("progress", "elapsed")}

        same = steady(message) == steady(last)
        small_step = abs((message["progress"] or 0.0) - (last.get("progress") or 0.0)) < 0.01
        if not force and same and small_step:
            return
        if self._send(message):
            self._last_print_state = message
            starts_watching = message["state"] in RUNNING_STATES and last.get("state") not in RUNNING_STATES
            if starts_watching and self.muted_this_print:
                self._send({"type": "mute", "muted": True})

    # -- actions ------------------------------------------------------------------------
    async def _on_action_request(self, message: dict[str, Any]) -> None:
        """Carry out each request once: a repeat (same ``request_id``, e.g. after a reconnect)
        only gets the first answer again. Each new request (a second Telegram Pause after a
        resume) has a new id and is acted on. Workers without request ids: once per
        (incident, action).

        A pause or cancel the print allows is answered ``accepted`` as its gcode is sent:
        Klipper runs it only after a long command holding its queue (an M109 heat-up
        mid-print), and the worker must not take that wait for a lost request."""
        incident_id = str(message.get("incident_id") or "")
        action = str(message.get("action") or "")
        request_id = message.get("request_id")
        key: tuple[str, ...] = ("request", str(request_id)) if request_id else (incident_id, action)
        answer: dict[str, Any] = {"type": "action_result", "incident_id": incident_id, "action": action}
        if request_id:
            answer["request_id"] = request_id
        if key in self._acting:
            # The first copy answers when it is done; say again that it is under way.
            if self._acting[key]:
                self._send({**answer, "result": "accepted", "reason": self._acting[key]})
            return
        if key not in self._acted:
            def started(reason: str) -> None:
                self._acting[key] = reason
                self._send({**answer, "result": "accepted", "reason": reason})

            self._acting[key] = ""
            try:
                self._acted[key] = await self._carry_out(action, started)
            finally:
                self._acting.pop(key, None)
            while len(self._acted) > 100:
                self._acted.popitem(last=False)
            result, reason = self._acted[key]
            self.last_action = {"incident_id": incident_id, "action": action, "result": result,
                                "reason": reason, "time": time.time(), "request_id": request_id}
            log = logger.info if result == "done" else logger.warning
            log("pinozcam: %s for incident %s: %s %s", action, incident_id, result, reason)
            self._notify_status()
        result, reason = self._acted[key]
        self._send({**answer, "result": result, "reason": reason})

    async def _carry_out(self, action: str,
                         on_sent: Optional[Callable[[str], None]] = None) -> tuple[str, str]:
        """Do ``action`` on Klipper if the print allows it; ("done"|"failed", why).
        ``on_sent(reason)`` is called as the gcode of a pause or cancel goes to Klipper."""
        if not self.watching():
            return "failed", f"detection is disabled ({self._disabled_text()})"
        if action == "mute":
            if await self._set_muted(True) is None:
                return "failed", NOTHING_TO_MUTE
            return "done", "muted until the print ends"
        allowed = {"pause": ("printing",), "cancel": ("printing", "paused"), "resume": ("paused",)}
        if action not in allowed:
            return "failed", f"unknown action {action!r}"
        kapis = self.server.lookup_component("klippy_apis")
        # Ask Klipper, not the last update: a request can race the end of the print (a Telegram
        # press as the print is cancelled), and gcode must never reach an idle printer.
        state = await self._fresh_print_state(kapis)
        if state not in allowed[action]:
            return "failed", f"the printer is {state}, not {' or '.join(allowed[action])}"
        macro = {"pause": str(self._own_value("pause_macro")),
                 "cancel": str(self._own_value("cancel_macro")), "resume": "RESUME"}[action]
        if on_sent is not None and action in ("pause", "cancel"):
            on_sent(f"sent {macro.split()[0]}; Klipper runs it once the command before it is done")
        try:
            await kapis.run_gcode(macro)
        except self.server.error as exc:
            return "failed", f"{macro.split()[0]}: {exc}"
        # Klipper answers an unknown command (a misspelt macro, pinozcam.cfg not included)
        # with a console line, not an error: only the print state tells whether it worked.
        expected = {"pause": ("paused",), "resume": ("printing",),
                    "cancel": ("cancelled", "standby", "complete", "error")}[action]
        now = await self._fresh_print_state(kapis)
        if now not in expected:
            return "failed", f"{macro.split()[0]} ran but the printer is {now}"
        if action == "pause" and self._own_value("prompt"):
            await self._raise_prompt(kapis)
        return "done", f"ran {macro.split()[0]}"

    async def _fresh_print_state(self, kapis: Any) -> str:
        """print_stats.state asked of Klipper now ("error" when Klipper cannot answer)."""
        return (await self._fresh_print_stats(kapis))["state"]

    async def _fresh_print_stats(self, kapis: Any) -> dict[str, Any]:
        """print_stats (state, filename, total_duration) asked of Klipper now; the state is one
        of PRINT_STATES ("error" when Klipper cannot answer)."""
        if not self.klippy_ready:
            return {"state": self.print_state()}
        try:
            query = await kapis.query_objects({"print_stats": ["state", "filename", "total_duration"]}, None)
        except self.server.error as exc:
            logger.debug("pinozcam: cannot query print_stats: %s", exc)
            return {"state": "error"}
        stats = dict(((query or {}).get("print_stats") or {}))
        state = str(stats.get("state") or "standby")
        stats["state"] = state if state in PRINT_STATES else "standby"
        return stats

    async def _raise_prompt(self, kapis: Any) -> None:
        """A Mainsail/Fluidd dialog: Resume, Cancel, or False alarm (resume and mute)."""
        severity = (self.open_incident or {}).get("severity")
        detail = f" (severity {float(severity):.2f})" if isinstance(severity, (int, float)) else ""
        lines = [
            "action:prompt_begin PiNozCam paused the print",
            f"action:prompt_text A possible print failure was seen{detail}. Check the camera.",
            "action:prompt_footer_button Resume|_PINOZCAM_PROMPT_RESUME|primary",
            "action:prompt_footer_button Cancel|_PINOZCAM_PROMPT_CANCEL|error",
            "action:prompt_footer_button False alarm: resume and mute|PINOZCAM_FALSE_ALARM|warning",
            "action:prompt_show",
        ]
        script = "\n".join(f'RESPOND TYPE=command MSG="{gcode_text(line)}"' for line in lines)
        try:
            await kapis.run_gcode(script)
        except self.server.error as exc:
            logger.warning("pinozcam: could not raise the pause dialog: %s", exc)
            return
        # Still paused? Else a resume came in meanwhile, and its update found no dialog to close.
        if self.print_state() == "paused":
            self.prompt_open = True
        else:
            await self._close_prompt()

    def _note_incident_still_open(self, incident: dict[str, Any]) -> None:
        """The worker says an incident is open (``incident`` event ``open``: a worker that took
        it over, or a new connection): while the print is paused by its pause, the dialog raised
        for it is up, though this component may not have raised it (Moonraker restarted), so it
        is closed once the print is no longer paused, as usual."""
        if (self.print_state() == "paused" and self._own_value("prompt")
                and incident.get("action") == "pause" and incident.get("action_state") == "done"):
            self.prompt_open = True

    async def _close_prompt(self) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        with contextlib.suppress(self.server.error):
            await kapis.run_gcode('RESPOND TYPE=command MSG="action:prompt_end"')

    async def _respond(self, text: str) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        with contextlib.suppress(self.server.error):
            await kapis.run_gcode(f'RESPOND MSG="PiNozCam: {gcode_text(text)}"')

    # -- remote methods (macros) ----------------------------------------------------------
    async def _rm_enable(self) -> None:
        self.enabled = True
        self.off_for_this_print = False
        self._save_print_switches()
        self._save_idle_disable(False)
        self._send_print_state(force=True)
        self._notify_status()
        await self._respond("detection enabled")

    async def _rm_disable(self) -> None:
        """During a print: off until that print ends (a slicer's start gcode must not switch
        detection off for every later print). While idle: off until PINOZCAM_ENABLE."""
        kapis = self.server.lookup_component("klippy_apis")
        # Klipper's own answer: from a print's start gcode, the last update may still say standby.
        stats = await self._fresh_print_stats(kapis)
        if stats["state"] in RUNNING_STATES:
            self.off_for_this_print = True
            self._save_print_switches(self._print_identity(stats))
        else:
            self.enabled = False
            self._save_idle_disable(True)
        self._send_print_state(force=True)
        self._notify_status()
        await self._respond(f"detection disabled {self._disabled_text()}")

    def _save_idle_disable(self, disabled: bool) -> None:
        """Keep PINOZCAM_DISABLE run while idle in Moonraker's database, so that a restarted
        Moonraker keeps detection off (see ``component_init``); ``False`` forgets it
        (PINOZCAM_ENABLE, the ``enabled`` option saved)."""
        asyncio.ensure_future(self.db.insert(IDLE_DISABLE_KEY, disabled))

    def watching(self) -> bool:
        """Whether detection is on now (the option and the macros together)."""
        return self.enabled and not self.off_for_this_print

    def disabled_until(self) -> Optional[str]:
        """None while watching; else "print_end" or "enable" (what turns detection back on)."""
        if self.watching():
            return None
        return "enable" if not self.enabled else "print_end"

    def _disabled_text(self) -> str:
        if self.disabled_until() == "print_end":
            return "until this print ends (or PINOZCAM_ENABLE)"
        return "until PINOZCAM_ENABLE"

    async def _set_muted(self, muted: bool) -> Optional[bool]:
        """Mute (or unmute) the running print; remembered for a restarted worker or Moonraker.

        Klipper is asked whether a print runs: from a slicer's start gcode the last update may
        still say standby. None when none runs and ``muted``: nothing is muted (a mute is of one
        print, and the worker forgets it when the next one starts, so it is refused rather than
        dropped unseen). Else whether the worker has it (False: not connected now; the mute
        still applies once it is)."""
        if not muted:
            self.muted_this_print = False
            self._save_print_switches()
            return self._send({"type": "mute", "muted": False})
        stats = await self._fresh_print_stats(self.server.lookup_component("klippy_apis"))
        if stats["state"] not in RUNNING_STATES:
            return None
        self.muted_this_print = True
        self._save_print_switches(self._print_identity(stats))
        if self._last_print_state.get("state") not in RUNNING_STATES:
            # The worker has not been told that this print runs (the update saying so is still
            # to come, or detection is off): it would take that news for a new print and drop
            # the mute. The mute goes right after the print state (see _send_print_state).
            return self.ws is not None
        return self._send({"type": "mute", "muted": True})

    async def _rm_mute(self) -> None:
        done = await self._set_muted(True)
        if done is None:
            await self._respond(NOTHING_TO_MUTE)
        elif done:
            await self._respond("alerts and actions muted until this print ends")
        else:
            await self._respond("muted until this print ends, from when the worker is back "
                                f"({self._problem_text()})")

    async def _rm_status(self) -> None:
        await self._respond(self.status_line())

    async def _rm_false_alarm(self) -> None:
        incident = (self.open_incident or {}).get("id")
        labelled = bool(incident) and self._send(
            {"type": "feedback", "label": "false_alarm", "incident_id": incident})
        done = await self._set_muted(True)
        if done is None:
            await self._respond(("marked as a false alarm, " if labelled else "") + NOTHING_TO_MUTE)
        elif done:
            await self._respond(("marked as a false alarm, " if labelled else "")
                                + "muted until this print ends")
        else:
            # The mute is kept for the worker's return; the label has nowhere to go.
            await self._respond(f"the worker is not connected ({self._problem_text()}): not "
                                "labelled; muted until this print ends from when it is back")

    def status_line(self) -> str:
        if not self.watching():
            return f"detection disabled {self._disabled_text()}"
        if self.worker_state != "connected":
            return f"worker {self.worker_state}: {self._problem_text()}"
        status = self.worker_status
        camera = (status.get("camera") or {}).get("state", "unknown")
        muted = ", muted" if status.get("muted") else ""
        return (f"watching ({status.get('engine_state', '?')}{muted}), camera {camera}, severity "
                f"{float(status.get('severity') or 0):.2f}, {float(status.get('checks_per_minute') or 0):.0f} "
                f"checks/min")


def _objects_within_budget(items: list[Any], budget: int = OBJECTS_BUDGET) -> list[dict[str, Any]]:
    """Klipper's exclude_object list as the worker takes it (at most 500 objects of 200
    points), and small enough to send: a slicer may outline each of a hundred parts in
    detail. Over the budget each outline becomes its bounding box; objects that still do
    not fit are left out (the worker only keeps them, nothing depends on every one)."""
    objects = []
    for item in items[:500]:
        if not isinstance(item, dict):
            continue
        polygon = [[float(p[0]), float(p[1])] for p in (item.get("polygon") or [])[:200]
                   if isinstance(p, (list, tuple)) and len(p) == 2
                   and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)]
        objects.append({"name": str(item.get("name", ""))[:256], "polygon": polygon})
    if len(json.dumps(objects)) <= budget:
        return objects
    for item in objects:
        if len(item["polygon"]) > 4:
            xs, ys = [p[0] for p in item["polygon"]], [p[1] for p in item["polygon"]]
            item["polygon"] = [[min(xs), min(ys)], [max(xs), min(ys)], [max(xs), max(ys)], [min(xs), max(ys)]]
    kept, used = [], 2
    for item in objects:
        used += len(json.dumps(item)) + 2
        if used > budget:
            break
        kept.append(item)
    return kept
