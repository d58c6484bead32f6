# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""The ``[pinozcam]`` options: the component's own ones, the worker's, the UI-saved values.

The component reads six options itself (:data:`OWN_OPTIONS`); every other option of
``[pinozcam]`` is the worker's, passed as text and checked by the worker. Values set in
moonraker.conf win over values saved from the UI (those options are "locked"). A bad own
option gets a warning and its default, never a crash.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from ...confighelper import ConfigHelper

#: Options the component reads itself; every other option of [pinozcam] goes to the worker.
OWN_OPTIONS = ("enabled", "camera", "worker_python", "pause_macro", "cancel_macro", "prompt",
               "worker_timeout")
#: Worker options whose values are never sent back to a client.
SECRET_OPTIONS = ("discord_webhook_url", "telegram_bot_token")
REDACTED = "<redacted>"
# Values stop before what ends or breaks Klipper's argument parsing (# * ; and quotes).
_MACRO = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*( +[A-Za-z_][A-Za-z0-9_]*=[^\s;#*\"']+)*$")


@dataclass
class OwnOptions:
    """The component's own options (defaults here and nowhere else)."""

    enabled: bool = True
    camera: str = ""
    worker_python: str = ""
    pause_macro: str = "PINOZCAM_PAUSE"
    cancel_macro: str = "PINOZCAM_CANCEL"
    prompt: bool = True
    # Seconds a running worker may go without answering before it is restarted: a hung worker
    # (a stuck driver, a frozen SD card) would otherwise leave the print unwatched, silently.
    worker_timeout: float = 60.0


def default_worker_python(home: Path) -> str:
    """``~/pinozcam-env/bin/python`` (what install.sh creates) if present, else Moonraker's python."""
    candidate = home / "pinozcam-env" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def parse_own_option(name: str, value: Any) -> Any:
    """Convert and check one own option; ValueError says what is accepted."""
    if name in ("enabled", "prompt"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise ValueError("true or false")
    if name == "worker_timeout":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if isinstance(value, bool) or not 2.0 <= seconds <= 3600.0:
            raise ValueError("seconds between 2 and 3600")
        return seconds
    text = str(value).strip()
    if name in ("pause_macro", "cancel_macro"):
        if not _MACRO.match(text) or len(text) > 200:
            raise ValueError("a macro name with optional KEY=VALUE parameters, e.g. PINOZCAM_PAUSE")
        return text
    if name == "worker_python" and text and not Path(text).expanduser().is_file():
        raise ValueError("the path of a python executable that exists")
    return str(Path(text).expanduser()) if name == "worker_python" and text else text


#: Moonraker [webcam] services (Mainsail's and Fluidd's names) whose stream is no picture PiNozCam
#: reads, by what they stream; every "webrtc-..." service too.
_NO_PICTURE_SERVICES = {"hlsstream": "HLS", "jmuxer-stream": "H.264", "iframe": "a web page"}
#: The same told by the stream URL, for a service that can carry anything ("ipstream").
_NO_PICTURE_SUFFIXES = {".m3u8": "HLS", ".mp4": "video", ".webm": "video", ".html": "a web page"}


def _no_picture_stream(service: str, stream_url: str) -> Optional[str]:
    """What a webcam streams when PiNozCam cannot read it (WebRTC, HLS, ...); None when it may
    be MJPEG (unknown services and URLs are tried: the worker then says what it got)."""
    service = service.strip().lower()
    if service.startswith("webrtc"):
        return "WebRTC"
    if service in _NO_PICTURE_SERVICES:
        return _NO_PICTURE_SERVICES[service]
    path = re.split(r"[?#]", stream_url, maxsplit=1)[0].lower()
    return next((kind for suffix, kind in _NO_PICTURE_SUFFIXES.items() if path.endswith(suffix)), None)


def webcam_url(cam: Any) -> str:
    """The URL to read a Moonraker [webcam] at: its ``snapshot_url``, else its ``stream_url``
    when that may be MJPEG. ValueError, naming the webcam and what to do, when neither can be
    read: a WebRTC or HLS webcam would otherwise fail later as "not a JPEG"."""
    snapshot = (getattr(cam, "snapshot_url", "") or "").strip()
    if snapshot:
        return snapshot
    stream = (getattr(cam, "stream_url", "") or "").strip()
    if not stream:  # e.g. a webcam saved from the UI with no URL
        raise ValueError(f"[webcam {cam.name}] has no usable URL (no snapshot_url or stream_url)")
    kind = _no_picture_stream(str(getattr(cam, "service", "") or ""), stream)
    if kind is not None:
        raise ValueError(f"webcam {cam.name!r} streams {kind} only; set its snapshot_url "
                         "(crowsnest/camera-streamer serve one at /webcam/?action=snapshot or /snapshot, "
                         "go2rtc at /api/frame.jpeg?src=NAME) or set camera: in [pinozcam]")
    return stream


def camera_path_or_url(value: str) -> str:
    """The ``camera`` option when it starts with ``/`` or ``~``: a local path or device as it
    is (``~`` expanded, as the worker's YAML and the CLI do), or a URL of this machine's web
    server (``/webcam/?action=snapshot``) read over loopback. ValueError for a path that does
    not exist, naming it: read as a URL it would only fail later, as a 404 from nginx.

    An existing path, and anything under ``/dev/`` (a camera that is unplugged now), is local.
    A missing one is a URL when it has a query (crowsnest's ``?action=snapshot``) or when its
    first folder does not exist here (``/webcam/snapshot``, ``/webcam2/...``: locations of the
    web server, not folders); under a folder that exists (``/home/pi/frames``, ``~/frames``)
    it is a path that is not there (yet).
    """
    home_relative = value.startswith("~")
    if home_relative:
        path = os.path.expanduser(value)
        if path.startswith("~"):
            user = value[1:].split("/", 1)[0]
            raise ValueError(f"{value!r}: there is no user {user!r} on this machine")
        value = path
    if value.startswith("/dev/") or os.path.exists(value):
        return value
    first_folder = "/" + value.lstrip("/").split("/", 1)[0]
    if not home_relative and ("?" in value or not os.path.isdir(first_folder)):
        return "http://127.0.0.1" + value  # a URL relative to this machine's web server
    hint = "" if home_relative else \
        f" (for a URL of this machine's web server, write it whole: http://127.0.0.1{value})"
    raise ValueError(f"no file or folder {value} on this machine{hint}")


# Query parameters that carry a camera's password or token (Reolink's ``&password=``,
# Foscam's ``&pwd=``, ...). The same list as pinozcam_klipper.redact, which this file cannot
# import: it runs inside Moonraker's own Python.
_SECRET_QUERY = re.compile(r"([?&;](?:password|passwd|pwd|pass|loginpas|token|access_token|auth|key"
                           r"|apikey|api_key|secret)=)[^&#;\s\"'<>]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A URL with any ``user:password@`` removed and password-like query values shown as
    ``<redacted>`` (camera URLs may carry credentials). Also a URL typed without its
    ``http://`` (``admin:pw@192.168.1.50/snap.jpg``), which is quoted back in warnings."""
    url = re.sub(r"^(\w+://)?[^/?#]*@", lambda m: m[1] or "", url)  # to the last "@": p@ss too
    return _SECRET_QUERY.sub(lambda m: m[1] + REDACTED, url)


def hide_url_password(url: str) -> str:
    """A URL with the password of any ``user:password@``, and of password-like query
    parameters, shown as ``<redacted>`` (settings answers: the user still sees which account
    the camera uses); with or without its ``http://``."""
    url = re.sub(r"^(\w+://)?([^/@:?#]*):[^/?#]*@", lambda m: f"{m[1] or ''}{m[2]}:{REDACTED}@", url)
    return _SECRET_QUERY.sub(lambda m: m[1] + REDACTED, url)


def redact_saved(value: Any, key: Optional[str] = None) -> Any:
    """Saved UI options with secrets redacted at any depth (the worker accepts nested sections,
    so a token can hide inside one) and camera passwords hidden."""
    if isinstance(value, dict):
        return {k: redact_saved(v, str(k)) for k, v in value.items()}
    if key in SECRET_OPTIONS and value:
        return REDACTED
    if key == "camera" and isinstance(value, str):
        return hide_url_password(value)
    return value


def http_safe(text: str) -> str:
    """An error message tornado accepts as an HTTP reason phrase (no "<", ASCII, one line)."""
    text = text.replace("<redacted>", "[redacted]").replace("<=", "at most").replace(">=", "at least")
    text = text.replace("<", "below").replace("\r", " ").replace("\n", " ")
    return text.encode("ascii", "replace").decode("ascii")[:400]


def gcode_text(text: str) -> str:
    """Text safe inside ``RESPOND MSG="..."``: no quotes, line breaks, or the characters at
    which Klipper ends a command's arguments (``;``, ``#``, ``*``), or the quote never closes
    and Klipper answers "Malformed command" instead of the message."""
    return re.sub(r"[\"';#*\r\n]", " ", text)[:200]


class OptionsMixin:
    """Reading, merging and saving options; part of :class:`~.component.Pinozcam`, whose
    ``__init__`` sets the state used here (``own``, ``file_options``, ``ui_options``,
    ``locked``, ``camera_url``, ``settings_tree``, ``db``)."""

    # -- configuration ------------------------------------------------------------------
    def _warn(self, key: str, text: str) -> None:
        self._warnings[key] = text
        self.server.add_warning(f"[pinozcam]: {text}", warn_id=f"pinozcam_{key}")

    def _clear_warning(self, key: str) -> None:
        if self._warnings.pop(key, None) is not None:
            self.server.remove_warning(f"pinozcam_{key}")

    def _read_config(self, config: ConfigHelper) -> tuple[dict[str, Any], OwnOptions]:
        """Own options (bad ones: warning + default) and the worker's options as text."""
        own = OwnOptions(worker_python=default_worker_python(Path.home()))
        worker: dict[str, Any] = {}
        for name in config.get_options():
            raw = config.get(name)
            if "{" in raw:
                # Moonraker templates: "{secrets.pinozcam.telegram_bot_token}".
                try:
                    raw = config.gettemplate(name).render()
                except (config.error, self.server.error) as exc:
                    # A bad template (or a missing secret) drops this option, nothing else.
                    self._warn(name, f"option '{name}' could not be rendered ({type(exc).__name__}); "
                                     "it is ignored")
                    continue
            if name in OWN_OPTIONS:
                try:
                    setattr(own, name, parse_own_option(name, raw))
                except ValueError as exc:
                    default = getattr(own, name)
                    self._warn(name, f"option '{name}': {raw!r} is not valid; expected {exc}. "
                                     f"Using the default ({default!r}).")
                continue
            worker[name] = raw
        return worker, own

    def _worker_settings(self) -> dict[str, Any]:
        """What the worker gets: UI-saved values under moonraker.conf's, camera resolved.

        This is the complete set: the worker takes its own defaults for every option left out.
        """
        merged = {k: v for k, v in self.ui_options.items() if k not in OWN_OPTIONS}
        merged.update(self.file_options)
        merged["camera"] = self.camera_url
        for name, value in self.camera_orientation.items():
            merged.setdefault(name, value)  # the user's own camera_flip_*/camera_rotate win
        return merged

    def _configure_message(self) -> dict[str, Any]:
        """``configure`` with ``replace``: an option removed from the saved values (reset to its
        default from the UI) must go back to the default in the worker too, not keep the value
        an earlier ``configure`` gave it, as a merge would."""
        return {"type": "configure", "settings": self._worker_settings(), "replace": True}

    def _own_value(self, name: str) -> Any:
        if name in self.locked or name not in self.ui_options:
            return getattr(self.own, name)
        return self.ui_options[name]

    async def _resolve_camera(self, value: str) -> tuple[str, dict[str, Any]]:
        """A Moonraker [webcam] name (or empty: the first webcam) to its URL and orientation
        (its flip and rotation as camera options); URLs pass as-is, with no orientation, paths
        as :func:`camera_path_or_url` says. ValueError, saying why, when none fits."""
        webcams: dict[str, Any] = {}
        manager = self.server.lookup_component("webcam", None)
        if manager is not None:
            webcams = manager.get_webcams()
        if value in webcams or not value:
            candidates = [webcams[value]] if value else [
                cam for cam in webcams.values()
                if cam.enabled and "/server/pinozcam" not in (cam.snapshot_url + cam.stream_url)]
            if not candidates:
                raise ValueError("no camera: Moonraker has no enabled [webcam]; set 'camera' to a "
                                 "[webcam] name, a URL, a camera device (/dev/video0) or a "
                                 "folder of pictures")
            cam = candidates[0]
            orientation = {"camera_flip_horizontal": bool(getattr(cam, "flip_horizontal", False)),
                           "camera_flip_vertical": bool(getattr(cam, "flip_vertical", False)),
                           "camera_rotate": int(getattr(cam, "rotation", 0) or 0),
                           # Mainsail and Fluidd turn the picture, then mirror it (one CSS transform).
                           "camera_rotate_first": True}
            url = webcam_url(cam)
            if not re.match(r"^\w+://", url):
                # Relative (/webcam/?action=snapshot): this machine's web server. Read it over
                # loopback, not at the LAN address Moonraker would put in front: that breaks
                # when the Pi gets a new address, and the URL is resolved only once.
                return "http://127.0.0.1/" + url.lstrip("/"), orientation
            return url, orientation
        if value.startswith(("/", "~")):
            return camera_path_or_url(value), {}
        if re.match(r"^\w+://", value) or value.isdigit():
            return value, {}
        known = ", ".join(sorted(webcams)) or "none configured"
        # Quoted without any "user:password@": a URL typed without its http:// lands here, and
        # this text reaches Moonraker's warnings and moonraker.log.
        raise ValueError(f"no [webcam] named {redact_url(value)!r} (known: {known}); not a URL, a "
                         "camera device (/dev/video0) or a folder either")

    def _drop_bad_option(self, option: str, message: str) -> bool:
        """Forget a rejected option (UI value first, then moonraker.conf); False if not ours."""
        if option in self.ui_options:
            del self.ui_options[option]
            asyncio.ensure_future(self.db.insert("settings", self._saveable_ui()))
            self._warn(option, f"saved setting rejected: {message}. Using the default.")
            return True
        if option in self.file_options:
            del self.file_options[option]
            self._warn(option, f"{message}. Using the default.")
            return True
        return False

    def _saveable_ui(self) -> dict[str, Any]:
        return dict(self.ui_options)

    def _effective_settings(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for section in self.settings_tree.values():
            if isinstance(section, dict):
                flat.update(section)
        flat.update({name: self._own_value(name) for name in OWN_OPTIONS})
        flat["camera"] = hide_url_password(str(self._own_value("camera")))
        flat["camera_url"] = redact_url(self.camera_url)
        for name in SECRET_OPTIONS:
            if flat.get(name):
                flat[name] = REDACTED
        return flat

    def _set_enabled_option(self) -> None:
        """The ``enabled`` option was saved: it wins over the macros' switches (call only when
        it is among the options saved: any other option leaves a PINOZCAM_DISABLE in force)."""
        self.enabled = self._own_value("enabled")
        self._save_idle_disable(False)
        if self.enabled:
            self.off_for_this_print = False
            self._save_print_switches()
