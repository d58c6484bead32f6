#!/usr/bin/env bash
# PiNozCam installer for Klipper + Moonraker (Mainsail / Fluidd).
#
# Installs the pinozcam-klipper package into ~/pinozcam-env, links the Moonraker component and
# the Klipper macros, and adds the config sections that are missing. Run it as the user that runs
# Moonraker, without sudo: it asks for sudo itself, only to install python3-venv when missing and
# to restart Moonraker's systemd service. Safe to run again; every file it edits is backed up
# first (FILE.pinozcam-backup-DATE). --uninstall undoes it.
set -euo pipefail

REPO="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
MARK="# added by pinozcam install.sh"
CAMERA_COMMENT="# camera: a [webcam] name or a URL (empty: the first webcam). Options: docs/moonraker.md"

usage() {
    cat <<EOF
Usage: install.sh [options]

Installs PiNozCam for Moonraker from this checkout ($REPO).

Options:
  --home DIR              home folder of the Klipper user (default: \$HOME)
  --printer-data DIR      the printer_data folder (default: HOME/printer_data)
  --moonraker-python PY   Moonraker's python (default: HOME/moonraker-env/bin/python)
  --moonraker-dir DIR     Moonraker's package folder, the one holding components/ (default:
                          HOME/moonraker/moonraker for a git checkout, else found with
                          --moonraker-python for a pip install)
  --venv DIR              where to create PiNozCam's virtualenv (default: HOME/pinozcam-env)
  --worker-python PY      use this python, which already has pinozcam_klipper installed,
                          instead of creating the virtualenv (development, CI)
  --no-update-manager     do not add [update_manager pinozcam] to moonraker.conf
  --no-restart            do not restart Moonraker
  --service NAME          restart this systemd unit (e.g. moonraker-2.service); without it
                          install.sh restarts the only Moonraker unit, or, with several, the one
                          whose configuration names the printer_data folder
  --allow-root            run as root anyway (only where root itself runs Moonraker, or in a
                          container); without it install.sh refuses to run as root
  --uninstall             remove the links, the [include] lines of pinozcam.cfg, the config
                          sections install.sh added and the [webcam pinozcam...] sections (in
                          moonraker.conf and the files it includes); the virtualenv, saved
                          incidents, logs and backups are kept and named. With several printers,
                          the shared component link and virtualenv stay while another printer
                          still has [pinozcam]
  -h, --help              this help
EOF
}

say() { printf '%s\n' "pinozcam: $*"; }
die() { printf '%s\n' "pinozcam: error: $*" >&2; exit 1; }

HOME_DIR="$HOME"
PRINTER_DATA=""
PRINTER_DATA_GIVEN=0
MR_PYTHON=""
MR_DIR=""
VENV=""
WORKER_PYTHON=""
WORKER_PYTHON_GIVEN=""
UPDATE_MANAGER=1
RESTART=1
UNINSTALL=0
ALLOW_ROOT=0
SERVICE=""

while [ $# -gt 0 ]; do
    case "$1" in
        --home) HOME_DIR="${2:?--home needs a folder}"; shift 2 ;;
        --printer-data) PRINTER_DATA="${2:?--printer-data needs a folder}"; PRINTER_DATA_GIVEN=1; shift 2 ;;
        --moonraker-python) MR_PYTHON="${2:?--moonraker-python needs a path}"; shift 2 ;;
        --moonraker-dir) MR_DIR="${2:?--moonraker-dir needs a folder}"; shift 2 ;;
        --venv) VENV="${2:?--venv needs a folder}"; shift 2 ;;
        --worker-python) WORKER_PYTHON="${2:?--worker-python needs a path}"; shift 2 ;;
        --no-update-manager) UPDATE_MANAGER=0; shift ;;
        --no-restart) RESTART=0; shift ;;
        --service) SERVICE="${2:?--service needs a systemd unit name}"; shift 2 ;;
        --allow-root) ALLOW_ROOT=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

if [ "$(id -u)" -eq 0 ] && [ "$ALLOW_ROOT" -eq 0 ]; then
    # With sudo, HOME is /root (no printer_data there), and whatever it made would be root's:
    # Moonraker, running as its own user, could not update it.
    die "run install.sh as the user that runs Moonraker, without sudo (it asks for sudo itself when it needs it); --allow-root if root really runs Moonraker here"
