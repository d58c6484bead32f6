"""The detector worker process: camera, detector, decision engine, alerts and a websocket API.

``pinozcam worker`` (see :mod:`.main`) runs it; ``docs/protocol.md`` describes
its protocol. Importing this package is cheap: the heavy modules load on use.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["export_feedback"]


def export_feedback(data_dir: str | Path, out_dir: str | Path, force: bool = False) -> int:
    """Write the incidents labelled through ``feedback`` as a YOLO dataset; returns the image count.

    ``data_dir`` is the worker's data folder (its ``incidents/`` is read) or an
    incident folder itself. Raises ``FileNotFoundError`` if neither exists or it
    holds no incident, ``FileExistsError`` if ``out_dir`` is not empty and not ``force``.
    """
    from .incidents import export_feedback as export

    data = Path(data_dir)
    incident_dir = data / "incidents" if (data / "incidents").is_dir() else data
    return export(incident_dir, Path(out_dir), force).images
