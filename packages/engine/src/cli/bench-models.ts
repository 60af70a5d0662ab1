// Random-weight Gemma 3 text models with the exact shapes of the published 270M, 1B and 4B checkpoints, written
// once to a cache folder as an HF folder (config.json, bf16 model.safetensors, tokenizer.json) plus GGUF variants
// for llama.cpp made from the same bf16 values. The content is noise (std 0.02): speed depends on shapes only.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { GgmlType } from "../lm/gguf.js";
import { convertGemma3ToGguf } from "../lm/gguf-gemma3.js";

export interface BenchModelSpec {
  key: string;
  label: string;
  config: Record<string, unknown>;
}

function gemma3Config(o: {
  hidden: number; layers: number; inter: number; heads: number; kv: number; window: number; maxPos: number;
  ropeScaling?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    architectures: ["Gemma3ForCausalLM"],
    model_type: "gemma3_text",
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    intermediate_size: o.inter,
    num_attention_heads: o.heads,
    num_key_value_heads: o.kv,
    head_dim: 256,
    vocab_size: 262144,
    sliding_window: o.window,
    sliding_window_pattern: 6,
    max_position_embeddings: o.maxPos,
    query_pre_attn_scalar: 256,
    rope_theta: 1_000_000,
    rope_local_base_freq: 10_000,
    rope_scaling: o.ropeScaling ?? null,
    rms_norm_eps: 1e-6,
    hidden_activation: "gelu_pytorch_tanh",
    final_logit_softcapping: null,
    attn_logit_softcapping: null,
    tie_word_embeddings: true,
    bos_token_id: 2,
    eos_token_id: 1,
    pad_token_id: 0,
    torch_dtype: "bfloat16",
  };
}

/** The published Gemma 3 text configurations (google/gemma-3-270m, -1b-pt, -4b-pt text part). */
export const BENCH_MODELS: Record<string, BenchModelSpec> = {
  "270m": { key: "270m", label: "Gemma 3 270M", config: gemma3Config({ hidden: 640, layers: 18, inter: 2048, heads: 4, kv: 1, window: 512, maxPos: 32768 }) },
  "1b": { key: "1b", label: "Gemma 3 1B", config: gemma3Config({ hidden: 1152, layers: 26, inter: 6912, heads: 4, kv: 1, window: 512, maxPos: 32768 }) },
  "4b": {
    key: "4b", label: "Gemma 3 4B",
    config: gemma3Config({ hidden: 2560, layers: 34, inter: 10240, heads: 8, kv: 4, window: 1024, maxPos: 131072, ropeScaling: { factor: 8.0, rope_type: "linear" } }),
  },
};

/** [name, shape] of every weight of a Gemma 3 text checkpoint, in HF naming. */
export function gemma3WeightShapes(cfg: Record<string, any>): [string, number[]][] {
  const h = cfg.hidden_size, hd = cfg.head_dim, q = cfg.num_attention_heads * hd, kv = cfg.num_key_value_heads * hd;
  const out: [string, number[]][] = [["model.embed_tokens.weight", [cfg.vocab_size, h]]];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      [p + "input_layernorm.weight", [h]],
      [p + "self_attn.q_proj.weight", [q, h]],
      [p + "self_attn.k_proj.weight", [kv, h]],
      [p + "self_attn.v_proj.weight", [kv, h]],
      [p + "self_attn.o_proj.weight", [h, q]],
      [p + "self_attn.q_norm.weight", [hd]],
      [p + "self_attn.k_norm.weight", [hd]],
      [p + "post_attention_layernorm.weight", [h]],
      [p + "pre_feedforward_layernorm.weight", [h]],
      [p + "mlp.gate_proj.weight", [cfg.intermediate_size, h]],
      [p + "mlp.up_proj.weight", [cfg.intermediate_size, h]],
      [p + "mlp.down_proj.weight", [h, cfg.intermediate_size]],
      [p + "post_feedforward_layernorm.weight", [h]],
    );
  }
  out.push(["model.norm.weight", [h]]);
  return out;
}

