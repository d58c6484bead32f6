"""install.sh on the hosts users really have: add-ons beside Moonraker, two printers, hand-made configs.

Each test runs the real install.sh against a fake home (a KIAUH-like ``~/moonraker`` git checkout,
``printer_data`` folders) and checks what the user would meet: the unit restarted, files that
Klipper's and Moonraker's own readers accept, the messages. ``systemctl`` and ``sudo`` are fakes
that record restarts (test_moonraker_install.py's). The virtualenv tests run real ``python3 -m
venv`` and real pip, offline: they install a stand-in checkout (install.sh and the component
copied, a package built by a tiny in-tree backend) whose build needs a package found only in a
local folder, the way the real build needs setuptools from PyPI; leaving that folder out is
"no internet".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.moonraker_stack import ROOT
from tests.integration.test_moonraker_install import PRINTER_CFG, _fake_systemd, _klipper_error, _moonraker_reads

pytestmark = pytest.mark.timeout(120)

def _run(home: Path, *args: str, env: dict[str, str] | None = None, restart: bool = False,
         script: Path = ROOT / "install.sh", prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """install.sh ARGS for ``home``; ``restart`` only with a fake systemctl in ``env``."""
    command = [*prefix, "bash", str(script), "--home", str(home), "--allow-root", *args]
    if not restart:
        command.append("--no-restart")
    return subprocess.run(command, capture_output=True, text=True, timeout=110,
                          env={**(env or os.environ), "HOME": str(home)})


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _home(home: Path, *datas: str, port: int = 7125) -> Path:
    """A KIAUH-like home: a Moonraker git checkout and the printer_data folders ``datas``."""
    (home / "moonraker" / "moonraker" / "components").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(home / "moonraker")], check=True)
    for number, data in enumerate(datas or ("printer_data",)):
        config = home / data / "config"
        config.mkdir(parents=True)
        (config / "moonraker.conf").write_text(f"[server]\nhost: 0.0.0.0\nport: {port + number}\n")
        (config / "printer.cfg").write_text(PRINTER_CFG)
    return home


def _worker(*args: str) -> tuple[str, ...]:
    return ("--worker-python", sys.executable, *args)


# ---- Moonraker's own unit, not an add-on named after it ----------------------------------------

def _unit(exec_start: str, env_file: Path | None = None) -> str:
    env = f"EnvironmentFile={env_file}\n" if env_file else ""
    return (f"[Unit]\nDescription=a service\n\n[Service]\nType=simple\nUser=pi\n{env}ExecStart={exec_start}\n"
            "Restart=always\n")


def _addon_units(home: Path) -> dict[str, str]:
    """moonraker-obico and moonraker-telegram-bot as their installers write them: both name printer_data."""
    data = home / "printer_data"
    return {
        "moonraker-obico.service": _unit(f"{home}/moonraker-obico-env/bin/python3 -m moonraker_obico.app "
                                         f"-c {data}/config/moonraker-obico.cfg"),
        "moonraker-telegram-bot.service": _unit(f"{home}/moonraker-telegram-bot-env/bin/python "
                                                f"{home}/moonraker-telegram-bot/bot/main.py "
                                                f"-c {data}/config/telegram.conf -l {data}/logs"),
    }


@pytest.mark.parametrize("kind", ["kiauh-env-file", "moonraker-py", "pip-console-script"])
def test_the_moonraker_unit_restarts_not_an_addon_named_after_it(tmp_path: Path, kind: str) -> None:
    home = _home(tmp_path / "home")
    data = home / "printer_data"
    if kind == "kiauh-env-file":  # what KIAUH and Moonraker's installer write: -m moonraker in the env file
        env_file = data / "systemd" / "moonraker.env"
        env_file.parent.mkdir()
        env_file.write_text(f'MOONRAKER_DATA_PATH="{data}"\nMOONRAKER_ARGS="-m moonraker"\n'
                            f'PYTHONPATH="{home}/moonraker"\n')
        moonraker = _unit(f"{home}/moonraker-env/bin/python $MOONRAKER_ARGS", env_file)
    elif kind == "moonraker-py":  # an older unit, naming no data folder (the default one)
        moonraker = _unit(f"{home}/moonraker-env/bin/python {home}/moonraker/moonraker/moonraker.py")
    else:
        moonraker = _unit(f"{home}/moonraker-env/bin/moonraker -d {data}")
    addons = _addon_units(home)
    if kind == "moonraker-py":  # where only the add-on names printer_data, it was the one restarted
        del addons["moonraker-telegram-bot.service"]
    env, restarted = _fake_systemd(tmp_path / "bin", {"moonraker.service": moonraker, **addons})

    out = _ok(_run(home, *_worker(), env=env, restart=True))
    assert restarted.read_text() == "moonraker.service\n"  # not moonraker-obico, not none
    assert "restarting moonraker.service" in out


# ---- two printers on one host share the component link and the virtualenv ----------------------

def test_uninstalling_one_printer_keeps_what_the_other_printer_uses(tmp_path: Path) -> None:
    home = _home(tmp_path / "home", "printer_1_data", "printer_2_data")
    (home / "pinozcam-env" / "bin").mkdir(parents=True)  # the virtualenv both use
    link = home / "moonraker" / "moonraker" / "components" / "pinozcam"
    exclude = home / "moonraker" / ".git" / "info" / "exclude"
    for data in ("printer_1_data", "printer_2_data"):
        _ok(_run(home, "--printer-data", str(home / data), *_worker()))
    second = home / "printer_2_data" / "config" / "moonraker.conf"

    out = _ok(_run(home, "--printer-data", str(home / "printer_1_data"), "--uninstall"))
    assert link.resolve() == ROOT / "moonraker_component" / "pinozcam"  # printer 2's Moonraker still loads it
    assert "moonraker/components/pinozcam" in exclude.read_text()
    assert f"{second} still has [pinozcam]" in out
    left = next(line for line in out.splitlines() if "Left in place" in line)
    assert "pinozcam-env" not in left  # no rm -rf of the virtualenv printer 2 runs
    assert f"kept {home}/pinozcam-env, PiNozCam's virtualenv, for the other printer" in out
    assert _moonraker_reads(home / "printer_1_data" / "config" / "moonraker.conf")["sections"] == ["server"]

    out = _ok(_run(home, "--printer-data", str(home / "printer_2_data"), "--uninstall"))
    assert not link.is_symlink()  # the last one takes it
    assert "pinozcam" not in exclude.read_text()
    assert f"{home}/pinozcam-env (PiNozCam's virtualenv)" in out


def test_a_home_with_only_numbered_printers_is_named_in_the_error(tmp_path: Path) -> None:
    home = _home(tmp_path / "home", "printer_1_data", "printer_2_data")
    result = _run(home, *_worker())
    assert result.returncode != 0
    assert (f"no {home}/printer_data/config; this home has {home}/printer_1_data, {home}/printer_2_data: "
            "name one with --printer-data") in result.stderr


def test_the_closing_doctor_hint_asks_this_printers_moonraker(tmp_path: Path) -> None:
    home = _home(tmp_path / "home", "printer_1_data", "printer_2_data")  # ports 7125, 7126
    out = _ok(_run(home, "--printer-data", str(home / "printer_2_data"), *_worker()))
    done = next(line for line in out.splitlines() if line.startswith("pinozcam: done."))
    assert done.endswith(" doctor --moonraker http://localhost:7126"), done


# ---- every [include] of pinozcam.cfg, wherever it is ------------------------------------------

def _includes_of_the_users_own(config: Path) -> tuple[Path, Path]:
    """printer.cfg with ./pinozcam.cfg, and a macros folder it globs whose addons.cfg has ../pinozcam.cfg."""
    printer_cfg = config / "printer.cfg"
    printer_cfg.write_text("[include macros/*.cfg]\n[include ./pinozcam.cfg]  # AI detection\n" + PRINTER_CFG)
    (config / "macros").mkdir()
    addons = config / "macros" / "addons.cfg"
    addons.write_text("[include ../pinozcam.cfg]\n[gcode_macro MINE]\ngcode:\n  M117 mine\n")
    return printer_cfg, addons


def test_install_sees_an_include_of_pinozcam_cfg_it_did_not_write(tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    printer_cfg, _ = _includes_of_the_users_own(home / "printer_data" / "config")
    before = printer_cfg.read_text()
    out = _ok(_run(home, *_worker()))
    assert "already includes pinozcam.cfg" in out
    assert printer_cfg.read_text() == before  # no second include
    assert _klipper_error(printer_cfg) is None


def test_uninstall_removes_every_include_of_pinozcam_cfg(tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    config = home / "printer_data" / "config"
    printer_cfg, addons = _includes_of_the_users_own(config)
    _ok(_run(home, *_worker()))

    out = _ok(_run(home, *_worker(), "--uninstall"))
    assert not (config / "pinozcam.cfg").exists()
    assert _klipper_error(printer_cfg) is None  # not "Include file ... does not exist": Klipper starts
    assert printer_cfg.read_text() == "[include macros/*.cfg]\n" + PRINTER_CFG
    assert addons.read_text() == "[gcode_macro MINE]\ngcode:\n  M117 mine\n"
    assert "removed [include ../pinozcam.cfg] from macros/addons.cfg" in out


def test_uninstall_keeps_pinozcam_cfg_while_a_file_it_must_not_edit_includes_it(tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    config = home / "printer_data" / "config"
    printer_cfg = config / "printer.cfg"
    # A macro collection linked in from its own git checkout, including pinozcam.cfg.
    collection = home / "klipper-macros"
    collection.mkdir()
    (collection / "macros.cfg").write_text("[include pinozcam.cfg]\n[gcode_macro THEIRS]\ngcode:\n  M117 x\n")
    (config / "macros.cfg").symlink_to(collection / "macros.cfg")
    printer_cfg.write_text("[include macros.cfg]\n" + PRINTER_CFG)
    _ok(_run(home, *_worker()))

    out = _ok(_run(home, *_worker(), "--uninstall"))
    assert (config / "pinozcam.cfg").is_symlink()
    assert _klipper_error(printer_cfg) is None  # Klipper still starts
    assert (f"kept {config}/pinozcam.cfg, or Klipper would not start: macros.cfg ([include pinozcam.cfg]) "
            "still includes it") in out
    assert (collection / "macros.cfg").read_text().startswith("[include pinozcam.cfg]\n")  # not theirs to edit


# ---- Moonraker removed first ------------------------------------------------------------------

def test_uninstall_after_moonraker_was_removed_still_cleans_the_config(tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    config = home / "printer_data" / "config"
    _ok(_run(home, *_worker()))
    shutil.rmtree(home / "moonraker")  # KIAUH's "remove Moonraker"

    out = _ok(_run(home, *_worker(), "--uninstall"))
    assert "Moonraker not found" in out and "no component link to remove" in out
    assert not (config / "pinozcam.cfg").exists()
    assert _klipper_error(config / "printer.cfg") is None
    assert (config / "printer.cfg").read_text() == PRINTER_CFG
    assert _moonraker_reads(config / "moonraker.conf")["sections"] == ["server"]


# ---- stand-in checkouts: install.sh and the component copied, a package pip builds offline ---------

_BACKEND = '''
"""A PEP 517 backend for the tests' stand-in checkout: an editable wheel is a .pth to this folder."""
import base64, hashlib, os, zipfile

