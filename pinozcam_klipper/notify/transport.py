"""POSTing to a chat service with bounded retries that honour Retry-After.

Retried: timeouts, connection errors, HTTP 429 and 5xx. The wait before a
retry is what the service asked for (``Retry-After`` header, Discord's
``retry_after`` or Telegram's ``parameters.retry_after`` in the JSON body), or
else the exponential backoff. A policy with ``give_up_after`` honours any wait
that ends within it; one without honours at most ``max_retry_after`` seconds. A
longer wait ends the attempts at once, and the error says so. Error messages
carry no secrets: every text that may contain the URL passes the redactor.

Two policies exist because losing a message costs differently: :data:`INFO_RETRY`
(a few tries over seconds) for notices and tests, :data:`URGENT_RETRY` (backoff
capped at 30 s, for up to 10 minutes) for incident alerts, whose loss after a short
network outage would leave a paused printer unexplained.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..redact import Redactor

__all__ = ["INFO_RETRY", "URGENT_RETRY", "RequestCount", "RetryPolicy", "NotifyError", "first_cause",
           "post_with_retries", "retry_after_seconds"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one message.

    ``attempts`` bounds the number of tries and ``give_up_after`` the seconds from the
    first try to the start of the last one; None leaves that bound out (one must be set).
    The wait between tries doubles from ``base_delay`` up to ``max_delay``.

    A service may ask for a longer wait (HTTP 429 with ``retry_after``). A policy with
    ``give_up_after`` honours any wait that ends within it: an incident alert waits out
    Telegram's 121 s flood limit instead of being lost. A policy without it honours at most
    ``max_retry_after`` seconds.
    """

    attempts: int | None = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # only for a policy without give_up_after (see above)
    give_up_after: float | None = None

    def __post_init__(self) -> None:
        if self.attempts is None and self.give_up_after is None:
            raise ValueError("a retry policy needs attempts or give_up_after: it would never give up")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def wait_refused(self, wait: float, elapsed: float) -> str:
        """Why a wait of ``wait`` s that the service asked for, ``elapsed`` s after the first
        try, is too long to honour ("" when it is not), in words for the error message."""
        if self.give_up_after is None:
            if wait <= self.max_retry_after:
                return ""
            return f"asked to wait {wait:.0f} s, more than the {self.max_retry_after:g} s allowed"
        if elapsed + wait <= self.give_up_after:
            return ""
        left = max(0.0, self.give_up_after - elapsed)
        return (f"asked to wait {wait:.0f} s, past the {self.give_up_after:g} s allowed for retries "
                f"({left:.0f} s left)")


@dataclass
class RequestCount:
    """The requests one alert took on one channel, retries and fallbacks (the chat itself
    instead of a topic, text instead of a refused picture) included. Filled in by
    :func:`post_with_retries`; the notifier reports it as ``DeliveryResult.attempts``."""

    requests: int = 0


#: Notices and test messages: a few tries, a few seconds.
INFO_RETRY = RetryPolicy()
#: Incident alerts: keep trying through a network outage of several minutes.
URGENT_RETRY = RetryPolicy(attempts=None, base_delay=1.0, max_delay=30.0, give_up_after=600.0)


class NotifyError(Exception):
    """Sending failed for good. ``attempts`` says how many tries were made; the message is redacted.

    ``says`` is the service's own reason for refusing (redacted, "" when it gave none): the
    part a caller may act on, e.g. Telegram's "message thread not found"."""

    def __init__(self, message: str, *, attempts: int = 1, status: int | None = None, says: str = "") -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status
        self.says = says


def first_cause(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups, else ``exc``: httpx's connection
    pool raises an ``ExceptionGroup`` around an ``OverflowError``, and the group's own text
    ("unhandled errors in a TaskGroup") tells the user nothing."""
    # Duck-typed: BaseExceptionGroup is not a builtin before Python 3.11.
    while isinstance(getattr(exc, "exceptions", None), tuple) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds the service asked us to wait, from the header or the JSON body; None if it did not say."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                pass  # unparseable header: fall back to the body, then to backoff
    body = _json(response)
    if isinstance(body, dict):
        for value in (body.get("retry_after"), (body.get("parameters") or {}).get("retry_after")
                      if isinstance(body.get("parameters"), dict) else None):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return max(0.0, float(value))
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _service_says(response: httpx.Response) -> str:
    body = _json(response)
    if isinstance(body, dict):
        text = str(body.get("description") or body.get("message") or "")[:200]
        parameters = body.get("parameters")
        migrated = parameters.get("migrate_to_chat_id") if isinstance(parameters, dict) else None
        if isinstance(migrated, int) and not isinstance(migrated, bool):
            # Telegram's description alone ("group chat was upgraded to a supergroup chat")
            # does not say what to do; the new id it sends beside it does.
            text += f" (use telegram_chat_id {migrated})"
        return text
    return response.text[:200] if response.headers.get("content-type", "").startswith("text/") else ""


async def post_with_retries(client: httpx.AsyncClient, url: str, *, service: str, redactor: Redactor,
                            policy: RetryPolicy, request: Callable[[], dict[str, Any]],
                            count: RequestCount | None = None) -> httpx.Response:
    """POST to ``url`` until it succeeds (2xx) or the policy is spent; raises :class:`NotifyError`.

    ``request()`` returns the keyword arguments of each attempt (``data``,
    ``files``, ``json``...): it is called again per attempt so streams are fresh.
    ``count``, when given, is increased by one per request made.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    delay = policy.base_delay
    error = "no attempt made"
    status: int | None = None
    attempt = 0
    while True:
        attempt += 1
        wait: float | None = None
        if count is not None:
            count.requests += 1  # before the call: a request that raises was still made
        try:
            response = await client.post(url, **request())
        except httpx.TimeoutException:
            error = f"{service} did not answer within the timeout"
        except httpx.TransportError as exc:
            error = f"cannot reach {service}: {type(exc).__name__}: {redactor(exc) or 'connection failed'}"
        else:
            status = response.status_code
            if response.is_success:
                return response
            says = redactor(_service_says(response))
            error = f"{service} answered http {status}" + (f": {says}" if says else "")
            if status != 429 and status < 500:
                raise NotifyError(error, attempts=attempt, status=status, says=says)
            wait = retry_after_seconds(response)
            refused = policy.wait_refused(wait, loop.time() - started) if wait is not None else ""
            if refused:
                raise NotifyError(f"{error} ({refused}; giving up after {_tries(attempt)})",
                                  attempts=attempt, status=status)
        if policy.attempts is not None and attempt >= policy.attempts:
            break
        # The service's own wait wins when it gave one (and fits, checked above); otherwise
        # exponential backoff.
        pause = wait if wait is not None else delay
        if (wait is None and policy.give_up_after is not None
                and loop.time() - started + pause > policy.give_up_after):
            break
        logger.debug("%s: attempt %d failed (%s); retrying in %.2f s", service, attempt, error, pause)
        await asyncio.sleep(pause)
        delay = min(delay * 2, policy.max_delay)
    raise NotifyError(f"{error} (after {_tries(attempt)} in {loop.time() - started:.0f} s)",
                      attempts=attempt, status=status)


def _tries(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"
