"""Choosing the camera URL from OctoPrint's webcam providers.

Pure: works on the dicts of ``octoprint.webcams.get_webcams_as_dicts()`` (a
``Webcam`` model dumped, plus ``provider``), so it needs no OctoPrint import.
A webcam counts when it has a snapshot URL (preferred: one picture per check)
or an MJPEG stream URL in its ``compat`` part; relative URLs (the classic
webcam's ``/webcam/?action=stream``) are taken relative to this machine.
A URL may carry the camera's password: :meth:`CameraChoice.to_dict` (what the
status shows) hides it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from ..redact import redact_url_credentials

__all__ = ["CameraChoice", "choose_camera"]

_LOCAL_BASE = "http://127.0.0.1/"


@dataclass(frozen=True)
class CameraChoice:
    """The camera the worker watches: ``url`` ("" when none), where it came from, how to turn it."""

    url: str
    source: str  # "setting", "webcam:<name>" or "none"
    flip_horizontal: bool = False
    flip_vertical: bool = False
    rotate: int = 0
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        """For the status answer: the URL's password (``user:pw@``, ``?password=``) redacted."""
        return {"url": redact_url_credentials(self.url), "source": self.source, "problem": self.problem}


def _url_of(webcam: Mapping[str, Any]) -> str:
    compat = webcam.get("compat") or {}
    for candidate in (compat.get("snapshot"), compat.get("stream"), webcam.get("snapshotDisplay")):
        if isinstance(candidate, str) and candidate.strip():
            text = candidate.strip()
            if text.startswith("/"):
                return urljoin(_LOCAL_BASE, text)
            if text.lower().startswith(("http://", "https://")):
                return text
    return ""


def choose_camera(configured_url: str, webcams: Sequence[Mapping[str, Any]], *,
                  wanted_name: str = "", default_name: str = "") -> CameraChoice:
    """The plugin's own ``camera`` setting wins; else the named webcam, OctoPrint's default
    webcam, or the first webcam with a usable URL. Flips and rotation come with a webcam."""
    if configured_url.strip():
        return CameraChoice(configured_url.strip(), "setting")
    by_name = {str(w.get("name", "")): w for w in webcams}
    order: list[Mapping[str, Any]] = []
    for name in (wanted_name, default_name):
        if name and name in by_name:
            order.append(by_name[name])
    order.extend(webcams)
    missing = f"no OctoPrint webcam named {wanted_name!r}" if wanted_name and wanted_name not in by_name else ""
    for webcam in order:
        url = _url_of(webcam)
        if url:
            name = str(webcam.get("name", ""))
            return CameraChoice(url, f"webcam:{name}",
                                problem=f"{missing}: watching {name!r}" if missing else "",
                                flip_horizontal=bool(webcam.get("flipH")),
                                flip_vertical=bool(webcam.get("flipV")),
                                # OctoPrint rotates 90 degrees counter-clockwise; the core, clockwise.
                                rotate=270 if webcam.get("rotate90") else 0)
    if missing:
        problem = missing
    elif webcams:
        problem = "no OctoPrint webcam has a snapshot or stream URL; set the camera URL"
    else:
        problem = "no camera: set the camera URL or configure a webcam in OctoPrint"
    return CameraChoice("", "none", problem=problem)
