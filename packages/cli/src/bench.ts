// `hearth bench`: Hearth's Gemma 3 prefill/decode against llama.cpp (node-llama-cpp's prebuilt CPU build) on
// the same random-weight models, same thread count, in one run. Each measurement is a fresh child process per
// engine (peak RSS is per engine), engines alternate, and the table shows medians.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, loadavg, cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { lm } from "@hearth/engine";
import { BENCH_MODELS, ensureBenchModel } from "./bench-models.js";
import type { RunResult, RunSpec } from "./bench-child.js";
import { flag, HELP, helpText, num, parse, str, UsageError, type CommandSpec } from "./args.js";

export const NODE_LLAMA_CPP_VERSION = "3.22.1";

interface Format {
  key: string;
  ours: string;
  llama: string;
  /** Bits per weight of both sides' formats (ours: group 64 with bf16 scale and bias; ggml: 32-value blocks with an fp16 scale). */
  bits: number;
  quantize?: { bits: number; groupSize: number };
}
const FORMATS: Record<string, Format> = {
  bf16: { key: "bf16", ours: "bf16", llama: "BF16", bits: 16 },
  q8: { key: "q8", ours: "8-bit g64", llama: "Q8_0", bits: 8.5, quantize: { bits: 8, groupSize: 64 } },
  q4: { key: "q4", ours: "4-bit g64", llama: "Q4_0", bits: 4.5, quantize: { bits: 4, groupSize: 64 } },
};

export interface BenchOptions {
  models: string[];
  formats: string[];
  threads: number;
  promptTokens: number;
  decodeTokens: number;
  repeats: number;
  workDir: string;
  peers?: string;
  engines: string[];
  json?: string;
  bandwidthBytes: number;
  installPeers: boolean;
  /** Compile Hearth's decode step (default); --no-compile runs the model's plain forward per token. */
  compile: boolean;
  /** Before each run, wait (up to 5 min) until the CPUs are at least this idle over 2 s (0..1), e.g. 0.9. */
  waitIdle?: number;
  /** Rows decoded together (DecodeLoop rows / llama.cpp sequences); decode tok/s is then the aggregate. */
  batch: number;
}

export const spec: CommandSpec = {
  name: "bench",
  summary: "Benchmark Gemma 3 prefill/decode (random weights, published shapes) against llama.cpp (node-llama-cpp) on this machine.",
  usage: "hearth bench [options]",
  options: {
    models: { type: "string", arg: "270m,1b[,4b]", default: "270m,1b", desc: "Models (random weights, published Gemma 3 shapes)." },
    formats: { type: "string", arg: "bf16,q8,q4", default: "bf16,q8,q4", desc: "Ours bf16 | 8-bit g64 | 4-bit g64 vs BF16 | Q8_0 | Q4_0." },
    threads: { type: "string", arg: "n", default: 2, desc: "Threads for both engines." },
    "prompt-tokens": { type: "string", arg: "n", default: 512, desc: "Prefill length." },
    "decode-tokens": { type: "string", arg: "n", default: 128, desc: "Decoded tokens (EOS ignored)." },
    repeats: { type: "string", arg: "n", default: 3, desc: "Runs per engine (median reported)." },
    engines: { type: "string", arg: "hearth,llama.cpp", default: "hearth,llama.cpp", desc: "Which sides to run." },
    "work-dir": { type: "string", arg: "dir", default: "~/.cache/hearth-bench", desc: "Model cache ($HEARTH_BENCH_DIR)." },
    peers: { type: "string", arg: "dir", default: "<repo>/bench/peers", desc: "Folder where node-llama-cpp is installed." },
    "install-peers": { type: "boolean", desc: `Install node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (CPU build only) into the peers folder first.` },
    "bandwidth-mb": { type: "string", arg: "n", default: 1024, desc: "Read-bandwidth probe buffer (MiB)." },
    "wait-idle": { type: "string", arg: "f", desc: "Before each run wait (up to 5 min) until the machine is at least this idle (e.g. 0.9)." },
    "no-compile": { type: "boolean", desc: "Decode with the model's plain forward instead of the compiled step (for A/B)." },
    batch: { type: "string", arg: "n", default: 1, desc: "Decode n rows together (aggregate decode tok/s: DecodeLoop rows vs llama.cpp sequences)." },
    json: { type: "string", arg: "file", desc: "Also write every run's raw result." },
    help: HELP,
  },
};

