"""Settings of the detector worker process (the ``worker`` section)."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option


@dataclass(frozen=True)
class WorkerSettings:
    check_interval: float = option(1.0, minval=0.1, maxval=60.0,
                                   doc="Seconds between checks while printing.")
    fast_check_interval: float = option(0.3, minval=0.05, maxval=60.0,
                                        doc="Seconds between checks while severity is rising.")
    incident_dir: str = option("", doc="Where incidents are kept (default: incidents/ in the worker's data folder; a relative path is inside the data folder).")
    incident_dir_max_mb: float = option(200.0, minval=1.0, doc="Size cap of the incident folder, in MB.")
    incident_context_frames: int = option(3, minval=0, maxval=20,
                                          doc="Raw frames kept from just before and just after an "
                                              "incident's onset (each).")
    action_confirm_timeout: float = option(10.0, minval=1.0, maxval=600.0,
                                           doc="Seconds a client has to confirm a pause or cancel "
                                               "before a 'could not pause' alert goes out.")
    action_busy_timeout: float = option(600.0, minval=1.0, maxval=3600.0,
                                        doc="Seconds a pause or cancel the printer has taken may wait "
                                            "behind a long command (a heat-up mid-print holds "
                                            "Klipper's queue, and the print with it) before a "
                                            "'could not pause' alert goes out.")
    failure_box_hold: float = option(5.0, minval=0.0, maxval=600.0,
                                     doc="Seconds failure boxes stay drawn on the snapshot and "
                                         "stream after the last failure frame.")
    alert_buttons: bool = option(True, doc="Telegram alerts carry Pause / Resume / Cancel / Mute "
                                           "buttons, read by polling the bot's updates.")
    camera_alert_after: float = option(60.0, minval=0.0, maxval=86400.0,
                                       doc="Seconds the camera may be offline, frozen or dark during "
                                           "a print before an alert says the print is not watched "
                                           "(one per outage, and one when it is back); 0: never.")
