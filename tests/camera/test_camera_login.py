"""IP cameras that want a login: the URL's ``user:password@``, sent as Basic or as Digest.

Hikvision, Dahua and Amcrest cameras answer 401 with ``WWW-Authenticate: Digest ...`` and refuse
Basic; the server below checks Digest as they do (RFC 2617, MD5, qop=auth).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from pinozcam_klipper.camera import (CameraError, CameraSettings, CameraState, MjpegSource, SnapshotSource,
                                     open_camera)
from tests.servers import CameraServer, RecordedRequest, make_jpeg

USER, PASSWORD = "admin", "Hik-s3cret"
PICTURE = make_jpeg(120)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class LoginCameraServer(CameraServer):
    """A camera that answers only a request logged in with ``scheme`` ("Digest" or "Basic")."""

    realm = "IP Camera(C6512)"

    def __init__(self, scheme: str) -> None:
        super().__init__([PICTURE])
        self.scheme = scheme
        self.nonce = secrets.token_hex(16)

    def base(self, user: str = USER, password: str = PASSWORD) -> str:
        """The camera's address with a login in it, as users write it."""
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def handle(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        if self._logged_in(request):
            super().handle(handler, request)
            return
        challenge = (f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce}", '
                     f'opaque="{secrets.token_hex(8)}", algorithm=MD5, stale="FALSE"'
                     if self.scheme == "Digest" else f'Basic realm="{self.realm}"')
        self.send(handler, 401, b"<html>401 Unauthorized</html>",
                  {"WWW-Authenticate": challenge, "Content-Type": "text/html"})

    def _logged_in(self, request: RecordedRequest) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme != self.scheme:
            return False
        if scheme == "Basic":
            return base64.b64decode(credentials).decode() == f"{USER}:{PASSWORD}"
        fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(credentials))
        if fields.get("username") != USER or fields.get("nonce") != self.nonce \
                or fields.get("uri") != request.path or fields.get("qop") != "auth":
            return False
        ha1 = _md5(f"{USER}:{self.realm}:{PASSWORD}")
        ha2 = _md5(f"{request.method}:{fields['uri']}")
        expected = _md5(f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return hmac.compare_digest(expected, fields.get("response", ""))


@pytest.fixture
def digest_camera() -> Iterator[LoginCameraServer]:
    with LoginCameraServer("Digest") as server:
        yield server


def _logins(requests: list[RecordedRequest]) -> list[str]:
    """The login scheme of each request ("" for none)."""
    return [r.headers.get("authorization", "").partition(" ")[0] for r in requests]


@pytest.mark.parametrize("path, kind", [("/ISAPI/Streaming/channels/101/picture", SnapshotSource),
                                        ("/stream", MjpegSource)])
async def test_a_digest_camera_is_read_with_the_login_in_its_url(digest_camera: LoginCameraServer,
                                                                 path: str, kind: type) -> None:
    source = kind(digest_camera.base() + path, timeout=5)
    try:
        assert (await source.read()).jpeg == PICTURE
    finally:
        await source.close()
    assert _logins(digest_camera.requests)[-1] == "Digest"


async def test_a_digest_camera_is_asked_in_digest_from_then_on(digest_camera: LoginCameraServer) -> None:
    source = SnapshotSource(digest_camera.base() + "/snapshot", timeout=5)
    try:
        await source.read()
        first = len(digest_camera.requests)
        digest_camera.set_frames([make_jpeg(200)])
        assert (await source.read()).jpeg == make_jpeg(200)
    finally:
        await source.close()
    # One request per later read, logged in at once; the password never goes out in Basic again.
    assert _logins(digest_camera.requests[first:]) == ["Digest"]


async def test_a_wrong_password_says_so_without_showing_it(digest_camera: LoginCameraServer,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pinozcam_klipper")
    camera = open_camera(CameraSettings(camera=digest_camera.base(password="wrong-pw-42") + "/snapshot",
                                        camera_timeout=5))
    try:
        with pytest.raises(CameraError, match="the camera refused the user name or password") as info:
            await camera.read()
        assert "wrong-pw-42" not in str(info.value)
        assert camera.health.state is CameraState.OFFLINE
        assert "refused the user name or password" in camera.health.message
        assert "wrong-pw-42" not in camera.health.message
        assert "refused the user name or password" in caplog.text and "wrong-pw-42" not in caplog.text
    finally:
        await camera.close()


async def test_a_camera_asking_for_a_login_the_url_lacks_says_where_to_put_it(
        digest_camera: LoginCameraServer) -> None:
    source = SnapshotSource(digest_camera.snapshot_url, timeout=5)
    try:
        with pytest.raises(CameraError, match=r"asks for a user name and password \(http 401\): put them in "
                                              r"the camera URL"):
            await source.read()
    finally:
        await source.close()


async def test_a_basic_camera_is_still_read_with_the_login_in_its_url() -> None:
    with LoginCameraServer("Basic") as camera:
        source = SnapshotSource(camera.base() + "/snapshot", timeout=5)
        try:
            assert (await source.read()).jpeg == PICTURE
        finally:
            await source.close()
        assert _logins(camera.requests) == ["Basic"]
