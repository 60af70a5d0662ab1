#!/bin/bash
# CI check: a clean clone installs and runs `hearth generate` on hearth-tiny where cmake and the C++ compilers
# are hidden from PATH, so the engine must fall back to the committed WebAssembly build.
# Usage: packages/engine/wasm/ci-no-toolchain.sh [repo-dir]   (default: this checkout; its HEAD is cloned)
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/../../..}" && pwd)"
work="$(mktemp -d /tmp/hearth-notoolchain.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# A PATH of symlinks to every program on the current PATH except the build tools.
mkdir -p "$work/bin"
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name="$(basename "$f")"
    case "$name" in
      cmake|ccmake|ctest|cpack|g++*|gcc*|c++*|cc|clang*|x86_64-linux-gnu-g++*|x86_64-linux-gnu-gcc*|em++|emcc|make|ninja) continue ;;
    esac
    [ -x "$f" ] && [ ! -e "$work/bin/$name" ] && ln -s "$f" "$work/bin/$name"
  done
done
export PATH="$work/bin"
for tool in cmake g++ c++ gcc clang++; do
  if command -v "$tool" >/dev/null 2>&1; then echo "FAIL: $tool is still on PATH" >&2; exit 1; fi
done

git clone -q "$repo" "$work/hearth"
cd "$work/hearth"
start=$(date +%s)
npx -y pnpm@10 install --frozen-lockfile
npx -y pnpm@10 run build 2>&1 | tee "$work/build.log"
grep -q "build:native skipped" "$work/build.log" || { echo "FAIL: build:native did not report the skip" >&2; exit 1; }
[ ! -e packages/engine/build/Release/hearth_native.node ] || { echo "FAIL: a native addon was built" >&2; exit 1; }

# `hearth` as the package's bin (packages/cli), on the model that ships in the engine package.
out="$(HEARTH_THREADS=2 timeout 300 node packages/cli/dist/src/main.js generate --model hearth-tiny --prompt "What is 71 - 53?" --max-tokens 16 2>"$work/err.log")"
cat "$work/err.log" >&2
echo "$out"
grep -q "using the WebAssembly engine" "$work/err.log" || { echo "FAIL: no fallback line on stderr" >&2; exit 1; }
echo "$out" | grep -qw 18 || { echo "FAIL: the answer does not contain 18" >&2; exit 1; }
echo "ok: hearth generate ran on WebAssembly without cmake or g++ ($(( $(date +%s) - start )) s for install, build and generate)"
