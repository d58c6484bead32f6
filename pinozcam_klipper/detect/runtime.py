"""Inference back-ends behind one small interface.

A back-end takes the bytes of a ``.tflite`` file, says what its input and output
tensors look like (:class:`TensorInfo`) and runs one input tensor at a time
(:meth:`Backend.invoke`). Two ship here, both driving the TFLite interpreter
API: ``litert`` (``ai-edge-litert``, fast on x86 and ARM) and ``tflite``
(``tflite-runtime``, the fallback where LiteRT has no wheel). Another runtime
plugs in by adding an opener to :data:`BACKENDS`. A back-end whose package is
missing is reported as a :class:`RuntimeMissingError` (a :class:`ModelError`)
naming the install command, never an ImportError. Errors about the model file
name the file; whoever knows the file came from the user's ``model_path``
prefixes them with :func:`~.errors.blame_option`.
"""

from __future__ import annotations

import importlib
import importlib.util
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError, RuntimeMissingError

__all__ = ["TensorInfo", "Backend", "BACKENDS", "open_backend", "read_model_file",
           "threads_for"]

# The commands name the python running this (~/pinozcam-env/bin/python on a printer, OctoPrint's
# own in its venv): a bare `pip` would install somewhere else. pinozcam-klipper is not on PyPI:
# the extra is installed as the README says, from the checkout this runs from when there is one
# (an editable install), else from the git repository.
_PIP = f"{shlex.quote(sys.executable or 'python3')} -m pip install"
_CHECKOUT = Path(__file__).resolve().parents[2]
_REPOSITORY = "git+https://github.com/pinozcam/pinozcam-klipper.git"
LITERT_INSTALL = f"{_PIP} ai-edge-litert"
TFLITE_INSTALL = (f"{_PIP} -e {shlex.quote(f'{_CHECKOUT}[tflite]')}"
                  if (_CHECKOUT / "pyproject.toml").is_file()
                  else f"{_PIP} {shlex.quote(f'pinozcam-klipper[tflite] @ {_REPOSITORY}')}")


@dataclass(frozen=True)
class TensorInfo:
    """Shape, element type and (for int8/uint8) quantisation of one tensor."""

    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.dtype in (np.dtype(np.int8), np.dtype(np.uint8)) and self.scale > 0


class Backend(Protocol):
    """What the detector needs from a runtime. One instance serves one thread at a time."""

    name: str
    threads: int
    input: TensorInfo
    outputs: tuple[TensorInfo, ...]

    def invoke(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the model on ``tensor`` (shape and dtype of :attr:`input`); one array per output."""
        ...


def threads_for(cpu_share: float, cpu_count: int | None) -> int:
    """Inference threads for a share of the cores: ``max(1, round(share * cores))``."""
    return max(1, round(cpu_share * (cpu_count or 1)))


def read_model_file(path: Path) -> bytes:
    """The bytes of a ``.tflite`` file, after a cheap check that it is one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file not found: {path}") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    # A TFLite flatbuffer carries the identifier "TFL3" at bytes 4..8; checking it
    # here gives a clear message instead of whatever the native parser says.
    if len(data) < 16 or data[4:8] != b"TFL3":
        raise ModelError(f"model file {path} is not a TFLite model (corrupt or wrong file)")
    return data


class _InterpreterBackend:
    """Any package exposing the TFLite ``Interpreter`` API."""

    def __init__(self, name: str, interpreter_cls: Any, model: bytes, threads: int,
                 source: str) -> None:
        self.name = name
        self.threads = threads
        try:
            self._interp = interpreter_cls(model_content=model, num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{name} cannot load {source}: {_one_line(exc)}") from None
        inputs = self._interp.get_input_details()
        if len(inputs) != 1:
            raise ModelError(f"{source} has {len(inputs)} inputs; expected one image input")
        self._input_index = inputs[0]["index"]
        self.input = _info(inputs[0])
        details = self._interp.get_output_details()
        self._output_indices = [d["index"] for d in details]
        self.outputs = tuple(_info(d) for d in details)

    def invoke(self, tensor: np.ndarray) -> list[np.ndarray]:
        try:
            self._interp.set_tensor(self._input_index, tensor)
            self._interp.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.name} inference failed: {_one_line(exc)}") from None
        return [self._interp.get_tensor(i) for i in self._output_indices]


def _info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(shape=tuple(int(s) for s in detail["shape"]),
                      dtype=np.dtype(detail["dtype"]), scale=float(scale),
                      zero_point=int(zero_point))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _open_litert(model: bytes, threads: int, source: str) -> Backend:
    try:
        module = importlib.import_module("ai_edge_litert.interpreter")
    except ImportError:
        raise RuntimeMissingError(f"the LiteRT runtime is not installed: run `{LITERT_INSTALL}`") from None
    return _InterpreterBackend("litert", module.Interpreter, model, threads, source)


def _open_tflite(model: bytes, threads: int, source: str) -> Backend:
    # tflite-runtime 2.14 crashes under NumPy 2 without saying why.
    if int(np.__version__.split(".")[0]) >= 2:
        raise RuntimeMissingError(f"tflite-runtime needs numpy<2 (found {np.__version__}): run "
                         f"`{TFLITE_INSTALL}` or use the LiteRT runtime (`{LITERT_INSTALL}`)")
    try:
        module = importlib.import_module("tflite_runtime.interpreter")
    except ImportError:
        raise RuntimeMissingError(f"tflite-runtime is not installed: run `{TFLITE_INSTALL}`") from None
    return _InterpreterBackend("tflite", module.Interpreter, model, threads, source)


#: Runtime name -> opener ``(model bytes, threads, source for messages)``.
#: ``auto`` tries them in this order.
BACKENDS: dict[str, Callable[[bytes, int, str], Backend]] = {
    "litert": _open_litert,
    "tflite": _open_tflite,
}


def open_backend(model: bytes, runtime: str, threads: int, source: str = "the model") -> Backend:
    """Open ``model`` with the named runtime, or with the first one installed for ``auto``.

    ``source`` names the model in error messages (its path).
    """
    if runtime != "auto":
        opener = BACKENDS.get(runtime)
        if opener is None:
            raise ModelError(f"unknown runtime {runtime!r}; expected auto, "
                             + ", ".join(BACKENDS))
        return opener(model, threads, source)
    for name, opener in BACKENDS.items():
        if _installed(name):
            return opener(model, threads, source)
    raise RuntimeMissingError(f"no TFLite runtime is installed: run `{LITERT_INSTALL}` "
                     f"(or `{TFLITE_INSTALL}` where LiteRT has no wheel)")


def _installed(name: str) -> bool:
    module = {"litert": "ai_edge_litert", "tflite": "tflite_runtime"}.get(name)
    if module is None:
        return True  # a plugged-in back-end reports its own missing package
    return importlib.util.find_spec(module) is not None
