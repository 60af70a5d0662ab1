#!/bin/sh
# Builds the WebAssembly engine into packages/engine/wasm/prebuilt (committed, so installs need no compiler):
#   packages/engine/wasm/build.sh          both builds (one thread, pthreads), then records the inputs' hashes
#                                          in prebuilt/SOURCES.sha256 (checked by `pnpm run check:wasm-prebuilt`)
#   packages/engine/wasm/build.sh st|mt    one of them only (no hash record)
# Needs Debian's emscripten (apt-get install emscripten) and `pnpm install` (for emnapi and node-addon-api).
# Objects go to packages/engine/build-wasm (incremental); JOBS=n sets make's parallelism (default: all cores).
set -e
cd "$(dirname "$0")"
if ! command -v em++ >/dev/null 2>&1; then
  echo "wasm/build.sh: em++ not found (apt-get install emscripten); the committed prebuilt/ stays as it is" >&2
  exit 1
fi
# Debian's emscripten runs its JS compiler with the system node and finds acorn there.
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
make -j"${JOBS:-$(nproc)}" "$@"
if [ $# -eq 0 ]; then
  node sources-hash.mjs --write
  ls -l prebuilt
fi
