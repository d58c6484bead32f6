"""What gets installed on a printer stays consistent across the files that say it."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _requirement_lines(path: Path) -> set[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def test_update_managers_requirements_match_the_package_dependencies():
    # Moonraker's update_manager installs moonraker_component/requirements.txt after each
    # update; a dependency missing there breaks the worker after an update.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _requirement_lines(ROOT / "moonraker_component" / "requirements.txt") == \
        set(project["dependencies"])


def test_the_shipped_model_and_its_card_are_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = project["tool"]["setuptools"]["package-data"]["pinozcam_klipper"]
    assert "models/*.tflite" in package_data and "models/*.json" in package_data
