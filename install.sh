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
  --uninstall             remove the links and the config sections install.sh added, and the
                          [webcam pinozcam...] sections in moonraker.conf (the virtualenv and
                          saved incidents are kept; the command to remove them is printed)
  -h, --help              this help
EOF
}

say() { printf '%s\n' "pinozcam: $*"; }
die() { printf '%s\n' "pinozcam: error: $*" >&2; exit 1; }

HOME_DIR="$HOME"
PRINTER_DATA=""
MR_PYTHON=""
MR_DIR=""
VENV=""
WORKER_PYTHON=""
UPDATE_MANAGER=1
RESTART=1
UNINSTALL=0
ALLOW_ROOT=0
SERVICE=""

while [ $# -gt 0 ]; do
    case "$1" in
        --home) HOME_DIR="${2:?--home needs a folder}"; shift 2 ;;
        --printer-data) PRINTER_DATA="${2:?--printer-data needs a folder}"; shift 2 ;;
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

find_moonraker_dir() {
    if [ -n "$MR_DIR" ]; then
        [ -d "$MR_DIR/components" ] || die "$MR_DIR has no components/ folder (--moonraker-dir)"
        return
    fi
    if [ -d "$HOME_DIR/moonraker/moonraker/components" ]; then
        MR_DIR="$HOME_DIR/moonraker/moonraker"   # a git checkout, as KIAUH installs it
        return
    fi
    [ -x "$MR_PYTHON" ] || die "Moonraker not found: no $HOME_DIR/moonraker checkout and no $MR_PYTHON (use --moonraker-dir or --moonraker-python)"
    MR_DIR="$("$MR_PYTHON" -c 'import moonraker, os; print(os.path.dirname(moonraker.__file__))' 2>/dev/null)" \
        || die "$MR_PYTHON cannot import moonraker (use --moonraker-dir)"
    [ -d "$MR_DIR/components" ] || die "$MR_DIR has no components/ folder"
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

# The printer.cfg line including the macros, as Klipper reads it: a comment may follow ('#' or
# ';'), and spaces around the file name do not count. Finding and removing it use this one ERE.
INCLUDE_LINE='^\[include [[:space:]]*pinozcam\.cfg[[:space:]]*\]([[:space:]]*[#;].*)?[[:space:]]*$'

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
    command -v systemctl >/dev/null 2>&1 || return 0
    systemctl list-units --type=service --all --no-legend 2>/dev/null \
        | awk '{print ($1 == "●" || $1 == "*" ? $2 : $1)}' | grep -E '^moonraker(-[^.]+)?\.service$' || true
}

