// Serving benchmark (a script, not a test): the Gemma 3 1B shape at 4-bit with random weights, through the
// LocalBackend and its scheduler. Prints aggregate decode tokens/s with 1, 4 and 16 concurrent clients, time to
// first token of a request sharing a 2,000-token prefix against a cold one, and RSS over 1,000 sequential requests.
//   node packages/serving/dist/bench/batching.js [--work-dir DIR] [--tokens 64] [--requests 1000] [--clients 1,4,16]
import { existsSync } from "node:fs";
import { homedir, loadavg, cpus } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { lm } from "@hearth/engine";
import { collect, createLocalBackend, type GenerateEvent, type GenerateRequest } from "../src/index.js";

const { values } = parseArgs({
  options: {
    "work-dir": { type: "string" },
    tokens: { type: "string", default: "64" },
    requests: { type: "string", default: "1000" },
    "rss-tokens": { type: "string", default: "4" },
    clients: { type: "string", default: "1,4,16" },
    prefix: { type: "string", default: "2000" },
    model: { type: "string", default: "1b" },
    /** Parts to run: any of batching,ttft,rss (default all). */
    parts: { type: "string", default: "batching,ttft,rss" },
    /** Run the RSS part on this model instead (a name or folder, e.g. hearth-tiny, when the 1B is too slow here). */
    "rss-model": { type: "string" },
  },
});
const workDir = values["work-dir"] ?? process.env.HEARTH_BENCH_DIR ?? join(homedir(), ".cache", "hearth-serving-bench");
const T = Number(values.tokens);
const clientsList = values.clients!.split(",").map(Number);
const parts = new Set(values.parts!.split(","));
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const la = () => loadavg().map((x) => x.toFixed(2)).join(" ");

// `hearth bench`'s random-weight writer (packages/cli/src/bench-models.ts), reached by file path (the serving
// package depends only on the engine; this script is not part of it).
const cliDist = resolve(fileURLToPath(import.meta.url), "..", "..", "..", "..", "cli", "dist", "src");
const { ensureBenchModel, BENCH_MODELS } = (await import(pathToFileURL(join(cliDist, "bench-models.js")).href)) as {
  ensureBenchModel(workDir: string, key: string, gguf: string[], log?: (s: string) => void): string;
  BENCH_MODELS: Record<string, { label: string }>;
};

const root = ensureBenchModel(workDir, values.model!, [], log);
const q4 = join(root, "mlx-q4-g64");
if (!existsSync(join(q4, "config.json"))) {
  log(`quantizing to 4-bit (group 64) into ${q4}`);
  await lm.convert({ hfPath: join(root, "hf"), mlxPath: q4, quantize: true, qBits: 4, qGroupSize: 64, force: true });
}
log(`model: ${BENCH_MODELS[values.model!].label} 4-bit random weights (${q4}); ${cpus().length} cores; load ${la()}`);

const backend = createLocalBackend({ model: q4, maxBatch: 16, maxQueue: 256, maxTokensCap: 4096, maxPromptTokens: 16384 });
const tok = await lm.loadTokenizer(q4);
// Random weights: keep every request to exactly T tokens by ruling the end-of-sequence ids out.
const noEos: Record<number, number> = {};
for (const id of [1, 106, ...tok.eosTokenIds]) noEos[id] = -100;

async function timed(req: GenerateRequest): Promise<{ n: number; first: number; last: number; done: Extract<GenerateEvent, { type: "done" }> }> {
  let n = 0, first = 0, last = 0;
  let done: Extract<GenerateEvent, { type: "done" }> | undefined;
  for await (const e of backend.generate(req)) {
    if (e.type === "token" && e.token >= 0) {
      n++;
      last = performance.now();
      if (n === 1) first = last;
    }
    if (e.type === "done") done = e;
  }
  return { n, first, last, done: done! };
}

if (parts.has("batching") || parts.has("ttft")) {
  log("warming up");
  await collect(backend.generate({ prompt: "Warm up the model.", maxTokens: 8, logitBias: noEos }));
}

