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

section_line() {  # section_line NAME_ERE: the ERE of a moonraker.conf line opening [NAME]
    # As Moonraker reads it: a comment may follow after whitespace ("[pinozcam]  # mine").
    # remove_our_sections's section() reads a line the same way.
    printf '^\\[%s\\]([[:space:]]+[#;].*)?[[:space:]]*$' "$1"
}

section_present() {  # section_present FILE 'pinozcam' -> 0 if [pinozcam] is in FILE
    grep -Eq "$(section_line "$2")" "$1"
}

# The moonraker.conf sections that are PiNozCam's: the two install.sh adds, and the [webcam]
# entries of moonraker_component/webcams.conf.example (any [webcam pinozcam...]).
OUR_SECTIONS="$(section_line '(pinozcam|update_manager pinozcam|webcam pinozcam([_-][^]]*)?)')"

# ---- [include] as Klipper and Moonraker read it -------------------------------------------------
# Both resolve [include SPEC] against the folder of the file holding it (an absolute SPEC as is),
# and both expand a glob; Klipper fails on a plain SPEC naming no file, not on a glob matching none.

in_config() {  # in_config PATH: PATH shortened to its place in the config folder, for messages
    local real
    real="$(readlink -f "$CONFIG_DIR" 2>/dev/null || printf '%s' "$CONFIG_DIR")"
    case "$1" in
        "$CONFIG_DIR"/*) printf '%s\n' "${1#"$CONFIG_DIR"/}" ;;
        "$real"/*) printf '%s\n' "${1#"$real"/}" ;;
        *) printf '%s\n' "$1" ;;
    esac
}

canonical() {  # canonical PATH: its folder with symlinks resolved, its own name kept (a link stays one)
    local dir
    dir="$(readlink -f "$(dirname "$1")" 2>/dev/null)" || dir="$(dirname "$1")"
    printf '%s/%s\n' "${dir%/}" "$(basename "$1")"
}

is_glob() { case "$1" in *[\*\?\[]*) return 0 ;; *) return 1 ;; esac; }

include_targets() {  # include_targets FILE SPEC: the paths [include SPEC] in FILE names, one a line
    local path
    case "$2" in /*) path="$2" ;; *) path="$(dirname "$1")/$2" ;; esac
    if is_glob "$2"; then
        compgen -G "$path" | sort || true
    else
        printf '%s\n' "$path"
    fi
}

klipper_include_specs() {  # klipper_include_specs FILE: LINE<TAB>SPEC of each [include SPEC] in FILE
    # As klippy's configfile reads a line: cut at the first '#', then '[...]' at the very start.
    awk '{
        line = $0; sub(/#.*/, "", line)
        if (!match(line, /^\[.*\]/)) next
        header = substr(line, 2, RLENGTH - 2)
        if (substr(header, 1, 8) != "include ") next
        spec = substr(header, 9); gsub(/^[ \t\r]+|[ \t\r]+$/, "", spec)
        if (spec != "") print FNR "\t" spec
    }' "$1"
}

