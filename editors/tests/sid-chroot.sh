#!/usr/bin/env bash
# A Debian sid chroot for the editor tests: Debian bookworm has Neovim 0.7, no Helix and node 20 (too
# old for code-server), sid has what the tests need. Built once with debootstrap and reused.
#
#   sid-chroot.sh                     build the chroot, or check that it is complete (idempotent)
#   sid-chroot.sh exec [-b DIR]... [-e NAME=VALUE]... [--] CMD [ARG]...
#                                     run CMD inside it; each -b DIR is bind-mounted at the same path
#                                     inside (so host paths work unchanged), each -e sets a variable
#                                     (the environment is otherwise clean: HOME=/root, PATH, LANG);
#                                     it runs in the current directory if that is bind-mounted, else /
#
# Where: ${LOOPSAFE_SID:-/var/tmp/loopsafe-sid}; mirror ${LOOPSAFE_SID_MIRROR:-http://deb.debian.org/debian}.
# When complete, the file $LOOPSAFE_SID/.loopsafe-ready exists (it holds the package list it was built
# for; a changed list installs the difference on the next run).
#
# Mounts: every command in the chroot (apt during the build, each `exec`) runs in its own private mount
# namespace (unshare -m), where /proc, /dev (with /dev/pts, /dev/shm), /sys and a fresh tmpfs /tmp are
# mounted. They disappear with the namespace when the command ends, however it ends: nothing is left
# mounted on the host, concurrent runs do not see each other's mounts or /tmp, and a run that failed
# can simply be run again (debootstrap restarts from scratch if it did not finish; apt resumes).
# Needs root, debootstrap (installed with apt-get if missing) and util-linux's unshare.
set -euo pipefail