fi

absolute() {  # absolute PATH, keeping symlinks (a virtualenv's python is one)
    case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;; esac
}

[ -z "$WORKER_PYTHON" ] || WORKER_PYTHON="$(absolute "$WORKER_PYTHON")"
WORKER_PYTHON_GIVEN="$WORKER_PYTHON"
[ -z "$MR_PYTHON" ] || MR_PYTHON="$(absolute "$MR_PYTHON")"
PRINTER_DATA="${PRINTER_DATA:-$HOME_DIR/printer_data}"
MR_PYTHON="${MR_PYTHON:-$HOME_DIR/moonraker-env/bin/python}"
VENV="${VENV:-$HOME_DIR/pinozcam-env}"
CONFIG_DIR="$PRINTER_DATA/config"
PRINTER_CFG="$CONFIG_DIR/printer.cfg"
MOONRAKER_CONF="$CONFIG_DIR/moonraker.conf"
STAMP="$(date +%Y%m%d-%H%M%S)"

# Run a command as root: directly when we are root, else through sudo (asked only here).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

backup() {  # backup FILE: copy it once per run before the first edit
    local file="$1" copy="$1.pinozcam-backup-$STAMP"
    if [ ! -e "$copy" ]; then
        cp -p "$file" "$copy"
        say "backed up $file to $copy"
    fi
}

find_moonraker_dir() {  # sets MR_DIR; else sets MR_PROBLEM (why Moonraker was not found), returns 1
    MR_PROBLEM=""
    if [ -n "$MR_DIR" ]; then
        [ -d "$MR_DIR/components" ] && return 0
        MR_PROBLEM="$MR_DIR has no components/ folder (--moonraker-dir)"
        return 1
    fi
    if [ -d "$HOME_DIR/moonraker/moonraker/components" ]; then
        MR_DIR="$HOME_DIR/moonraker/moonraker"   # a git checkout, as KIAUH installs it
        return 0
    fi
    if [ ! -x "$MR_PYTHON" ]; then
        MR_PROBLEM="Moonraker not found: no $HOME_DIR/moonraker checkout and no $MR_PYTHON (use --moonraker-dir or --moonraker-python)"
        return 1
    fi
    if ! MR_DIR="$("$MR_PYTHON" -c 'import moonraker, os; print(os.path.dirname(moonraker.__file__))' 2>/dev/null)"; then
        MR_DIR=""
        MR_PROBLEM="$MR_PYTHON cannot import moonraker (use --moonraker-dir)"
        return 1
    fi
    [ -d "$MR_DIR/components" ] && return 0
    MR_PROBLEM="$MR_DIR has no components/ folder"
    MR_DIR=""
    return 1
}

# Config-file edits and the Moonraker service live beside this script (each one job).
# shellcheck source=installer/config_files.sh
source "$REPO/installer/config_files.sh"
# shellcheck source=installer/moonraker_service.sh
source "$REPO/installer/moonraker_service.sh"

ensure_venv_support() {
    if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "python3 cannot create virtualenvs; install python3-venv"
    say "installing python3-venv (needs sudo)"
    as_root apt-get install -y python3-venv
}

check_python() {  # the python3 that makes the virtualenv: 3.10 or newer, and 64-bit
    command -v python3 >/dev/null 2>&1 || die "python3 not found: install it (sudo apt-get install python3)"
    local version bits
    version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" || die "python3 does not run"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "PiNozCam needs Python 3.10 or newer (Raspberry Pi OS Bookworm); python3 here is $version"
    bits="$(python3 -c 'import struct; print(struct.calcsize("P") * 8)')" || die "python3 does not run"
    # A 64-bit kernel under a 32-bit userland (armhf) still cannot load the runtimes: ask python.
    [ "$bits" = 64 ] || die "PiNozCam needs a 64-bit OS (Raspberry Pi OS 64-bit / arm64 Armbian): python3 here is $bits-bit, and the model runtimes (ai-edge-litert, tflite-runtime) have no 32-bit ARM packages"
}

