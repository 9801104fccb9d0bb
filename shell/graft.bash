# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for pctl, sextctl, graft-image, graft-update and graftd (installed once per
# program name, so bash-completion loads it on demand for any of them).
#
# The verbs and options come from the program's own --help, read once per shell: a verb or an
# option added to a program is completed without touching this file, and the test
# (tests/unit/test-completions.sh) checks every one of them. What the help cannot say, the
# values an option or a verb's argument takes, is below: image names from the search
# directories, profiles from the profile directories, and the fixed lists.

# _graft_help PROG: fills _graft_verbs, _graft_opts (options that take a value end in "=") and
# _graft_short (" -p=--profile -o=--output": the short options that take a value, with their
# long name) from PROG --help, cached per program.
_graft_help() {
        local prog=$1 key=${1//[^A-Za-z0-9]/_} help line section= w short
        local -n cache_verbs=_graft_cache_verbs_$key cache_opts=_graft_cache_opts_$key
        local -n cache_short=_graft_cache_short_$key
        if [[ -z ${cache_opts+set} ]]; then
                help=$("$prog" --help 2>/dev/null) || help=
                cache_verbs=() cache_opts=() cache_short=" "
                while IFS= read -r line; do
                        case $line in
                        Commands:) section=verbs; continue ;;
                        Options:|"") [[ $line == Options: ]] && section=opts; continue ;;
                        esac
                        if [[ $section == verbs && $line =~ ^\ \ ([a-z][a-z0-9-]*) ]]; then
                                cache_verbs+=("${BASH_REMATCH[1]}")
                        fi
                        # Options: "-p --profile=NAME", "--json=FORMAT", "-q --quiet".
                        short=
                        for w in $line; do
                                [[ $w == -* ]] || break
                                if [[ $w =~ ^(--[a-z][a-z0-9-]*)(=?) ]]; then
                                        cache_opts+=("${BASH_REMATCH[1]}${BASH_REMATCH[2]}")
                                        [[ -n $short && -n ${BASH_REMATCH[2]} ]] &&
                                                cache_short+="$short=${BASH_REMATCH[1]} "
                                elif [[ $w =~ ^-[A-Za-z]$ ]]; then
                                        cache_opts+=("$w")
                                        short=$w
                                fi
                        done
                done <<<"$help"
        fi
        _graft_verbs=("${cache_verbs[@]}")
        _graft_opts=("${cache_opts[@]}")
        _graft_short=$cache_short
}

# The long name of a short option that takes a value ("-p" gives "--profile"), or nothing.
_graft_short_long() {
        local rest=${_graft_short#* "$1"=}
        [[ $rest != "$_graft_short" ]] && printf '%s' "${rest%% *}"
}

# The root the command line works on (--root=DIR), for the search directories.
_graft_root() {
        local i
        for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
                case ${COMP_WORDS[i]} in
                --root=*) printf '%s' "${COMP_WORDS[i]#--root=}"; return ;;
                --root) [[ ${COMP_WORDS[i + 1]:-} == = ]] && printf '%s' "${COMP_WORDS[i + 2]:-}" ||
                        printf '%s' "${COMP_WORDS[i + 1]:-}"; return ;;
                esac
        done
}

# _graft_images CLASS: image names in that class's search directories (as pctl and sextctl
# look them up: NAME.raw, a directory NAME, NAME.v/ and NAME.raw.v/ are all NAME; sidecars are
# not images).
_graft_images() {
        local root dirs d e n
        root=$(_graft_root)
        case $1 in
        portable) dirs=(/etc/portables /run/portables /var/lib/portables /usr/local/lib/portables /usr/lib/portables) ;;
        sysext) dirs=(/etc/extensions /run/extensions /var/lib/extensions) ;;
        esac
        for d in "${dirs[@]}"; do
                for e in "$root$d"/*; do
                        [[ -e $e ]] || continue
                        n=${e##*/}
                        case $n in
                        *.roothash | *.roothash.p7s | *.verity | .*) continue ;;
                        esac
                        n=${n%.v}
                        n=${n%.raw}
                        printf '%s\n' "$n"
                done
        done
}

# Profiles: the directories of the profile search path (/etc first; the same name once).
_graft_profiles() {
        local root d p
        root=$(_graft_root)
        for d in /etc/graft/profiles /run/graft/profiles /usr/local/lib/graft/profiles /usr/lib/graft/profiles; do
                for p in "$root$d"/*/; do
                        [[ -d $p ]] && p=${p%/} && printf '%s\n' "${p##*/}"
                done
        done
}

# graft-update's components: the sysupdate.NAME.d directories.
_graft_components() {
        local root d c
        root=$(_graft_root)
        for d in /etc /run /usr/local/lib /usr/lib; do
                for c in "$root$d"/sysupdate.*.d/; do
                        [[ -d $c ]] && c=${c%.d/} && printf '%s\n' "${c##*/sysupdate.}"
                done
        done
}

