"""Keep secrets (bot tokens, webhook URLs, passwords in camera URLs) out of logs and errors.

A :class:`Redactor` knows the secret strings of one configuration and replaces
them in any text. :class:`RedactingFilter` applies it to every record passing a
logger, including its arguments and formatted traceback; attach it to our
loggers *and* to the ``httpx``/``httpcore`` loggers, which log full request
URLs at INFO level. :func:`redact_url_credentials` hides ``user:password@`` in
URLs, and the values of password-like query parameters (``?user=admin&password=...``,
as Reolink, Foscam and many other cameras take their login), without needing to know
them in advance.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterable

__all__ = ["Redactor", "RedactingFilter", "redact_url_credentials", "REDACTED"]

REDACTED = "<redacted>"

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
#: Query parameters that carry a camera's password or token; the user name stays readable.
SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "pass", "loginpas", "token", "access_token",
                     "auth", "key", "apikey", "api_key", "secret")
_SECRET_QUERY = re.compile(r"(?P<key>[?&;](?:%s)=)[^&#;\s\"'<>]*" % "|".join(SECRET_QUERY_KEYS),
                           re.IGNORECASE)


def redact_url_credentials(text: str) -> str:
    """``http://user:pw@host/`` becomes ``http://<redacted>@host/``, and
    ``...?user=admin&password=pw`` becomes ``...?user=admin&password=<redacted>``."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    return _SECRET_QUERY.sub(lambda m: m.group("key") + REDACTED, text)


#: Every printable ASCII character but "%": quoting with these kept safe encodes only what an
#: HTTP client must (spaces, controls, anything non-ASCII such as a pasted zero-width space).
_PRINTABLE = "".join(chr(code) for code in range(33, 127) if chr(code) != "%")


def _url_spellings(secret: str) -> set[str]:
    """``secret`` as written and as it reaches a log line inside a URL: "abc" followed by a
    zero-width space (U+200B) is sent, and logged by httpx, as "abc%E2%80%8B", which the raw
    form would not match; a query parameter or form field encodes every reserved character too."""
    return {secret, urllib.parse.quote(secret, safe=_PRINTABLE), urllib.parse.quote(secret, safe="")}


class Redactor:
    """Replaces known secret strings (and their telling parts) in text.

    For a URL secret, its last path segment (a Discord webhook token) is also
    treated as secret, so a fragment of the URL cannot leak on its own. Each part is
    also hidden percent-encoded, as it appears in a request URL that httpx logs.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Treat ``secret`` as secret from now on (empty values are ignored)."""
        if not secret:
            return
        parts = {secret}
        if "://" in secret:
            tail = secret.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
            if len(tail) >= 8:
                parts.add(tail)
        elif ":" in secret:
            # A Telegram token is "<bot id>:<key>": the key alone is the secret part.
            key = secret.split(":", 1)[1]
            if len(key) >= 8:
                parts.add(key)
        spellings = {spelling for part in parts for spelling in _url_spellings(part)}
        # Longest first, so a whole URL is replaced before its token fragment.
        self._secrets = sorted(set(self._secrets) | spellings, key=len, reverse=True)

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            if secret in out:
                out = out.replace(secret, REDACTED)
        return redact_url_credentials(out)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record with secrets redacted.

    It never drops a record. The message is formatted once (arguments merged)
    and redacted; a traceback is formatted and redacted into ``exc_text``.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError) as exc:  # a malformed log call must not leak either
            message = f"{record.msg!r} (unformattable: {exc})"
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True