check_checkout() {  # before anything is made: pip must write to $REPO, git must read it
    # A checkout cloned with sudo belongs to root: pip stops half-way with "could not create
    # egg-info: Permission denied", and git (2.35.2 on) refuses to read it as "dubious ownership",
    # Moonraker's updater too.
    local problems=() git_says
    if [ -z "$WORKER_PYTHON_GIVEN" ]; then
        if [ ! -w "$REPO" ] || { [ -e "$REPO/pinozcam_klipper.egg-info" ] && [ ! -w "$REPO/pinozcam_klipper.egg-info" ]; }; then
            problems+=("pip cannot write to it")
        fi
    fi
    if [ "$UPDATE_MANAGER" -eq 1 ] && [ -e "$REPO/.git" ] && command -v git >/dev/null 2>&1; then
        if ! git_says="$(git -C "$REPO" rev-parse --git-dir 2>&1)"; then
            problems+=("git cannot read it ($(printf '%s\n' "$git_says" | head -n 1))")
        fi
    fi
    [ "${#problems[@]}" -eq 0 ] && return 0
    die "$REPO belongs to $(stat -c %U "$REPO" 2>/dev/null || echo 'another user'):" \
        "$(printf '%s\n' "${problems[@]}" | awk '{ printf "%s%s", (NR > 1 ? "; " : ""), $0 }')." \
        "Cloned with sudo? run: sudo chown -R $(id -un): $REPO"
}

venv_problem() {  # why $VENV cannot be used as it is; "absent" when there is none to use
    if [ ! -e "$VENV" ] && [ ! -L "$VENV" ]; then echo absent; return; fi
    if [ -d "$VENV" ] && [ -z "$(ls -A "$VENV")" ]; then echo absent; return; fi
    [ -x "$VENV/bin/python" ] || { echo "$VENV/bin/python is missing (an OS upgrade removes the python a virtualenv links to)"; return; }
    local version
    version="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
        || { echo "its python does not run"; return; }
    "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
        || { echo "its python is $version, PiNozCam needs 3.10 or newer"; return; }
    "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1 || { echo "it has no pip (made with --without-pip?)"; return; }
}

make_venv() {
    local problem
    problem="$(venv_problem)"
    [ -n "$problem" ] || return 0
    if [ "$problem" != absent ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
        die "$VENV is in the way and is not a virtualenv ($problem): move it away, or name another folder with --venv"
    fi
    check_python
    ensure_venv_support
    if [ "$problem" = absent ]; then
        say "creating $VENV"
        python3 -m venv "$VENV"
    else
        say "$VENV cannot be used: $problem. Making it again"
        python3 -m venv --clear "$VENV"
    fi
}

pip_install() {  # pip_install WHAT ARG...: pip install ARG..., or stop naming WHAT and the likely cause
    "$VENV/bin/python" -m pip install -q "${@:2}" && return 0
    printf '%s\n' "pinozcam: pip could not install $1: it needs to reach PyPI (see the lines above)" >&2
    exit 1
}

install_stamp() {  # what the last install was made from: this checkout and its pyproject.toml
    printf '%s %s\n' "$REPO" "$(cksum < "$REPO/pyproject.toml")"
}

package_is_current() {  # 0 if the virtualenv has the package from this checkout, requirements met
    # So that a re-run needs no network: pip install -e builds in an isolated environment and
    # downloads setuptools for it every time, even when nothing changed. The stamp says which
    # pyproject.toml the last install read (a changed dependency list installs again); the import
    # that the package comes from this checkout; pip check that every requirement is installed.
    [ -f "$VENV/.pinozcam-install" ] && [ "$(cat "$VENV/.pinozcam-install")" = "$(install_stamp)" ] || return 1
    # -I: not from the current folder, which may be this checkout.
    "$VENV/bin/python" -I -c 'import os, sys, pinozcam_klipper as p
sys.exit(not os.path.realpath(p.__file__).startswith(os.path.realpath(sys.argv[1]) + os.sep))' "$REPO" 2>/dev/null \
        && "$VENV/bin/python" -m pip check >/dev/null 2>&1
}

install_package() {
    if [ -n "$WORKER_PYTHON" ]; then
        "$WORKER_PYTHON" -c 'import pinozcam_klipper' 2>/dev/null \
            || die "$WORKER_PYTHON cannot import pinozcam_klipper (--worker-python)"
        say "using $WORKER_PYTHON (no virtualenv created)"
        return
    fi
    make_venv
    WORKER_PYTHON="$VENV/bin/python"
    if package_is_current; then
        say "pinozcam-klipper from $REPO is installed in $VENV, its requirements met: pip not needed"
        return
    fi
    say "installing pinozcam-klipper from $REPO into $VENV"
    rm -f "$VENV/.pinozcam-install"
    pip_install "the newest pip" --upgrade pip
    # Editable: Moonraker's update_manager pulls this checkout and the next start runs the new code.
    pip_install "pinozcam-klipper from $REPO" -e "$REPO"
    install_stamp > "$VENV/.pinozcam-install"
}

has_space() { case "$1" in *[[:space:]]*) return 0 ;; *) return 1 ;; esac; }

