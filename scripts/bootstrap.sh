#!/usr/bin/env bash
# Install what npdehw needs, skipping whatever is already there:
#   - ngspice and its shared library (Debian packages ngspice, libngspice0-dev),
#   - a virtual environment in .venv with a CPU build of torch and the package.
# Sourced by scripts/run and scripts/test. Environment:
#   PYTHON          interpreter for the virtual environment (default python3, needs 3.11+)
#   NPDEHW_TORCH    pip requirement for torch (default torch==2.13.0, a CPU build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
python=${PYTHON:-python3}
torch_requirement=${NPDEHW_TORCH:-torch==2.13.0}

say() { printf 'npdehw setup: %s\n' "$*" >&2; }

ngspice_ready() {
    command -v ngspice >/dev/null 2>&1 &&
        "$python" -c "import ctypes; ctypes.CDLL('libngspice.so')" >/dev/null 2>&1
}

install_ngspice() {
    ngspice_ready && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ngspice and libngspice0-dev with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngspice libngspice0-dev >/dev/null
        ngspice_ready && return 0
    fi
    say "ngspice or its shared library libngspice.so is missing and cannot be installed here."
    say "Install it as root, then run this command again:"
    say "    Debian or Ubuntu: apt-get install ngspice libngspice0-dev"
    say "    elsewhere: ngspice and its shared library from the system's package manager"
    say "Or point NGSPICE_LIBRARY_PATH at a libngspice shared library."
    exit 1
}

make_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            say "$python is $("$python" --version 2>&1); npdehw needs Python 3.11 or newer (set PYTHON)"
            exit 1
        }
        say "creating the virtual environment $venv"
        "$python" -m venv "$venv"
    fi
}

install_packages() {
    local stamp="$venv/.npdehw-installed"
    local wanted
    wanted="$(cat "$root/pyproject.toml") $torch_requirement"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        return 0
    fi
    local log="$venv/pip.log"
    if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
        say "installing $torch_requirement (log: $log)"
        "$venv/bin/python" -m pip install -q "$torch_requirement" >"$log" 2>&1 ||
            { tail -n 20 "$log" >&2; exit 1; }
    fi
    say "installing npdehw and its Python dependencies (log: $log)"
    "$venv/bin/python" -m pip install -q -e "$root[test]" >>"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; exit 1; }
    printf '%s' "$wanted" >"$stamp"
}

install_ngspice
make_venv
install_packages