export function parseBenchArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = {
    models: ["270m", "1b"], formats: ["bf16", "q8", "q4"], threads: 2, promptTokens: 512, decodeTokens: 128, repeats: 3,
    workDir: process.env.HEARTH_BENCH_DIR ?? join(homedir(), ".cache", "hearth-bench"), engines: ["hearth", "llama.cpp"],
    bandwidthBytes: 1 << 30, installPeers: false, compile: true, batch: 1,
  };
  const v = parse(spec, argv);
  if (flag(v, "help")) throw new HelpRequested();
  const list = (k: string) => str(v, k)!.split(",").map((s) => s.trim()).filter(Boolean);
  const int = (k: string) => num(v, k, { int: true, min: 1 });
  if (v.models !== undefined) o.models = list("models");
  if (v.formats !== undefined) o.formats = list("formats");
  o.threads = int("threads") ?? o.threads;
  o.promptTokens = int("prompt-tokens") ?? o.promptTokens;
  o.decodeTokens = int("decode-tokens") ?? o.decodeTokens;
  o.repeats = int("repeats") ?? o.repeats;
  o.batch = int("batch") ?? o.batch;
  if (v.engines !== undefined) o.engines = list("engines").map((e) => (e === "llama" ? "llama.cpp" : e));
  if (v["work-dir"] !== undefined) o.workDir = resolve(str(v, "work-dir")!);
  if (v.peers !== undefined) o.peers = resolve(str(v, "peers")!);
  o.installPeers = flag(v, "install-peers");
  o.compile = !flag(v, "no-compile");
  o.waitIdle = num(v, "wait-idle", { above: 0, max: 1 });
  const mb = int("bandwidth-mb");
  if (mb !== undefined) o.bandwidthBytes = mb * 2 ** 20;
  if (v.json !== undefined) o.json = resolve(str(v, "json")!);
  for (const m of o.models) if (!BENCH_MODELS[m]) throw new UsageError(`--models: unknown model '${m}' (have ${Object.keys(BENCH_MODELS).join(", ")})`);
  for (const f of o.formats) if (!FORMATS[f]) throw new UsageError(`--formats: unknown format '${f}' (have ${Object.keys(FORMATS).join(", ")})`);
  for (const e of o.engines) if (e !== "hearth" && e !== "llama.cpp") throw new UsageError(`--engines: unknown engine '${e}' (have hearth, llama.cpp)`);
  return o;
}

class HelpRequested extends Error {}

/** The repository root (the folder holding pnpm-workspace.yaml) above this file, or undefined. */
function repoRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function peersFolder(opt?: string): string {
  return opt ?? process.env.HEARTH_BENCH_PEERS ?? join(repoRoot() ?? process.cwd(), "bench", "peers");
}

