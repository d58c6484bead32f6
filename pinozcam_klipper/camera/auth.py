"""Logging in to an HTTP camera with the ``user:password@`` of its URL: Basic, or Digest when asked.

httpx sends the URL's credentials as Basic by itself. IP cameras (Hikvision, Dahua, Amcrest...)
often accept only Digest and answer 401 with ``WWW-Authenticate: Digest ...``: the source then
switches to :class:`httpx.DigestAuth` for good, and asks again at once.
"""

from __future__ import annotations

import httpx

__all__ = ["CameraLogin"]


class CameraLogin:
    """How one camera is logged in to; pass :attr:`auth` with each request.

    Call :meth:`switch_to_digest` on every answer: True means "ask again now", with
    :attr:`auth` now Digest. A 401 that remains is explained by :meth:`refusal`.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        # None: httpx's own choice, Basic from the URL's user:password@ (nothing without one).
        self.auth: httpx.Auth | None = None

    @property
    def uses_digest(self) -> bool:
        return isinstance(self.auth, httpx.DigestAuth)

    def switch_to_digest(self, response: httpx.Response) -> bool:
        """After ``response``: whether to ask again at once, now with Digest (kept for later
        requests, so a Digest camera is not asked in Basic at every read)."""
        if response.status_code != 401 or self.uses_digest:
            return False
        if not any(challenge.strip().lower().startswith("digest")
                   for challenge in response.headers.get_list("www-authenticate")):
            return False
        url = httpx.URL(self._url)
        if not url.username:
            return False  # no credentials to answer with: refusal() says what to do
        self.auth = httpx.DigestAuth(url.username, url.password)
        return True

    def refusal(self, description: str) -> str:
        """Why the camera answered 401, for the user. Never quotes the password."""
        try:
            has_user = bool(httpx.URL(self._url).username)
        except httpx.InvalidURL:  # the request would have failed first; stay safe anyway
            has_user = False
        if has_user:
            return f"the camera refused the user name or password (http 401; {description})"
        return (f"the camera asks for a user name and password (http 401): put them in the "
                f"camera URL, as http://user:password@host/... ({description})")
