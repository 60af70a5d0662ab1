// One measured run of one engine on one model file, in its own process (so peak RSS is that engine's alone).
// Usage: node bench-child.js '<json RunSpec>'; prints one line `BENCH_RESULT {json}` on stdout.
// Hearth runs the path users run: lm.generateStep (the token stream of generate / streamGenerate, one DecodeLoop
// row, its default prefill chunk) at batch 1; a DecodeLoop with N rows (what batchGenerate and the server run)
// at batch N.
import { readFileSync } from "node:fs";
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
  /** Rows decoded together (default 1): decodeTps is then the aggregate over the rows. */
  batch?: number;
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

/** A deterministic prompt: <bos> then ids spread over the vocabulary (content is irrelevant to speed); row r of a batch differs. */
export function benchPrompt(n: number, row = 0): number[] {
  const p = [2];
  for (let i = 1; i < n; i++) p.push(1000 + ((i * 7919 + row * 104729) % 200000));
  return p;
}

/**
 * This process's peak resident set in MB: VmHWM of its own address space. process.resourceUsage().maxRSS is not
 * that: Linux carries the parent's peak into a child across fork + exec, so every child of a parent that held a
 * model reported the parent's figure (the same RSS for both engines in issue 15's table).
 */
export function peakRssMB(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back below
  }
  return process.resourceUsage().maxRSS / 1024;
}

async function runHearth(spec: RunSpec): Promise<RunResult> {
  const { mx, lm } = await import("@hearth/engine");
  mx.setNumThreads(spec.threads);
  const t0 = performance.now();
  const { model, config } = await lm.load(spec.path, { noTokenizer: true });
  if (spec.quantize) {
    // What lm.convert does (a multimodal model's vision tower and projector stay in float).
    lm.quantizeLoadedModel(model, config, spec.quantize.groupSize, spec.quantize.bits);
    mx.eval(model.parameters());
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const compile = spec.compile ?? true;
  const batch = spec.batch ?? 1;
  // Greedy, exactly n tokens (no EOS: generateStep stops only at maxTokens), prompt chunks as generate cuts them.
  const single = async (p: number[], n: number) => {
    const t0 = performance.now();
    let t1 = t0;
    const tokens: number[] = [];
    for await (const { token } of lm.generateStep(model, p, { maxTokens: n, compile }))
      if (tokens.push(token) === 1) t1 = performance.now();
    return { tokens, prefillSeconds: (t1 - t0) / 1000, decodeSeconds: (performance.now() - t1) / 1000, decoded: n - 1 };
  };
  // N rows in one DecodeLoop: prefill is timed until every row has its first token; decode over n steps of the
  // whole batch after that (every row has tokens left, so each step decodes all N rows).
  const batched = async (n: number) => {
    const loop = new lm.DecodeLoop(model, { compile });
    const t0 = performance.now();
    for (let b = 0; b < batch; b++) loop.insert({ prompt: benchPrompt(spec.promptTokens, b), maxTokens: n + batch + 2 });
    const started = new Set<number>();
    const tokens: number[] = [];
    while (started.size < batch) for (const ev of await loop.step()) if (ev.token >= 0) started.add(ev.rowId), tokens.push(ev.token);
    const t1 = performance.now();
    let decoded = 0;
    for (let i = 0; i < n; i++) decoded += (await loop.step()).length;
    const t2 = performance.now();
    loop.dispose();
    return { tokens, prefillSeconds: (t1 - t0) / 1000, decodeSeconds: (t2 - t1) / 1000, decoded };
  };
  await single(benchPrompt(32), 4);  // warm-up: page in the weights, build the decode step
  const r = batch === 1 ? await single(benchPrompt(spec.promptTokens), spec.decodeTokens + 1) : await batched(spec.decodeTokens);
  type StepMaker = { makeDecodeStep?(o: object): { info?: Record<string, unknown> } | undefined };
  const step = compile ? (model as StepMaker).makeDecodeStep?.({}) : undefined;
  // Which layout was loaded, and whose compiled step decoded: the multimodal Gemma 3 delegates makeDecodeStep to its
  // language model, which caches the step per weights, so the same object back from it means the run used that one.
  const inner = (model as { language_model?: StepMaker }).language_model;
  const layout = {
    modelType: String((model as { modelType?: string }).modelType ?? "unknown"),
    architecture: String(config.architectures?.[0] ?? "unknown"),
    visionTower: "vision_tower" in model,
    decodeStepFrom: !step ? null : inner?.makeDecodeStep && inner.makeDecodeStep({}) === step ? "language_model" : "model",
  };
  return {
    engine: "hearth",
    loadSeconds,
    prefillTps: (batch * spec.promptTokens) / r.prefillSeconds,
    decodeTps: r.decoded / r.decodeSeconds,
    peakRssMB: peakRssMB(),
    tokens: r.tokens.slice(0, 8),
    info: {
      threads: mx.numThreads(), peakEngineMB: mx.getPeakMemory() / 2 ** 20, compile, batch, layout,
      kernels: { ...mx.kernelInfo(), hearthIsa: process.env.HEARTH_ISA ?? null, decodeStep: step?.info ?? null },
    },
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
  const batch = spec.batch ?? 1;
  const perSeq = spec.promptTokens + spec.decodeTokens + 64;
  const context = await model.createContext({
    contextSize: perSeq * batch, batchSize: spec.promptTokens, threads: spec.threads, sequences: batch,
  });
  const loadSeconds = (performance.now() - t0) / 1000;
  const sequences = Array.from({ length: batch }, () => context.getSequence());
  // Generates exactly n tokens per sequence (end-of-generation tokens are yielded and fed back like any other);
  // the sequences run concurrently, and node-llama-cpp batches their evaluations into one llama_decode per step.
  const generate = async (prompts: number[][], n: number) => {
    const ts = performance.now();
    const stamps: number[][] = prompts.map(() => []);
    const all = await Promise.all(prompts.map(async (p, b) => {
      const tokens: number[] = [];
      for await (const tok of sequences[b].evaluate(p, { temperature: 0, yieldEogToken: true })) {
        stamps[b].push(performance.now());
        tokens.push(tok);
        if (tokens.length >= n) break;
      }
      return tokens;
    }));
    const tEnd = performance.now();
    // Decode counts the tokens after every row had its first one (a row that started early decoded meanwhile).
    const tFirst = Math.max(...stamps.map((x) => x[0]));
    const decoded = stamps.reduce((a, x) => a + x.filter((t) => t > tFirst).length, 0);
    return { tokens: all[0], prefillSeconds: (tFirst - ts) / 1000, decodeSeconds: (tEnd - tFirst) / 1000, decoded };
  };
  await generate([benchPrompt(32)], 4);
  await sequences[0].clearHistory();
  const r = await generate(sequences.map((_, b) => benchPrompt(spec.promptTokens, b)), spec.decodeTokens + 1);
  const out: RunResult = {
    engine: "llama.cpp",
    loadSeconds,
    prefillTps: (batch * spec.promptTokens) / r.prefillSeconds,
    decodeTps: r.decoded / r.decodeSeconds,
    peakRssMB: peakRssMB(),
    tokens: r.tokens.slice(0, 8),
    info: { threads: context.currentThreads, flashAttention: context.flashAttention, batch },
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