function installCommand(folder: string): string[] {
  return ["npm", "install", "--prefix", folder, "--no-audit", "--no-fund", "--omit=optional", "--ignore-scripts",
    `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `@node-llama-cpp/linux-x64@${NODE_LLAMA_CPP_VERSION}`];
}

function installPeers(folder: string): void {
  mkdirSync(folder, { recursive: true });
  if (!existsSync(join(folder, "package.json")))
    writeFileSync(join(folder, "package.json"), JSON.stringify({ name: "hearth-bench-peers", private: true }, null, 2));
  const [cmd, ...args] = installCommand(folder);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`installing node-llama-cpp failed (exit ${r.status})`);
}

/** Bytes a decode step reads: every matrix once (the tied embedding as the head), norms, and the KV cache. */
export function decodeBytesPerToken(cfg: Record<string, any>, bits: number, position: number): { weights: number; kv: number } {
  const h = cfg.hidden_size, hd = cfg.head_dim, nq = cfg.num_attention_heads, nkv = cfg.num_key_value_heads;
  const perLayer = h * nq * hd * 2 + h * nkv * hd * 2 + 3 * h * cfg.intermediate_size;
  const matrices = perLayer * cfg.num_hidden_layers + cfg.vocab_size * h;
  const norms = (4 * h + 2 * hd) * cfg.num_hidden_layers * 4 + h * 4;
  let kv = 0;
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const sliding = (i + 1) % (cfg.sliding_window_pattern ?? 6) !== 0;
    const keys = sliding ? Math.min(position, cfg.sliding_window) : position;
    kv += 2 * keys * nkv * hd * 2;  // K and V, 16-bit
  }
  return { weights: (matrices * bits) / 8 + norms, kv };
}

/** Fraction of CPU time idle over `ms` (from /proc/stat; 1 where it can't be read). */
async function idleFraction(ms: number): Promise<number> {
  const read = () => {
    try {
      const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
      return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
    } catch {
      return undefined;
    }
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  if (!a || !b || b.total === a.total) return 1;
  return (b.idle - a.idle) / (b.total - a.total);
}

async function waitForIdle(threshold: number, log: (s: string) => void): Promise<number> {
  const deadline = Date.now() + 5 * 60_000;
  let idle = await idleFraction(2000);
  let said = false;
  while (idle < threshold && Date.now() < deadline) {
    if (!said) log(`waiting for an idle machine (${(100 * idle).toFixed(0)}% idle, want ${(100 * threshold).toFixed(0)}%)`);
    said = true;
    idle = await idleFraction(2000);
  }
  return idle;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function childScript(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "bench-child.js");
}

function runChildProcess(spec: RunSpec, timeoutMs = 6 * 60_000): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(process.execPath, [childScript(), JSON.stringify(spec)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
      if (line) return resolveRun(JSON.parse(line.slice("BENCH_RESULT ".length)));
      const e = out.split("\n").find((l) => l.startsWith("BENCH_ERROR "));
      reject(new Error(`${spec.engine} run failed (exit ${code}): ${e ? JSON.parse(e.slice(12)) : ""}\n${err.slice(-2000)}`));
    });
  });
}

interface Row {
  model: string;
  format: Format;
  ours: RunResult[];
  llama: RunResult[];
  oursError?: string;
  llamaError?: string;
  limitTps: number;
  bytesPerToken: number;
}

const fmt = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(d));

function renderTable(rows: Row[]): string {
  const head = ["model", "format (ours / llama.cpp)", "ours prefill", "ours decode", "llama prefill", "llama decode",
    "prefill ×", "decode ×", "decode limit", "ours % limit", "RSS ours / llama MB"];
  const body = rows.map((r) => {
    const op = r.ours.length ? median(r.ours.map((x) => x.prefillTps)) : undefined;
    const od = r.ours.length ? median(r.ours.map((x) => x.decodeTps)) : undefined;
    const lp = r.llama.length ? median(r.llama.map((x) => x.prefillTps)) : undefined;
    const ld = r.llama.length ? median(r.llama.map((x) => x.decodeTps)) : undefined;
    const orss = r.ours.length ? Math.max(...r.ours.map((x) => x.peakRssMB)) : undefined;
    const lrss = r.llama.length ? Math.max(...r.llama.map((x) => x.peakRssMB)) : undefined;
    return [
      r.model, `${r.format.ours} / ${r.format.llama}`, fmt(op), fmt(od), fmt(lp), fmt(ld),
      op && lp ? fmt(op / lp, 2) : "—", od && ld ? fmt(od / ld, 2) : "—", fmt(r.limitTps),
      od ? `${fmt((100 * od) / r.limitTps, 0)}%` : "—", `${fmt(orss, 0)} / ${fmt(lrss, 0)}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [line(head), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...body.map(line)].join("\n");
}

/**
 * What Hearth's runs chose, one line per model and format: ISA level, AMX, kernels, packed decode / prefill, and
 * (appended) the layout that was loaded and which model's compiled step the decode went through.
 */
export function kernelLines(rows: Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const k = r.ours[0]?.info.kernels as Record<string, any> | undefined;
    if (!k) continue;
    const step = k.decodeStep as Record<string, any> | null;
    const on = (b: unknown) => (b ? "on" : "off");
    out.push(`kernels ${r.model} ${r.format.ours}: isa ${k.isa}${k.hearthIsa ? ` (HEARTH_ISA=${k.hearthIsa})` : ""}, ` +
      `AMX ${k.amx ? "yes" : "no"}, gemm ${k.gemm}, quantized ${k.quantized}, packed ${k.packed}; ` +
      (step ? `compiled step: int8 activations ${on(step.int8Activations)}, packed decode ${on(step.packedWeights)}, packed prefill ${on(step.packedPrefill)}`
        : "no compiled step") + layoutText(r.ours[0]?.info.layout as Layout | undefined));
  }
  return out;
}

