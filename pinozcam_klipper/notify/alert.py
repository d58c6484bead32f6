"""What an alert says, and how it reads as text. No I/O: the only clock read is the
default of :attr:`Alert.raised_at`; the time of sending is passed in."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field, replace

__all__ = ["Alert", "AlertKind", "DeliveryResult", "without_picture", "STOPPING_ACTIONS", "URGENT_KINDS", "alert_title",
           "alert_fields", "alert_text", "cut_text", "is_urgent", "late_note", "welcome_alert", "LATE_AFTER"]


class AlertKind(str, enum.Enum):
    INCIDENT = "incident"                # a likely failure was seen
    ESCALATED = "escalated"              # the printer was paused or the print cancelled
    COULD_NOT_PAUSE = "could_not_pause"  # an action was asked for and it failed
    TEST = "test"                        # a test/welcome message asked for by the user
    INFO = "info"                        # anything else worth a message


#: Kinds whose loss would leave a failing or paused printer unexplained: they are sent with
#: the long retry policy (:data:`~.transport.URGENT_RETRY`).
URGENT_KINDS = frozenset({AlertKind.INCIDENT, AlertKind.ESCALATED, AlertKind.COULD_NOT_PAUSE})

#: Incident actions that stop the print; an alert about one is never rate limited.
STOPPING_ACTIONS = frozenset({"pause", "cancel"})

#: Seconds after which an alert going out says when it was raised: one held up by an outage
#: or queued behind retries must not read as news about the print right now.
LATE_AFTER = 60.0


_DEFAULT_TITLES = {
    AlertKind.INCIDENT: "Possible print failure",
    AlertKind.ESCALATED: "Print failure: action taken",
    AlertKind.COULD_NOT_PAUSE: "Print failure: could not pause the printer",
    AlertKind.TEST: "PiNozCam test message",
    AlertKind.INFO: "PiNozCam",
}


@dataclass(frozen=True)
class Alert:
    """One message to send. Leave out what is unknown; empty fields are not shown.

    ``progress`` is 0..1; ``severity`` is 0..1; ``failure_area`` is the
    fraction (0..1) of the picture covered by failure boxes; ``image`` is
    JPEG bytes (the annotated picture) or None for a text-only message.
    ``action`` is the incident's action (``notify``, ``pause``, ``cancel``): shown in
    the message, and an incident alert whose action stops the print is never paced.
    ``raised_at`` is when the alert was raised (Unix seconds; by default when the Alert is
    made): Discord shows it as the message's time, and an alert sent more than
    :data:`LATE_AFTER` seconds later says how late it is (:func:`late_note`).
    """

    kind: AlertKind = AlertKind.INCIDENT
    title: str = ""
    printer: str = ""
    file: str = ""
    progress: float | None = None
    layer: int | None = None
    total_layers: int | None = None
    severity: float | None = None
    failure_area: float | None = None
    failure_count: int | None = None
    action: str = ""
    message: str = ""
    image: bytes | None = field(default=None, repr=False)
    # Not compared: two alerts saying the same thing are the same alert, whenever made.
    raised_at: float = field(default_factory=time.time, compare=False)


@dataclass(frozen=True)
class DeliveryResult:
    """What became of an alert on one channel.

    ``status``: "sent", "failed", "rate_limited" (inside ``notify_interval``),
    "dropped" (the queue was full, or the notifier was closed before sending it)
    or "no_channel" (nothing configured).
    ``error`` says why, with secrets redacted; on a "sent" result it is a problem the user
    should still fix ("" when none), e.g. a Telegram topic that does not exist, so the
    alert went to the chat itself. ``attempts`` is the number of requests made for it on
    this channel, retries and fallbacks included (0: none was made).
    """

    alert: Alert
    channel: str
    status: str
    error: str = ""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "sent"


def without_picture(alert: Alert) -> Alert:
    """``alert`` as text only, saying that its picture could not be sent."""
    note = "(The picture could not be sent.)"
    return replace(alert, image=None, message=f"{alert.message}\n{note}" if alert.message else note)


def is_urgent(alert: Alert) -> bool:
    """Whether ``alert`` is worth retrying for minutes (see :data:`URGENT_KINDS`)."""
    return AlertKind(alert.kind) in URGENT_KINDS


def alert_title(alert: Alert) -> str:
    return alert.title or _DEFAULT_TITLES[AlertKind(alert.kind)]


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def alert_fields(alert: Alert, *, printer_name: str = "") -> list[tuple[str, str]]:
    """(name, value) pairs in display order; unknown values are left out."""
    fields: list[tuple[str, str]] = []
    printer = alert.printer or printer_name
    if printer:
        fields.append(("Printer", printer))
    if alert.file:
        fields.append(("File", alert.file))
    if alert.progress is not None:
        fields.append(("Progress", _percent(alert.progress)))
    if alert.layer is not None:
        fields.append(("Layer", f"{alert.layer} / {alert.total_layers}" if alert.total_layers else str(alert.layer)))
    if alert.severity is not None:
        fields.append(("Severity", _percent(alert.severity)))
    if alert.failure_area is not None:
        fields.append(("Failure area", f"{alert.failure_area * 100:.1f}% of the picture"))
    if alert.failure_count is not None:
        fields.append(("Failures seen", str(alert.failure_count)))
    if alert.action:
        fields.append(("Action", alert.action))
    return fields


def late_note(alert: Alert, sent_at: float | None) -> str:
    """"Raised 14:02:31, sent 6 min late" when ``sent_at`` (Unix seconds) is more than
    :data:`LATE_AFTER` seconds after the alert was raised; "" otherwise or when None.

    The time is the machine's local time, with the date when it was another day."""
    if sent_at is None or sent_at - alert.raised_at <= LATE_AFTER:
        return ""
    raised = time.localtime(alert.raised_at)
    same_day = raised[:3] == time.localtime(sent_at)[:3]
    when = time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", raised)
    minutes = max(1, round((sent_at - alert.raised_at) / 60))
    late = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    return f"Raised {when}, sent {late} late"


def alert_text(alert: Alert, *, printer_name: str = "", limit: int = 1024, sent_at: float | None = None) -> str:
    """Plain text: the title, the :func:`late_note` for ``sent_at`` (when late), the message,
    then one "Name: value" line per field; cut to ``limit``."""
    lines = [alert_title(alert)]
    note = late_note(alert, sent_at)
    if note:
        lines.append(note)
    if alert.message:
        lines.append(alert.message)
    lines += [f"{name}: {value}" for name, value in alert_fields(alert, printer_name=printer_name)]
    return cut_text("\n".join(lines), limit)


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 code units, ending in "…" when cut.

    Telegram and Discord count lengths in UTF-16 code units, in which an emoji outside the
    Basic Multilingual Plane (a file named "🚀 rocket.gcode") counts twice: a caption cut by
    characters could still be refused as too long, and the alert lost.
    """
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    kept, used = [], 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit - 1:  # room for the "…"
            break
        kept.append(char)
    return "".join(kept) + "…"


def welcome_alert(printer_name: str, image: bytes | None = None) -> Alert:
    """The test/welcome message the user sends from the settings page."""
    return Alert(kind=AlertKind.TEST, printer=printer_name, image=image,
                 message="Notifications work. You will get a message like this, with the picture, "
                         "when a print seems to be failing.")