// 64Ki bf16 normal samples (std 0.02), indexed by a xorshift stream: ~1 ns per weight, so a 4B model's 8 GB of
// bf16 takes seconds instead of minutes of Box-Muller.
function normalTable(seed: number, std: number): Uint16Array {
  const t = new Uint16Array(65536);
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < t.length; i++) {
    f[0] = std * Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
    t[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  return t;
}

/** Writes a bf16 safetensors file of random weights, streamed tensor by tensor. */
export function writeRandomSafetensors(path: string, shapes: [string, number[]][], seed = 1234, std = 0.02): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", hearth: "random weights for benchmarks" } };
  let off = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: "BF16", shape, data_offsets: [off, off + n] };
    off += n;
  }
  let hjson = JSON.stringify(header);
  hjson += " ".repeat((8 - ((8 + Buffer.byteLength(hjson)) % 8)) % 8);
  const hb = Buffer.from(hjson, "utf8");
  const table = normalTable(seed, std);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    writeSync(fd, len);
    writeSync(fd, hb);
    let s = (seed * 2654435761) >>> 0 || 1;
    const chunk = new Uint16Array(1 << 21);
    const bytes = new Uint8Array(chunk.buffer);
    for (const [, shape] of shapes) {
      let left = shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        for (let i = 0; i < n; i++) {
          s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
          chunk[i] = table[s & 0xffff];
        }
        let done = 0;
        while (done < n * 2) done += writeSync(fd, bytes, done, n * 2 - done);
        left -= n;
      }
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The real Gemma 3 tokenizer shipped with the engine's test fixtures (262144 pieces). */
export function fixtureTokenizerPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "test", "fixtures", "tokenizer-gemma3", "tokenizer.json.gz");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error("Cannot find test/fixtures/tokenizer-gemma3/tokenizer.json.gz next to the engine package");
}

export const GGUF_VARIANTS: Record<string, GgmlType> = { BF16: GgmlType.BF16, Q8_0: GgmlType.Q8_0, Q4_0: GgmlType.Q4_0 };

/**
 * Makes sure `<workDir>/<key>/hf` (config, weights, tokenizer) and the requested GGUF variants
 * (`<workDir>/<key>/model-<TYPE>.gguf`) exist; returns the model folder. Existing files are reused.
 */
export function ensureBenchModel(workDir: string, key: string, ggufTypes: string[], log: (s: string) => void = () => {}): string {
  const spec = BENCH_MODELS[key];
  if (!spec) throw new Error(`Unknown bench model '${key}' (have ${Object.keys(BENCH_MODELS).join(", ")})`);
  const root = join(workDir, key);
  const hf = join(root, "hf");
  mkdirSync(hf, { recursive: true });
  const cfgPath = join(hf, "config.json");
  const want = JSON.stringify(spec.config, null, 2);
  const stale = !existsSync(cfgPath) || readFileSync(cfgPath, "utf8") !== want;
  const st = join(hf, "model.safetensors");
  if (stale || !existsSync(st)) {
    log(`writing random ${spec.label} weights (bf16) to ${hf}`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(hf, { recursive: true });
    writeRandomSafetensors(st, gemma3WeightShapes(spec.config));
    writeFileSync(cfgPath, want);
  }
  const tokPath = join(hf, "tokenizer.json");
  if (!existsSync(tokPath)) {
    writeFileSync(`${tokPath}.tmp`, gunzipSync(readFileSync(fixtureTokenizerPath())));
    renameSync(`${tokPath}.tmp`, tokPath);
    const cfgTok = join(dirname(fixtureTokenizerPath()), "tokenizer_config.json.gz");
    if (existsSync(cfgTok)) writeFileSync(join(hf, "tokenizer_config.json"), gunzipSync(readFileSync(cfgTok)));
  }
  for (const t of ggufTypes) {
    const out = join(root, `model-${t}.gguf`);
    if (existsSync(out)) continue;
    const type = GGUF_VARIANTS[t];
    if (type === undefined) throw new Error(`Unknown GGUF type ${t}`);
    log(`converting ${spec.label} to GGUF ${t}`);
    convertGemma3ToGguf(hf, out, type, { name: `hearth-bench ${spec.label} (random weights)` });
  }
  return root;
}