/** What bench-child reports about the loaded model (info.layout). */
export interface Layout {
  modelType: string;
  /** config.json's architectures[0] (Gemma3ForConditionalGeneration for the multimodal layout). */
  architecture: string;
  visionTower: boolean;
  /** Whose makeDecodeStep built the compiled step: "language_model" (the multimodal model delegates), "model", or null. */
  decodeStepFrom: "language_model" | "model" | null;
}

function layoutText(l: Layout | undefined): string {
  if (!l) return "";
  if (!l.visionTower) return `; layout ${l.modelType}`;
  const via = l.decodeStepFrom === "language_model" ? "decode through the language model's compiled step"
    : l.decodeStepFrom === "model" ? "decode through the model's own compiled step" : "no compiled step";
  return `; layout ${l.modelType} (vision tower, ${via})`;
}

/** Whether this build can quantize a loaded model (nn.quantize, merged separately). */
async function canQuantize(): Promise<boolean> {
  const nn = (await import("@hearth/engine")).nn as Record<string, unknown>;
  return typeof nn.quantize === "function";
}

/**
 * Hearth's quantized copy of a bench model (mlx-lm's format, made by lm.convert from the same bf16 weights),
 * written once next to the GGUF files; undefined when this build has no lm.convert.
 */
async function ensureQuantized(root: string, q: { bits: number; groupSize: number }, log: (s: string) => void): Promise<string | undefined> {
  const lmMod = (await import("@hearth/engine")).lm as Record<string, any>;
  if (typeof lmMod.convert !== "function") return undefined;
  const out = join(root, `mlx-q${q.bits}-g${q.groupSize}`);
  if (existsSync(join(out, "config.json"))) return out;
  log(`quantizing to ${q.bits}-bit, group ${q.groupSize} (lm.convert) in ${out}`);
  await lmMod.convert({ hfPath: join(root, "hf"), mlxPath: out, quantize: true, qBits: q.bits, qGroupSize: q.groupSize, force: true });
  return out;
}