update_branch() {  # sets BRANCH for [update_manager pinozcam]: the checked-out branch, else origin's default
    BRANCH="$(git -C "$REPO" symbolic-ref --quiet --short HEAD 2>/dev/null || true)"
    [ -z "$BRANCH" ] || return 0
    # A detached HEAD: "HEAD" is no branch Moonraker's updater can follow.
    BRANCH="$(git -C "$REPO" symbolic-ref --quiet --short refs/remotes/origin/HEAD 2>/dev/null || true)"
    BRANCH="${BRANCH#origin/}"
    if [ -n "$BRANCH" ]; then
        say "$REPO is not on a branch (detached HEAD): Moonraker's updates will follow $BRANCH, origin's default branch"
    else
        BRANCH=main
        say "$REPO is not on a branch (detached HEAD): Moonraker's updates will follow main"
    fi
}

add_moonraker_sections() {
    local edits=0 origin="" found spaced=""
    if has_space "$REPO"; then
        spaced="$REPO"
    elif [ -z "$WORKER_PYTHON_GIVEN" ] && has_space "$VENV"; then
        spaced="$VENV"
    fi
    # [pinozcam] and [update_manager pinozcam] may live in a file moonraker.conf includes.
    section_in_conf "$MOONRAKER_CONF" pinozcam >/dev/null || edits=1
    if [ "$UPDATE_MANAGER" -eq 1 ]; then
        if found="$(section_in_conf "$MOONRAKER_CONF" "update_manager pinozcam")"; then
            [ "$found" = "$MOONRAKER_CONF" ] || say "[update_manager pinozcam] is in $(in_config "$found")"
        elif [ -n "$spaced" ]; then
            # Moonraker does not quote these paths where it uses them: the section could never work.
            say "no [update_manager pinozcam]: Moonraker cannot update from a path with a space" \
                "($spaced). For updates from Mainsail/Fluidd, clone to ~/pinozcam-klipper and run its install.sh"
        else
            origin="$(git -C "$REPO" remote get-url origin 2>/dev/null || true)"
            if [ -n "$origin" ]; then
                edits=1
            else
                say "no [update_manager pinozcam]: $REPO is not a git clone with an 'origin' remote"
            fi
        fi
    fi
    [ "$edits" -eq 1 ] || { say "moonraker.conf already has the PiNozCam sections"; return; }
    backup "$MOONRAKER_CONF"
    if ! section_in_conf "$MOONRAKER_CONF" pinozcam >/dev/null; then
        {
            printf '\n%s\n[pinozcam]\n' "$MARK"
            printf '%s\n' "$CAMERA_COMMENT"
            if [ "$WORKER_PYTHON" != "$HOME_DIR/pinozcam-env/bin/python" ]; then
                printf 'worker_python: %s\n' "$WORKER_PYTHON"
            fi
        } >> "$MOONRAKER_CONF"
        say "added [pinozcam] to $MOONRAKER_CONF"
    fi
    if [ -n "$origin" ]; then
        update_branch
        {
            printf '\n%s\n[update_manager pinozcam]\n' "$MARK"
            printf 'type: git_repo\nchannel: dev\npath: %s\norigin: %s\nprimary_branch: %s\n' \
                "$REPO" "$origin" "$BRANCH"
            if [ -x "$VENV/bin/python" ] && [ "$WORKER_PYTHON" = "$VENV/bin/python" ]; then
                printf 'virtualenv: %s\nrequirements: moonraker_component/requirements.txt\n' "$VENV"
            fi
            printf 'managed_services: moonraker\n'
        } >> "$MOONRAKER_CONF"
        say "added [update_manager pinozcam] to $MOONRAKER_CONF"
    fi
}

