"""install.sh against a temporary home and the real pip-installed Moonraker.

The Moonraker of the test virtualenv (.venv-moonraker) is the "pip install" case: install.sh
finds its package folder with its python and links the component (a package folder) into its
components/. The test runs install.sh twice (the second run changes nothing), starts that
Moonraker and checks it loads the component, then runs --uninstall and checks every file is as
before. A Moonraker git checkout stays clean, and an older install's single-file link is replaced.
The tests run as root in CI, hence --allow-root; the refusal to run as root is tested with a fake
`id`. install.sh's checks of the python3 that would make the virtualenv use a fake python3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.moonraker_stack import (ROOT, MoonrakerProcess, free_port, moonraker_missing_reason,
                                               moonraker_python, write_moonraker_conf)

pytestmark = pytest.mark.timeout(120)

PRINTER_CFG = """[printer]
kinematics: none
max_velocity: 100
max_accel: 1000

#*# <---------------------- SAVE_CONFIG ---------------------->
#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.
#*#
"""


def _components_dir(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import moonraker, os; print(os.path.dirname(moonraker.__file__))"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip()) / "components"


@pytest.fixture
def home() -> Iterator[Path]:
    reason = moonraker_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    python = moonraker_python()
    assert python is not None
    link = _components_dir(python) / "pinozcam"
    if link.exists() or link.is_symlink() or (link.parent / "pinozcam.py").is_symlink():
        pytest.skip(f"{link} exists already: not touching an installation this test did not make")
    path = Path(tempfile.mkdtemp(prefix="pzi-"))
    try:
        yield path
    finally:
        # Whatever happened, leave the test virtualenv as it was.
        if link.is_symlink() and Path(os.readlink(link)).resolve().is_relative_to(ROOT):
            link.unlink()
        shutil.rmtree(path, ignore_errors=True)


def _install(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    python = moonraker_python()
    command = ["bash", str(ROOT / "install.sh"), "--home", str(home), "--moonraker-python", str(python),
               "--worker-python", sys.executable, "--no-restart", "--allow-root", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_help() -> None:
    result = subprocess.run(["bash", str(ROOT / "install.sh"), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--home", "--printer-data", "--moonraker-python", "--uninstall"):
        assert option in result.stdout


def test_install_is_idempotent_loads_in_moonraker_and_uninstalls(home: Path) -> None:
    python = moonraker_python()
    assert python is not None
    config = home / "printer_data" / "config"
    port = free_port()
    conf = write_moonraker_conf(config / "moonraker.conf", port=port, klippy_socket=home / "no-klippy.sock")
    printer_cfg = config / "printer.cfg"
    printer_cfg.write_text(PRINTER_CFG)
    original_conf = conf.read_text()

    _install(home)
    assert printer_cfg.read_text().startswith("[include pinozcam.cfg]\n")
    assert (config / "pinozcam.cfg").resolve() == ROOT / "moonraker_component" / "pinozcam.cfg"
    assert "[pinozcam]" in conf.read_text()
    assert f"worker_python: {sys.executable}" in conf.read_text()
    link = _components_dir(python) / "pinozcam"
    assert link.resolve() == ROOT / "moonraker_component" / "pinozcam"
    backups = sorted(p.name for p in config.iterdir() if "pinozcam-backup" in p.name)
    assert len(backups) == 2  # moonraker.conf and printer.cfg, before their first edit

    snapshot = {p.name: p.read_text() for p in config.iterdir() if p.is_file()}
    second = _install(home)
    assert "already" in second.stdout
    assert {p.name: p.read_text() for p in config.iterdir() if p.is_file()} == snapshot

    moonraker = MoonrakerProcess(home / "printer_data", conf, port, python, with_component_dir=False)
    moonraker.start()
    try:
        moonraker.wait_ready(klippy=False)
        assert "pinozcam" in moonraker.get("/server/info")["components"]
        status = moonraker.wait_for("the component to report", moonraker.status)
        assert status["worker"]["state"] in ("stopped", "starting", "running", "connected", "error")
    finally:
        moonraker.stop()

    _install(home, "--uninstall")
    assert not link.exists() and not link.is_symlink()
    assert not (config / "pinozcam.cfg").exists()
    assert printer_cfg.read_text() == PRINTER_CFG
    assert conf.read_text().rstrip() == original_conf.rstrip()


def test_a_moonraker_git_checkout_stays_clean_for_its_updater(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    checkout = tmp_path / "moonraker"
    (checkout / "moonraker" / "components").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    config = tmp_path / "printer_data" / "config"
    config.mkdir(parents=True)
    (config / "moonraker.conf").write_text("[server]\n")
    # What an older install left: the single-file component, linked and excluded.
    old_link = checkout / "moonraker" / "components" / "pinozcam.py"
    old_link.symlink_to(tmp_path / "old-pinozcam.py")
    (checkout / ".git" / "info").mkdir(exist_ok=True)
    (checkout / ".git" / "info" / "exclude").write_text("moonraker/components/pinozcam.py\n")

    _install_beside_checkout(tmp_path)
    link = checkout / "moonraker" / "components" / "pinozcam"
    assert link.resolve() == ROOT / "moonraker_component" / "pinozcam"
    assert not old_link.is_symlink()  # replaced by the package link
    status = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain"], capture_output=True,
                            text=True, check=True)
    assert status.stdout == ""  # the link is excluded, so Moonraker's updater sees no local change

    _install_beside_checkout(tmp_path, "--uninstall")
    assert not link.is_symlink() and not old_link.is_symlink()
    assert "pinozcam" not in (checkout / ".git" / "info" / "exclude").read_text()


def _checkout_home(home: Path, conf: str = "[server]\n") -> Path:
    """A home with a Moonraker git checkout (as KIAUH makes it) and printer_data; its moonraker.conf."""
    (home / "moonraker" / "moonraker" / "components").mkdir(parents=True)
    config = home / "printer_data" / "config"
    config.mkdir(parents=True)
    (config / "moonraker.conf").write_text(conf)
    return config / "moonraker.conf"


def _install_beside_checkout(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """install.sh ARGS for a home of :func:`_checkout_home` (its Moonraker found as a git
    checkout), with this python as the worker's; it must succeed."""
    command = ["bash", str(ROOT / "install.sh"), "--home", str(home), "--worker-python", sys.executable,
               "--no-restart", "--allow-root", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _fake_command(folder: Path, name: str, script: str) -> dict[str, str]:
    """An environment whose PATH finds ``script`` as ``name`` before the real one."""
    folder.mkdir(exist_ok=True)
    fake = folder / name
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def test_refuses_to_run_as_root_without_allow_root(tmp_path: Path) -> None:
    # What `sudo ./install.sh` looks like, whoever runs the test.
    conf = _checkout_home(tmp_path)
    env = _fake_command(tmp_path / "bin", "id", "echo 0\n")  # install.sh asks `id -u` only
    command = ["bash", str(ROOT / "install.sh"), "--home", str(tmp_path), "--worker-python", sys.executable,
               "--no-restart"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "run install.sh as the user that runs Moonraker, without sudo" in result.stderr
    assert "--allow-root" in result.stderr
    assert conf.read_text() == "[server]\n"  # nothing was touched
    assert not (tmp_path / "moonraker" / "moonraker" / "components" / "pinozcam").is_symlink()


@pytest.mark.parametrize("fake, message", [
    ('import sys\nsys.version_info = (3, 9, 2, "final", 0)\n',
     "needs Python 3.10 or newer (Raspberry Pi OS Bookworm); python3 here is 3.9"),
    ('import struct\n_calcsize = struct.calcsize\n'
     'struct.calcsize = lambda fmt: 4 if fmt == "P" else _calcsize(fmt)\n',
     "needs a 64-bit OS (Raspberry Pi OS 64-bit / arm64 Armbian): python3 here is 32-bit"),
], ids=["bullseye-python-3.9", "32-bit-armhf"])
def test_an_unusable_python3_stops_the_install_before_it_makes_a_virtualenv(tmp_path: Path, fake: str,
                                                                            message: str) -> None:
    conf = _checkout_home(tmp_path / "home")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(fake)
    env = _fake_command(tmp_path / "bin", "python3", f'PYTHONPATH="{site}" exec "{sys.executable}" "$@"\n')
    venv = tmp_path / "home" / "pinozcam-env"
    command = ["bash", str(ROOT / "install.sh"), "--home", str(tmp_path / "home"), "--no-restart", "--allow-root"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0, result.stdout
    assert message in result.stderr
    assert not venv.exists()  # no half-made virtualenv to trip the next run
    assert conf.read_text() == "[server]\n"


def test_uninstall_removes_the_pinozcam_webcams_and_keeps_the_users_comments(tmp_path: Path) -> None:
    original = ("[server]\nhost: 0.0.0.0\n\n# my own camera: keep this note\n[webcam printer_cam]\n"
                "stream_url: /webcam/?action=stream\n")
    conf = _checkout_home(tmp_path, original)
    _install_beside_checkout(tmp_path)
    # What the README says to do next: append the example's webcams. Then the user goes on
    # editing: a note of their own above a section of their own.
    example = (ROOT / "moonraker_component" / "webcams.conf.example").read_text()
    users_own = "\n# my timelapse settings: keep this note too\n[timelapse]\noutput_path: ~/timelapse/\n"
    conf.write_text(conf.read_text() + "\n" + example + users_own)

    result = _install_beside_checkout(tmp_path, "--uninstall")
    assert conf.read_text() == original + users_own
    # ([update_manager pinozcam] too where the checkout has an 'origin' remote, as a clone has.)
    removed = next(line for line in result.stdout.splitlines() if line.endswith("from moonraker.conf"))
    for section in ("[pinozcam]", "[webcam pinozcam]", "[webcam pinozcam_panel]"):
        assert section in removed, removed
    assert "Mainsail's or Fluidd's webcam settings" in result.stdout  # those it cannot see


def _klipper_error(printer_cfg: Path) -> str | None:
    """What Klipper says reading ``printer_cfg`` (its own configfile, includes and all); None if it reads."""
    configfile = pytest.importorskip("klippy.configfile")

    class Printer:
        def get_start_args(self) -> dict[str, str]:
            return {"config_file": str(printer_cfg)}

    reader = configfile.PrinterConfig.__new__(configfile.PrinterConfig)
    reader.printer = Printer()
    try:
        reader.read_main_config()
    except configfile.error as exc:
        return str(exc)
    return None


_MOONRAKER_READS = """
import json, pathlib, sys
from moonraker.confighelper import ConfigError, FileSourceWrapper
source = FileSourceWrapper(None)
try:
    source.read_file(pathlib.Path(sys.argv[1]))
except ConfigError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"sections": source.config.sections()}))
"""


def _moonraker_reads(conf: Path) -> dict[str, object]:
    """What Moonraker 0.11's config parser makes of ``conf``: {"sections": [...]} or {"error": "..."}."""
    reason = moonraker_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    out = subprocess.run([str(moonraker_python()), "-c", _MOONRAKER_READS, str(conf)], capture_output=True,
                         text=True, check=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.parametrize("comment", ["  # AI detection", " ; AI detection"], ids=["hash", "semicolon"])
def test_uninstall_removes_an_include_that_carries_a_comment(tmp_path: Path, comment: str) -> None:
    _checkout_home(tmp_path)
    printer_cfg = tmp_path / "printer_data" / "config" / "printer.cfg"
    printer_cfg.write_text(f"[include pinozcam.cfg]{comment}\n" + PRINTER_CFG)
    result = _install_beside_checkout(tmp_path)
    assert "printer.cfg already includes pinozcam.cfg" in result.stdout
    assert _klipper_error(printer_cfg) is None  # the commented include loads the macros

    result = _install_beside_checkout(tmp_path, "--uninstall")
    assert "removed [include pinozcam.cfg] from printer.cfg" in result.stdout
    assert not (printer_cfg.parent / "pinozcam.cfg").exists()
    assert _klipper_error(printer_cfg) is None  # not "Include file ... does not exist": Klipper starts
    assert printer_cfg.read_text() == PRINTER_CFG


def test_a_section_with_a_comment_is_not_added_again(tmp_path: Path) -> None:
    mine = ("[server]\nhost: 0.0.0.0\n\n[pinozcam] # my settings\ncamera: printer_cam\n\n"
            "[update_manager pinozcam]  ; mine too\ntype: git_repo\npath: ~/pinozcam-klipper\n"
            "origin: https://example.invalid/pinozcam-klipper.git\n")
    conf = _checkout_home(tmp_path, mine)
    result = _install_beside_checkout(tmp_path)
    read = _moonraker_reads(conf)
    assert "error" not in read, read["error"]  # not "Duplicate section [pinozcam]": Moonraker starts
    assert read["sections"] == ["server", "pinozcam", "update_manager pinozcam"]
    assert conf.read_text() == mine
    assert "moonraker.conf already has the PiNozCam sections" in result.stdout

    result = _install_beside_checkout(tmp_path, "--uninstall")
    assert _moonraker_reads(conf) == {"sections": ["server"]}


_FAKE_SYSTEMCTL = """
units="$(dirname "$0")/units"
case "$1" in
    list-units)
        printf '  klipper-1.service loaded active running Klipper 3D Printer Firmware SV1\\n'
        for unit in "$units"/*.service; do
            printf '  %s loaded active running API Server for Klipper SV1\\n' "$(basename "$unit")"
        done ;;
    cat) printf '# /etc/systemd/system/%s\\n' "$2"; cat "$units/$2" ;;
    show)  # show --property=EnvironmentFiles UNIT, as systemd 252 prints it
        for unit; do :; done
        sed -n 's/^EnvironmentFile=-\\{0,1\\}\\(.*\\)$/EnvironmentFiles=\\1 (ignore_errors=no)/p' "$units/$unit" ;;
    restart) printf '%s\\n' "$2" >> "$units/../restarted" ;;
    *) exit 1 ;;
esac
"""


def _kiauh_unit(home: Path, data: str) -> str:
    """A Moonraker unit as KIAUH writes it, for the printer_data folder ``home/data``; its env file too."""
    env_file = home / data / "systemd" / "moonraker.env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text(f'MOONRAKER_ARGS="{home}/moonraker/moonraker/moonraker.py -d {home / data}"\n')
    return (f"[Unit]\nDescription=API Server for Klipper SV1\n\n[Service]\nType=simple\nUser=pi\n"
            f"WorkingDirectory={home}/moonraker\nEnvironmentFile={env_file}\n"
            f"ExecStart={home}/moonraker-env/bin/python $MOONRAKER_ARGS\nRestart=always\n")


def _fake_systemd(folder: Path, units: dict[str, str]) -> tuple[dict[str, str], Path]:
    """PATH with a systemctl that knows ``units`` (name: unit file) and a sudo; the file listing restarts."""
    (folder / "units").mkdir(parents=True)
    for name, text in units.items():
        (folder / "units" / name).write_text(text)
    _fake_command(folder, "sudo", 'exec "$@"\n')
    return _fake_command(folder, "systemctl", _FAKE_SYSTEMCTL), folder / "restarted"


def _second_printer_home(home: Path) -> Path:
    """A home with two printers as KIAUH sets them up: printer_data and printer_2_data."""
    _checkout_home(home)
    second = home / "printer_2_data"
    (second / "config").mkdir(parents=True)
    (second / "config" / "moonraker.conf").write_text("[server]\nport: 7126\n")
    return second


def test_with_two_printers_only_the_moonraker_of_this_printer_data_restarts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    second = _second_printer_home(home)
    env, restarted = _fake_systemd(tmp_path / "bin", {
        "moonraker-1.service": _kiauh_unit(home, "printer_data"),
        "moonraker-2.service": _kiauh_unit(home, "printer_2_data"),
    })
    command = ["bash", str(ROOT / "install.sh"), "--home", str(home), "--printer-data", str(second),
               "--worker-python", sys.executable, "--allow-root"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**env, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert restarted.read_text() == "moonraker-2.service\n"  # not printer 1's, maybe mid-print
    assert "restarting moonraker-2.service" in result.stdout

    result = subprocess.run(command + ["--uninstall"], capture_output=True, text=True, timeout=60,
                            env={**env, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert restarted.read_text() == "moonraker-2.service\n" * 2


def test_with_two_printers_it_cannot_tell_apart_it_restarts_none_until_told(tmp_path: Path) -> None:
    home = tmp_path / "home"
    second = _second_printer_home(home)
    unit = f"[Service]\nExecStart={home}/moonraker-env/bin/python {home}/moonraker/moonraker/moonraker.py\n"
    env, restarted = _fake_systemd(tmp_path / "bin", {"moonraker-1.service": unit, "moonraker-2.service": unit})
    command = ["bash", str(ROOT / "install.sh"), "--home", str(home), "--printer-data", str(second),
               "--worker-python", sys.executable, "--allow-root"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**env, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert not restarted.exists()  # no guess
    assert ("found several Moonraker services (moonraker-1.service, moonraker-2.service) and cannot tell "
            f"which one runs {second}") in result.stdout
    assert "--service NAME" in result.stdout

    result = subprocess.run(command + ["--service", "moonraker-2.service"], capture_output=True, text=True,
                            timeout=60, env={**env, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert restarted.read_text() == "moonraker-2.service\n"


def _uninstalled_says(home: Path, *extra: str) -> str:
    """install.sh --uninstall's last lines: what it says it left in place."""
    command = ["bash", str(ROOT / "install.sh"), "--home", str(home), "--no-restart", "--allow-root",
               "--uninstall", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout[result.stdout.index("pinozcam: uninstalled."):]


def _backups_named(config: Path) -> str:
    """How the "Left in place" line names the backups install.sh made in ``config`` (no sub-folders here)."""
    count = len(list(config.glob("*.pinozcam-backup-*")))
    return f"{config}/*.pinozcam-backup-* ({count} backup{'s' if count > 1 else ''} install.sh made)"


def test_uninstall_names_only_what_it_really_left_in_place(tmp_path: Path) -> None:
    # An install with --worker-python made no virtualenv, and nothing was saved yet.
    _checkout_home(tmp_path)
    config = tmp_path / "printer_data" / "config"
    _install_beside_checkout(tmp_path)

    said = _uninstalled_says(tmp_path)
    assert said.splitlines()[0] == (f"pinozcam: uninstalled. Left in place: {_backups_named(config)} "
                                    "(rm -rf them to remove all)")  # the copy of moonraker.conf, no virtualenv
    assert "a virtualenv made with --venv DIR is not removed either" in said  # one it cannot know

    # Incidents were saved, the worker wrote its log, and the default virtualenv is there.
    (tmp_path / "printer_data" / "pinozcam" / "incidents").mkdir(parents=True)
    (tmp_path / "printer_data" / "logs").mkdir()
    (tmp_path / "printer_data" / "logs" / "pinozcam-worker.log").write_text("worker started\n")
    (tmp_path / "pinozcam-env" / "bin").mkdir(parents=True)
    assert _uninstalled_says(tmp_path).splitlines()[0] == (
        f"pinozcam: uninstalled. Left in place: {tmp_path}/pinozcam-env (PiNozCam's virtualenv), "
        f"{tmp_path}/printer_data/pinozcam (saved incidents), "
        f"{tmp_path}/printer_data/logs/pinozcam-worker.log (the worker's log), {_backups_named(config)} "
        "(rm -rf them to remove all)")


def test_uninstall_finds_a_virtualenv_made_with_venv_in_moonraker_conf(tmp_path: Path) -> None:
    # What install.sh --venv ~/envs/pz wrote (from a git clone: [update_manager pinozcam] too).
    venv = tmp_path / "envs" / "pz"
    (venv / "bin").mkdir(parents=True)
    _checkout_home(tmp_path, "[server]\n\n# added by pinozcam install.sh\n[pinozcam]\n"
                             f"worker_python: {venv}/bin/python\n\n# added by pinozcam install.sh\n"
                             "[update_manager pinozcam]\ntype: git_repo\nchannel: dev\npath: /x\n"
                             "origin: https://example.invalid/pz.git\nprimary_branch: main\n"
                             f"virtualenv: {venv}\nrequirements: moonraker_component/requirements.txt\n"
                             "managed_services: moonraker\n")

    said = _uninstalled_says(tmp_path)
    config = tmp_path / "printer_data" / "config"
    assert said.splitlines() == [f"pinozcam: uninstalled. Left in place: {venv} (PiNozCam's virtualenv), "
                                 f"{_backups_named(config)} (rm -rf them to remove all)"]
