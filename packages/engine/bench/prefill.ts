// Prefill through the user's path (lm.generateStep: one DecodeLoop row, the compiled step's prefill where it has
// one) with the packed int8 prefill on and off, alternating round by round (not a test):
//   node dist/bench/prefill.js --model <folder> [--tokens 512] [--threads 2] [--rounds 5] [--cpu]
// --cpu reports process CPU time (less sensitive to a shared machine than wall time). HEARTH_ISA applies as usual.
import { lm, mx } from "../src/index.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const MODEL = flag("model", "");
if (!MODEL) throw new Error("--model <folder> is required (e.g. ~/.cache/hearth-bench/1b/mlx-q4-g64)");
const TOKENS = Number(flag("tokens", "512")), ROUNDS = Number(flag("rounds", "5"));
const CPU = argv.includes("--cpu");
mx.setNumThreads(Number(flag("threads", "2")));

const prompt = (n: number) => [2, ...Array.from({ length: n - 1 }, (_, i) => 1000 + ((i * 7919) % 200000))];
const { model } = await lm.load(MODEL, { noTokenizer: true });
const now = () => (CPU ? (process.cpuUsage().user + process.cpuUsage().system) / 1000 : performance.now());

/** Milliseconds to the first token of a TOKENS-long prompt (prefill + one decode step), with the setting `on`. */
async function prefill(on: boolean, n: number): Promise<number> {
  process.env.HEARTH_PACKED_PREFILL = on ? "1" : "0";
  const t0 = now();
  for await (const _ of lm.generateStep(model, prompt(n), { maxTokens: 1 })) break;
  return now() - t0;
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const times: Record<string, number[]> = { on: [], off: [] };
const info: Record<string, unknown> = {};
for (let r = 0; r < ROUNDS; r++)
  for (const on of r % 2 ? [false, true] : [true, false]) {
    await prefill(on, 32);  // builds (and packs) the step for this setting outside the timing
    const step = (model as unknown as { makeDecodeStep(o: object): { info?: unknown } }).makeDecodeStep({});
    info[on ? "on" : "off"] = step?.info;
    times[on ? "on" : "off"].push(await prefill(on, TOKENS));
  }
const k = mx.kernelInfo();
console.log(`prefill ${TOKENS} tokens, ${MODEL}, ${mx.numThreads()} threads, ${CPU ? "CPU" : "wall"} time, isa ${k.isa}, AMX ${k.amx}, packed kernel ${k.packed}`);
for (const key of ["on", "off"]) {
  const m = med(times[key]);
  console.log(`packed prefill ${key}: median ${m.toFixed(0)} ms = ${((TOKENS * 1000) / m).toFixed(1)} tok/s ` +
    `(rounds ${times[key].map((t) => t.toFixed(0)).join(", ")}) step ${JSON.stringify(info[key])}`);
}
console.log(`ratio on/off (tok/s): ${(med(times.off) / med(times.on)).toFixed(2)}`);