export async function runBench(argv: string[]): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    process.stdout.write(helpText(spec));
    return 0;
  }
  const started = performance.now();
  const log = (s: string) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${s}`);
  const peers = peersFolder(o.peers);
  const nlcDir = join(peers, "node_modules", "node-llama-cpp");
  if (o.engines.includes("llama.cpp")) {
    if (o.installPeers && !existsSync(nlcDir)) installPeers(peers);
    if (!existsSync(join(nlcDir, "dist", "index.js"))) {
      console.error(`node-llama-cpp is not installed in ${peers}; llama.cpp columns will be empty. Install it with\n  ` +
        installCommand(peers).join(" ") + "\n(or run `hearth bench --install-peers`). It is kept out of the workspace's dependencies on purpose.");
      o.engines = o.engines.filter((e) => e !== "llama.cpp");
    }
  }
  const { mx } = await import("@hearth/engine");
  const native = { setNumThreads: mx.setNumThreads, measureReadBandwidth: mx.measureReadBandwidth };
  const quantOk = await canQuantize();
  const load0 = loadavg()[0];
  log(`measuring read bandwidth (${(o.bandwidthBytes / 2 ** 20).toFixed(0)} MiB, ${o.threads} threads)`);
  native.setNumThreads(o.threads);
  const bw = native.measureReadBandwidth(o.bandwidthBytes, 5) as { bestGBs: number; medianGBs: number; kernel: string };
  log(`read bandwidth ${bw.bestGBs.toFixed(1)} GB/s best, ${bw.medianGBs.toFixed(1)} median (${bw.kernel})`);

  const rows: Row[] = [];
  for (const key of o.models) {
    const spec = BENCH_MODELS[key];
    const root = ensureBenchModel(o.workDir, key, o.engines.includes("llama.cpp") ? o.formats.map((f) => FORMATS[f].llama) : [], log);
    for (const fk of o.formats) {
      const f = FORMATS[fk];
      const position = o.promptTokens + o.decodeTokens / 2;
      const bytes = decodeBytesPerToken(lm.gemma3TextConfig(spec.config), f.bits, position);
      // A batched step reads the weights once and each row's KV cache: the limit is in tokens of all rows.
      const stepBytes = bytes.weights + o.batch * bytes.kv;
      const row: Row = { model: key, format: f, ours: [], llama: [], bytesPerToken: stepBytes / o.batch, limitTps: (o.batch * bw.bestGBs * 1e9) / stepBytes };
      rows.push(row);
      const base = { threads: o.threads, promptTokens: o.promptTokens, decodeTokens: o.decodeTokens, ...(o.batch > 1 ? { batch: o.batch } : {}) };
      let oursSpec: RunSpec | undefined;
      if (o.engines.includes("hearth")) {
        const converted = f.quantize ? await ensureQuantized(root, f.quantize, log) : undefined;
        if (!f.quantize) oursSpec = { ...base, engine: "hearth", path: join(root, "hf"), compile: o.compile };
        else if (converted) oursSpec = { ...base, engine: "hearth", path: converted, compile: o.compile };
        else if (quantOk) oursSpec = { ...base, engine: "hearth", path: join(root, "hf"), quantize: f.quantize, compile: o.compile };
      }
      if (o.engines.includes("hearth") && !oursSpec) row.oursError = "needs nn.quantize (not in this build)";
      const llamaSpec: RunSpec | undefined = o.engines.includes("llama.cpp")
        ? { ...base, engine: "llama.cpp", path: join(root, `model-${f.llama}.gguf`), peerDir: nlcDir }
        : undefined;
      for (let rep = 0; rep < o.repeats; rep++) {
        // Alternate which engine goes first so slow drifts in machine load hit both sides alike.
        const order = rep % 2 === 0 ? [oursSpec, llamaSpec] : [llamaSpec, oursSpec];
        for (const s of order) {
          if (!s) continue;
          const isOurs = s.engine === "hearth";
          if ((isOurs && row.oursError) || (!isOurs && row.llamaError)) continue;
          try {
            const idle = o.waitIdle ? await waitForIdle(o.waitIdle, log) : undefined;
            const r = await runChildProcess(s);
            if (idle !== undefined) r.info.idleBefore = idle;
            (isOurs ? row.ours : row.llama).push(r);
            log(`${key} ${isOurs ? f.ours : f.llama} ${s.engine} #${rep + 1}: prefill ${r.prefillTps.toFixed(1)} tok/s, decode ${r.decodeTps.toFixed(1)} tok/s, RSS ${r.peakRssMB.toFixed(0)} MB (load ${loadavg()[0].toFixed(2)})`);
          } catch (e) {
            const msg = String((e as Error).message).split("\n")[0];
            if (isOurs) row.oursError = msg; else row.llamaError = msg;
            log(`${key} ${s.engine} failed: ${(e as Error).message}`);
          }
        }
      }
    }
  }
  const load1 = loadavg()[0];
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(`\nHearth vs llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP_VERSION}, prebuilt CPU) — ${cpu}, ${o.threads} threads, ` +
    `prompt ${o.promptTokens} tokens, decode ${o.decodeTokens} tokens, tokens/s median of ${o.repeats}`);
  console.log(`read bandwidth ${bw.bestGBs.toFixed(1)} GB/s (best of 5, ${bw.kernel}); load average ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  if (o.batch > 1) console.log(`batch ${o.batch}: ${o.batch} rows decoded together; prefill and decode tok/s are the aggregate over the rows\n`);
  console.log(renderTable(rows));
  console.log("\ndecode limit = read bandwidth / (weight bytes per token, the tied embedding counted as the head, + KV cache bytes at the mean decode position)");
  for (const line of kernelLines(rows)) console.log(line);
  for (const r of rows) {
    if (r.oursError) console.log(`${r.model} ${r.format.ours}: ${r.oursError}`);
    if (r.llamaError) console.log(`${r.model} ${r.format.llama}: ${r.llamaError}`);
  }
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ options: o, bandwidth: bw, load: [load0, load1], rows }, null, 2));
    log(`raw results in ${o.json}`);
  }
  return 0;
}