ROOT=${LOOPSAFE_SID:-/var/tmp/loopsafe-sid}
MIRROR=${LOOPSAFE_SID_MIRROR:-http://deb.debian.org/debian}
READY="$ROOT/.loopsafe-ready"
BOOTSTRAPPED="$ROOT/.loopsafe-debootstrap-done"

# What the editor tests use. Helix is packaged in Debian as `hx` (binary /usr/bin/hx); ruff is the other
# Python language server the tests run beside loopsafe.
PACKAGES=(
    ca-certificates procps git python3 tmux fonts-dejavu-core
    neovim
    hx
    ruff
    nodejs npm chromium
)

log() { printf 'sid-chroot: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"

# Runs inside a fresh private mount namespace (see `in_namespace`): mount, then chroot.
# Arguments: the bind directories (terminated by --), then the command.
inner() {
    local binds=()
    while [ "$1" != -- ]; do binds+=("$1"); shift; done
    shift
    mount -t proc proc "$ROOT/proc"
    mount --rbind /dev "$ROOT/dev"
    mount --rbind /sys "$ROOT/sys"
    mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
    local dir
    for dir in "${binds[@]}"; do
        mkdir -p "$ROOT$dir"
        mount --rbind "$dir" "$ROOT$dir"
    done
    # Name resolution follows the host's (apt and npm reach the network; CA certificates: see build).
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    # The same working directory as outside when it exists inside (a bind-mounted one), else /.
    # shellcheck disable=SC2016 # expanded by the inner shell
    exec chroot "$ROOT" /bin/sh -c 'cd "$1" 2>/dev/null || cd /; shift; exec "$@"' sh "$CALLER_PWD" "$@"
}

SELF=$(realpath "$0")
in_namespace() { CALLER_PWD=$PWD unshare --mount --propagation private -- "$SELF" __inner "$@"; }

# Runs a command in the chroot with a clean environment. Arguments: binds -- env assignments -- command.
run_in_chroot() {
    local binds=() envs=()
    while [ "$1" != -- ]; do binds+=("$1"); shift; done
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    in_namespace "${binds[@]}" -- /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-xterm-256color}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" "$@"
}

apt_in_chroot() {
    run_in_chroot -- DEBIAN_FRONTEND=noninteractive -- apt-get -o Acquire::Check-Valid-Until=false \
        -o Acquire::Retries=3 "$@"
}

# Refuses to delete a directory with anything mounted below it (a mount left by someone else).
assert_nothing_mounted() {
    if findmnt -rn -o TARGET | awk -v r="$ROOT" 'index($0, r "/") == 1 || $0 == r { found = 1 } END { exit !found }'; then
        die "something is mounted under $ROOT (see findmnt); unmount it first"
    fi
}

build() {
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap on the host"
        DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2; }
    fi

    if [ ! -e "$BOOTSTRAPPED" ]; then
        if [ -e "$ROOT" ]; then
            log "$ROOT is an unfinished debootstrap: starting it again"
            assert_nothing_mounted
            rm -rf --one-file-system "$ROOT"
        fi
        log "debootstrap sid into $ROOT from $MIRROR"
        mkdir -p "$ROOT"
        # In a private mount namespace too: the /proc and /sys debootstrap mounts vanish with it.
        unshare --mount --propagation private -- \
            debootstrap --variant=minbase --components=main sid "$ROOT" "$MIRROR" >&2
        touch "$BOOTSTRAPPED"
    fi

    local want
    want=$(printf '%s\n' "${PACKAGES[@]}" | sort)
    if [ -e "$READY" ] && [ "$(cat "$READY")" = "$want" ]; then
        log "reusing $ROOT"
        return
    fi
    rm -f "$READY"

    # sid's Release can look expired to apt (Valid-Until): keep apt usable inside for later users too.
    mkdir -p "$ROOT/etc/apt/apt.conf.d"
    cat > "$ROOT/etc/apt/apt.conf.d/99loopsafe" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
EOF
    printf 'deb %s sid main\n' "$MIRROR" > "$ROOT/etc/apt/sources.list"
    # No services start inside a chroot.
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"

    log "installing: ${PACKAGES[*]}"
    # An earlier run stopped during dpkg leaves packages half-configured: finish them first.
    run_in_chroot -- DEBIAN_FRONTEND=noninteractive -- dpkg --configure -a >&2
    apt_in_chroot update >&2
    apt_in_chroot install -y -f >&2
    apt_in_chroot install -y --no-install-recommends "${PACKAGES[@]}" >&2
    apt_in_chroot clean >&2

    # The host's CA certificates too (a proxy's CA on CI machines, say), so npm reaches its registry.
    if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
        mkdir -p "$ROOT/usr/local/share/ca-certificates"
        cp /etc/ssl/certs/ca-certificates.crt "$ROOT/usr/local/share/ca-certificates/loopsafe-host.crt"
        run_in_chroot -- -- update-ca-certificates >&2
    fi

    # What the tests rely on is there.
    run_in_chroot -- -- sh -c 'nvim --version | head -1; hx --version; tmux -V; node --version; npm --version;
        chromium --version; python3 --version; git --version' >&2

    printf '%s\n' "$want" > "$READY"
    log "ready: $ROOT"
}

case "${1:-build}" in
    __inner)
        shift
        inner "$@"
        ;;
    build)
        [ -e "$READY" ] || log "building (first time takes a few minutes)"
        exec 9>"$ROOT.lock"
        flock 9
        build
        echo "$ROOT"
        ;;
    exec)
        shift
        [ -e "$READY" ] || die "the chroot is not ready: run $0 first"
        binds=() envs=()
        while [ $# -gt 0 ]; do
            case "$1" in
                -b) binds+=("$(realpath "$2")"); shift 2 ;;
                -e) envs+=("$2"); shift 2 ;;
                --) shift; break ;;
                *) break ;;
            esac
        done
        [ $# -gt 0 ] || die "exec: no command"
        run_in_chroot "${binds[@]}" -- "${envs[@]}" -- "$@"
        ;;
    *)
        die "unknown command '$1' (build | exec)"
        ;;
esac
