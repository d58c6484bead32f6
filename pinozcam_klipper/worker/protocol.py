"""The worker's websocket protocol: parsing client messages, building worker messages.

Pure: no I/O, no asyncio. :func:`parse_message` turns one text frame into a
typed message or raises :class:`ProtocolError` carrying the ``error`` code the
worker answers with; the ``*_message`` builders produce the JSON-ready dicts
the worker sends. ``docs/protocol.md`` is the reference for both directions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PROTOCOL_VERSION", "MAX_MESSAGE_BYTES", "TRANSPORT_MAX_BYTES", "PRINT_STATES", "ACTIONS",
    "FEEDBACK_LABELS", "ProtocolError", "ClientMessage", "Auth", "Hello", "Configure",
    "PrintState", "DetectNow", "Mute", "Feedback", "ActionResult", "StatusRequest", "ListIncidents",
    "HistoryRequest", "parse_message", "error_message",
]

#: The protocol version; a client whose major version differs is refused.
PROTOCOL_VERSION = "1"
#: Largest message the worker reads; a bigger one gets an ``error`` reply.
MAX_MESSAGE_BYTES = 64 * 1024
#: Largest frame the websocket layer accepts at all; beyond it the connection
#: is closed with code 1009, because reading it would mean buffering it.
TRANSPORT_MAX_BYTES = 1024 * 1024

PRINT_STATES = ("printing", "paused", "standby", "complete", "cancelled", "error")
#: What the worker may ask a client to do to the printer (``mute`` only mutes alerts).
ACTIONS = ("pause", "resume", "cancel", "mute")
FEEDBACK_LABELS = ("real_failure", "false_alarm")
ROLES = ("adapter", "viewer")
_MAX_OBJECTS = 500
_MAX_POINTS = 200


class ProtocolError(ValueError):
    """A client message was rejected; ``code`` is the ``error`` code sent back."""

    def __init__(self, code: str, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.option = option


@dataclass(frozen=True)
class Auth:
    token: str


@dataclass(frozen=True)
class Hello:
    protocol: str
    client: str = ""
    role: str = "adapter"


@dataclass(frozen=True)
class Configure:
    """``settings`` go on top of the current ones; with ``replace`` they are the whole set
    (every option left out takes its default)."""

    settings: Mapping[str, Any]
    replace: bool = False


@dataclass(frozen=True)
class PrintObject:
    name: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PrintState:
    """``elapsed``: seconds the print has run, pauses included (Klipper's
    ``print_stats.total_duration``), when the adapter knows it; None (an older adapter): a print
    the worker starts watching is taken to start now. Not part of :meth:`to_dict`: it is read
    when the worker starts watching a print, and stale after that."""

    state: str
    file: str = ""
    progress: float | None = None
    layer: int | None = None
    total_layers: int | None = None
    objects: tuple[PrintObject, ...] = field(default_factory=tuple)
    elapsed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state, "file": self.file, "progress": self.progress,
            "layer": self.layer, "total_layers": self.total_layers,
            "objects": [{"name": o.name, "polygon": [list(p) for p in o.polygon]}
                        for o in self.objects],
        }


@dataclass(frozen=True)
class DetectNow:
    pass


@dataclass(frozen=True)
class Mute:
    muted: bool = True


@dataclass(frozen=True)
class Feedback:
    label: str
    incident_id: str | None = None
    frame_id: int | None = None


@dataclass(frozen=True)
class ActionResult:
    """``request_id`` echoes the ``action_request`` answered ("" from an older adapter)."""

    incident_id: str
    result: str
    action: str = ""
    reason: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class StatusRequest:
    pass


@dataclass(frozen=True)
class ListIncidents:
    limit: int = 50


@dataclass(frozen=True)
class HistoryRequest:
    pass


ClientMessage = (Auth | Hello | Configure | PrintState | DetectNow | Mute | Feedback
                 | ActionResult | StatusRequest | ListIncidents | HistoryRequest)


def _bad(name: str, expected: str, value: Any) -> ProtocolError:
    shown = json.dumps(value)[:60] if _jsonable(value) else repr(value)[:60]
    return ProtocolError("bad_field", f"field '{name}' must be {expected}, not {shown}", option=name)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class _Fields:
    """Typed access to one message's fields; every getter names the field it rejects."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def text(self, name: str, *, required: bool = False, default: str = "",
             choices: tuple[str, ...] | None = None, max_len: int = 1024) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ProtocolError("missing_field", f"field '{name}' is required", option=name)
            return default
        if not isinstance(value, str) or len(value) > max_len:
            raise _bad(name, f"text of at most {max_len} characters", value)
        if choices is not None and value not in choices:
            raise _bad(name, "one of " + ", ".join(choices), value)
        return value

    def number(self, name: str, *, lo: float, hi: float) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or not lo <= value <= hi:
            raise _bad(name, f"a number from {lo:g} to {hi:g}", value)
        return float(value)

    def integer(self, name: str, *, lo: int = 0, hi: int = 10**9) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _bad(name, f"a whole number from {lo} to {hi}", value)
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise _bad(name, "true or false", value)
        return value


