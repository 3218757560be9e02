# Sourced by the shell tests that work in a temporary directory (tests/e2e/run.sh,
# tests/e2e/tests/run.sh, tests/install/run.sh): their progress lines, their failure, and their cleanup.
#
# script_begin NAME WORK KEEP_VAR: from now on `step TEXT` prints a progress line with the seconds since
# this call, `fail TEXT` prints "NAME: TEXT" and exits 1, and at exit WORK is removed, unless the script
# failed or the variable named KEEP_VAR is 1 (then it is kept, and the path is printed). A script that
# must do more at exit (stop its servers, show its logs) defines `on_cleanup RC`, which runs first.
script_begin() {
    script_name=$1
    script_work=$2
    script_keep_var=$3
    script_started=$SECONDS
    trap script_cleanup EXIT
    trap 'exit 130' INT TERM
}

script_cleanup() {
    local rc=$?
    if declare -F on_cleanup >/dev/null; then
        on_cleanup "$rc" || true
    fi
    if [ "$rc" -ne 0 ]; then
        echo "$script_name: FAILED (exit $rc); files kept in $script_work" >&2
    elif [ "${!script_keep_var:-}" = 1 ]; then
        echo "$script_name: files kept in $script_work"
    else
        rm -rf "$script_work"
    fi
    exit "$rc"
}

step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - script_started))"; }
fail() { echo "$script_name: $*" >&2; exit 1; }
