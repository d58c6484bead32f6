"""Errors raised by the model runtime."""

from __future__ import annotations

__all__ = ["ModelError", "RuntimeMissingError", "FrameError", "ImageError", "blame_option"]


class ModelError(RuntimeError):
    """The model cannot be loaded or run: a missing or corrupt file, a bad JSON,
    a missing runtime package. The message is one line that says what to do."""


class RuntimeMissingError(ModelError):
    """No usable inference package is installed: the model file is not to blame."""


class FrameError(ValueError):
    """A frame cannot be used: a broken or truncated JPEG, a wrong array shape."""


#: The name the commands use for a frame that cannot be decoded; the same class.
ImageError = FrameError


def blame_option(exc: ModelError, option: str) -> ModelError:
    """``exc`` told as a problem of the user's ``option``: ``"option 'model_path': ..."``.

    Adapters read the option name from that prefix (``option '(\\w+)'``) and can
    drop the bad value. A :class:`RuntimeMissingError` is returned unchanged:
    no other model file would load either. The message stays one line.
    """
    if isinstance(exc, RuntimeMissingError) or str(exc).startswith(f"option '{option}'"):
        return exc
    text = " ".join(str(exc).split())
    return ModelError(f"option '{option}': {text}")
