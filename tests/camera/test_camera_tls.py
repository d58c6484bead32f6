"""HTTPS cameras with a self-signed certificate: refused with what to do, read with camera_verify_tls off.

The certificate is made here with the ``openssl`` command (the ``cryptography`` package is not a
dependency); the camera is the usual test camera behind TLS.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator

import pytest

from pinozcam_klipper.camera import CameraError, CameraSettings, CameraState, open_camera
from pinozcam_klipper.settings import Settings
from tests.servers import CameraServer, make_jpeg

PICTURE = make_jpeg(150)


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1, as a camera makes."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class HttpsCameraServer(CameraServer):
    """The test camera, answering over HTTPS."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__([PICTURE])
        self._context = context
        self._plain: socket.socket | None = None

    def start(self) -> "HttpsCameraServer":
        super().start()
        httpd = self._httpd
        assert httpd is not None
        # Accept through TLS. The serving thread may be registering the listening socket's
        # descriptor right now: wrap a duplicate, so that descriptor never closes under it.
        self._plain = httpd.socket
        duplicate = socket.socket(fileno=os.dup(self._plain.fileno()))
        httpd.socket = self._context.wrap_socket(duplicate, server_side=True)
        return self

    def stop(self) -> None:
        super().stop()
        if self._plain is not None:
            self._plain.close()
            self._plain = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def with_login(self, path: str) -> str:
        return f"https://viewer:tls-s3cret@127.0.0.1:{self.port}{path}"


@pytest.fixture
def camera_server(tls_context: ssl.SSLContext) -> Iterator[HttpsCameraServer]:
    with HttpsCameraServer(tls_context) as server:
        yield server


@pytest.mark.parametrize("path", ["/snapshot", "/stream"])
async def test_a_self_signed_camera_is_refused_with_what_to_do(camera_server: HttpsCameraServer,
                                                               path: str) -> None:
    camera = open_camera(CameraSettings(camera=camera_server.with_login(path), camera_timeout=5))
    try:
        with pytest.raises(CameraError) as info:
            await camera.read()
    finally:
        await camera.close()
    message = str(info.value)
    assert re.search(r"the camera's https certificate is not trusted \(self.signed certificate", message)
    assert "set camera_verify_tls: False" in message
    assert "tls-s3cret" not in message
    assert camera.health.state is CameraState.OFFLINE and "camera_verify_tls" in camera.health.message


@pytest.mark.parametrize("path", ["/snapshot", "/stream"])
async def test_camera_verify_tls_off_reads_a_self_signed_camera(camera_server: HttpsCameraServer,
                                                                path: str) -> None:
    # As moonraker.conf gives it: text.
    settings = Settings.from_mapping({"camera": camera_server.url + path, "camera_verify_tls": "False",
                                      "camera_timeout": 5})
    assert settings.camera.camera_verify_tls is False
    camera = open_camera(settings.camera)
    try:
        assert (await camera.read()).jpeg == PICTURE
        assert camera.health.state is CameraState.OK
    finally:
        await camera.close()


def test_camera_verify_tls_is_on_unless_turned_off() -> None:
    assert Settings.from_mapping({}).camera.camera_verify_tls is True
