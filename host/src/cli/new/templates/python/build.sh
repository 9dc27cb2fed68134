#!/bin/sh
# Build the {{name}} step into build/{{name}}.wasm: componentize-py makes
# src/app.py, the SDK in sdk/ and the contract in wit/ one component, with a
# CPython interpreter inside.
#
# COMPONENTIZE_PY: the componentize-py command to use. Default:
# .venv/bin/componentize-py, installed (once) with pip at the version
# promwasm's own Python steps are built with, {{componentize_py}}.
set -eu
cd "$(dirname "$0")"
if [ -z "${COMPONENTIZE_PY:-}" ]; then
    COMPONENTIZE_PY=.venv/bin/componentize-py
    if [ "$("$COMPONENTIZE_PY" --version 2>/dev/null || true)" != "componentize-py {{componentize_py}}" ]; then
        if ! command -v python3 >/dev/null; then
            echo "build.sh: building a Python step needs python3 with venv to install componentize-py;" >&2
            echo "  install it (Debian/Ubuntu: sudo apt install python3 python3-venv), or set COMPONENTIZE_PY" >&2
            exit 127
        fi
        [ -x .venv/bin/pip ] || python3 -m venv .venv
        .venv/bin/pip install --quiet --disable-pip-version-check "componentize-py=={{componentize_py}}"
    fi
fi
mkdir -p build
# Only src/ and sdk/ go into the component: not an activated virtualenv.
env -u VIRTUAL_ENV "$COMPONENTIZE_PY" -d wit -w step componentize app \
    -p src -p sdk -o build/{{name}}.wasm.partial
# Renamed when whole: promwasm never reads half a component.
mv build/{{name}}.wasm.partial build/{{name}}.wasm
echo "built build/{{name}}.wasm"
