// One measured run of one engine on one model file, in its own process (so peak RSS is that engine's alone).
// Usage: node bench-child.js '<json RunSpec>'; prints one line `BENCH_RESULT {json}` on stdout.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

export interface RunSpec {
  engine: "hearth" | "llama.cpp";
  /** hearth: an HF-style folder; llama.cpp: a .gguf file. */
  path: string;
  threads: number;
  promptTokens: number;
  decodeTokens: number;
  /** node-llama-cpp's package folder (bench/peers/node_modules/node-llama-cpp). */
  peerDir?: string;
  /** hearth: a quantization to apply at load ({ bits, groupSize }) when the folder holds bf16 weights. */
  quantize?: { bits: number; groupSize: number };
  /** hearth: mx.compile the decode step. */
  compile?: boolean;
}

export interface RunResult {
  engine: string;
  loadSeconds: number;
  prefillTps: number;
  decodeTps: number;
  peakRssMB: number;
  tokens: number[];
  info: Record<string, unknown>;
}

/** A deterministic prompt: <bos> then ids spread over the vocabulary (content is irrelevant to speed). */
export function benchPrompt(n: number): number[] {
  const p = [2];
  for (let i = 1; i < n; i++) p.push(1000 + ((i * 7919) % 200000));
  return p;
}

async function runHearth(spec: RunSpec): Promise<RunResult> {
  const { mx, lm } = await import("@hearth/engine");
  mx.setNumThreads(spec.threads);
  const t0 = performance.now();
  const { model } = await lm.load(spec.path, { noTokenizer: true });
  if (spec.quantize) {
    const nn = (await import("@hearth/engine")).nn as Record<string, any>;
    if (typeof nn.quantize !== "function") throw new Error("this build has no nn.quantize");
    nn.quantize(model, { groupSize: spec.quantize.groupSize, bits: spec.quantize.bits });
    mx.eval(model.parameters());
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const prompt = benchPrompt(spec.promptTokens);
  const opts = { compile: spec.compile ?? true };
  // Greedy, exactly n tokens (no EOS), as one row of the decode loop that generate runs; the prompt in one chunk.
  const greedy = async (p: number[], n: number) => {
    const loop = new lm.DecodeLoop(model, { compile: opts.compile, prefillChunk: p.length });
    const t0 = performance.now();
    let t1 = t0;
    const tokens: number[] = [];
    loop.insert({ prompt: p, maxTokens: n });
    while (loop.size) for (const ev of await loop.step()) if (tokens.push(ev.token) === 1) t1 = performance.now();
    loop.dispose();
    return { tokens, prefillSeconds: (t1 - t0) / 1000, decodeSeconds: (performance.now() - t1) / 1000 };
  };
  await greedy(prompt.slice(0, 32), 4);  // warm-up: page in the weights
  const r = await greedy(prompt, spec.decodeTokens + 1);
  return {
    engine: "hearth",
    loadSeconds,
    prefillTps: spec.promptTokens / r.prefillSeconds,
    decodeTps: spec.decodeTokens / r.decodeSeconds,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    tokens: r.tokens.slice(0, 8),
    info: { threads: mx.numThreads(), peakEngineMB: mx.getPeakMemory() / 2 ** 20, compile: opts.compile },
  };
}

async function runLlama(spec: RunSpec): Promise<RunResult> {
  if (!spec.peerDir) throw new Error("no node-llama-cpp folder given");
  const nlc = await import(pathToFileURL(join(spec.peerDir, "dist", "index.js")).href);
  const llama = await nlc.getLlama({
    gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
    logLevel: nlc.LlamaLogLevel.error, maxThreads: spec.threads,
  });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: spec.path, gpuLayers: 0, useMmap: true });
  const context = await model.createContext({
    contextSize: spec.promptTokens + spec.decodeTokens + 64, batchSize: spec.promptTokens, threads: spec.threads, sequences: 1,
  });
  const loadSeconds = (performance.now() - t0) / 1000;
  const sequence = context.getSequence();
  const prompt = benchPrompt(spec.promptTokens);
  // Generates exactly n tokens (end-of-generation tokens are yielded and fed back like any other).
  const generate = async (p: number[], n: number) => {
    const tokens: number[] = [];
    const ts = performance.now();
    let tFirst = ts;
    for await (const tok of sequence.evaluate(p, { temperature: 0, yieldEogToken: true })) {
      if (tokens.length === 0) tFirst = performance.now();
      tokens.push(tok);
      if (tokens.length >= n) break;
    }
    return { tokens, prefillSeconds: (tFirst - ts) / 1000, decodeSeconds: (performance.now() - tFirst) / 1000 };
  };
  await generate(prompt.slice(0, 32), 4);
  await sequence.clearHistory();
  const r = await generate(prompt, spec.decodeTokens + 1);
  const out: RunResult = {
    engine: "llama.cpp",
    loadSeconds,
    prefillTps: spec.promptTokens / r.prefillSeconds,
    decodeTps: spec.decodeTokens / r.decodeSeconds,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    tokens: r.tokens.slice(0, 8),
    info: { threads: context.currentThreads, flashAttention: context.flashAttention },
  };
  await context.dispose();
  await model.dispose();
  return out;
}

export async function runChild(spec: RunSpec): Promise<RunResult> {
  return spec.engine === "hearth" ? runHearth(spec) : runLlama(spec);
}

// Entry point when run as a script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const spec = JSON.parse(process.argv[2] ?? "{}") as RunSpec;
  runChild(spec).then(
    (r) => {
      process.stdout.write(`BENCH_RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e) => {
      process.stdout.write(`BENCH_ERROR ${JSON.stringify(String(e?.stack ?? e))}\n`);
      process.exit(1);
    },
  );
}
