"""Settings of the detector worker process."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option


@dataclass(frozen=True)
class WorkerSettings:
    check_interval: float = option(1.0, minval=0.1, maxval=60.0,
                                   doc="Seconds between checks while printing.")
    fast_check_interval: float = option(0.3, minval=0.05, maxval=60.0,
                                        doc="Seconds between checks while severity is rising.")
    incident_dir: str = option("", doc="Where incidents are kept (default: the worker's data folder).")
    incident_dir_max_mb: float = option(200.0, minval=1.0, doc="Size cap of the incident folder, in MB.")
