# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""The ``[pinozcam]`` Moonraker component.

It runs the detector in a separate process (``python -m
pinozcam_klipper.worker.main`` from ``worker_python``), talks to it over a
loopback websocket with a fresh token per start, and carries out what the
worker asks (pause, cancel, resume) on Klipper, only while a print runs and at
most once per incident. Nothing heavy is imported here: only the standard
library and tornado enter Moonraker's process.

Endpoints (all under ``/server/pinozcam``): ``status``, ``settings`` (GET,
POST), ``snapshot`` (``?raw=1``: the camera's frame without drawing),
``history``, ``incidents``, ``incident_picture``, ``feedback``, ``detect_now``,
``test_notification``, ``panel`` (+ the panel's files).
Websocket notifications: ``notify_pinozcam_status``,
``notify_pinozcam_detection``, ``notify_pinozcam_incident``. Remote methods
for macros: ``pinozcam_enable``, ``pinozcam_disable``, ``pinozcam_mute``,
``pinozcam_status``, ``pinozcam_false_alarm``. See docs/moonraker.md.

Layout: ``component.py`` (the :class:`Pinozcam` class: state, registration, lifecycle),
``options.py`` (the ``[pinozcam]`` options, UI-saved values, the camera), ``worker_process.py``
(the worker as a child process: start, log, stop), ``worker_link.py`` (supervising the worker
and its websocket session: requests and replies), ``printer.py`` (Klipper's print state,
actions with their safety rules, the pause prompt, remote methods) and ``endpoints.py`` (HTTP
endpoints and the panel). Moonraker imports the package as
``moonraker.components.pinozcam`` and calls :func:`load_component`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .component import Pinozcam

if TYPE_CHECKING:
    from ...confighelper import ConfigHelper

__all__ = ["Pinozcam", "load_component"]


def load_component(config: ConfigHelper) -> Pinozcam:
    return Pinozcam(config)
