#!/bin/bash
# The bash and zsh completions (shell/) complete every verb and every option each program's
# --help lists, and the values: image names from the search directories, profiles from the
# profile directories, graft-update's components, the fixed lists (--json=, --copy=, …), files
# and directories where a path goes. bash: the completion is sourced (after bash-completion when
# it is installed) and called as readline would, with COMP_WORDS split at "=" as bash does. zsh:
# the completion file is sourced with compadd/compset/_files stubbed to print what is offered.
set -euo pipefail
src=${GRAFT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${GRAFT_BUILD_DIR:-$src/build}
# graft-image is in images/ or (since the move of the CLIs beside pctl and sextctl) graft-image/.
export PATH=$build/portable:$build/sysext:$build/images:$build/graft-image:$build/update:$build/daemon:$PATH
programs=(pctl sextctl graft-image graft-update graftd)
R=$(mktemp -d /tmp/graft-test-completions.XXXXXX)
trap 'rm -rf "$R"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# What --help says, parsed independently of the completions: verbs are the two-space-indented
# words under "Commands:", options every --word and -x at the start of an option line.
help_verbs() { "$1" --help | awk '/^Commands:/ { c = 1; next } /^(Options:|)$/ { c = 0 } c && /^  [a-z]/ { print $1 }'; }
help_opts() {
        "$1" --help | awk '/^ +-/ { for (i = 1; i <= NF && $i ~ /^-/; i++) { o = $i; sub(/=.*/, "=", o); print o } }' |
                sed 's/,$//'
}

# A tree to complete names from (--root=$R).
mkdir -p "$R/var/lib/portables/dirimg" "$R/etc/portables" "$R/usr/lib/portables/old.v" \
        "$R/usr/lib/graft/profiles/default" "$R/usr/lib/graft/profiles/strict" "$R/etc/graft/profiles/mine" \
        "$R/etc/graft/profiles/default" "$R/var/lib/extensions" "$R/etc/sysupdate.web.d" "$R/usr/lib/sysupdate.db.d" \
        "$R/srcdir"
touch "$R/var/lib/portables/foo_1.raw" "$R/var/lib/portables/foo_1.roothash" "$R/var/lib/portables/foo_1.roothash.p7s" \
        "$R/var/lib/portables/foo_1.verity" "$R/etc/portables/qux.raw" "$R/var/lib/extensions/debugtools.raw" \
        "$R/srcfile"

# ---- bash -------------------------------------------------------------------------------------
[[ -r /usr/share/bash-completion/bash_completion ]] && source /usr/share/bash-completion/bash_completion
set +u # bash-completion's helpers read unset variables
source "$src/shell/graft.bash"

# bash_complete "LINE": what completing at the end of LINE offers, one per line, sorted.
bash_complete() {
        local line=$1 w
        COMP_LINE=$line COMP_POINT=${#line}
        COMP_WORDS=()
        # bash splits words at blanks and makes "=" a word of its own (COMP_WORDBREAKS).
        for w in $line; do
                while [[ $w == *=* ]]; do
                        [[ -n ${w%%=*} ]] && COMP_WORDS+=("${w%%=*}")
                        COMP_WORDS+=("=")
                        w=${w#*=}
                done
                [[ -n $w ]] && COMP_WORDS+=("$w")
        done
        [[ $line == *" " || $line == *= ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _graft "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}" 2>/dev/null
        printf '%s\n' "${COMPREPLY[@]}" | sort -u | sed '/^$/d'
}
expect() { # expect SHELL "LINE" "WANT (blank-separated, sorted)"
        local got
        got=$("${1}_complete" "$2" | tr '\n' ' ')
        [[ ${got% } == "$3" ]] || fail "$1: '$2' offers '${got% }', expected '$3'"
}

for p in "${programs[@]}"; do
        want=$(help_verbs "$p" | sort -u | tr '\n' ' ')
        [[ $p == graftd || -n $want ]] || fail "$p --help lists no verbs (the parser above is wrong)"
        expect bash "$p " "${want% }"
        want=$(help_opts "$p" | sort -u | tr '\n' ' ')
        [[ $want == *--help* ]] || fail "$p --help lists no options (the parser above is wrong)"
        expect bash "$p -" "${want% }"
        # Options after a verb too, and each option that takes a value ends in "=".
        for o in $want; do
                [[ $o == --* ]] || continue
                got=$(bash_complete "$p list ${o%=}")
                grep -q -x -F -- "$o" <<<"$got" || fail "bash: '$p list ${o%=}' offers '$got', not '$o'"
        done
done

expect bash "pctl --root=$R attach " "dirimg foo_1 old qux"
expect bash "pctl --root=$R detach f" "foo_1"
expect bash "pctl --root $R is-attached q" "qux"
expect bash "pctl --root=$R remove " "dirimg foo_1 old qux"
expect bash "pctl --root=$R read-only dirimg " "no yes"
expect bash "pctl --root=$R attach --profile=" "default mine strict"
expect bash "pctl --root=$R -p " "default mine strict"
expect bash "pctl --root=$R -p s" "strict"
expect bash "pctl --root=$R --extension=" "debugtools"
expect bash "pctl --copy=" "auto copy mixed symlink"
expect bash "pctl --json=p" "pretty"
expect bash "sextctl --json=" "pretty short"
expect bash "graft-image build --compression=" "gzip lz4 xz zstd"
expect bash "graft-image build --type=" "portable sysext"
expect bash "graft-image build --partition=" "root usr"
expect bash "graft-image compare-versions 1 " "eq ge gt le lt ne"
expect bash "graft-image build $R/src" "$R/srcdir"
expect bash "graft-image inspect $R/src" "$R/srcdir $R/srcfile"
expect bash "graft-image --key=$R/srcf" "$R/srcfile"
expect bash "graft-update --root=$R -C " "db web"
expect bash "graft-update --root=$R --component=w" "web"
expect bash "graft-update --verify=" "no yes"
expect bash "graftd --log-level=" "debug err info notice warning"
expect bash "sextctl --root=$R/s" "$R/srcdir"

# ---- zsh --------------------------------------------------------------------------------------
if ! command -v zsh >/dev/null; then
        echo "zsh is not installed: the zsh completion is not checked"
else
        zsh -n "$src/shell/_graft" || fail "zsh: shell/_graft does not parse"
        # zsh_complete "LINE": the completion's offers, with the completion system's builtins
        # stubbed: compadd prints its words, compset -P strips the prefix, _files lists.
        zsh_complete() {
                # shellcheck disable=SC2016
                zsh -f -c '
                        compadd() { while [[ $1 == -* && $1 != -- ]]; do [[ $1 == -S ]] && shift; shift; done
                                [[ $1 == -- ]] && shift; print -l -- ${(M)@:#$PREFIX*}; }
                        compset() { PREFIX=${PREFIX#*=}; }
                        _files() { if [[ $1 == -/ ]]; then print -l -- $PREFIX*(N/); else print -l -- $PREFIX*(N); fi; }
                        _hosts() { :; }
                        source "$1"
                        words=(${=2}); [[ $2 == *" " ]] && words+=("")
                        CURRENT=${#words}; PREFIX=$words[CURRENT]
                        _graft; true' zsh "$src/shell/_graft" "$1" | sort -u | sed '/^$/d'
        }
        for p in "${programs[@]}"; do
                want=$(help_verbs "$p" | sort -u | tr '\n' ' ')
                expect zsh "$p " "${want% }"
                want=$(help_opts "$p" | sort -u | tr '\n' ' ')
                expect zsh "$p -" "${want% }"
        done
        expect zsh "pctl --root=$R attach " "dirimg foo_1 old qux"
        expect zsh "pctl --root $R detach f" "foo_1"
        expect zsh "pctl --root=$R read-only dirimg " "no yes"
        expect zsh "pctl --root=$R --profile=" "default mine strict"
        expect zsh "pctl --root=$R -p " "default mine strict"
        expect zsh "pctl --root=$R --extension=" "debugtools"
        expect zsh "pctl --copy=" "auto copy mixed symlink"
        expect zsh "graft-image build --compression=" "gzip lz4 xz zstd"
        expect zsh "graft-image compare-versions 1 " "eq ge gt le lt ne"
        expect zsh "graft-image build $R/src" "$R/srcdir"
        expect zsh "graft-update --root=$R -C " "db web"
        expect zsh "graftd --log-level=" "debug err info notice warning"
fi

((fails == 0)) || exit 1
echo "ok: bash and zsh complete every verb and option of ${programs[*]}, and their values"
