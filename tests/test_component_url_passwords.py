"""Camera passwords in what the Moonraker component shows: its warnings, status and settings.

A camera value may carry a login (``user:password@``), also when typed without its ``http://``
(then it is no URL and no [webcam] name, and the warning quotes it back) and when the password
holds an ``@``. (The same through a real Moonraker: tests/integration/test_moonraker_config.py.)
"""

from __future__ import annotations

import pytest

from tests.component_options import load_component_options

options = load_component_options()


@pytest.mark.parametrize("value, removed, hidden", [
    ("admin:s3cret@192.168.1.50/snap.jpg", "192.168.1.50/snap.jpg", "admin:<redacted>@192.168.1.50/snap.jpg"),
    ("admin:p@s3cret@192.168.1.50", "192.168.1.50", "admin:<redacted>@192.168.1.50"),
    ("http://admin:p@s3cret@cam.local:8080/snap", "http://cam.local:8080/snap",
     "http://admin:<redacted>@cam.local:8080/snap"),
])
def test_a_camera_password_is_never_shown(value: str, removed: str, hidden: str) -> None:
    assert options.redact_url(value) == removed  # warnings, status
    assert options.hide_url_password(value) == hidden  # settings: which account, not its password
    assert "s3cret" not in options.redact_saved({"camera": value})["camera"]
    # Values without a login are shown as they are.
    for plain in ("/dev/video0", "printer_cam", "/webcam/?action=snapshot", "http://cam.local/a@b/snap.jpg"):
        assert options.redact_url(plain) == options.hide_url_password(plain) == plain
