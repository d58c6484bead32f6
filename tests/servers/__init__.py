"""Reusable local test servers (127.0.0.1, ephemeral port, run in threads).

- :class:`CameraServer`: snapshot + MJPEG camera with controllable frames and failures.
- :class:`NotifyServer`: records Discord- and Telegram-shaped requests and answers like them.
Both derive from :class:`ScriptedServer`: ``reply(429, headers=...)``, ``hang()``, ``drop()``,
``requests``, ``wait_for_requests(n)`` / ``await requests_arrived(n)``, ``restart()``.
:class:`Results`: pass as a Notifier's ``on_result``; ``await results.wait(n)``.
"""

from .base import FormPart, RecordedRequest, Reply, ScriptedServer
from .camera import CameraServer, claiming_size, make_jpeg
from .notify import NotifyServer
from .results import Results

__all__ = ["CameraServer", "FormPart", "NotifyServer", "RecordedRequest", "Reply", "Results", "ScriptedServer",
           "claiming_size", "make_jpeg"]