add_include() {
    if [ ! -f "$PRINTER_CFG" ]; then
        say "no $PRINTER_CFG: add [include pinozcam.cfg] to your Klipper config yourself"
        return
    fi
    # Already loaded: printer.cfg, or a file it includes, has an [include] reaching pinozcam.cfg
    # (./pinozcam.cfg, ../pinozcam.cfg from macros/, a glob).
    local file line kind spec reached
    reached="$(config_files klipper "$PRINTER_CFG" | while IFS= read -r file; do canonical "$file"; done)"
    while IFS=$'\t' read -r file line kind spec; do
        if grep -qxF -- "$(canonical "$file")" <<< "$reached"; then
            say "$(in_config "$file") already includes pinozcam.cfg ([include $spec])"
            return
        fi
    done < <(pinozcam_cfg_includes)
    backup "$PRINTER_CFG"
    # At the top: an include must not land inside the SAVE_CONFIG block at the end.
    local tmp
    tmp="$(mktemp)"
    { printf '[include pinozcam.cfg]\n'; cat "$PRINTER_CFG"; } > "$tmp"
    cat "$tmp" > "$PRINTER_CFG"
    rm -f "$tmp"
    say "added [include pinozcam.cfg] to printer.cfg (run FIRMWARE_RESTART to load the macros)"
}

git_exclude() {  # git_exclude add|remove: keep a Moonraker git checkout "clean" for its updater
    local exclude="$MR_DIR/../.git/info/exclude" entry="moonraker/components/pinozcam"
    local old_entry="moonraker/components/pinozcam.py"  # the single-file component of older installs
    [ -d "$MR_DIR/../.git" ] || return 0
    if [ -f "$exclude" ]; then
        local tmp
        tmp="$(mktemp)"
        grep -vxF -e "$old_entry" -e "$entry" "$exclude" > "$tmp" || true
        cat "$tmp" > "$exclude"
        rm -f "$tmp"
    fi
    if [ "$1" = add ]; then
        mkdir -p "$(dirname "$exclude")"
        printf '%s\n' "$entry" >> "$exclude"
    fi
}

remove_old_component_link() {  # older installs linked the single file components/pinozcam.py
    if [ -L "$MR_DIR/components/pinozcam.py" ]; then
        rm -f "$MR_DIR/components/pinozcam.py"
        say "removed the old component link $MR_DIR/components/pinozcam.py"
    fi
}

link() {  # link TARGET LINK: a symlink, keeping a backup of a real file in the way
    local target="$1" name="$2"
    if [ -e "$name" ] && [ ! -L "$name" ]; then
        [ -f "$name" ] || die "$name is in the way and is not a file: move it away and run again"
        backup "$name"
        rm -f "$name"
    fi
    # -n: an existing link to a folder is replaced, not followed into.
    ln -sfn "$target" "$name"
}

check_printer_data() {  # stop when the config folder is missing, naming the printers this home has
    [ ! -d "$CONFIG_DIR" ] || return 0
    local found
    found="$(printer_data_folders | comma_list)"
    [ -z "$found" ] || die "no $CONFIG_DIR; this home has $found: name one with --printer-data (once per printer)"
    # Uninstall goes on: the component link may be left, with no printer's config to clean.
    [ "$UNINSTALL" -eq 1 ] || die "no $CONFIG_DIR: is Klipper installed? (use --printer-data)"
}

doctor_command() {  # the `pinozcam doctor` line that asks this printer's Moonraker
    local doctor="$WORKER_PYTHON -m pinozcam_klipper.cli doctor" port
    [ ! -x "$(dirname "$WORKER_PYTHON")/pinozcam" ] || doctor="$(dirname "$WORKER_PYTHON")/pinozcam doctor"
    port="$(conf_option server port)"
    port="${port:-7125}"   # Moonraker's default
    if [ "$PRINTER_DATA_GIVEN" -eq 1 ] || [ "$port" != 7125 ]; then
        doctor="$doctor --moonraker http://localhost:$port"
    fi
    printf '%s\n' "$doctor"
}