moonraker_include_specs() {  # moonraker_include_specs FILE: LINE<TAB>SPEC of each [include SPEC]
    # As Moonraker's confighelper reads a line: comment lines skipped, " #..." / " ;..." cut.
    awk '/^[ \t]*([#;]|$)/ { next }
    {
        line = $0; if (match(line, / +[#;]/)) line = substr(line, 1, RSTART - 1)
        if (!match(line, /^[ \t]*\[[^]]+\]/)) next
        header = substr(line, 1, RLENGTH - 1); sub(/^[ \t]*\[/, "", header)
        if (substr(header, 1, 8) != "include ") next
        spec = substr(header, 9); gsub(/^[ \t\r]+|[ \t\r]+$/, "", spec)
        if (spec != "") print FNR "\t" spec
    }' "$1"
}

config_files() {  # config_files klipper|moonraker FILE: FILE and every file it includes, in turn
    local kind="$1" file key spec target
    local -a queue=("$2")
    local -A seen=()
    while [ "${#queue[@]}" -gt 0 ]; do
        file="${queue[0]}"
        queue=("${queue[@]:1}")
        key="$(canonical "$file")"
        [ -z "${seen[$key]:-}" ] || continue
        seen[$key]=1
        [ -f "$file" ] || continue
        printf '%s\n' "$file"
        while IFS=$'\t' read -r _ spec; do
            while IFS= read -r target; do
                [ -z "$target" ] || queue+=("$target")
            done < <(include_targets "$file" "$spec")
        done < <("${kind}_include_specs" "$file")
    done
}

pinozcam_cfg_includes() {  # FILE<TAB>LINE<TAB>plain|glob<TAB>SPEC: each [include] loading our pinozcam.cfg
    # Every *.cfg of the config folder (sub-folders too), not only those printer.cfg reaches: a stray
    # include left behind would stop Klipper once the link is gone. Klipper's SAVE_CONFIG backups
    # (printer-DATE_TIME.cfg) stay as they were saved.
    local target file line spec match kind
    target="$(canonical "$CONFIG_DIR/pinozcam.cfg")"
    while IFS= read -r file; do
        [ "$(canonical "$file")" != "$target" ] || continue
        while IFS=$'\t' read -r line spec; do
            kind=plain
            ! is_glob "$spec" || kind=glob
            while IFS= read -r match; do
                if [ -n "$match" ] && [ "$(canonical "$match")" = "$target" ]; then
                    printf '%s\t%s\t%s\t%s\n' "$file" "$line" "$kind" "$spec"
                fi
            done < <(include_targets "$file" "$spec")
        done < <(klipper_include_specs "$file")
    done < <(find -L "$CONFIG_DIR" -maxdepth 4 -type f -name '*.cfg' \
                 ! -name 'printer-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9].cfg' \
                 2>/dev/null | sort || true)
}

section_in_conf() {  # section_in_conf CONF NAME: prints the file (CONF or one it includes) with [NAME]
    local file
    while IFS= read -r file; do
        if section_present "$file" "$2"; then printf '%s\n' "$file"; return 0; fi
    done < <(config_files moonraker "$1")
    return 1
}

conf_option() {  # conf_option SECTION OPTION: its value in moonraker.conf or a file it includes
    local file value="" found
    while IFS= read -r file; do
        found="$(section_option "$file" "$1" "$2")"
        [ -z "$found" ] || value="$found"   # the last one read wins, as in Moonraker
    done < <(config_files moonraker "$MOONRAKER_CONF")
    printf '%s\n' "$value"
}

other_printers_with_pinozcam() {  # the other printers' moonraker.conf (~/*_data) that have [pinozcam]
    local conf this
    this="$(canonical "$MOONRAKER_CONF")"
    for conf in "$HOME_DIR"/*_data/config/moonraker.conf; do
        [ -f "$conf" ] && [ "$(canonical "$conf")" != "$this" ] || continue
        if section_in_conf "$conf" pinozcam >/dev/null; then printf '%s\n' "$conf"; fi
    done
}

printer_data_folders() {  # the ~/*_data folders holding a moonraker.conf (KIAUH: printer_N_data)
    local folder
    for folder in "$HOME_DIR"/*_data; do
        [ ! -f "$folder/config/moonraker.conf" ] || printf '%s\n' "$folder"
    done
}

our_sections() {  # our_sections FILE: the names of PiNozCam's sections in FILE, one a line
    grep -E "$OUR_SECTIONS" "$1" | sed -e 's/\].*$/]/' || true
}

remove_our_sections() {  # remove_our_sections FILE: drop PiNozCam's sections, keep the user's text
    local file="$1" ours tmp
    # Comment lines known to be ours: our marker and what install.sh writes, and the comments of
    # the example files a user copies. Only these are dropped from around a removed section; any
    # other comment above or below one (a note about the next section) stays.
    ours="$(mktemp)"
    { printf '%s\n' "$MARK" "$CAMERA_COMMENT"; grep -h '^[#;]' "$REPO"/moonraker_component/*.example || true; } > "$ours"
    tmp="$(mktemp)"
    awk '
        NR == FNR { ours[$0] = 1; next }
        function blank(s) { return s ~ /^[ \t\r]*$/ }
        function comment(s) { return s ~ /^[ \t]*[#;]/ }
        function section(s,   t) {
            t = s; sub(/[ \t]+[#;].*$/, "", t); sub(/[ \t\r]+$/, "", t)
            return (t ~ /^\[.+\]$/) ? substr(t, 2, length(t) - 2) : ""
        }
        function removable(name) {
            return name == "pinozcam" || name == "update_manager pinozcam" || name ~ /^webcam pinozcam([_-].*)?$/
        }
        function put(line) { while (blanks > 0) { print ""; blanks-- } print line; printed = 1 }
        # The comment and blank lines held since the last option; around a removed section our
        # own comments go, runs of blank lines shrink to one.
        function flush(removing,   i) {
            for (i = 1; i <= n; i++) {
                if (blank(held[i])) {
                    if (!removing) blanks++
                    else if (printed && blanks == 0) blanks = 1
                } else if (!(removing && (held[i] in ours))) put(held[i])
            }
            n = 0
        }
        blank($0) || comment($0) { held[++n] = $0; next }
        {
            name = section($0)
            if (name != "" && removable(name)) { flush(1); skipping = 1; next }
            if (name != "") { flush(skipping); skipping = 0; put($0); next }
            if (skipping) { n = 0; next }  # an option of a removed section, with its comments
            flush(0); put($0)
        }
        END { flush(skipping); if (!skipping) while (blanks-- > 0) print "" }
    ' "$ours" "$file" > "$tmp"
    cat "$tmp" > "$file"
    rm -f "$tmp" "$ours"
}

moonraker_units() {  # the systemd units running a Moonraker, one a line (KIAUH: moonraker-N)
    # Add-ons name their units after Moonraker too (moonraker-obico, moonraker-telegram-bot), and
    # theirs name the printer_data folder as well: a unit counts only when what it runs is Moonraker.
    command -v systemctl >/dev/null 2>&1 || return 0
    local unit
    systemctl list-units --type=service --all --no-legend 2>/dev/null \
        | awk '{print ($1 == "●" || $1 == "*" ? $2 : $1)}' | grep -E '^moonraker[^/]*\.service$' \
        | while IFS= read -r unit; do
            if runs_moonraker "$unit"; then printf '%s\n' "$unit"; fi
        done || true
}

unit_environment() {  # unit_environment UNIT: each environment file, as EnvironmentFile=PATH and its text
    # KIAUH and Moonraker's own installer name the printer_data folder in the environment file:
    # EnvironmentFile=~/printer_2_data/systemd/moonraker.env, holding MOONRAKER_ARGS="... -d
    # ~/printer_2_data". systemctl show gives that file's path with specifiers resolved, one
    # "EnvironmentFiles=PATH (ignore_errors=no)" line each; older systemd says EnvironmentFile=.
    local file
    systemctl show --property=EnvironmentFiles "$1" 2>/dev/null \
        | sed -n -E 's/^EnvironmentFiles?=(.*) \(ignore_errors=(yes|no)\)$/\1/p' \
        | while IFS= read -r file; do
            printf 'EnvironmentFile=%s\n' "$file"
            [ ! -r "$file" ] || cat "$file"
        done
}

unit_configuration() {  # unit_configuration UNIT: its unit file and drop-ins, its environment files
    systemctl cat "$1" 2>/dev/null || true
    unit_environment "$1"
}

runs_moonraker() {  # runs_moonraker UNIT: 0 if the unit starts Moonraker itself
    # What ExecStart runs, its arguments often in the environment file (MOONRAKER_ARGS="-m
    # moonraker"): `python -m moonraker`, `.../moonraker.py` (older installs), or the `moonraker`
    # console script of a pip install. Not `-m moonraker_obico.app`, not .../moonraker-telegram-bot/.
    local text
    text="$({ systemctl cat "$1" 2>/dev/null | grep -E '^[[:space:]]*ExecStart='; unit_environment "$1"; } || true)"
    grep -Eq -e "(^|[[:space:]\"'=])-m[[:space:]]*moonraker([[:space:]\"']|$)" \
             -e "(^|[[:space:]\"'=/])moonraker\.py([[:space:]\"']|$)" \
             -e "^[[:space:]]*ExecStart=[-@:+!]*\"?([^[:space:]\"]*/)?moonraker\"?([[:space:]]|$)" <<< "$text"
}

names_printer_data() {  # names_printer_data TEXT: 0 if TEXT names $PRINTER_DATA as a whole path
    local folder form pattern=""
    local -a forms
    folder="$(absolute "$PRINTER_DATA")"
    while [ "${folder%/}" != "$folder" ] && [ "$folder" != / ]; do folder="${folder%/}"; done
    forms=("$folder" "$(readlink -f "$folder" 2>/dev/null || printf '%s' "$folder")")
    # shellcheck disable=SC2088  # a literal ~ and %h: how a unit or env file may spell the folder
    case "$folder" in
        "$HOME_DIR"/*) forms+=("~/${folder#"$HOME_DIR"/}" "%h/${folder#"$HOME_DIR"/}") ;;
    esac
    for form in "${forms[@]}"; do
        pattern="$pattern${pattern:+|}$(printf '%s' "$form" | sed -e 's/[.[\\*^$+?(){|]/\\&/g')"
    done
    # Whole: /home/pi/printer_data names neither /home/pi/printer_data_2 nor /mnt/home/pi/printer_data.
    grep -Eq "(^|[[:space:]\"'=])($pattern)(/|[[:space:]\"']|$)" <<< "$1"
}

comma_list() {  # comma_list < LINES: "a, b, c"
    awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $0 }'
}

restart_moonraker() {
    if [ "$RESTART" -eq 0 ]; then
        say "restart Moonraker to load the change (--no-restart given)"
        return
    fi
    local units unit matches=""
    if [ -n "$SERVICE" ]; then
        say "restarting $SERVICE (sudo systemctl restart $SERVICE)"
        as_root systemctl restart "$SERVICE"
        return
    fi
    units="$(moonraker_units)"
    if [ -z "$units" ]; then
        say "Moonraker is not run by systemd here: restart it yourself"
        return
    fi
    if [ "$(printf '%s\n' "$units" | wc -l)" -eq 1 ]; then
        say "restarting $units (sudo systemctl restart $units)"
        as_root systemctl restart "$units"
        return
    fi
    # Several printers on one host: restart only the Moonraker of this printer_data folder. Another
    # printer's could be printing, and a guess would leave this one without the component.
    for unit in $units; do
        if names_printer_data "$(unit_configuration "$unit")"; then
            matches="$matches${matches:+ }$unit"
        fi
    done
    case "$matches" in
        "" | *" "*)
            say "found several Moonraker services ($(printf '%s\n' "$units" | comma_list))" \
                "and cannot tell which one runs $PRINTER_DATA: restarted none. Restart that one" \
                "yourself (sudo systemctl restart NAME), or name it with --service NAME next time"
            ;;
        *)
            say "restarting $matches, the Moonraker of $PRINTER_DATA (sudo systemctl restart $matches)"
            as_root systemctl restart "$matches"
            ;;
    esac
}

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

editable() {  # editable FILE: 0 if uninstall may edit FILE (writable, and in the config folder or printer.cfg)
    # A file reached through a link out of the config folder (a macro collection's own git
    # checkout) is not install.sh's to edit; printer.cfg is, wherever it lives, as install.sh edits it.
    local real config
    [ -w "$1" ] && [ -w "$(dirname "$1")" ] || return 1
    real="$(readlink -f "$1")"
    config="$(readlink -f "$CONFIG_DIR")"
    case "$real" in "$config"/*) return 0 ;; esac
    [ "$real" = "$(readlink -f "$PRINTER_CFG")" ]
}

remove_klipper_includes() {  # every plain [include] of pinozcam.cfg goes, then the link
    # Klipper stops at a plain [include] naming no file, not at a glob matching none: globs stay.
    # Where an include cannot be removed, the link stays, so Klipper still starts.
    local file line kind spec blocked=() files=() lines tmp
    local -A lines_of=() specs_of=()
    while IFS=$'\t' read -r file line kind spec; do
        [ "$kind" = plain ] || continue
        if ! editable "$file"; then
            blocked+=("$(in_config "$file") ([include $spec])")
            continue
        fi
        [ -n "${lines_of[$file]:-}" ] || files+=("$file")
        lines_of[$file]="${lines_of[$file]:-} $line"
        specs_of[$file]="${specs_of[$file]:-}${specs_of[$file]:+, }[include $spec]"
    done < <(pinozcam_cfg_includes)
    for file in "${files[@]}"; do
        backup "$file"
        lines="${lines_of[$file]}"
        tmp="$(mktemp)"
        awk -v lines="$lines" 'BEGIN { n = split(lines, l, " "); for (i = 1; i <= n; i++) drop[l[i]] = 1 }
                               !(FNR in drop)' "$file" > "$tmp"
        cat "$tmp" > "$file"
        rm -f "$tmp"
        say "removed ${specs_of[$file]} from $(in_config "$file")"
    done
    [ -L "$CONFIG_DIR/pinozcam.cfg" ] || return 0
    if [ "${#blocked[@]}" -gt 0 ]; then
        say "kept $CONFIG_DIR/pinozcam.cfg, or Klipper would not start: $(printf '%s\n' "${blocked[@]}" | comma_list)" \
            "still includes it, and install.sh leaves that file alone (it lives outside the config folder," \
            "or cannot be written). Remove that [include] line yourself, then rm $CONFIG_DIR/pinozcam.cfg"
        return 0
    fi
    rm -f "$CONFIG_DIR/pinozcam.cfg"
    say "removed $CONFIG_DIR/pinozcam.cfg"
}

remove_moonraker_sections() {  # PiNozCam's sections, in moonraker.conf and the files it includes
    # Sets MADE_VENV: the virtualenv install.sh wrote into [update_manager pinozcam], read before
    # the section goes.
    local file sections venv files=()
    MADE_VENV=""
    [ -f "$MOONRAKER_CONF" ] || return 0
    mapfile -t files < <(config_files moonraker "$MOONRAKER_CONF")  # all read before any is edited
    for file in "${files[@]}"; do
        sections="$(our_sections "$file")"
        [ -n "$sections" ] || continue
        venv="$(section_option "$file" "update_manager pinozcam" virtualenv)"
        [ -z "$venv" ] || MADE_VENV="$venv"
        if [ ! -w "$file" ] || [ ! -w "$(dirname "$file")" ]; then
            say "$(in_config "$file") still has $(printf '%s\n' "$sections" | comma_list), and install.sh" \
                "cannot write to it: remove them there yourself"
            continue
        fi
        backup "$file"
        remove_our_sections "$file"
        say "removed $(printf '%s\n' "$sections" | comma_list) from $(in_config "$file")"
    done
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

section_option() {  # section_option FILE SECTION OPTION: the option's value in [SECTION], if any
    awk -v want="$2" -v option="$3" '
        function section(s,   t) {
            t = s; sub(/[ \t]+[#;].*$/, "", t); sub(/[ \t\r]+$/, "", t)
            return (t ~ /^\[.+\]$/) ? substr(t, 2, length(t) - 2) : ""
        }
        section($0) != "" { inside = (section($0) == want); next }
        inside && $0 ~ "^" option "[ \t]*[:=]" {
            sub(/^[^:=]*[:=][ \t]*/, ""); sub(/[ \t\r]+$/, ""); print; exit
        }
    ' "$1"
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
