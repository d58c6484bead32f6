"""The whole settings tree, loaded from YAML (standalone) or a dict (Moonraker, OctoPrint).

Each section is a dataclass owned by the module that uses it; this module only
composes them. Option names are unique across sections, so the same tree can be
read nested (YAML: ``detection: {score_threshold: 0.9}``) or flat (a Moonraker
``[pinozcam]`` section: ``score_threshold: 0.9``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .camera.settings import CameraSettings
from .detect.settings import ModelSettings
from .engine.settings import DetectionSettings
from .notify.settings import NotifySettings
from .options import REDACTED, SettingsError, load_section, section_to_dict
from .worker.settings import WorkerSettings

__all__ = ["Settings", "SettingsError"]

_SECTIONS: dict[str, type] = {
    "detection": DetectionSettings,
    "model": ModelSettings,
    "camera": CameraSettings,
    "notify": NotifySettings,
    "worker": WorkerSettings,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a detector needs, in one tree."""

    detection: DetectionSettings = dataclasses.field(default_factory=DetectionSettings)
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    camera: CameraSettings = dataclasses.field(default_factory=CameraSettings)
    notify: NotifySettings = dataclasses.field(default_factory=NotifySettings)
    worker: WorkerSettings = dataclasses.field(default_factory=WorkerSettings)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, strict: bool = True) -> "Settings":
        """Build from a nested mapping (sections as keys), a flat one, or a mix.

        Raises :class:`SettingsError` naming the first bad option.
        """
        data = dict(data or {})
        per_section: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
        owner = {f.name: section for section, kind in _SECTIONS.items()
                 for f in dataclasses.fields(kind)}
        for key, value in data.items():
            # "camera" is both a section and an option (the camera's URL): a mapping means the
            # section, anything else the option.
            if key in _SECTIONS and (isinstance(value, Mapping) or key not in owner):
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    # Not the value itself: a section may hold secrets.
                    raise SettingsError(key, REDACTED, "a mapping of options",
                                        message=f"option '{key}': expected a mapping of options, "
                                                f"not {type(value).__name__}")
                per_section[key].update(value)
            elif key in owner:
                per_section[owner[key]][key] = value
            elif strict:
                # Let load_section produce the "did you mean" message.
                guess = _closest_section(key, owner)
                load_section(_SECTIONS[guess], {key: value})
        built = {name: load_section(kind, per_section[name], strict=strict)
                 for name, kind in _SECTIONS.items()}
        return cls(**built)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Settings":
        """Read a YAML file; a missing or malformed file raises :class:`SettingsError`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError("config", str(path), f"a readable YAML file ({exc.strerror})") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise SettingsError("config", str(path), f"valid YAML ({_yaml_problem(exc, text)})") from None
        except ValueError as exc:
            # A date-like value that is no date (2024-13-45): PyYAML's timestamp reader raises
            # datetime's own error, whose text names no value from the file.
            raise SettingsError("config", str(path), f"valid YAML (a date that is not one: {exc})") from None
        if not isinstance(data, Mapping):
            raise SettingsError("config", str(path), "a YAML mapping of options")
        return cls.from_mapping(data)

    def replace(self, changes: Mapping[str, Any]) -> "Settings":
        """A copy with ``changes`` (flat or nested) applied on top, validated."""
        merged: dict[str, Any] = {name: section_to_dict(getattr(self, name), reveal_secrets=True)
                                  for name in _SECTIONS}
        owner = {f.name: section for section, kind in _SECTIONS.items()
                 for f in dataclasses.fields(kind)}
        for key, value in dict(changes).items():
            if key in _SECTIONS and isinstance(value, Mapping):
                merged[key].update(value)
            elif key in owner:
                merged[owner[key]][key] = value
            elif key in _SECTIONS:
                merged[key] = value  # not a mapping: rejected below, naming the section
            else:
                # Rejected below, in the section of the closest name, so the hint can name it.
                merged[_closest_section(key, owner)][key] = value
        return Settings.from_mapping(merged)

    def to_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """JSON-ready; secrets are redacted unless ``reveal_secrets``."""
        return {name: section_to_dict(getattr(self, name), reveal_secrets=reveal_secrets)
                for name in _SECTIONS}


#: A piece of the file quoted inside PyYAML's problem text ("found undefined alias 'x'").
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
#: Quoted pieces kept: PyYAML's own token names ('<stream end>'), and a character or two
#: ('\t', ':'), which say what to fix and are too short to give a secret away.
_HARMLESS = re.compile(r"<[a-z ]+>|.{1,4}")


def _hide_quoted(text: str) -> str:
    return _QUOTED.sub(lambda m: m.group(0) if _HARMLESS.fullmatch(m.group(1) or m.group(2) or "")
                       else "'…'", text)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """What is wrong with the YAML and where (line and column), never the text around it:
    PyYAML's own message quotes the offending line, which may be the one holding the bot
    token or the webhook URL, and this message ends up on the terminal and in logs."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        at = _where(exc.problem_mark.line, exc.problem_mark.column)
        problem = f"{_hide_quoted(exc.problem or 'not valid')} at {at}"
        mark = exc.context_mark
        since = _where(mark.line, mark.column) if exc.context and mark is not None else at
        if since != at:
            # "while scanning a quoted scalar" points at the opening quote: where to look.
            return f"{_hide_quoted(exc.context or '')} from {since}: {problem}"
        return problem
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position)
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1)
        return f"{exc.reason} at {_where(line, column)}"
    return f"{type(exc).__name__}, with no position given"


def _where(line: int, column: int) -> str:
    return f"line {line + 1}, column {column + 1}"  # PyYAML counts from 0


def _closest_section(key: str, owner: Mapping[str, str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(owner), n=1)
    return owner[close[0]] if close else "detection"