def wheel(directory, name, version, files):
    dist = f"{name.replace('-', '_')}-{version}"
    files = {**files,
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\n"
                                        "Tag: py3-none-any\\n"}
    record = []
    with zipfile.ZipFile(os.path.join(directory, f"{dist}-py3-none-any.whl"), "w") as archive:
        for path, text in files.items():
            data = text.encode()
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        archive.writestr(f"{dist}.dist-info/RECORD", "\\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\\n")
    return f"{dist}-py3-none-any.whl"

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    here = os.path.dirname(os.path.abspath(__file__))
    return wheel(wheel_directory, "pinozcam-klipper", "0.0.0", {"pinozcam_test_checkout.pth": here + "\\n"})

build_wheel = build_editable
'''

_PYPROJECT = """[build-system]
requires = ["pinozcam-test-build-dep"]
build-backend = "_test_backend"
backend-path = ["."]

[project]
name = "pinozcam-klipper"
version = "0.0.0"
"""


def _checkout(folder: Path) -> Path:
    """A stand-in for a clone of this repository at ``folder``."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "install.sh", folder / "install.sh")
    shutil.copytree(ROOT / "installer", folder / "installer")
    shutil.copytree(ROOT / "moonraker_component", folder / "moonraker_component",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "pinozcam_klipper").mkdir()
    (folder / "pinozcam_klipper" / "__init__.py").write_text('"""stand-in"""\n')
    (folder / "_test_backend.py").write_text(_BACKEND)
    (folder / "pyproject.toml").write_text(_PYPROJECT)
    return folder


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the build's requirement: PyPI, as far as these tests go."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    namespace: dict[str, object] = {}
    exec(_BACKEND, namespace)  # noqa: S102 - the backend's own wheel writer
    namespace["wheel"](str(folder), "pinozcam-test-build-dep", "1.0", {})  # type: ignore[operator]
    return folder


def _pip_env(wheelhouse: Path | None) -> dict[str, str]:
    """No index at all; the wheelhouse is the network (None: no internet). No pip configuration of this host."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    if wheelhouse is not None:
        env["PIP_FIND_LINKS"] = str(wheelhouse)
    return env


def _venv_run(home: Path, checkout: Path, wheelhouse: Path | None) -> subprocess.CompletedProcess[str]:
    """install.sh of ``checkout``, making ~/pinozcam-env, online only when ``wheelhouse`` is given."""
    return _run(home, env=_pip_env(wheelhouse), script=checkout / "install.sh")


def _imports_from(python: Path, checkout: Path) -> bool:
    probe = subprocess.run([str(python), "-I", "-c", "import pinozcam_klipper; print(pinozcam_klipper.__file__)"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and Path(probe.stdout.strip()).parent.parent == checkout


# ---- a checkout cloned with sudo ---------------------------------------------------------------

@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can reach (pytest's tmp_path is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="pzi-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root (and setpriv) to make a checkout owned by another user")
@pytest.mark.parametrize("who", ["user-runs-it", "root-runs-it"])
def test_a_checkout_owned_by_another_user_is_named_before_anything_is_made(shared_tmp: Path, who: str) -> None:
    nobody = 65534
    checkout = _checkout(shared_tmp / "pinozcam-klipper")
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    home = _home(shared_tmp / "home")
    env = _pip_env(None)
    if who == "user-runs-it":
        # `sudo git clone` made it root's; the user runs install.sh: pip could not write, git not read.
        os.chown(home, nobody, nobody)
        for path in home.rglob("*"):
            os.lchown(path, nobody, nobody)
        prefix: tuple[str, ...] = ("setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups")
        args: tuple[str, ...] = ()
        expected = ["pip cannot write to it", "git cannot read it", f"sudo chown -R nobody: {checkout}"]
    else:
        for path in [checkout, *checkout.rglob("*")]:
            os.lchown(path, nobody, nobody)
        prefix, args = (), _worker()
        expected = ["git cannot read it (fatal: detected dubious ownership", f"sudo chown -R root: {checkout}"]
    result = _run(home, *args, env=env, script=checkout / "install.sh", prefix=prefix)
    assert result.returncode != 0, result.stdout
    assert f"pinozcam: error: {checkout} belongs to" in result.stderr
    assert "Cloned with sudo? run:" in result.stderr
    for text in expected:
        assert text in result.stderr
    assert not (home / "pinozcam-env").exists()  # checked before anything was made
    assert not (home / "moonraker" / "moonraker" / "components" / "pinozcam").is_symlink()
    assert (home / "printer_data" / "config" / "moonraker.conf").read_text() == "[server]\nhost: 0.0.0.0\nport: 7125\n"


# ---- a virtualenv that cannot be used is made again -------------------------------------------

def _break_venv(venv: Path, how: str) -> None:
    if how == "made-without-pip":
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    elif how == "python-removed-by-os-upgrade":
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        for name in ("python", "python3"):
            (venv / "bin" / name).unlink()
            (venv / "bin" / name).symlink_to("/usr/bin/python3.9-removed")
    else:  # a Bullseye virtualenv: python 3.9
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = venv / "fake-3.9"
        site.mkdir()
        (site / "sitecustomize.py").write_text('import sys\nsys.version_info = (3, 9, 2, "final", 0)\n')
        (venv / "bin" / "python").unlink()
        (venv / "bin" / "python").write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" "$@"\n')
        (venv / "bin" / "python").chmod(0o755)


@pytest.mark.parametrize("how, said", [
    ("made-without-pip", "it has no pip"),
    ("python-removed-by-os-upgrade", "/bin/python is missing"),
    ("python-3.9", "its python is 3.9, PiNozCam needs 3.10 or newer"),
])
def test_a_virtualenv_that_cannot_be_used_is_made_again(tmp_path: Path, wheelhouse: Path, how: str,
                                                         said: str) -> None:
    checkout = _checkout(tmp_path / "pinozcam-klipper")
    home = _home(tmp_path / "home")
    venv = home / "pinozcam-env"
    _break_venv(venv, how)

    out = _ok(_venv_run(home, checkout, wheelhouse))
    assert f"{venv} cannot be used: " in out and said in out and "Making it again" in out
    assert _imports_from(venv / "bin" / "python", checkout)


# ---- pip and the network ----------------------------------------------------------------------

def test_without_internet_the_pip_failure_says_what_it_could_not_install(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "pinozcam-klipper")
    home = _home(tmp_path / "home")
    result = _venv_run(home, checkout, None)
    assert result.returncode != 0
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"pinozcam: pip could not install pinozcam-klipper from {checkout}: it needs to reach PyPI "
        "(see the lines above)")


def test_a_rerun_without_internet_needs_no_network_until_the_requirements_change(tmp_path: Path,
                                                                                 wheelhouse: Path) -> None:
    checkout = _checkout(tmp_path / "pinozcam-klipper")
    home = _home(tmp_path / "home")
    _ok(_venv_run(home, checkout, wheelhouse))
    assert _imports_from(home / "pinozcam-env" / "bin" / "python", checkout)

    # Offline, nothing changed: nothing to download, so nothing fails.
    out = _ok(_venv_run(home, checkout, None))
    assert "pip not needed" in out

    # pyproject.toml changed (a git pull brought a new requirement): pip runs, and needs the network.
    (checkout / "pyproject.toml").write_text(_PYPROJECT + "# a new requirement\n")
    result = _venv_run(home, checkout, None)
    assert result.returncode != 0 and "it needs to reach PyPI" in result.stderr


# ---- sections in files moonraker.conf includes -------------------------------------------------

def test_sections_in_included_files_are_seen_and_removed(tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    config = home / "printer_data" / "config"
    conf = config / "moonraker.conf"
    conf.write_text("[server]\nhost: 0.0.0.0\n\n[include pinozcam-settings.conf]\n[include conf.d/*.conf]\n")
    settings = config / "pinozcam-settings.conf"
    settings.write_text("[pinozcam]\ncamera: printer_cam\n\n[update_manager pinozcam]\ntype: git_repo\n"
                        "path: ~/pinozcam-klipper\norigin: https://example.invalid/pinozcam-klipper.git\n"
                        "\n[timelapse]\noutput_path: ~/timelapse/\n")
    (config / "conf.d").mkdir()
    webcams = config / "conf.d" / "webcams.conf"
    webcams.write_text("[webcam printer_cam]\nstream_url: /webcam/?action=stream\n\n"
                       "[webcam pinozcam]\nservice: mjpegstreamer-adaptive\n")
    original = conf.read_text()

    out = _ok(_run(home, *_worker()))
    assert conf.read_text() == original  # nothing appended twice
    assert "moonraker.conf already has the PiNozCam sections" in out
    assert "error" not in _moonraker_reads(conf)

    out = _ok(_run(home, *_worker(), "--uninstall"))
    assert _moonraker_reads(conf) == {"sections": ["server", "timelapse", "webcam printer_cam"]}
    assert "removed [pinozcam], [update_manager pinozcam] from pinozcam-settings.conf" in out
    assert "removed [webcam pinozcam] from conf.d/webcams.conf" in out
    assert conf.read_text() == original


# ---- what [update_manager pinozcam] follows, what uninstall names ------------------------------

def _git(checkout: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    *args], check=True, capture_output=True)


def _clone(folder: Path) -> Path:
    checkout = _checkout(folder)
    _git(checkout, "init", "-q", "-b", "stable")
    _git(checkout, "add", "-A")
    _git(checkout, "commit", "-q", "-m", "stand-in")
    _git(checkout, "remote", "add", "origin", "https://example.invalid/pinozcam-klipper.git")
    _git(checkout, "update-ref", "refs/remotes/origin/stable", "HEAD")
    _git(checkout, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/stable")
    return checkout


def test_a_clone_path_with_a_space_gets_no_update_manager_section(tmp_path: Path) -> None:
    checkout = _clone(tmp_path / "my stuff" / "pinozcam-klipper")
    home = _home(tmp_path / "home")
    conf = home / "printer_data" / "config" / "moonraker.conf"
    out = _ok(_run(home, *_worker(), script=checkout / "install.sh"))
    assert "[update_manager pinozcam]" not in conf.read_text()  # Moonraker could never use it
    assert f"Moonraker cannot update from a path with a space ({checkout})" in out
    assert "clone to ~/pinozcam-klipper" in out


def test_a_detached_head_follows_the_remotes_default_branch(tmp_path: Path) -> None:
    checkout = _clone(tmp_path / "pinozcam-klipper")
    _git(checkout, "checkout", "-q", "--detach")
    home = _home(tmp_path / "home")
    conf = home / "printer_data" / "config" / "moonraker.conf"
    out = _ok(_run(home, *_worker(), script=checkout / "install.sh"))
    assert "primary_branch: stable\n" in conf.read_text()  # not "HEAD"
    assert "not on a branch (detached HEAD): Moonraker's updates will follow stable" in out
    assert "error" not in _moonraker_reads(conf)


def test_uninstall_names_the_backups_and_the_worker_log_it_leaves(tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    data = home / "printer_data"
    _ok(_run(home, *_worker()))
    (data / "logs").mkdir()
    (data / "logs" / "pinozcam-worker.log").write_text("started\n")
    out = _ok(_run(home, *_worker(), "--uninstall"))
    left = next(line for line in out.splitlines() if "Left in place" in line)
    assert f"{data}/logs/pinozcam-worker.log (the worker's log)" in left
    count = len(list((data / "config").glob("*.pinozcam-backup-*")))
    assert count >= 2  # moonraker.conf and printer.cfg, before install.sh's first edit (and before uninstall's)
    assert f"{data}/config/*.pinozcam-backup-* ({count} backups install.sh made)" in left

