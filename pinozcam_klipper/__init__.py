"""pinozcam-klipper: on-device AI print-failure detection for Klipper and OctoPrint."""

__version__ = "0.1.0"
