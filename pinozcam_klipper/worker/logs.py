"""Keeping secrets out of the log, whatever ``-v`` says.

At DEBUG the ``websockets`` library logs every request header (the
``Authorization: Bearer`` token) and the start of every frame (a ``configure``
carries the webhook URL and the bot token). Its loggers are held at INFO or
above, so ``-vv`` shows our own detail but never those lines.
"""

from __future__ import annotations

import logging

__all__ = ["guard_library_loggers", "GUARDED_LOGGERS"]

#: Library loggers whose DEBUG output may carry the token or a configure payload.
GUARDED_LOGGERS = ("websockets",)


def guard_library_loggers() -> None:
    """Raise the guarded loggers to INFO (a higher level set on purpose is kept).

    Covers their children too (``websockets.server``, ``websockets.client``),
    unless one was given a level of its own below INFO, which is raised as well.
    """
    for name in GUARDED_LOGGERS:
        for logger in _with_children(name):
            if logger.level < logging.INFO:  # NOTSET (0) inherits the root's DEBUG under -vv
                logger.setLevel(logging.INFO)


def _with_children(name: str) -> list[logging.Logger]:
    parent = logging.getLogger(name)
    children = [logging.getLogger(n) for n, obj in list(logging.root.manager.loggerDict.items())
                if n.startswith(name + ".") and isinstance(obj, logging.Logger)]
    # A child left at NOTSET inherits the parent's INFO; only explicit lower levels need raising.
    return [parent] + [c for c in children if c.level != logging.NOTSET]
