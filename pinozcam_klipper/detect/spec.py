"""The model's JSON (docs/model-format.md), parsed and checked.

:func:`read_spec` turns ``NAME.json`` into a :class:`ModelSpec` or raises a
:class:`ModelError` whose one-line message names the file and the bad key.
:func:`guess_spec` builds one for a JSON-less YOLO export from its tensor shapes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = ["FORMATS", "InputSpec", "ModelSpec", "read_spec", "guess_spec"]

FORMATS = ("pinozcam-grid-v1", "yolov5", "yolov8")
COLORS = ("RGB", "BGR")


@dataclass(frozen=True)
class InputSpec:
    """How a frame becomes the input tensor: letterbox, colour order, ``(x - mean) / std``.

    ``mean``, ``std`` and ``letterbox_color`` are per channel, in ``color`` order.
    """

    width: int
    height: int
    color: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    letterbox_color: tuple[int, int, int] = (114, 114, 114)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    format: str
    input: InputSpec
    classes: tuple[str, ...]
    license: str = ""
    #: True when there was no JSON and the format was guessed from the output shape.
    guessed: bool = False


def read_spec(path: Path) -> ModelSpec:
    """Parse and check ``path`` (a model's JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read model description {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"model description {path} is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ModelError(f"model description {path} must be a JSON object")
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model description {path}: {_reason(exc)} (see docs/model-format.md)") \
            from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return str(exc)


def _parse(data: Mapping[str, Any]) -> ModelSpec:
    fmt = data["format"]
    if fmt not in FORMATS:
        raise ValueError(f"'format' is {fmt!r}; expected one of {', '.join(FORMATS)}")
    inp = data["input"]
    if not isinstance(inp, Mapping):
        raise ValueError("'input' must be an object")
    classes = data["classes"]
    if (not isinstance(classes, Sequence) or isinstance(classes, str) or not classes
            or not all(isinstance(c, str) and c for c in classes)):
        raise ValueError("'classes' must be a non-empty list of names")
    color = str(inp.get("color", "RGB")).upper()
    if color not in COLORS:
        raise ValueError(f"'input.color' is {color!r}; expected RGB or BGR")
    std = _triple(inp.get("std", (1, 1, 1)), "input.std")
    if any(s == 0 for s in std):
        raise ValueError("'input.std' must not contain 0")
    pad = _triple(inp.get("letterbox_color", (114, 114, 114)), "input.letterbox_color")
    if any(not 0 <= p <= 255 for p in pad):
        raise ValueError("'input.letterbox_color' values must lie in 0..255")
    return ModelSpec(
        name=str(data.get("name", "")),
        version=str(data.get("version", "")),
        format=fmt,
        input=InputSpec(
            width=_size(inp["width"], "input.width"),
            height=_size(inp["height"], "input.height"),
            color=color,
            mean=_triple(inp.get("mean", (0, 0, 0)), "input.mean"),
            std=std,
            letterbox_color=(int(pad[0]), int(pad[1]), int(pad[2])),
        ),
        classes=tuple(classes),
        license=str(data.get("license", "")),
    )


def _size(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"'{key}' must be a positive whole number, not {value!r}")
    return value


def _triple(value: Any, key: str) -> tuple[float, float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value, value)
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value)):
        raise ValueError(f"'{key}' must be three numbers, not {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


def guess_spec(name: str, input_shape: Sequence[int],
               output_shapes: Sequence[Sequence[int]]) -> ModelSpec | None:
    """A spec for a JSON-less Ultralytics export, or None when the shapes are not YOLO.

    One output ``[1, A, B]``: ``A < B`` is ``yolov8`` (``A = 4 + C``, the
    Ultralytics layout), ``A > B`` is ``yolov5`` (``B = 5 + C``). Input size from
    the model, ``mean 0, std 255``, RGB, classes ``class0 .. class{C-1}``.
    """
    if len(output_shapes) != 1 or len(input_shape) != 4:
        return None
    shape = tuple(int(s) for s in output_shapes[0])
    if len(shape) != 3 or shape[0] != 1:
        return None
    a, b = shape[1], shape[2]
    if a < b and a > 4:
        fmt, count = "yolov8", a - 4
    elif a > b and b > 5:
        fmt, count = "yolov5", b - 5
    else:
        return None
    return ModelSpec(
        name=name, version="", format=fmt,
        input=InputSpec(width=int(input_shape[2]), height=int(input_shape[1]),
                        std=(255.0, 255.0, 255.0)),
        classes=tuple(f"class{i}" for i in range(count)),
        guessed=True,
    )
