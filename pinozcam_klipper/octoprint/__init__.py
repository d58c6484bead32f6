"""PiNozCam for OctoPrint: the plugin module OctoPrint loads (entry point ``octoprint.plugin``).

Importing this package does not import OctoPrint: the pure parts beside it
(print state, action rules, settings, webcam choice, worker supervision and
link) are usable and testable anywhere. OctoPrint calls
:func:`__plugin_load__`, which builds the plugin from :mod:`.plugin`.
"""

from __future__ import annotations

from typing import Any

__plugin_name__ = "PiNozCam"
__plugin_description__ = ("On-device AI print-failure detection: watches the webcam, pauses the "
                          "print on spaghetti, blobs and detached parts, alerts on Discord/Telegram.")
__plugin_license__ = "Apache-2.0"
__plugin_pythoncompat__ = ">=3.10,<4"
__plugin_implementation__: Any = None
__plugin_hooks__: dict[str, Any] = {}


def __plugin_load__() -> None:
    # OctoPrint's plugin protocol reads the implementation from this module attribute.
    global __plugin_implementation__
    from .plugin import PinozcamPlugin

    __plugin_implementation__ = PinozcamPlugin()
