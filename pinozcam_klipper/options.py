"""Declaring and validating settings dataclasses.

Every settings section in the package is a frozen dataclass whose fields are
declared with :func:`option`. :func:`load_section` builds one from a plain
mapping (YAML, a Moonraker config section, OctoPrint's settings) and rejects a
bad value with a :class:`SettingsError` that names the option, the value and
what is accepted. Defaults therefore live in exactly one place: the field.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["SettingsError", "option", "load_section", "section_to_dict", "option_docs", "unknown_option",
           "url_problem"]

T = TypeVar("T")

_MISSING = dataclasses.MISSING

REDACTED = "<redacted>"


class SettingsError(ValueError):
    """A settings value was rejected; ``option`` names it.

    ``message`` replaces the usual "option 'x': value is not valid; expected ..." text
    where the value must not be shown (an unknown option may be a misspelt secret).
    """

    def __init__(self, option: str, value: Any, accepted: str, *, message: str | None = None) -> None:
        self.option = option
        self.value = value
        self.accepted = accepted
        super().__init__(message or f"option '{option}': {_show(value)} is not valid; expected {accepted}")


def unknown_option(option: str, accepted: str) -> SettingsError:
    """The error for an option nobody declared. Its value is never shown: a misspelt
    ``telegram_token: 123:ABC`` is still a secret, and the text ends up in logs and UIs."""
    return SettingsError(option, REDACTED, accepted,
                         message=f"unknown option '{_show_name(option)}'; expected {accepted}")


def _show_name(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def url_problem(url: str) -> str | None:
    """What keeps ``url`` from being requested, as an "expected ..." phrase, or None if nothing.

    Catches what would otherwise fail only when the first request is made (and there as an
    exception no caller expects): a control character or space, no host, a broken ``[IPv6]``
    host, a port outside 1-65535, a host httpx cannot encode (a zero-width or no-break space,
    a byte-order mark or full-width letters pasted in with it). The answer never quotes the
    URL: it may hold a secret.
    """
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return "a URL without spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "a URL with a valid host and a port between 1 and 65535"
    if not parts.hostname:
        return "a URL that names a host"
    if port is not None and not 1 <= port <= 65535:
        return "a URL with a port between 1 and 65535"
    # Imported here, not at the top: the detector imports this module, and its cold start
    # (bench/targets.py) should not pay for httpx.
    import httpx

    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        return "a URL whose host is plain text (no invisible or full-width characters pasted in)"
    return None


def option(
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | Any = _MISSING,
    minval: float | None = None,
    maxval: float | None = None,
    above: float | None = None,
    choices: Sequence[str] | None = None,
    parse: Callable[[Any], Any] | None = None,
    accepted: str | None = None,
    secret: bool = False,
    redact: Callable[[Any], Any] | None = None,
    doc: str = "",
) -> Any:
    """Declare a settings field.

    ``minval``/``maxval`` are inclusive bounds, ``above`` an exclusive lower
    bound. ``parse`` converts and checks a raw value itself (raise
    ``ValueError`` to reject it); ``accepted`` then describes what it takes.
    ``secret`` fields are redacted by :func:`section_to_dict`; ``redact`` is for a
    value only part of which is secret (a password in a camera URL): it returns the
    value as :func:`section_to_dict` shows it.
    """
    metadata = {
        "minval": minval,
        "maxval": maxval,
        "above": above,
        "choices": tuple(choices) if choices is not None else None,
        "parse": parse,
        "accepted": accepted,
        "secret": secret,
        "redact": redact,
        "doc": doc,
    }
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
    raise SettingsError(name, value, "true or false")


def _number(name: str, value: Any, kind: type) -> float | int:
    if isinstance(value, bool):
        raise SettingsError(name, value, f"a number ({kind.__name__})")
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number: float | int = int(float(value)) if isinstance(value, str) and "." in value else int(value)
        else:
            number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(name, value, f"a number ({kind.__name__})") from None
    if kind is float and not math.isfinite(number):
        # inf would, e.g., keep an incident open forever: no option means "infinite".
        raise SettingsError(name, value, "a finite number")
    return number


def _bounds_text(meta: Mapping[str, Any]) -> str:
    parts = []
    if meta["above"] is not None:
        parts.append(f"> {meta['above']:g}")
    if meta["minval"] is not None:
        parts.append(f">= {meta['minval']:g}")
    if meta["maxval"] is not None:
        parts.append(f"<= {meta['maxval']:g}")
    return " and ".join(parts)


def _convert(name: str, value: Any, annotation: Any, meta: Mapping[str, Any]) -> Any:
    """Convert ``value`` to the field's type and check its bounds."""
    if meta["parse"] is not None:
        try:
            return meta["parse"](value)
        except SettingsError:
            raise
        except (TypeError, ValueError) as exc:
            raise SettingsError(name, value, meta["accepted"] or str(exc)) from None

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        non_none = [a for a in args if a is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            if type(None) in args:
                return None
        return _convert(name, value, non_none[0], meta)
    if annotation is bool:
        return _bool(name, value)
    if annotation in (int, float):
        number = _number(name, value, annotation)
        if meta["above"] is not None and not number > meta["above"]:
            raise SettingsError(name, value, f"a number {_bounds_text(meta)}")
        if meta["minval"] is not None and number < meta["minval"]:
            raise SettingsError(name, value, f"a number {_bounds_text(meta)}")
        if meta["maxval"] is not None and number > meta["maxval"]:
            raise SettingsError(name, value, f"a number {_bounds_text(meta)}")
        return number
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise SettingsError(name, value, "text")
        text = str(value).strip()
        choices = meta["choices"]
        if choices is not None and text.lower() not in choices:
            raise SettingsError(name, value, "one of " + ", ".join(choices))
        return text.lower() if choices is not None else text
    # Anything more complex must bring its own ``parse``.
    return value


def _resolve_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def load_section(cls: type[T], data: Mapping[str, Any] | None, *, prefix: str = "",
                 strict: bool = True) -> T:
    """Build the settings dataclass ``cls`` from ``data``.

    Keys missing from ``data`` take the field default. Unknown keys raise a
    :class:`SettingsError` (with a "did you mean" hint) unless ``strict`` is
    false. ``prefix`` is prepended to option names in error messages, e.g.
    ``"camera."``.
    """
    data = dict(data or {})
    hints = _resolve_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    if strict:
        for key in data:
            if key not in known:
                raise unknown_option(prefix + key, _known_option_hint(key, known))
    values: dict[str, Any] = {}
    for name, fld in known.items():
        if name not in data:
            continue
        meta = fld.metadata or _EMPTY_META
        try:
            values[name] = _convert(prefix + name, data[name], hints[name], meta)
        except SettingsError as exc:
            if meta.get("secret"):
                # A rejected token or webhook URL is still a secret: never echo it.
                raise SettingsError(exc.option, REDACTED, exc.accepted) from None
            raise
    return cls(**values)


#: Where every option is listed, for an unknown one with no close name.
FULL_LIST = "the configuration reference in the README lists every option"


def _known_option_hint(key: str, known: Mapping[str, Any]) -> str:
    """What an unknown option should have been: the closest names, else where the full list is.

    Not this section's names in full: a flat mapping (moonraker.conf, the panel) sends an
    option with no close name to one section chosen by guess, so that list would leave out the
    camera and notification options the user may have meant."""
    close = difflib.get_close_matches(key, list(known), n=3)
    if close:
        return "a known option (did you mean " + " or ".join(f"'{name}'" for name in close) + "?)"
    return f"a known option (no option has a name close to it; {FULL_LIST})"


_EMPTY_META: Mapping[str, Any] = {
    "minval": None, "maxval": None, "above": None, "choices": None,
    "parse": None, "accepted": None, "secret": False, "redact": None, "doc": "",
}


def section_to_dict(section: Any, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """A JSON-ready dict of a settings dataclass; secrets become ``"<redacted>"``
    (or ``""`` when unset) unless ``reveal_secrets``."""
    out: dict[str, Any] = {}
    for fld in dataclasses.fields(section):
        value = getattr(section, fld.name)
        if dataclasses.is_dataclass(value):
            out[fld.name] = section_to_dict(value, reveal_secrets=reveal_secrets)
            continue
        meta = fld.metadata or _EMPTY_META
        if meta.get("secret") and not reveal_secrets:
            value = REDACTED if value else ""
        elif meta.get("redact") is not None and not reveal_secrets:
            value = meta["redact"](value)
        elif isinstance(value, tuple):
            value = _plain(value)
        out[fld.name] = value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def option_docs(cls: type) -> list[tuple[str, Any, str]]:
    """(name, default, doc) for each option of ``cls``: the configuration reference."""
    rows = []
    for fld in dataclasses.fields(cls):
        if fld.default is not _MISSING:
            default = fld.default
        elif fld.default_factory is not _MISSING:  # type: ignore[misc]
            default = fld.default_factory()  # type: ignore[misc]
        else:
            default = None
        rows.append((fld.name, default, (fld.metadata or _EMPTY_META).get("doc", "")))
    return rows
