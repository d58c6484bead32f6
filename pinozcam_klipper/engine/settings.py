"""Detection settings: thresholds, presets, what to do on a failure, warm-up, masks.

Presets
-------
A preset fills every threshold that is left unset (``None``); any single value
set explicitly overrides its preset. ``nozzlecam`` and ``webcam`` are
PiNozCam's own values. The ladder ``strictest .. loosest`` is about how strict
the watcher is with the print: **strictest raises alarms most eagerly**
(lowest score threshold, smallest failure area needed, fewest failure frames),
**loosest raises the fewest alarms**.

============  =====  ===========  =======  =================  ============
preset        score  sensitivity  display  max_failure_count  consider_time
============  =====  ===========  =======  =================  ============
nozzlecam     0.83   0.05         0.60     3                  60
webcam        0.94   0.03         0.75     3                  60
strictest     0.70   0.01         0.50     2                  60
strict        0.78   0.02         0.55     2                  60
medium        0.85   0.03         0.65     3                  60
loose         0.90   0.05         0.75     4                  60
loosest       0.95   0.08         0.85     5                  60
============  =====  ===========  =======  =================  ============

- ``score``: a box counts when its confidence is at least this.
- ``sensitivity`` (``image_sensitivity``): the fraction of the analysed image
  that failure boxes must cover for severity 1; severity is
  ``min(failure_area / image_sensitivity, 1)``, so *lower is more sensitive*.
- ``display``: boxes at or above this are drawn on pictures (not counted).

Resolved values
---------------
:meth:`DetectionSettings.resolved` returns a :class:`ResolvedDetection` with
plain numbers (preset applied) plus every other option: that is what the
engine and :func:`~pinozcam_klipper.engine.assess.assess_frame` read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..options import SettingsError, option
from .masks import MASKS_ACCEPTED, Polygon, masked_fraction, parse_masks

#: Masks may hide at most this share of the picture.
MAX_MASKED_FRACTION = 0.9

__all__ = ["DetectionSettings", "ResolvedDetection", "Preset", "PRESETS", "ACTIONS", "Action"]

Action = Literal["notify", "pause", "cancel"]
ACTIONS: tuple[str, ...] = ("notify", "pause", "cancel")


@dataclass(frozen=True)
class Preset:
    """Values a preset supplies for the options left unset."""

    score_threshold: float
    image_sensitivity: float
    display_threshold: float
    max_failure_count: int
    consider_time: float


#: The single place where threshold defaults live (see the module docstring).
PRESETS: dict[str, Preset] = {
    "nozzlecam": Preset(0.83, 0.05, 0.60, 3, 60.0),
    "webcam": Preset(0.94, 0.03, 0.75, 3, 60.0),
    "strictest": Preset(0.70, 0.01, 0.50, 2, 60.0),
    "strict": Preset(0.78, 0.02, 0.55, 2, 60.0),
    "medium": Preset(0.85, 0.03, 0.65, 3, 60.0),
    "loose": Preset(0.90, 0.05, 0.75, 4, 60.0),
    "loosest": Preset(0.95, 0.08, 0.85, 5, 60.0),
}


@dataclass(frozen=True)
class ResolvedDetection:
    """Detection settings with the preset applied: plain values only."""

    preset: str
    score_threshold: float
    image_sensitivity: float
    display_threshold: float
    max_failure_count: int
    consider_time: float
    action: str
    escalate_after: float
    warmup_frames: int
    warmup_seconds: float
    start_layer: int
    resume_grace: float
    masks: tuple[Polygon, ...]


@dataclass(frozen=True)
class DetectionSettings:
    """How boxes become failures, and what happens then.

    Build it with :func:`pinozcam_klipper.options.load_section` (which checks
    every bound and names a bad option); call :meth:`resolved` for the values
    with the preset applied. Thresholds left as ``None`` come from ``preset``.
    """

    preset: str = option("webcam", choices=tuple(PRESETS),
                         doc="Threshold preset: nozzlecam, webcam (PiNozCam's), or strictest, strict, "
                             "medium, loose, loosest (strictest raises alarms most eagerly). "
                             "Any threshold set explicitly overrides the preset.")
    score_threshold: float | None = option(None, above=0.0, maxval=1.0,
                                           doc="Minimum box confidence (0..1] that counts as a "
                                               "failure detection; unset: from the preset.")
    image_sensitivity: float | None = option(None, above=0.0, maxval=1.0,
                                             doc="Fraction (0..1] of the analysed image that failure "
                                                 "boxes must cover for full severity; lower is more "
                                                 "sensitive; unset: from the preset.")
    display_threshold: float | None = option(None, above=0.0, maxval=1.0,
                                             doc="Minimum box confidence (0..1] drawn on pictures; "
                                                 "unset: from the preset.")
    action: str = option("pause", choices=ACTIONS,
                         doc="What a failure incident requests: notify (message only), pause or cancel.")
    max_failure_count: int | None = option(None, minval=1,
                                           doc="Failure frames within consider_time that open an "
                                               "incident (>= 1); unset: from the preset (3 for webcam).")
    consider_time: float | None = option(None, minval=1.0,
                                         doc="Seconds a failure frame keeps counting (>= 1); unset: "
                                             "from the preset (60 for webcam).")
    escalate_after: float = option(0.0, minval=0.0,
                                   doc="Seconds a print paused by an incident may stay paused before "
                                       "it is cancelled; 0 = never.")
    warmup_frames: int = option(3, minval=0,
                                doc="Frames analysed at the start of a print before anything counts.")
    warmup_seconds: float = option(20.0, minval=0.0,
                                   doc="Seconds after the print starts before anything counts.")
    start_layer: int = option(2, minval=0,
                              doc="First layer that counts when the layer is known (0 or 1: from the "
                                  "first layer).")
    resume_grace: float = option(60.0, minval=0.0,
                                 doc="Seconds after a resume during which failures are not counted; the "
                                     "incident stays open until then, so its alert's buttons still work.")
    masks: tuple[Polygon, ...] = option((), parse=parse_masks,
                                        doc="Regions never analysed: " + MASKS_ACCEPTED + ".")

    def __post_init__(self) -> None:
        # load_section validates; these two checks also guard direct
        # construction, where a bad preset or raw mask text would otherwise
        # fail much later, far from its cause.
        if self.preset not in PRESETS:
            raise SettingsError("preset", self.preset, "one of " + ", ".join(PRESETS))
        if self.action not in ACTIONS:
            raise SettingsError("action", self.action, "one of " + ", ".join(ACTIONS))
        try:
            masks = parse_masks(self.masks)
        except ValueError as exc:
            raise SettingsError("masks", self.masks, str(exc)) from None
        if masks and masked_fraction(masks) > MAX_MASKED_FRACTION:
            # Detection would silently stop; almost certainly a mask drawn the wrong way round.
            raise SettingsError("masks", self.masks,
                                f"masks that leave at least {1 - MAX_MASKED_FRACTION:.0%} of the "
                                f"picture visible (these hide {masked_fraction(masks):.0%})")
        object.__setattr__(self, "masks", masks)

    def resolved(self) -> ResolvedDetection:
        """Every option as a plain value, thresholds taken from the preset where unset."""
        preset = PRESETS[self.preset]
        return ResolvedDetection(
            preset=self.preset,
            score_threshold=_pick(self.score_threshold, preset.score_threshold),
            image_sensitivity=_pick(self.image_sensitivity, preset.image_sensitivity),
            display_threshold=_pick(self.display_threshold, preset.display_threshold),
            max_failure_count=int(_pick(self.max_failure_count, preset.max_failure_count)),
            consider_time=_pick(self.consider_time, preset.consider_time),
            action=self.action,
            escalate_after=self.escalate_after,
            warmup_frames=self.warmup_frames,
            warmup_seconds=self.warmup_seconds,
            start_layer=self.start_layer,
            resume_grace=self.resume_grace,
            masks=self.masks,
        )


def _pick(explicit: float | int | None, preset_value: float | int) -> float:
    return float(preset_value if explicit is None else explicit)
