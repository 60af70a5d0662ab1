#!/bin/sh
# Builds the WebAssembly engine into packages/engine/wasm/prebuilt (committed, so installs need no compiler).
# Needs Debian's emscripten (apt-get install emscripten) and `pnpm install` (for emnapi and node-addon-api).
set -e
cd "$(dirname "$0")"
if ! command -v em++ >/dev/null 2>&1; then
  echo "wasm/build.sh: em++ not found (apt-get install emscripten); the committed prebuilt/ stays as it is" >&2
  exit 1
fi
# Debian's emscripten runs its JS compiler with the system node and finds acorn there.
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
exec make -j"${JOBS:-2}" "$@"
