#!/bin/bash
# Record of the script that produced docs/bench-results/2026-12-07-xeon-* on the device machine's CPU (not run by CI
# or tests). It expected: node at /root/speednode/node (carried xz-compressed in an earlier call), and
# .speedbench/a/app.tar.xz = a bundle of this repo's built packages/engine (dist, build/Release/hearth_native.node,
# runtime node_modules), packages/cli/dist and bench/peers (node-llama-cpp 3.22.1), plus mk.mjs (writes the bench
# models with ensureBenchModel + lm.convert) and br.mjs (calls runBench). Note: $OUT returns at most 8 files.
# One device call: machine info, bench models, hearth bench (default ISA), batched decode, no-AMX / AVX2 paths,
# f32 GEMM vs numpy. Every step is bounded by what is left of a 570 s budget; lower-priority steps are skipped.
R=$PWD; L=/root/out; mkdir -p $L
export PATH=/root/speednode:$PATH
left() { echo $((570 - SECONDS)); }
step() { local name=$1; shift; local t=$(left); if [ $t -lt 20 ]; then echo "SKIP $name (time)" | tee -a $L/steps.log; return; fi
  echo "== $name start ${SECONDS}s load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $L/steps.log
  timeout $t "$@"; echo "== $name end ${SECONDS}s rc $? load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $L/steps.log; }
{ lscpu; echo; nproc; free -g; uptime; node --version; python3 -c "import numpy; print(numpy.__version__); numpy.show_config()"; } > $L/machine.txt 2>&1
grep -E "Model name|Vendor|Flags" $L/machine.txt | cut -c1-300
mkdir -p /root/sb && tar -xJf .speedbench/a/app.tar.xz -C /root/sb
A=/root/sb/app
mkdir -p $A/packages/engine/test/fixtures && cp -r $R/packages/engine/test/fixtures/tokenizer-gemma3 $A/packages/engine/test/fixtures/
cp .speedbench/a/mk.mjs .speedbench/a/br.mjs $A/packages/cli/dist/
export HEARTH_BENCH_DIR=/root/hb HEARTH_BENCH_PEERS=$A/bench/peers
cd $A/packages/cli
node dist/mk.mjs 270m > $L/mk270.log 2>&1 & P=$!
step mk1b node dist/mk.mjs 1b > $L/mk1b.log 2>&1; wait $P; tail -2 $L/mk270.log $L/mk1b.log
B="node dist/br.mjs --threads 2"
step default $B --models 270m,1b --repeats 3 --decode-tokens 64 --json $L/default.json > $L/default.txt 2>&1; cat $L/default.txt | grep -v "^\[bench"
for n in 1 4 16; do step batch$n $B --models 1b --formats q4 --batch $n --prompt-tokens 128 --decode-tokens 32 --repeats 1 --bandwidth-mb 256 --json $L/batch$n.json > $L/batch$n.txt 2>&1; grep -E "^\| 1b|^batch" $L/batch$n.txt; done
for isa in avx512 avx2; do HEARTH_ISA=$isa step isa-$isa $B --models 1b,270m --engines hearth --repeats 2 --decode-tokens 64 --bandwidth-mb 256 --json $L/isa-$isa.json > $L/isa-$isa.txt 2>&1; grep -E "^\| (1b|270m)|^kernels" $L/isa-$isa.txt | cut -c1-400; done
cd $A/packages/engine && step gemm node dist/bench/gemm.js --threads 2 --rounds 5 > $L/gemm.txt 2>&1; cat $L/gemm.txt
cd $L && tar czf $OUT/results.tgz . && cp $L/default.txt $L/machine.txt $OUT/ 2>/dev/null; echo total ${SECONDS}s
