"""Frame sources (snapshot URL, MJPEG stream, V4L2/RTSP, files) and camera health.

Use :func:`open_camera` with a :class:`CameraSettings`; it returns a
:class:`Camera`, whose ``read()`` gives the newest :class:`Frame` or raises
:class:`CameraError`, and whose ``health`` says ok/offline/frozen/dark.
"""

from .camera import Camera, is_capture_device, open_camera, open_source, orient
from .capture import VideoCaptureSource
from .files import FileSource
from .frame import BrokenFrameError, CameraError, Frame, FrameSource, unexpected_camera_error
from .health import CameraHealth, CameraState, HealthMonitor, thumbnail
from .http import MjpegSource, SnapshotSource, snapshot_url_for
from .mjpeg import MjpegParser
from .settings import CameraSettings

__all__ = [
    "BrokenFrameError", "Camera", "CameraError", "CameraHealth", "CameraSettings", "CameraState", "FileSource", "Frame",
    "FrameSource", "HealthMonitor", "MjpegParser", "MjpegSource", "SnapshotSource", "VideoCaptureSource",
    "is_capture_device", "open_camera", "open_source", "orient", "snapshot_url_for", "thumbnail",
    "unexpected_camera_error",
]
