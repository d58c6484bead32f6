"""The decision engine: frame assessments and printer events in, incidents and actions out.

:class:`DecisionEngine` keeps the state of one print. It reads no clock and does
no I/O: every call carries ``now`` (monotonic seconds, never decreasing; a
smaller value is treated as the latest one seen), and what should happen comes
back as :class:`IncidentEvent` values for the caller to carry out.

Rules
-----
- A *failure frame* is a frame whose band is ``failure``. It is *counted* only
  while a print runs, warm-up is over, the printer is not paused and no resume
  grace is running. Counted failure frames stay in the window for
  ``consider_time`` seconds.
- Warm-up ends (once per print) at the first frame that is past the
  ``warmup_frames`` first frames, at least ``warmup_seconds`` after the print
  started and, when the layer is known and ``start_layer`` > 1, on layer
  ``start_layer`` or later. A layer below ``start_layer`` reported after that
  (a printer still heating when warm-up ended, whose start gcode reports layer 1
  only then) holds counting back too: the first layers are skipped the same
  way whether the printer was preheated or not.
- When the window holds ``max_failure_count`` frames and no incident is open,
  an incident *opens* and requests ``action`` once (``None`` when muted).
- The incident *closes* at the first call where the window is empty, the
  printer is not paused (a paused print keeps its incident, so it can escalate)
  and no resume grace is running (a resumed incident stays open through its
  grace, so the alert's buttons still work if the user changes their mind),
  or when an unmute lets a new incident replace it (see mute, below).
- ``escalate_after`` > 0: an incident that requested ``pause``, with the printer
  still paused and not resumed ``escalate_after`` seconds after the incident
  opened, *escalates* once to ``cancel`` (not when muted).
- :meth:`DecisionEngine.resumed` empties the window (the user judged the print
  fine) and starts ``resume_grace`` seconds in which nothing is counted, so no
  incident opens; the open incident, if any, closes at the first call after the
  grace (it never escalates).
- :meth:`DecisionEngine.mute` silences the rest of the print: incidents still
  open and close (for the record) but request no action and never escalate.
  :meth:`DecisionEngine.unmute` takes that back: the next incident requests
  ``action`` again, and an incident that paused before the mute may escalate
  again. An incident opened while muted requested nothing; if the failure goes
  on after the unmute, the first counted failure frame with the window still
  full *replaces* it: it closes and a new incident opens that requests
  ``action`` (so the user gets the alert and the pause they turned back on, and
  each incident still acts at most once).
- :meth:`DecisionEngine.take_over` keeps an incident open that an earlier
  engine opened (a restarted worker finding the printer still paused by it): it
  closes after a resume's grace like any other, and may still escalate, counted
  from when it first opened.
- :meth:`DecisionEngine.update_settings` swaps the settings mid-print and keeps
  the window, warm-up and the open incident: every rule uses the new values
  from the next call on (see the method for what that means for an incident).
"""

from __future__ import annotations

import enum
import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from .assess import Band, FrameAssessment
from .settings import DetectionSettings, ResolvedDetection

__all__ = ["DecisionEngine", "Verdict", "IncidentEvent", "EngineState", "EventKind"]

logger = logging.getLogger(__name__)

EventKind = Literal["opened", "escalated", "closed"]


class EngineState(str, enum.Enum):
    """Where the engine stands, as reported in each :class:`Verdict`."""

    IDLE = "idle"              # no print running: frames are assessed, never counted
    WARMING_UP = "warming_up"  # print started, warm-up not over
    WATCHING = "watching"      # counting failure frames
    PAUSED = "paused"          # printer reported paused: nothing counted
    GRACE = "grace"            # just resumed: nothing counted until the grace ends


