# Sourced by the test scripts that need a Python virtualenv (tests/e2e/run.sh, tests/install/run.sh).
#
# make_venv PYTHON DIR: creates a virtualenv with pip in DIR. Debian's python3 has no `venv` module
# without the python3-venv package: when `PYTHON -m venv` cannot work, running as root with apt-get,
# the package is installed (once); otherwise the error says what to install.
make_venv() {
    local python=$1 dir=$2 version
    if "$python" -m venv "$dir" 2>/dev/null; then
        return 0
    fi
    rm -rf "$dir"
    version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "'$python -m venv' failed: installing python$version-venv with apt-get" >&2
        apt-get install -y --no-install-recommends "python$version-venv" >&2 ||
            { apt-get update >&2 && apt-get install -y --no-install-recommends "python$version-venv" >&2; }
        "$python" -m venv "$dir"
        return
    fi
    echo "'$python -m venv $dir' failed: install your distribution's python$version-venv package" >&2
    return 1
}
