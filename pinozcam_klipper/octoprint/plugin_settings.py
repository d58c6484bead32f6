"""The plugin's settings in OctoPrint (``plugins.pinozcam.*``) and their mapping to the core.

Pure: no OctoPrint import. OctoPrint keeps the settings flat, under the core's
option names (unique across sections, as for Moonraker), plus a few options
that only the adapter has (:data:`ADAPTER_DEFAULTS`). Defaults come from the
core dataclasses: nothing is repeated here except the adapter's own options
and the alert's printer name.

The secrets and the camera URL (it may carry the camera's password) are for
administrators only on the REST API (:data:`ADMIN_ONLY_KEYS`). A client that was
shown them redacted and sends that back keeps the saved value (:func:`normalise`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..options import SettingsError, section_to_dict
from ..redact import REDACTED, redact_url_credentials
from ..settings import Settings

__all__ = ["ADAPTER_DEFAULTS", "SECRET_KEYS", "ADMIN_ONLY_KEYS", "defaults", "core_keys", "normalise",
           "core_mapping", "SettingsProblem"]

#: Options only the OctoPrint adapter has.
ADAPTER_DEFAULTS: dict[str, Any] = {
    "enabled": True,           # start the worker at all
    "worker_port": 0,          # port of the worker on 127.0.0.1; 0: any free port
    "webcam_name": "",         # OctoPrint webcam to watch when `camera` is empty; "": the default one
}
# The core default names a Klipper printer; alerts from OctoPrint say so instead.
_ADAPTER_OVERRIDES: dict[str, Any] = {"printer_name": "OctoPrint printer"}


def _secret_names() -> tuple[str, ...]:
    tree = Settings()
    return tuple(fld.name for section in dataclasses.fields(tree)
                 for fld in dataclasses.fields(getattr(tree, section.name))
                 if (fld.metadata or {}).get("secret"))


#: Options that are secrets (webhook URL, bot token): admin-only on OctoPrint's REST API.
SECRET_KEYS: tuple[str, ...] = _secret_names()
#: Options returned on OctoPrint's REST API to administrators only: the secrets, and the
#: camera URL, which may hold the camera's password (``user:pw@``, ``?password=``).
ADMIN_ONLY_KEYS: tuple[str, ...] = (*SECRET_KEYS, "camera")


def core_keys() -> tuple[str, ...]:
    """Every core option name (flat)."""
    tree = Settings()
    return tuple(fld.name for section in dataclasses.fields(tree)
                 for fld in dataclasses.fields(getattr(tree, section.name)))


def defaults() -> dict[str, Any]:
    """OctoPrint's ``get_settings_defaults``: every core option (flat) plus the adapter's."""
    flat: dict[str, Any] = {}
    tree = Settings()
    for section in dataclasses.fields(tree):
        flat.update(section_to_dict(getattr(tree, section.name), reveal_secrets=True))
    flat.update(_ADAPTER_OVERRIDES)
    flat.update(ADAPTER_DEFAULTS)
    return flat


@dataclasses.dataclass(frozen=True)
class SettingsProblem:
    """One rejected option; ``message`` never contains a secret's value."""

    option: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"option": self.option, "message": self.message}


def _adapter_value(key: str, value: Any) -> Any:
    if key == "enabled":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise SettingsError(key, value, "true or false")
    if key == "worker_port":
        try:
            port = int(str(value).strip()) if not isinstance(value, bool) else -1
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            raise SettingsError(key, value, "a port from 0 (any free port) to 65535")
        return port
    if key == "webcam_name":
        if not isinstance(value, str):
            raise SettingsError(key, value, "text: the name of an OctoPrint webcam")
        return value.strip()
    raise KeyError(key)


def normalise(current: Mapping[str, Any], changes: Mapping[str, Any]
              ) -> tuple[dict[str, Any], list[SettingsProblem]]:
    """Validate ``changes`` on top of ``current`` (both flat).

    Returns the accepted changes converted to their proper types (``"0.5"`` ->
    ``0.5``, masks as lists) and one problem per rejected or unknown option;
    a rejected option is left out, the others are kept. A secret sent back as
    ``<redacted>``, or the saved camera URL sent back with its password redacted,
    is left out too (the saved value stays); another camera URL containing
    ``<redacted>`` is refused.
    """
    accepted: dict[str, Any] = {}
    problems: list[SettingsProblem] = []
    known_core = set(core_keys())
    pending: dict[str, Any] = {}
    for key, value in changes.items():
        if _is_redacted_echo(key, value, current):
            continue  # shown redacted, sent back as it was: keep what is saved
        if key == "camera" and REDACTED in str(value):
            problems.append(SettingsProblem(key, "option 'camera': type the camera's password again "
                                                 "(the saved one is only shown as <redacted>)"))
        elif key in ADAPTER_DEFAULTS:
            try:
                accepted[key] = _adapter_value(key, value)
            except SettingsError as exc:
                problems.append(SettingsProblem(key, str(exc)))
        elif key in known_core:
            pending[key] = value
        elif key != "_config_version":
            problems.append(SettingsProblem(key, f"option '{key}' is not a pinozcam option"))
    base = core_mapping(current)
    # Drop rejected options one at a time, so one bad value does not lose the good ones.
    while pending:
        try:
            tree = Settings.from_mapping({**base, **pending})
        except SettingsError as exc:
            bad = exc.option.rsplit(".", 1)[-1]
            if bad not in pending:
                # A combination (e.g. with a saved value) is invalid: reject everything pending.
                problems.extend(SettingsProblem(k, str(exc)) for k in pending)
                pending = {}
                break
            problems.append(SettingsProblem(bad, str(exc)))
            del pending[bad]
            continue
        flat = _flatten(tree)
        accepted.update({key: flat[key] for key in pending})
        break
    return accepted, problems


def _is_redacted_echo(key: str, value: Any, current: Mapping[str, Any]) -> bool:
    """True when ``value`` is the saved value of ``key`` as clients are shown it, redacted."""
    if not isinstance(value, str) or REDACTED not in value:
        return False
    if key in SECRET_KEYS:
        return value == REDACTED
    if key == "camera":
        return value.strip() == redact_url_credentials(str(current.get("camera") or "").strip())
    return False


def _flatten(tree: Settings) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section in tree.to_dict(reveal_secrets=True).values():
        flat.update(section)
    return flat


def core_mapping(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Only the core options of an OctoPrint settings mapping (adapter options left out)."""
    keys = set(core_keys())
    return {key: value for key, value in flat.items() if key in keys}