@dataclass(frozen=True)
class IncidentEvent:
    """Something the caller must record, and, when ``action`` is set, carry out.

    ``incident_id`` is unique for the lifetime of the engine (1, 2, ...).
    ``action`` is ``notify``/``pause``/``cancel`` on ``opened`` (``None`` when
    muted), ``cancel`` on ``escalated``, and always ``None`` on ``closed``.
    ``failures`` is the number of failure frames in the window at ``time``.
    """

    kind: EventKind
    incident_id: int
    action: str | None
    time: float
    severity: float
    failures: int
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "incident_id": self.incident_id, "action": self.action,
                "time": self.time, "severity": round(self.severity, 4),
                "failures": self.failures, "file": self.file}


@dataclass(frozen=True)
class Verdict:
    """The engine's answer to one frame (or to time passing, from :meth:`DecisionEngine.tick`).

    From ``tick``, ``severity`` and ``band`` repeat the latest frame's (0 and
    ``ok`` before any) and ``is_failure_frame`` is false.
    ``incident_id``: the incident open after this call, if any.
    """

    severity: float
    band: Band
    is_failure_frame: bool
    failures_in_window: int
    events: tuple[IncidentEvent, ...]
    state: EngineState
    muted: bool
    incident_id: int | None

    @property
    def warming_up(self) -> bool:
        return self.state is EngineState.WARMING_UP

    def to_dict(self) -> dict[str, Any]:
        return {"severity": round(self.severity, 4), "band": self.band,
                "is_failure_frame": self.is_failure_frame,
                "failures_in_window": self.failures_in_window,
                "events": [event.to_dict() for event in self.events],
                "state": self.state.value, "warming_up": self.warming_up,
                "muted": self.muted, "incident_id": self.incident_id}


@dataclass
class _Incident:
    incident_id: int
    opened_at: float
    action: str | None
    escalated: bool = False
    resumed: bool = False  # resumed since it opened: never escalates
    muted: bool = False  # opened while muted (requested nothing): replaced if a failure outlasts the mute