unit_configuration() {  # unit_configuration UNIT: its unit file and drop-ins, its environment files
    # KIAUH and Moonraker's own installer name the printer_data folder in the environment file:
    # EnvironmentFile=~/printer_2_data/systemd/moonraker.env, holding MOONRAKER_ARGS="... -d
    # ~/printer_2_data". systemctl show gives that file's path with specifiers resolved, one
    # "EnvironmentFiles=PATH (ignore_errors=no)" line each; older systemd says EnvironmentFile=.
    local file
    systemctl cat "$1" 2>/dev/null || true
    systemctl show --property=EnvironmentFiles "$1" 2>/dev/null \
        | sed -n -E 's/^EnvironmentFiles?=(.*) \(ignore_errors=(yes|no)\)$/\1/p' \
        | while IFS= read -r file; do
            printf 'EnvironmentFile=%s\n' "$file"
            [ ! -r "$file" ] || cat "$file"
        done
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

install_package() {
    if [ -n "$WORKER_PYTHON" ]; then
        "$WORKER_PYTHON" -c 'import pinozcam_klipper' 2>/dev/null \
            || die "$WORKER_PYTHON cannot import pinozcam_klipper (--worker-python)"
        say "using $WORKER_PYTHON (no virtualenv created)"
        return
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        check_python
        ensure_venv_support
        say "creating $VENV"
        python3 -m venv "$VENV"
    fi
    say "installing pinozcam-klipper from $REPO into $VENV"
    # Editable: Moonraker's update_manager pulls this checkout and the next start runs the new code.
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$REPO"
    WORKER_PYTHON="$VENV/bin/python"
}

add_moonraker_sections() {
    local edits=0
    if ! section_present "$MOONRAKER_CONF" pinozcam; then
        edits=1
    fi
    local origin=""
    if [ "$UPDATE_MANAGER" -eq 1 ] && ! section_present "$MOONRAKER_CONF" "update_manager pinozcam"; then
        origin="$(git -C "$REPO" remote get-url origin 2>/dev/null || true)"
        if [ -n "$origin" ]; then
            edits=1
        else
            say "no [update_manager pinozcam]: $REPO is not a git clone with an 'origin' remote"
        fi
    fi
    [ "$edits" -eq 1 ] || { say "moonraker.conf already has the PiNozCam sections"; return; }
    backup "$MOONRAKER_CONF"
    if ! section_present "$MOONRAKER_CONF" pinozcam; then
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
        local branch
        branch="$(git -C "$REPO" rev-parse --abbrev-ref HEAD 2>/dev/null || echo main)"
        {
            printf '\n%s\n[update_manager pinozcam]\n' "$MARK"
            printf 'type: git_repo\nchannel: dev\npath: %s\norigin: %s\nprimary_branch: %s\n' \
                "$REPO" "$origin" "$branch"
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
    if grep -Eq "$INCLUDE_LINE" "$PRINTER_CFG"; then
        say "printer.cfg already includes pinozcam.cfg"
        return
    fi
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

do_install() {
    [ -d "$CONFIG_DIR" ] || die "no $CONFIG_DIR: is Klipper installed? (use --printer-data)"
    [ -f "$MOONRAKER_CONF" ] || die "no $MOONRAKER_CONF (use --printer-data)"
    find_moonraker_dir
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
    local doctor="$WORKER_PYTHON -m pinozcam_klipper.cli doctor"
    [ ! -x "$(dirname "$WORKER_PYTHON")/pinozcam" ] || doctor="$(dirname "$WORKER_PYTHON")/pinozcam doctor"
    say "done. Run FIRMWARE_RESTART so Klipper loads the macros, then check it all with: $doctor"
}

do_uninstall() {
    find_moonraker_dir
    git_exclude remove
    remove_old_component_link
    if [ -L "$MR_DIR/components/pinozcam" ]; then
        rm -f "$MR_DIR/components/pinozcam"
        say "removed the component link from $MR_DIR/components"
    fi
    if [ -L "$CONFIG_DIR/pinozcam.cfg" ]; then
        rm -f "$CONFIG_DIR/pinozcam.cfg"
        say "removed $CONFIG_DIR/pinozcam.cfg"
    fi
    if [ -f "$PRINTER_CFG" ] && grep -Eq "$INCLUDE_LINE" "$PRINTER_CFG"; then
        backup "$PRINTER_CFG"
        local tmp
        tmp="$(mktemp)"
        grep -Ev "$INCLUDE_LINE" "$PRINTER_CFG" > "$tmp" || true
        cat "$tmp" > "$PRINTER_CFG"
        rm -f "$tmp"
        say "removed [include pinozcam.cfg] from printer.cfg"
    fi
    local sections="" made_venv=""
    [ ! -f "$MOONRAKER_CONF" ] || sections="$(our_sections "$MOONRAKER_CONF")"
    # Read before the section goes: the virtualenv install.sh made, if it wrote one there.
    [ -z "$sections" ] || made_venv="$(section_option "$MOONRAKER_CONF" "update_manager pinozcam" virtualenv)"
    if [ -n "$sections" ]; then
        backup "$MOONRAKER_CONF"
        remove_our_sections "$MOONRAKER_CONF"
        say "removed $(printf '%s\n' "$sections" | comma_list) from moonraker.conf"
    fi
    say "webcams added through Mainsail's or Fluidd's webcam settings stay there: delete PiNozCam's" \
        "(pinozcam, pinozcam_panel: the ones showing /server/pinozcam/...) in those settings"
    restart_moonraker
    say_left_in_place "$made_venv"
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

say_left_in_place() {  # say_left_in_place [VENV_FROM_CONF]: what uninstall keeps, as it really is
    local venvs=() kept=() folder
    # The one named now (--venv, or the default), and the one install.sh wrote into
    # [update_manager pinozcam]; a --worker-python install made none of them.
    venvs=("$VENV")
    [ -z "$1" ] || [ "$1" = "$VENV" ] || venvs+=("$1")
    for folder in "${venvs[@]}"; do
        [ ! -d "$folder" ] || kept+=("$folder (PiNozCam's virtualenv)")
    done
    [ ! -d "$PRINTER_DATA/pinozcam" ] || kept+=("$PRINTER_DATA/pinozcam (saved incidents)")
    if [ "${#kept[@]}" -gt 0 ]; then
        say "uninstalled. Left in place: $(printf '%s\n' "${kept[@]}" | comma_list) (rm -rf them to remove all)"
    else
        say "uninstalled."
    fi
    if [ "${#venvs[@]}" -eq 1 ] && [ ! -d "$VENV" ]; then
        # Where the install used --venv DIR and its path is not known here.
        say "a virtualenv made with --venv DIR is not removed either: rm -rf DIR removes it"
    fi
}

if [ "$UNINSTALL" -eq 1 ]; then
    do_uninstall
else
    do_install
fi
