"""The Moonraker component's ``options`` module, loaded on its own for unit tests.

The component runs inside Moonraker (tornado and all); its options module needs nothing of
Moonraker's, so tests load it from its file instead of starting a Moonraker.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_component_options() -> types.ModuleType:
    name = "pinozcam_component_options"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "moonraker_component" / "pinozcam" / "options.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