class DecisionEngine:
    """Turns per-frame assessments into incidents; one instance follows one printer.

    Call :meth:`print_started` when a print starts, :meth:`observe` for every
    analysed frame, :meth:`tick` now and then when no frame comes (so incidents
    close and escalate on time), :meth:`paused`/:meth:`resumed`/:meth:`set_layer`
    as the printer reports them, and :meth:`print_ended` when it ends.
    """

    def __init__(self, settings: DetectionSettings | ResolvedDetection) -> None:
        self._settings = settings.resolved() if isinstance(settings, DetectionSettings) else settings
        self._next_id = 1  # not reset by print_ended: ids stay unique per engine
        self._reset(printing=False, now=-math.inf, file=None)

    @property
    def settings(self) -> ResolvedDetection:
        return self._settings

    def update_settings(self, settings: DetectionSettings | ResolvedDetection) -> None:
        """Use ``settings`` from now on, keeping the print's state (window, warm-up, incident).

        From the next :meth:`observe` or :meth:`tick`: ``consider_time`` expires
        the window anew; ``max_failure_count`` decides the next opening (a window
        that already holds enough opens an incident at the next counted failure
        frame); ``action`` is what the *next* incident requests. An incident
        already open keeps the action it requested (a pause stays requested;
        nothing is undone), but escalates only while ``escalate_after`` > 0 and
        the new ``action`` is not ``notify``. A warm-up already over stays over;
        one still running uses the new warm-up values. A resume grace already
        running keeps its end; ``resume_grace`` applies to the next resume.
        """
        self._settings = settings.resolved() if isinstance(settings, DetectionSettings) else settings

    # -- printer events ---------------------------------------------------------------

    def print_started(self, now: float, *, file: str | None = None,
                      elapsed: float = 0.0) -> tuple[IncidentEvent, ...]:
        """A print started: forget everything and begin warm-up.

        ``elapsed``: how long the print has already run (a worker that starts watching it
        part-way, after a restart): warm-up counts from its real start, so only what is left
        of ``warmup_seconds`` remains. Returns a ``closed`` event for an incident left open by
        a print whose end was missed.
        """
        events = self._close_leftover(now)
        self._reset(printing=True, now=now, file=file)
        self._started_at = now - max(0.0, elapsed)
        logger.info("print started%s: warming up", f" ({file})" if file else "")
        return events

    def print_ended(self, now: float) -> tuple[IncidentEvent, ...]:
        """The print ended (complete, cancelled, error): forget everything.

        Returns a ``closed`` event for the incident still open, if any.
        """
        events = self._close_leftover(now)
        if self._printing:
            logger.info("print ended")
        self._reset(printing=False, now=now, file=None)
        return events

    def set_layer(self, layer: int | None) -> None:
        """The current layer (``None``: unknown, which does not hold warm-up back)."""
        self._layer = layer

    def paused(self, now: float) -> None:
        """The printer reports paused (by us or by the user): nothing is counted until resumed."""
        self._now(now)
        self._printer_paused = True

    def resumed(self, now: float) -> None:
        """The printer reports resumed: empty the window and start the resume grace."""
        now = self._now(now)
        self._printer_paused = False
        if self._incident is not None:
            self._incident.resumed = True
        self._window.clear()
        self._grace_until = now + self._settings.resume_grace
        logger.info("print resumed: %gs grace", self._settings.resume_grace)

    def mute(self, now: float) -> None:
        """No further actions for this print; detections and incidents are still reported."""
        self._now(now)
        if not self._muted:
            logger.info("muted until the print ends")
        self._muted = True

    def unmute(self, now: float) -> None:
        """Take a mute back: incidents opened from now on request ``action`` again, and one
        left open from the mute is replaced by one that acts at the next counted failure frame
        (see the module's rules)."""
        self._now(now)
        if self._muted:
            logger.info("unmuted: incidents act again")
        self._muted = False

    def take_over(self, now: float, *, opened_at: float, action: str | None,
                  escalated: bool = False) -> None:
        """Hold an incident an earlier engine opened for this print (``opened_at``: monotonic
        time it opened, maybe before ``now``). Call after :meth:`print_started` and
        :meth:`paused`; the print had warmed up by the time that incident opened."""
        self._now(now)
        self._warmed_up = True
        self._incident = _Incident(self._next_id, opened_at, action, escalated=escalated)
        self._next_id += 1
        logger.info("incident %d taken over from an earlier worker (%s)", self._incident.incident_id,
                    action or "no action")

    # -- frames and time --------------------------------------------------------------

    def observe(self, assessment: FrameAssessment, now: float) -> Verdict:
        """Take one analysed frame; call once per frame, in order."""
        now = self._now(now)
        self._last_severity = assessment.severity
        self._last_band = assessment.band
        is_failure = assessment.band == "failure"
        if self._printing:
            self._frames_seen += 1
            self._update_warmup(now)
        self._expire(now)
        state = self._state(now)
        events: list[IncidentEvent] = []
        if is_failure and state is EngineState.WATCHING:
            self._window.append(now)
            if len(self._window) >= self._settings.max_failure_count:
                if self._incident is not None and self._incident.muted and not self._muted:
                    # Unmuted while the failure goes on: the open incident asked for nothing,
                    # and would stay open (asking for nothing) as long as failures keep coming.
                    events.append(self._close(now, "replaced: unmuted while the failure goes on"))
                if self._incident is None:
                    events.append(self._open(now, assessment.severity))
        events.extend(self._close_or_escalate(now))
        return self._verdict(is_failure, tuple(events), state)

    def tick(self, now: float) -> Verdict | None:
        """Let time pass without a frame; returns a verdict only when there are events."""
        now = self._now(now)
        self._expire(now)
        events = tuple(self._close_or_escalate(now))
        if not events:
            return None
        return self._verdict(False, events, self._state(now))

    # -- internals --------------------------------------------------------------------

    def _reset(self, *, printing: bool, now: float, file: str | None) -> None:
        self._printing = printing
        self._file = file
        self._started_at = now
        self._latest = now
        self._frames_seen = 0
        self._warmed_up = False
        self._layer: int | None = None
        self._printer_paused = False
        self._grace_until: float | None = None
        self._muted = False
        self._window: deque[float] = deque()
        self._incident: _Incident | None = None
        self._last_severity = 0.0
        self._last_band: Band = "ok"

    def _now(self, now: float) -> float:
        # Monotonic time never goes back; if a caller's does, keep the latest.
        if now > self._latest:
            self._latest = now
        return self._latest

    def _update_warmup(self, now: float) -> None:
        if self._warmed_up:
            return
        settings = self._settings
        if (self._frames_seen > settings.warmup_frames
                and now - self._started_at >= settings.warmup_seconds and self._layer_ok()):
            self._warmed_up = True
            logger.info("warm-up over after %d frames: watching", self._frames_seen - 1)

    def _layer_ok(self) -> bool:
        start = self._settings.start_layer
        return self._layer is None or start <= 1 or self._layer >= start

    def _state(self, now: float) -> EngineState:
        if not self._printing:
            return EngineState.IDLE
        if self._printer_paused:
            return EngineState.PAUSED
        if not self._warmed_up or not self._layer_ok():
            return EngineState.WARMING_UP
        if self._in_grace(now):
            return EngineState.GRACE
        return EngineState.WATCHING

    def _in_grace(self, now: float) -> bool:
        return self._grace_until is not None and now < self._grace_until

    def _expire(self, now: float) -> None:
        horizon = now - self._settings.consider_time
        while self._window and self._window[0] < horizon:
            self._window.popleft()

    def _open(self, now: float, severity: float) -> IncidentEvent:
        action = None if self._muted else self._settings.action
        incident = _Incident(self._next_id, now, action, muted=self._muted)
        self._next_id += 1
        self._incident = incident
        logger.info("incident %d opened after %d failure frames: %s", incident.incident_id,
                    len(self._window), action or "no action (muted)")
        return self._event("opened", incident, action, now, severity)

    def _close_or_escalate(self, now: float) -> list[IncidentEvent]:
        incident = self._incident
        if incident is None:
            return []
        if not self._window and not self._printer_paused and not self._in_grace(now):
            return [self._close(now, "")]
        delay = self._settings.escalate_after
        if (delay > 0 and incident.action == "pause" and self._settings.action != "notify"
                and not incident.escalated and not incident.resumed and not self._muted
                and self._printer_paused and now - incident.opened_at >= delay):
            incident.escalated = True
            logger.info("incident %d escalated: still paused after %gs, cancelling",
                        incident.incident_id, delay)
            return [self._event("escalated", incident, "cancel", now, self._last_severity)]
        return []

    def _close(self, now: float, why: str) -> IncidentEvent:
        """Close the open incident (there must be one); ``why`` goes to the log."""
        incident = self._incident
        assert incident is not None
        self._incident = None
        logger.info("incident %d closed%s", incident.incident_id, f": {why}" if why else "")
        return self._event("closed", incident, None, now, self._last_severity)

    def _close_leftover(self, now: float) -> tuple[IncidentEvent, ...]:
        if self._incident is None:
            return ()
        return (self._close(self._now(now), "the print ended"),)

    def _event(self, kind: EventKind, incident: _Incident, action: str | None,
               now: float, severity: float) -> IncidentEvent:
        return IncidentEvent(kind=kind, incident_id=incident.incident_id, action=action,
                             time=now, severity=severity, failures=len(self._window),
                             file=self._file)

    def _verdict(self, is_failure: bool, events: tuple[IncidentEvent, ...],
                 state: EngineState) -> Verdict:
        return Verdict(severity=self._last_severity, band=self._last_band,
                       is_failure_frame=is_failure, failures_in_window=len(self._window),
                       events=events, state=state, muted=self._muted,
                       incident_id=self._incident.incident_id if self._incident else None)
