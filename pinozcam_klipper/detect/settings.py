"""Settings of the model runtime (the ``model`` section)."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option

__all__ = ["ModelSettings", "RUNTIMES"]

#: ``auto`` tries LiteRT, then tflite-runtime.
RUNTIMES = ("auto", "litert", "tflite")


@dataclass(frozen=True)
class ModelSettings:
    model_path: str = option(
        "", doc="Path of a .tflite model with its .json beside it; empty: the shipped model.")
    cpu_share: float = option(
        0.5, above=0.0, maxval=1.0,
        doc="Fraction of the CPU cores used for inference threads (at least one thread).")
    runtime: str = option(
        "auto", choices=RUNTIMES,
        doc="Inference package: auto (LiteRT, else tflite-runtime), litert or tflite.")
    decode_floor: float | None = option(
        None, minval=0.0, maxval=1.0,
        doc="Lowest score a box may have to leave the decoder; empty: 0.05.")
