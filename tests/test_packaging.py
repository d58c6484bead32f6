"""What gets installed on a printer stays consistent across the files that say it."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

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


def test_update_manager_never_pulls_a_new_major_version_and_admits_what_is_tested():
    # `pip install -U -r requirements.txt` after each update takes the newest version allowed:
    # every dependency stops below its next major version, and the versions installed here
    # (the ones the tests pass with) are still allowed.
    for line in _requirement_lines(ROOT / "moonraker_component" / "requirements.txt"):
        requirement = Requirement(line)
        assert any(spec.operator == "<" for spec in requirement.specifier), f"no upper bound: {line}"
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), \
            f"{requirement.name} {installed} (installed, tested) is outside {requirement.specifier}"


def test_the_tflite_extra_still_resolves_within_the_bounds():
    # tflite-runtime crashes under NumPy 2: the extra pins numpy<2, which the base bound allows.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = [Requirement(r) for r in project["optional-dependencies"]["tflite"]]
    assert {r.name for r in extra} == {"tflite-runtime", "numpy"}
    numpy = next(Requirement(r) for r in project["dependencies"] if r.startswith("numpy"))
    pinned = next(r for r in extra if r.name == "numpy")
    assert numpy.specifier.contains("1.26.4") and pinned.specifier.contains("1.26.4")


def test_the_shipped_model_and_its_card_are_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = project["tool"]["setuptools"]["package-data"]["pinozcam_klipper"]
    assert "models/*.tflite" in package_data and "models/*.json" in package_data
