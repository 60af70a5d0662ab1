#!/bin/bash
# arm64 check: cross-compiles the native addon for aarch64 Linux with Debian's g++-aarch64-linux-gnu (portable
# paths plus the NEON kernels of backend/cpu/*_vec128.cpp) and runs op tests and a hearth-tiny generation under
# qemu-user with Debian's arm64 Node. Speed is not a goal there (qemu), correctness is.
# Needs (root, once): dpkg --add-architecture arm64 && apt-get update &&
#   apt-get install -y g++-aarch64-linux-gnu qemu-user
# and `pnpm run build` (dist/) in this checkout. The arm64 Node (Debian's nodejs 18 and its libraries) is
# fetched with apt-get download into $ARM64_ROOT (default /tmp/hearth-arm64) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="$(pwd)"
ROOT="${ARM64_ROOT:-/tmp/hearth-arm64}"
OUT="$ENGINE/build-arm64"
CXX="aarch64-linux-gnu-g++"
command -v "$CXX" >/dev/null || { echo "arm64-check: $CXX missing (apt-get install g++-aarch64-linux-gnu)" >&2; exit 1; }
command -v qemu-aarch64 >/dev/null || { echo "arm64-check: qemu-aarch64 missing (apt-get install qemu-user)" >&2; exit 1; }
command -v ccache >/dev/null && CXX="ccache $CXX"

# ---- the arm64 Node and its libraries, unpacked (not installed) ----
if [ ! -x "$ROOT/root/usr/bin/node" ]; then
  mkdir -p "$ROOT/debs" && cd "$ROOT/debs"
  apt-get download nodejs:arm64 libnode108:arm64 libbrotli1:arm64 libc-ares2:arm64 libicu72:arm64 \
    libnghttp2-14:arm64 libssl3:arm64 libuv1:arm64 zlib1g:arm64 node-cjs-module-lexer node-undici node-acorn
  for f in *.deb; do dpkg-deb -x "$f" "$ROOT/root"; done
  # qemu's -L prefix: the cross toolchain's libc plus Node's externalized builtins under /usr/share/nodejs.
  mkdir -p "$ROOT/sysroot/usr/share"
  cp -a /usr/aarch64-linux-gnu/. "$ROOT/sysroot/"
  cp -a "$ROOT/root/usr/share/nodejs" "$ROOT/sysroot/usr/share/"
  cd "$ENGINE"
fi

# ---- cross-compile the addon ----
mkdir -p "$OUT/obj"
NAPI_INC="$(node -p "require('node-addon-api').include_dir")"
NODE_INC="$(node -p "require('node-api-headers').include_dir")"
FLAGS="-O2 -DNDEBUG -std=c++17 -fPIC -fno-math-errno -Wall -Wno-unused-function -Wno-sign-compare -Inative -I$NAPI_INC -I$NODE_INC \
  -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_ADDON_API_CPP_EXCEPTIONS"
SRCS=$(find native -name '*.cpp' -not -path '*/tests/*' -not -path '*/io/fuzz/*' -not -name '*_avx2.cpp' \
  -not -name '*_avx512.cpp' -not -name '*_amx.cpp' | sort)
echo "arm64-check: compiling $(echo "$SRCS" | wc -l) files for aarch64"
export CXX FLAGS OUT
echo "$SRCS" | xargs -P "${JOBS:-2}" -I{} sh -c 'o="$OUT/obj/$(echo {} | tr / _).o"; [ "$o" -nt {} ] || $CXX $FLAGS -c {} -o "$o"'
aarch64-linux-gnu-g++ -shared -o "$OUT/hearth_native.node" "$OUT"/obj/*.o -lpthread
file "$OUT/hearth_native.node" | grep -q "ARM aarch64" || { echo "arm64-check: not an aarch64 object" >&2; exit 1; }

# ---- run under qemu-user ----
LIBS="$ROOT/root/usr/lib/aarch64-linux-gnu:$ROOT/root/lib/aarch64-linux-gnu"
node_arm64() {
  HEARTH_BACKEND=native HEARTH_ADDON="$OUT/hearth_native.node" \
    qemu-aarch64 -L "$ROOT/sysroot" -E LD_LIBRARY_PATH="$LIBS" "$ROOT/root/usr/bin/node" "$@"
}
node_arm64 --input-type=module -e "import { mx } from './dist/src/index.js'; console.log('arm64 backend:', JSON.stringify(mx.backendInfo()), process.arch)"
TESTS="${ARM64_TESTS:-dist/test/ops-elementwise.test.js dist/test/quantize.test.js dist/test/qmv-int8.test.js}"
node_arm64 --test $TESTS
out="$(node_arm64 dist/src/cli/main.js generate --model hearth-tiny --prompt "What is 71 - 53?" --max-tokens 12)"
echo "generate: $out"
echo "$out" | grep -qw 18 || { echo "arm64-check: the answer does not contain 18" >&2; exit 1; }
echo "arm64-check: ok"
