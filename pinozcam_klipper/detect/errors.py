"""Errors raised by the model runtime."""

from __future__ import annotations

__all__ = ["ModelError", "FrameError", "ImageError"]


class ModelError(RuntimeError):
    """The model cannot be loaded or run: a missing or corrupt file, a bad JSON,
    a missing runtime package. The message is one line that says what to do."""


class FrameError(ValueError):
    """A frame cannot be used: a broken or truncated JPEG, a wrong array shape."""


#: The name the commands use for a frame that cannot be decoded; the same class.
ImageError = FrameError
