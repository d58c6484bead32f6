# Sourced by install.sh: PiNozCam's config-file edits, read the way Klipper and Moonraker read
# their files (comments, [include] globs relative to the including file, sections in included
# files). Uses install.sh's globals (CONFIG_DIR, MOONRAKER_CONF, MARK...) and helpers (say, backup).
# shellcheck shell=bash

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
    # MADE_VENV: read by install.sh's do_uninstall, to name the virtualenv it leaves.
    # shellcheck disable=SC2034
    MADE_VENV=""
    [ -f "$MOONRAKER_CONF" ] || return 0
    mapfile -t files < <(config_files moonraker "$MOONRAKER_CONF")  # all read before any is edited
    for file in "${files[@]}"; do
        sections="$(our_sections "$file")"
        [ -n "$sections" ] || continue
        venv="$(section_option "$file" "update_manager pinozcam" virtualenv)"
        # shellcheck disable=SC2034
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