def _objects(value: Any) -> tuple[PrintObject, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _MAX_OBJECTS:
        raise _bad("objects", f"a list of at most {_MAX_OBJECTS} objects", value)
    out = []
    for item in value:
        if not isinstance(item, Mapping):
            raise _bad("objects", "a list of {name, polygon} objects", item)
        name = _Fields(item).text("name", max_len=256)
        polygon = item.get("polygon") or []
        if not isinstance(polygon, list) or len(polygon) > _MAX_POINTS:
            raise _bad("objects.polygon", f"a list of at most {_MAX_POINTS} [x, y] points", polygon)
        points = []
        for point in polygon:
            if (not isinstance(point, list) or len(point) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               and math.isfinite(v) for v in point)):
                raise _bad("objects.polygon", "a list of [x, y] number pairs", point)
            points.append((float(point[0]), float(point[1])))
        out.append(PrintObject(name, tuple(points)))
    return tuple(out)


def _parse_fields(kind: str, f: _Fields) -> ClientMessage:
    if kind == "auth":
        return Auth(f.text("token", required=True))
    if kind == "hello":
        protocol = f.data.get("protocol")
        if isinstance(protocol, (int, float)) and not isinstance(protocol, bool):
            protocol = str(protocol)
        return Hello(_Fields({"protocol": protocol}).text("protocol", required=True, max_len=32),
                     f.text("client", max_len=64), f.text("role", default="adapter", choices=ROLES))
    if kind == "configure":
        settings = f.data.get("settings")
        if not isinstance(settings, Mapping):
            raise _bad("settings", "a mapping of options", settings)
        return Configure(dict(settings), f.flag("replace", False))
    if kind == "print_state":
        return PrintState(
            state=f.text("state", required=True, choices=PRINT_STATES),
            file=f.text("file", max_len=1024),
            progress=f.number("progress", lo=0.0, hi=1.0),
            layer=f.integer("layer"),
            total_layers=f.integer("total_layers"),
            objects=_objects(f.data.get("objects")),
            elapsed=f.number("elapsed", lo=0.0, hi=1e9),
        )
    if kind == "detect_now":
        return DetectNow()
    if kind == "mute":
        return Mute(f.flag("muted", True))
    if kind == "feedback":
        incident_id = f.text("incident_id", max_len=128) or None
        frame_id = f.integer("frame_id")
        if incident_id is None and frame_id is None:
            raise ProtocolError("missing_field", "feedback needs 'incident_id' or 'frame_id'",
                                option="incident_id")
        return Feedback(f.text("label", required=True, choices=FEEDBACK_LABELS), incident_id, frame_id)
    if kind == "action_result":
        return ActionResult(
            incident_id=f.text("incident_id", required=True, max_len=128),
            result=f.text("result", required=True, choices=("done", "failed", "accepted")),
            action=f.text("action", choices=ACTIONS + ("",)),
            reason=f.text("reason", max_len=1024),
            request_id=f.text("request_id", max_len=128),
        )
    if kind == "status":
        return StatusRequest()
    if kind == "list_incidents":
        return ListIncidents(f.integer("limit", lo=1, hi=1000) or 50)
    if kind == "history":
        return HistoryRequest()
    raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}", option="type")


def parse_message(raw: str | bytes) -> ClientMessage:
    """Parse one websocket message from a client.

    Raises :class:`ProtocolError` for binary or oversize frames, malformed JSON,
    a non-object, an unknown ``type`` or a field of the wrong type or range.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raise ProtocolError("bad_message", "messages are JSON text frames, not binary")
    if len(raw) > MAX_MESSAGE_BYTES // 4 and len(raw.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_big", f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"malformed JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object with a 'type'")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message must have a text 'type'", option="type")
    return _parse_fields(kind, _Fields(data))


def major(version: str) -> str:
    """``"1.2"`` -> ``"1"``."""
    return version.strip().split(".", 1)[0]


def error_message(code: str, message: str, *, option: str | None = None,
                  request: str | None = None) -> dict[str, Any]:
    """The ``error`` message sent to a client."""
    out: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if option:
        out["option"] = option
    if request:
        out["request"] = request
    return out