do_install() {
    check_printer_data
    [ -f "$MOONRAKER_CONF" ] || die "no $MOONRAKER_CONF (use --printer-data)"
    check_checkout
    find_moonraker_dir || die "$MR_PROBLEM"
    install_package
    remove_old_component_link
    # The component is a package: Moonraker imports moonraker.components.pinozcam (the folder).
    link "$REPO/moonraker_component/pinozcam" "$MR_DIR/components/pinozcam"
    say "linked the Moonraker component into $MR_DIR/components"
    git_exclude add
    link "$REPO/moonraker_component/pinozcam.cfg" "$CONFIG_DIR/pinozcam.cfg"
    add_include
    add_moonraker_sections
    restart_moonraker
    say "done. Run FIRMWARE_RESTART so Klipper loads the macros, then check it all with: $(doctor_command)"
}


do_uninstall() {
    check_printer_data
    local others
    others="$(other_printers_with_pinozcam | comma_list)"
    if [ -n "$others" ]; then
        # Several printers on one host share Moonraker's code and the virtualenv.
        say "kept the Moonraker component link, which every printer on this host shares: $others" \
            "still has [pinozcam] (uninstall there too to remove it)"
    elif find_moonraker_dir; then
        git_exclude remove
        remove_old_component_link
        if [ -L "$MR_DIR/components/pinozcam" ]; then
            rm -f "$MR_DIR/components/pinozcam"
            say "removed the component link from $MR_DIR/components"
        fi
    else
        # Moonraker removed first (KIAUH): its folder went with the link; the config files remain.
        say "$MR_PROBLEM: no component link to remove"
    fi
    [ ! -d "$CONFIG_DIR" ] || remove_klipper_includes
    remove_moonraker_sections
    say "webcams added through Mainsail's or Fluidd's webcam settings stay there: delete PiNozCam's" \
        "(pinozcam, pinozcam_panel: the ones showing /server/pinozcam/...) in those settings"
    restart_moonraker
    say_left_in_place "$MADE_VENV" "$others"
}


say_left_in_place() {  # say_left_in_place VENV_FROM_CONF OTHER_PRINTERS: what uninstall keeps, as it is
    local venvs=() kept=() shared=() folder file count noun
    # The one named now (--venv, or the default), and the one install.sh wrote into
    # [update_manager pinozcam]; a --worker-python install made none of them.
    venvs=("$VENV")
    [ -z "$1" ] || [ "$1" = "$VENV" ] || venvs+=("$1")
    for folder in "${venvs[@]}"; do
        [ -d "$folder" ] || continue
        if [ -n "$2" ]; then shared+=("$folder"); else kept+=("$folder (PiNozCam's virtualenv)"); fi
    done
    [ ! -d "$PRINTER_DATA/pinozcam" ] || kept+=("$PRINTER_DATA/pinozcam (saved incidents)")
    for file in "$PRINTER_DATA"/logs/pinozcam-worker.log*; do
        [ ! -f "$file" ] || kept+=("$file (the worker's log)")
    done
    # The copies backup() made, a pattern per folder (one each run that edited a file).
    while IFS=$'\t' read -r count folder; do
        noun=backups
        [ "$count" -ne 1 ] || noun=backup
        kept+=("$folder/*.pinozcam-backup-* ($count $noun install.sh made)")
    done < <(find "$CONFIG_DIR" -maxdepth 4 -name '*.pinozcam-backup-*' -printf '%h\n' 2>/dev/null \
                 | sort | uniq -c | awk '{ count = $1; sub(/^[ \t]*[0-9]+ /, ""); print count "\t" $0 }' || true)
    if [ "${#kept[@]}" -gt 0 ]; then
        say "uninstalled. Left in place: $(printf '%s\n' "${kept[@]}" | comma_list) (rm -rf them to remove all)"
    else
        say "uninstalled."
    fi
    if [ "${#shared[@]}" -gt 0 ]; then
        say "kept $(printf '%s\n' "${shared[@]}" | comma_list), PiNozCam's virtualenv, for the other printer:" \
            "$2 still has [pinozcam]"
    elif [ "${#venvs[@]}" -eq 1 ] && [ ! -d "$VENV" ]; then
        # Where the install used --venv DIR and its path is not known here.
        say "a virtualenv made with --venv DIR is not removed either: rm -rf DIR removes it"
    fi
}

if [ "$UNINSTALL" -eq 1 ]; then
    do_uninstall
else
    do_install
fi
