#!/usr/bin/env bash
# Builds the safetensors libFuzzer target with ASan + UBSan and runs it.
#
#   packages/engine/native/io/fuzz/run.sh [seconds]     # default 600
#
# Installs nothing. Needs clang++ with libFuzzer (Debian: apt-get install -y clang).
# The fuzzer runs on a copy of corpus/ in a temp dir, so the committed corpus stays small. Environment:
#   MERGE_BACK=1   afterwards, merge inputs that add coverage back into corpus/ (-merge=1); review before committing
#   KEEP=1         keep the temp dir (it is always kept when the fuzzer fails)
#   JOBS=N         run N fuzzing processes in parallel (default 1)
set -euo pipefail

SECONDS_TO_RUN="${1:-600}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NATIVE="$(cd "$HERE/../.." && pwd)"

CXX="${CXX:-clang++}"
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "run.sh: $CXX not found. The fuzzer needs clang with libFuzzer; on Debian: apt-get install -y clang" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/hearth-safetensors-fuzz.XXXXXX")"
BIN="$WORK/safetensors_fuzz"
echo "run.sh: building in $WORK"
"$CXX" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$NATIVE" \
  "$HERE/safetensors_fuzz.cpp" "$NATIVE/io/safetensors.cpp" "$NATIVE/io/json.cpp" "$NATIVE/core/dtype.cpp" \
  -o "$BIN"

mkdir -p "$WORK/corpus" "$WORK/artifacts"
cp "$HERE"/corpus/* "$WORK/corpus/"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

JOBS="${JOBS:-1}"
PARALLEL=()
if [ "$JOBS" -gt 1 ]; then PARALLEL=(-jobs="$JOBS" -workers="$JOBS"); fi

echo "run.sh: fuzzing for ${SECONDS_TO_RUN}s"
set +e
(cd "$WORK" && "$BIN" "$WORK/corpus" \
  -dict="$HERE/safetensors.dict" \
  -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 "${PARALLEL[@]}")
STATUS=$?
set -e

if [ "$STATUS" -ne 0 ]; then
  echo "run.sh: the fuzzer FAILED (exit $STATUS); reproducers are in $WORK/artifacts/:" >&2
  ls -la "$WORK/artifacts" >&2
  echo "run.sh: reproduce with: $BIN <file>" >&2
  exit "$STATUS"
fi

echo "run.sh: corpus grew from $(ls "$HERE/corpus" | wc -l) to $(ls "$WORK/corpus" | wc -l) inputs"
if [ "${MERGE_BACK:-0}" = "1" ]; then
  echo "run.sh: merging inputs that add coverage into $HERE/corpus"
  "$BIN" -merge=1 -max_len=65536 "$HERE/corpus" "$WORK/corpus"
  du -sh "$HERE/corpus"
fi

if [ "${KEEP:-0}" = "1" ]; then
  echo "run.sh: kept $WORK"
else
  rm -rf "$WORK"
fi
echo "run.sh: no crashes, leaks or timeouts in ${SECONDS_TO_RUN}s"
