#!/bin/sh
# Build the {{name}} step into build/{{name}}.wasm: jco's QuickJS backend
# makes src/step.js, the SDK in sdk/ and the contract in wit/ one component.
#
# JCO: the jco command to use. Default: node_modules/.bin/jco, installed by
# `npm install` (once) at the version package.json and package-lock.json pin.
set -eu
cd "$(dirname "$0")"
if [ -z "${JCO:-}" ]; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "build.sh: building a JavaScript step needs Node.js 20 or newer and npm;" >&2
        echo "  install them (Debian/Ubuntu: sudo apt install nodejs npm), or set JCO to a jco command" >&2
        exit 127
    fi
    if [ ! -x node_modules/.bin/jco ]; then
        npm install --ignore-scripts --no-audit --no-fund
    fi
    JCO=node_modules/.bin/jco
fi
mkdir -p build
# --backend-qjs-disable-async: promwasm runs each stage as one synchronous
# call (its engine has no component-model async ABI, and refuses components
# that need it). --cwd: QuickJS resolves imports at build time, under it.
"$JCO" componentize src/step.js --wit wit --world-name step \
    --backend quickjs --backend-qjs-disable-async --cwd . \
    -o build/{{name}}.wasm.partial
# Renamed when whole: promwasm never reads half a component.
mv build/{{name}}.wasm.partial build/{{name}}.wasm
echo "built build/{{name}}.wasm"
