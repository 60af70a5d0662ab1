// Shared CLI plumbing: option tables (parsed by parse() below, printed as --help), value checks that
// fail with exit code 2, model resolution, the prompt from a flag or stdin, and the sampling flags.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { lm, mx } from "@hearth/engine";
import { collectGarbage, settleHeap } from "./heap.js";

type Json = lm.Json;
const { BUNDLED_MODEL_NAME, bundledModelPath } = lm;

/** A wrong command line: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Other long spellings ("de-quantize"), accepted but not listed in --help. */
  aliases?: string[];
  /** Placeholder for the value in --help (string options). */
  arg?: string;
  desc: string;
  multiple?: boolean;
  /** The allowed values of a string option (checked while parsing, listed in --help). */
  choices?: readonly string[];
  /** The default, shown in --help as "(default: …)". */
  default?: string | number | boolean;
}
export type OptionTable = Record<string, OptionSpec>;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptionTable;
  /** Lines after the options in --help. */
  notes?: string[];
}

export const HELP: OptionSpec = { type: "boolean", short: "h", desc: "Show this help and exit." };

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` <${o.arg ?? (o.choices ? o.choices.join("|") : "value")}>` : ""}`;
    const extra = o.default !== undefined && !/\(default/.test(o.desc) ? ` (default: ${o.default})` : "";
    return [flag, o.desc + extra] as const;
  });
  const width = Math.min(40, Math.max(...rows.map(([f]) => f.length)) + 2);
  const lines = [`Usage: ${spec.usage}`, "", spec.summary, "", "Options:"];
  for (const [f, d] of rows) lines.push(f.length >= width ? `  ${f}\n  ${" ".repeat(width)}${d}` : `  ${f.padEnd(width)}${d}`);
  if (spec.notes?.length) lines.push("", ...spec.notes);
  return lines.join("\n") + "\n";
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * The one argument parser of every command. `--name value`, `--name=value`, `-x value`, `-x=value`; a value
 * option takes the next argument whatever it looks like, so negative numbers work (`--temp -1` reaches the
 * value check and gets its message there). Unknown options, missing values, bad choices and stray arguments are
 * UsageErrors (exit code 2, one line).
 */
export function parse(spec: CommandSpec, argv: string[]): Values {
  const byName = new Map<string, [string, OptionSpec]>();
  for (const [name, o] of Object.entries(spec.options)) {
    byName.set(`--${name}`, [name, o]);
    if (o.short) byName.set(`-${o.short}`, [name, o]);
    for (const a of o.aliases ?? []) byName.set(`--${a}`, [name, o]);
  }
  const see = `See 'hearth ${spec.name} --help'.`;
  const out: Values = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-") throw new UsageError(`Unexpected argument '${arg}'. ${see}`);
    if (arg === "--") throw new UsageError(`Unexpected argument '--'. ${see}`);
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const hit = byName.get(key);
    if (!hit) throw new UsageError(`Unknown option '${key}'. ${see}`);
    const [name, o] = hit;
    if (o.type === "boolean") {
      if (inline !== undefined) throw new UsageError(`Option '--${name}' does not take a value. ${see}`);
      out[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`Option '--${name}' needs a value (<${o.arg ?? "value"}>). ${see}`);
    if (o.choices && !o.choices.includes(value))
      throw new UsageError(`--${name} must be one of ${o.choices.join(", ")}, got '${value}'`);
    if (o.multiple) out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    else out[name] = value;
  }
  return out;
}

export interface NumberRule {
  int?: boolean;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  choices?: number[];
}

/** A numeric flag, or undefined when absent; anything else is a UsageError naming the flag. */
export function num(values: Values, name: string, rule: NumberRule = {}): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const s = String(raw).trim();
  const v = s === "" ? NaN : Number(s);
  const bad = (what: string) => new UsageError(`--${name} must be ${what}, got '${raw}'`);
  if (!Number.isFinite(v)) throw bad(rule.int ? "an integer" : "a number");
  if (rule.int && !Number.isInteger(v)) throw bad("an integer");
  if (rule.choices && !rule.choices.includes(v)) throw bad(`one of ${rule.choices.join(", ")}`);
  if (rule.min !== undefined && v < rule.min) throw bad(`>= ${rule.min}`);
  if (rule.above !== undefined && !(v > rule.above)) throw bad(`> ${rule.above}`);
  if (rule.max !== undefined && v > rule.max) throw bad(`<= ${rule.max}`);
  return v;
}

export const str = (values: Values, name: string): string | undefined => values[name] as string | undefined;
export const flag = (values: Values, name: string): boolean => values[name] === true;

/**
 * --model, else a fallback (a prompt cache's model), else $HEARTH_MODEL, else the bundled demo model (said on
 * stderr, so that nobody mistakes its answers for a real model's).
 */
export function modelPath(values: Values, fallback?: string): string {
  const m = str(values, "model") ?? fallback ?? (process.env.HEARTH_MODEL || undefined);
  if (m) return m;
  process.stderr.write(`[hearth] no --model given: using the bundled demo model ${BUNDLED_MODEL_NAME}, which knows only ` +
    `small arithmetic, word, sorting, unit and code tasks (pass --model <folder or Hugging Face id> for a real one)\n`);
  return bundledModelPath();
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** --prompt's text ("-" reads stdin), or undefined. */
export async function promptText(values: Values, name = "prompt"): Promise<string | undefined> {
  const p = str(values, name);
  if (p === "-") return readStdin();
  return p;
}

/** --chat-template-config: a JSON object (inline or a file path) of extra chat template variables. */
export function chatTemplateConfig(values: Values): Json {
  const raw = str(values, "chat-template-config");
  if (raw === undefined) return {};
  let text = raw;
  if (!raw.trim().startsWith("{")) {
    try {
      text = readFileSync(raw, "utf8");
    } catch {
      throw new UsageError(`--chat-template-config must be a JSON object or a JSON file, got '${raw}'`);
    }
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--chat-template-config is not valid JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new UsageError("--chat-template-config must be a JSON object");
  return v as Json;
}

// ---- option groups shared by the commands ----

export const MODEL_OPTIONS: OptionTable = {
  model: { type: "string", arg: "path|hub-id", desc: "Model folder or Hugging Face id (default: $HEARTH_MODEL, else the bundled hearth-tiny)." },
  "adapter-path": { type: "string", arg: "path", desc: "LoRA adapter folder to apply." },
};

export const SAMPLING_OPTIONS: OptionTable = {
  "max-tokens": { type: "string", short: "m", arg: "n", desc: "Most tokens to generate (default 256)." },
  temp: { type: "string", arg: "t", desc: "Sampling temperature; 0 is greedy (default 0)." },
  "top-p": { type: "string", arg: "p", desc: "Nucleus sampling probability mass (default 1: off)." },
  "top-k": { type: "string", arg: "k", desc: "Sample from the k most likely tokens (default 0: off)." },
  "min-p": { type: "string", arg: "p", desc: "Drop tokens below min-p × the top probability (default 0: off)." },
  "min-tokens-to-keep": { type: "string", arg: "n", desc: "Tokens min-p always keeps (default 1)." },
  "repetition-penalty": { type: "string", arg: "x", desc: "Penalise recently seen tokens (> 1; default 1: off)." },
  "repetition-context-size": { type: "string", arg: "n", desc: "Tokens the repetition penalty looks back on (default 20)." },
  seed: { type: "string", arg: "n", desc: "Random seed for reproducible sampling." },
  "max-kv-size": { type: "string", arg: "n", desc: "Keep at most n tokens in the KV cache (rotating)." },
  "kv-bits": { type: "string", arg: "4|8", desc: "Quantize the KV cache to this many bits." },
  "kv-group-size": { type: "string", arg: "n", desc: "Group size of the KV cache quantization (default 64)." },
  "quantized-kv-start": { type: "string", arg: "n", desc: "Quantize the KV cache once it holds n tokens (default 0)." },
  "prefill-step-size": { type: "string", arg: "n", desc: "Prompt tokens per prefill step (default 2048)." },
};

export const VERBOSE: OptionSpec = { type: "boolean", desc: "Print statistics (prompt and generation tokens/s, peak memory) and stack traces." };

export interface Sampling {
  maxTokens?: number;
  temp?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  minTokensToKeep?: number;
  repetitionPenalty?: number;
  repetitionContextSize?: number;
  seed?: number;
  maxKvSize?: number;
  kvBits?: number;
  kvGroupSize?: number;
  quantizedKvStart?: number;
  prefillStepSize?: number;
}

/** The sampling / cache flags as generate options (only those given). */
export function samplingOptions(v: Values): Sampling {
  const out: Sampling = {
    maxTokens: num(v, "max-tokens", { int: true, min: 0 }),
    temp: num(v, "temp", { min: 0 }),
    topP: num(v, "top-p", { min: 0, max: 1 }),
    topK: num(v, "top-k", { int: true, min: 0 }),
    minP: num(v, "min-p", { min: 0, max: 1 }),
    minTokensToKeep: num(v, "min-tokens-to-keep", { int: true, min: 1 }),
    repetitionPenalty: num(v, "repetition-penalty", { above: 0 }),
    repetitionContextSize: num(v, "repetition-context-size", { int: true, min: 1 }),
    seed: num(v, "seed", { int: true, min: 0 }),
    maxKvSize: num(v, "max-kv-size", { int: true, above: 4 }),
    kvBits: num(v, "kv-bits", { int: true, choices: [4, 8] }),
    kvGroupSize: num(v, "kv-group-size", { int: true, min: 1 }),
    quantizedKvStart: num(v, "quantized-kv-start", { int: true, min: 0 }),
    prefillStepSize: num(v, "prefill-step-size", { int: true, min: 1 }),
  };
  for (const k of Object.keys(out) as (keyof Sampling)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** The most memory this process has held (peak resident set size), in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** A non-empty folder (where a command would replace files without --force). */
export function isNonEmptyDir(p: string): boolean {
  try {
    return statSync(p).isDirectory() && readdirSync(p).length > 0;
  } catch {
    return false;
  }
}

/**
 * The --verbose statistics. "Peak memory" is what the process really held at its peak (RSS: weights, arrays,
 * the allocator's cache, the JS heap), with the engine's live arrays alone in brackets.
 */
export function formatStats(r: { promptTokens: number; promptTps: number; generationTokens: number; generationTps: number; peakMemory: number; cachedTokens?: number }): string {
  const cached = r.cachedTokens ? ` (${r.cachedTokens} from the prompt cache)` : "";
  return [
    `Prompt: ${r.promptTokens} tokens${cached}, ${r.promptTps.toFixed(3)} tokens-per-sec`,
    `Generation: ${r.generationTokens} tokens, ${r.generationTps.toFixed(3)} tokens-per-sec`,
    `Peak memory: ${(peakRssBytes() / 1e9).toFixed(3)} GB (engine arrays ${r.peakMemory.toFixed(3)} GB)`,
  ].join("\n");
}

/**
 * Called once per generated token: every 256 tokens it frees the allocator's cached buffers (as mlx-lm's
 * generate_step does with mx.clear_cache()). A growing KV cache leaves a freed buffer of a new size at each
 * growth step that is never reused; without this, RSS grows with the generation's length. Every 2048 tokens it
 * also runs a full JS collection; from the first trim the JS heap's young generation stops growing (heap.ts
 * says why).
 */
export function cacheTrimmer(every = 256, gcEvery = 2048): () => void {
  let n = 0;
  return () => {
    if (++n % every !== 0) return;
    mx.clearCache();
    settleHeap();
    if (n % gcEvery === 0) collectGarbage();
  };
}
