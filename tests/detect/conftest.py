"""Fixtures for the detect tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from detect_helpers import MODELS


@pytest.fixture
def model_copy(tmp_path):
    """Copy a fixture model into tmp_path, optionally editing (or dropping) its JSON."""

    def make(name: str, *, json_changes: dict | None = None, with_json: bool = True,
             input_changes: dict | None = None) -> Path:
        dst = tmp_path / f"{name}.tflite"
        shutil.copy(MODELS / f"{name}.tflite", dst)
        if with_json:
            meta = json.loads((MODELS / f"{name}.json").read_text())
            meta.update(json_changes or {})
            meta["input"].update(input_changes or {})
            (tmp_path / f"{name}.json").write_text(json.dumps(meta))
        return dst

    return make