const results: Record<string, unknown> = { model: `${values.model} q4 g64 random`, cores: cpus().length };
const agg: Record<number, number> = {};
const decodeOnly: Record<number, number> = {};
for (const C of parts.has("batching") ? clientsList : []) {
  const load0 = la();
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: C }, (_, i) =>
    timed({ prompt: `Client ${i} asks question number ${i * 7 + 3}.`, maxTokens: T, logitBias: noEos })));
  const t1 = performance.now();
  const total = runs.reduce((s, r) => s + r.n, 0);
  agg[C] = total / ((t1 - t0) / 1000);
  // Decode-only: tokens after each request's first, over the span in which all of them were decoding.
  const start = Math.max(...runs.map((r) => r.first)), end = Math.min(...runs.map((r) => r.last));
  let inWindow = 0;
  for (const r of runs) inWindow += r.n > 1 ? ((r.n - 1) * Math.max(0, end - start)) / Math.max(1e-9, r.last - r.first) : 0;
  decodeOnly[C] = end > start ? inWindow / ((end - start) / 1000) : NaN;
  log(`${C} client(s): ${total} tokens in ${((t1 - t0) / 1000).toFixed(2)} s = ${agg[C].toFixed(2)} tok/s aggregate (decode-only ${decodeOnly[C].toFixed(2)} tok/s); load ${load0} → ${la()}`);
}
for (const C of parts.has("batching") ? clientsList : []) if (C !== 1 && agg[1]) log(`speed-up at ${C} clients: ${(agg[C] / agg[1]).toFixed(2)}x aggregate, ${(decodeOnly[C] / decodeOnly[1]).toFixed(2)}x decode-only`);
results.aggregateTps = agg;
results.decodeOnlyTps = decodeOnly;

// Time to first token with a shared 2,000-token prefix (a chat's system prompt) vs cold.
if (parts.has("ttft")) {
const prefixTokens = Number(values.prefix);
const words = "The serving layer keeps caches of recent prefixes so that agents and editors that resend the same context only pay for what is new.";
let system = words;
while ((tok.applyChatTemplate([{ role: "system", content: system }, { role: "user", content: "q" }], { addGenerationPrompt: true }) as number[]).length < prefixTokens)
  system += " " + words;
const turn = (q: string) => [{ role: "system" as const, content: system }, { role: "user" as const, content: q }];
const loadT = la();
const cold = await timed({ messages: turn("What is the first question?"), maxTokens: 2, logitBias: noEos });
const warm = await timed({ messages: turn("And what is the second one?"), maxTokens: 2, logitBias: noEos });
const ratio = cold.done.timeToFirstToken / warm.done.timeToFirstToken;
log(`TTFT with a ${cold.done.usage.promptTokens}-token prompt: cold ${(cold.done.timeToFirstToken * 1000).toFixed(0)} ms, ` +
  `sharing the prefix ${(warm.done.timeToFirstToken * 1000).toFixed(0)} ms (cached ${warm.done.usage.cachedTokens} tokens): ${ratio.toFixed(1)}x; load ${loadT} → ${la()}`);
results.ttft = { promptTokens: cold.done.usage.promptTokens, coldMs: cold.done.timeToFirstToken * 1000, warmMs: warm.done.timeToFirstToken * 1000, cachedTokens: warm.done.usage.cachedTokens, ratio };
}

// RSS over N sequential requests (each prompt different, so the prefix cache keeps turning over).
if (parts.has("rss")) {
const rssModel = values["rss-model"];
if (rssModel) results.rssModel = rssModel;
const N = Number(values.requests);
const rssTokens = Number(values["rss-tokens"]);
const samples: { i: number; rss: number }[] = [];
const loadR = la();
const tR = performance.now();
for (let i = 1; i <= N; i++) {
  await collect(backend.generate({ ...(rssModel ? { model: rssModel } : {}), messages: [{ role: "user", content: `Request ${i}: what comes after ${i * 13 % 997}?` }], maxTokens: rssTokens, logitBias: noEos }));
  if (i % 100 === 0 || i === 10) {
    samples.push({ i, rss: process.memoryUsage().rss });
    log(`request ${i}: rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB`);
  }
}
const after100 = samples.filter((s) => s.i >= 100).map((s) => s.rss);
const spread = (Math.max(...after100) - Math.min(...after100)) / Math.min(...after100);
log(`RSS over ${N} requests (${((performance.now() - tR) / 1000).toFixed(0)} s): ${samples.map((s) => `${s.i}:${(s.rss / 2 ** 20).toFixed(0)}`).join(" ")} MiB; ` +
  `spread from request 100 on ${(spread * 100).toFixed(1)}%; load ${loadR} → ${la()}`);
results.rss = { samples, spreadAfter100: spread };
}
await backend.close();
console.log(JSON.stringify(results, null, 2));
