# Sourced by install.sh: finding and restarting the systemd unit that runs this printer's
# Moonraker (KIAUH names several moonraker-N; add-ons name theirs after Moonraker too). Uses
# install.sh's globals (PRINTER_DATA, RESTART, SERVICE) and helpers (say, as_root).
# shellcheck shell=bash

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
