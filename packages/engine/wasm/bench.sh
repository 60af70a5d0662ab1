#!/bin/bash
# Decode speed, load time and peak memory, WebAssembly against the native addon on this machine, 1 and 2 threads:
# hearth-tiny (bundled) and the Gemma 3 270M shape with random weights in 4 bits (g64): the saved mlx-q4-g64
# folder when there, else the bf16 folder quantized at load.
# Needs a built tree (pnpm run build) and, for 270m, `hearth bench --models 270m --engines hearth` run once so
# the random-weight folder exists in ~/.cache/hearth-bench (or $HEARTH_BENCH_DIR). Prints one line per run.
# Usage: packages/engine/wasm/bench.sh [prompt-tokens=32] [decode-tokens=32]
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
child="$root/packages/cli/dist/src/bench-child.js"
pt="${1:-32}" dt="${2:-32}"
m270="${HEARTH_BENCH_DIR:-$HOME/.cache/hearth-bench}/270m"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
run() {  # backend threads label path quantize-json
  local spec="{\"engine\":\"hearth\",\"path\":\"$4\",\"threads\":$2,\"promptTokens\":$pt,\"decodeTokens\":$dt$5}"
  local line
  line="$(HEARTH_BACKEND=$1 HEARTH_THREADS=$2 timeout 900 node "$child" "$spec" 2>/dev/null | grep '^BENCH_RESULT ' | cut -d' ' -f2-)"
  node -e 'const r = JSON.parse(process.argv[1]); console.log(`${process.argv[2].padEnd(6)} ${process.argv[3]} threads ${String(r.info.threads).padEnd(2)} ${process.argv[4].padEnd(14)} load ${r.loadSeconds.toFixed(2)} s  prefill ${r.prefillTps.toFixed(1)} tok/s  decode ${r.decodeTps.toFixed(1)} tok/s  peak RSS ${r.peakRssMB.toFixed(0)} MB  engine peak ${r.info.peakEngineMB.toFixed(0)} MB  (load avg ${require("os").loadavg()[0].toFixed(2)})`)' "$line" "$1" "$2" "$3"
}
for model in tiny 270m-q4; do
  for threads in 1 2; do
    for backend in native wasm; do
      if [ "$model" = tiny ]; then run $backend $threads hearth-tiny "$root/packages/engine/models/hearth-tiny" ""
      elif [ -d "$m270/mlx-q4-g64" ]; then run $backend $threads 270m-4bit "$m270/mlx-q4-g64" ""  # saved 4-bit g64
      elif [ -d "$m270/hf" ]; then run $backend $threads 270m-4bit "$m270/hf" ',"quantize":{"bits":4,"groupSize":64}'
      fi
    done
  done
done