_graft_words() { mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2"); }
_graft_files() { mapfile -t COMPREPLY < <(compgen -f -- "$1"); compopt -o filenames 2>/dev/null; }
_graft_dirs() { mapfile -t COMPREPLY < <(compgen -d -- "$1"); compopt -o filenames 2>/dev/null; }

# _graft_value PROG OPTION CUR: what OPTION takes.
_graft_value() {
        local prog=$1 opt=$2 cur=$3
        case $opt in
        --json) _graft_words "short pretty" "$cur" ;;
        --copy) _graft_words "auto copy symlink mixed" "$cur" ;;
        --type) _graft_words "sysext portable" "$cur" ;;
        --partition) _graft_words "root usr" "$cur" ;;
        --compression) _graft_words "zstd xz gzip lz4" "$cur" ;;
        --arch) _graft_words "x86-64 x86 arm64 arm riscv64" "$cur" ;;
        --verify) _graft_words "yes no" "$cur" ;;
        --log-level) _graft_words "err warning notice info debug" "$cur" ;;
        --profile) _graft_words "$(_graft_profiles | sort -u)" "$cur"
                [[ $cur == */* ]] && _graft_files "$cur" ;;
        --extension) _graft_words "$(_graft_images sysext | sort -u)" "$cur"
                [[ $cur == */* ]] && _graft_files "$cur" ;;
        --root | --definitions) _graft_dirs "$cur" ;;
        --output | --key | --cert | --keyring | --os-release) _graft_files "$cur" ;;
        --host) declare -F _known_hosts_real >/dev/null && _known_hosts_real -a -- "$cur" ;;
        --component) _graft_words "$(_graft_components | sort -u)" "$cur" ;;
        --machine) _graft_words "$(ls /var/lib/machines 2>/dev/null)" "$cur" ;;
        *) COMPREPLY=() ;;
        esac
}

# _graft_positional PROG VERB INDEX CUR: the INDEXth argument of VERB (1 is the first).
_graft_positional() {
        local prog=$1 verb=$2 n=$3 cur=$4
        case $prog:$verb in
        pctl:attach | pctl:detach | pctl:reattach | pctl:inspect | pctl:is-attached | pctl:read-only)
                if ((n == 1)); then
                        _graft_words "$(_graft_images portable | sort -u)" "$cur"
                        [[ $cur == */* ]] && _graft_files "$cur"
                elif [[ $verb == read-only ]]; then
                        _graft_words "yes no" "$cur"
                fi ;;
        pctl:remove) _graft_words "$(_graft_images portable | sort -u)" "$cur" ;;
        graft-image:build) ((n == 1)) && _graft_dirs "$cur" ;;
        graft-image:inspect | graft-image:verify | graft-image:sign) ((n == 1)) && _graft_files "$cur" ;;
        graft-image:compare-versions) ((n == 2)) && _graft_words "lt le eq ne ge gt" "$cur" ;;
        *) COMPREPLY=() ;;
        esac
}

_graft() {
        local prog=${1##*/} cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]:-}
        local i w verb= n=0 o
        local -a _graft_verbs _graft_opts
        local _graft_short
        _graft_help "$1"
        COMPREPLY=()

        # --opt=VALUE: bash splits at "=" (COMP_WORDBREAKS), so the option is two words back.
        if [[ $cur == = || $prev == = ]]; then
                [[ $cur == = ]] && o=$prev || o=${COMP_WORDS[COMP_CWORD - 2]}
                [[ $cur == = ]] && cur=
                _graft_value "$prog" "$o" "$cur"
                return 0
        fi
        if [[ $cur == --*=* ]]; then
                _graft_value "$prog" "${cur%%=*}" "${cur#*=}"
                return 0
        fi
        # A short option that takes a value (-p NAME, -o PATH, -C NAME, -H HOST, -M NAME).
        # ... and "--profile NAME" (getopt_long takes both forms).
        o=$(_graft_short_long "$prev")
        [[ -z $o && $prev == --* && " ${_graft_opts[*]} " == *" $prev= "* ]] && o=$prev
        if [[ -n $o ]]; then
                _graft_value "$prog" "$o" "$cur"
                return 0
        fi

        # The verb is the first word that is not an option or an option's value.
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                if [[ $w == -* || $w == = || ${COMP_WORDS[i - 1]} == = ]]; then
                        continue
                fi
                [[ -n $(_graft_short_long "${COMP_WORDS[i - 1]}") ]] && continue
                [[ ${COMP_WORDS[i - 1]} == --* && " ${_graft_opts[*]} " == *" ${COMP_WORDS[i - 1]}= "* ]] && continue
                if [[ -z $verb ]]; then
                        verb=$w
                else
                        ((n++))
                fi
        done

        if [[ $cur == -* ]]; then
                _graft_words "${_graft_opts[*]}" "$cur"
                # An option that takes a value: no space, the value follows the "=".
                [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
                return 0
        fi
        if [[ -z $verb ]]; then
                _graft_words "${_graft_verbs[*]}" "$cur"
                return 0
        fi
        _graft_positional "$prog" "$verb" $((n + 1)) "$cur"
        return 0
}

complete -F _graft pctl sextctl graft-image graft-update graftd
