// Gemma 3 text (Gemma3ForCausalLM, model_type "gemma3_text"), following mlx-lm's model file: Args → blocks →
// Model with sanitize() and makeCache(). Parameter paths equal the checkpoint's tensor names.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { Module } from "../../nn/module.js";
import { Linear } from "../../nn/layers/linear.js";
import { Embedding } from "../../nn/layers/embedding.js";
import { geluApprox } from "../../core/ops-activations.js";
import { gemma3TextArgs, isGemma3VisionWeight, type Gemma3TextArgs, type Json } from "../config.js";
import { KVCache, RotatingKVCache, type Cache } from "../cache.js";
import { quantizedMatmulInt8, quantizedMatmulInt8Supported } from "../../core/ops-qmv-int8.js";
import {
  packedQuantizedKernelName, packedQuantizedMatmul, packedQuantizedMatmulSplit, quantizedRepack, quantizedRepackSupported,
  type PackedQuantized,
} from "../../core/ops-qmv-packed.js";

export type { Gemma3TextArgs };
export const modelArgs = (config: Json): Gemma3TextArgs => gemma3TextArgs(config);

/** Gemma's RMSNorm scales by (1 + weight), with the statistics in float32. */
export class GemmaRMSNorm extends Module {
  weight: MxArray;
  constructor(dims: number, private readonly eps = 1e-6) {
    super();
    this.weight = mx.zeros([dims]);
  }
  forward(x: MxArray): MxArray {
    return mx.fast.rmsNorm(x, mx.add(1, this.weight), this.eps);
  }
}

export interface ForwardOptions {
  cache?: Cache[];
  /**
   * An explicit attention mask broadcastable to [B, heads, L, keys] (boolean: true attends; or additive), used
   * as given on every layer. Without it, masks are causal (sliding layers also windowed).
   */
  mask?: MxArray;
  /** [B, keys] of 1/0 marking real tokens vs padding (HF's attention_mask); combined with causal/window. */
  attentionMask?: MxArray;
  /** Precomputed input embeddings [B, L, hidden] (the multimodal model passes merged text+image features). */
  inputEmbeddings?: MxArray;
  /** Bidirectional attention (EmbeddingGemma); default from the config. */
  bidirectional?: boolean;
  /** Collects the hidden state after the embedding and after every layer (as transformers' hidden_states). */
  hiddenStates?: MxArray[];
  /**
   * The products' implementation (default: each layer's own forward, exact). The decode step's prefill passes
   * its packed int8 products here (DecodeStep.prefill); training and the fixture tests never do.
   */
  linear?: LinearFn;
}

type LayerMask = { mask?: MxArray | "causal"; slidingWindow?: number };

/**
 * x · Wᵀ through a linear layer; the compiled decode step swaps in the int8-activation kernels. `many`, where
 * given, runs several layers that share the input (q/k/v, gate/up) as one fused product.
 */
export type LinearFn = ((layer: { forward(x: MxArray): MxArray }, x: MxArray) => MxArray) & {
  many?: (layers: { forward(x: MxArray): MxArray }[], x: MxArray) => MxArray[];
};
const plainLinear: LinearFn = (layer, x) => layer.forward(x);
const linears = (linear: LinearFn, layers: { forward(x: MxArray): MxArray }[], x: MxArray): MxArray[] =>
  linear.many ? linear.many(layers, x) : layers.map((l) => linear(l, x));

/** Gemma's final-logit soft cap: cap · tanh(logits / cap) (the one place it is written). */
export function softcap(logits: MxArray, cap: number | null | undefined): MxArray {
  return cap ? mx.multiply(mx.tanh(mx.divide(logits, cap)), cap) : logits;
}

export class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  q_norm: GemmaRMSNorm;
  k_norm: GemmaRMSNorm;
  readonly isSliding: boolean;
  private readonly nHeads: number;
  private readonly nKv: number;
  private readonly headDim: number;
  private readonly scale: number;
  private readonly ropeBase: number;
  private readonly ropeScale: number;

  constructor(args: Gemma3TextArgs, layerIdx: number) {
    super();
    const dim = args.hiddenSize;
    this.nHeads = args.numAttentionHeads;
    this.nKv = args.numKeyValueHeads;
    this.headDim = args.headDim;
    this.scale = args.queryPreAttnScalar ** -0.5;
    this.q_proj = new Linear(dim, this.nHeads * this.headDim, false);
    this.k_proj = new Linear(dim, this.nKv * this.headDim, false);
    this.v_proj = new Linear(dim, this.nKv * this.headDim, false);
    this.o_proj = new Linear(this.nHeads * this.headDim, dim, false);
    this.q_norm = new GemmaRMSNorm(this.headDim, args.rmsNormEps);
    this.k_norm = new GemmaRMSNorm(this.headDim, args.rmsNormEps);
    this.isSliding = args.slidingLayers[layerIdx];
    const rope = this.isSliding ? args.ropeLocal : args.ropeGlobal;
    this.ropeBase = rope.base;
    this.ropeScale = 1 / rope.factor;
  }

  /** q, k, v [B, heads, L, headDim] for normed hidden states x [B, L, dim], RoPE'd from `offset` (one per row, or shared). */
  project(x: MxArray, offset: number | MxArray, linear: LinearFn = plainLinear): [MxArray, MxArray, MxArray] {
    const [B, L] = x.shape;
    const split = (t: MxArray, heads: number) => mx.transpose(mx.reshape(t, [B, L, heads, this.headDim]), [0, 2, 1, 3]);
    const ropeOpts = { traditional: false, base: this.ropeBase, scale: this.ropeScale, offset };
    const [qp, kp, vp] = linears(linear, [this.q_proj, this.k_proj, this.v_proj], x);
    const q = mx.fast.rope(this.q_norm.forward(split(qp, this.nHeads)), this.headDim, ropeOpts);
    const k = mx.fast.rope(this.k_norm.forward(split(kp, this.nKv)), this.headDim, ropeOpts);
    const v = split(vp, this.nKv);
    return [q, k, v];
  }

  /** Attention over what the cache returned (keys/values [B, kvHeads, keys, headDim]). */
  attend(q: MxArray, k: MxArray, v: MxArray, layerMask: LayerMask = {}): MxArray {
    const opts: Record<string, unknown> = { scale: this.scale };
    if (layerMask.mask !== undefined) opts.mask = layerMask.mask;
    if (layerMask.slidingWindow !== undefined) opts.slidingWindow = layerMask.slidingWindow;
    return mx.fast.scaledDotProductAttention(q, k, v, opts);
  }

  /** The output projection of attention's result o [B, heads, L, headDim]. */
  output(o: MxArray, linear: LinearFn = plainLinear): MxArray {
    const [B, , L] = o.shape;
    return linear(this.o_proj, mx.reshape(mx.transpose(o, [0, 2, 1, 3]), [B, L, this.nHeads * this.headDim]));
  }

  forward(x: MxArray, layerMask: LayerMask, cache?: Cache): MxArray {
    let [q, k, v] = this.project(x, cache ? cache.offset : 0);
    if (cache) [k, v] = cache.updateAndFetch(k, v);
    return this.output(this.attend(q, k, v, layerMask));
  }
}

export class MLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  constructor(dim: number, hidden: number) {
    super();
    this.gate_proj = new Linear(dim, hidden, false);
    this.up_proj = new Linear(dim, hidden, false);
    this.down_proj = new Linear(hidden, dim, false);
  }
  forward(x: MxArray, linear: LinearFn = plainLinear): MxArray {
    // gelu(gate) · up as one fused kernel (the plain-op chain runs tanh through scalar libm: in a 512-token
    // prompt it cost as much as all the matrix products).
    const [gate, up] = linears(linear, [this.gate_proj, this.up_proj], x);
    return linear(this.down_proj, geluApprox(gate, up));
  }
}

/** In float16 the residual sum is formed in float32 and clipped to the float16 range (it would overflow). */
function clipResidual(x: MxArray, y: MxArray): MxArray {
  if (x.dtype !== mx.float16) return mx.add(x, y);
  const bound = 65504;
  return mx.clip(mx.add(x.astype(mx.float32), y.astype(mx.float32)), -bound, bound).astype(mx.float16);
}

export class TransformerBlock extends Module {
  self_attn: Attention;
  mlp: MLP;
  input_layernorm: GemmaRMSNorm;
  post_attention_layernorm: GemmaRMSNorm;
  pre_feedforward_layernorm: GemmaRMSNorm;
  post_feedforward_layernorm: GemmaRMSNorm;

  constructor(args: Gemma3TextArgs, layerIdx: number) {
    super();
    this.self_attn = new Attention(args, layerIdx);
    this.mlp = new MLP(args.hiddenSize, args.intermediateSize);
    const n = () => new GemmaRMSNorm(args.hiddenSize, args.rmsNormEps);
    this.input_layernorm = n();
    this.post_attention_layernorm = n();
    this.pre_feedforward_layernorm = n();
    this.post_feedforward_layernorm = n();
  }

  /** The block up to attention: q, k, v of hidden states x [B, L, dim] (see Attention.project). */
  attnIn(x: MxArray, offset: number | MxArray, linear: LinearFn = plainLinear): [MxArray, MxArray, MxArray] {
    return this.self_attn.project(this.input_layernorm.forward(x), offset, linear);
  }

  /** The block after attention: output projection, norms, residuals and MLP, given attention's result o. */
  attnOut(x: MxArray, o: MxArray, linear: LinearFn = plainLinear): MxArray {
    const r = this.self_attn.output(o, linear);
    const h = clipResidual(x, this.post_attention_layernorm.forward(r));
    const m = this.mlp.forward(this.pre_feedforward_layernorm.forward(h), linear);
    return clipResidual(h, this.post_feedforward_layernorm.forward(m));
  }

  forward(x: MxArray, mask: LayerMask, cache?: Cache, linear: LinearFn = plainLinear): MxArray {
    let [q, k, v] = this.attnIn(x, cache ? cache.offset : 0, linear);
    if (cache) [k, v] = cache.updateAndFetch(k, v);
    return this.attnOut(x, this.self_attn.attend(q, k, v, mask), linear);
  }
}

/** A boolean mask [B, 1, L, keys] from causal order, an optional window and key padding. */
export function buildMask(L: number, keys: number, opts: { window?: number; padding?: MxArray; bidirectional?: boolean }): MxArray {
  const q = mx.reshape(mx.add(mx.arange(L), keys - L), [L, 1]);
  const k = mx.reshape(mx.arange(keys), [1, keys]);
  let m = opts.bidirectional ? mx.full([L, keys], true) : mx.lessEqual(k, q);
  if (opts.window !== undefined) {
    const near = opts.bidirectional
      ? mx.less(mx.abs(mx.subtract(k, q)), opts.window)
      : mx.greater(k, mx.subtract(q, opts.window));
    m = mx.logicalAnd(m, near);
  }
  let out = mx.reshape(m, [1, 1, L, keys]);
  if (opts.padding) {
    const pad = mx.reshape(mx.notEqual(opts.padding, 0), [opts.padding.shape[0], 1, 1, keys]);
    out = mx.logicalAnd(out, pad);
  }
  return out;
}

export class Gemma3TextModel extends Module {
  embed_tokens: Embedding;
  layers: TransformerBlock[];
  norm: GemmaRMSNorm;
  constructor(readonly args: Gemma3TextArgs) {
    super();
    this.embed_tokens = new Embedding(args.vocabSize, args.hiddenSize);
    this.layers = Array.from({ length: args.numHiddenLayers }, (_, i) => new TransformerBlock(args, i));
    this.norm = new GemmaRMSNorm(args.hiddenSize, args.rmsNormEps);
  }

  /** Scales embeddings by sqrt(hidden) rounded to the model dtype, as transformers does. */
  scaleEmbeddings(h: MxArray): MxArray {
    return mx.multiply(h, mx.array(Math.sqrt(this.args.hiddenSize), h.dtype));
  }

  forward(inputs: MxArray, opts: ForwardOptions = {}): MxArray {
    let h = this.scaleEmbeddings(opts.inputEmbeddings ?? this.embed_tokens.forward(inputs));
    opts.hiddenStates?.push(h);
    const cache = opts.cache;
    const L = h.shape[1];
    const bidirectional = opts.bidirectional ?? this.args.useBidirectionalAttention;
    const masks = this.layerMasks(L, cache, opts, bidirectional);
    this.layers.forEach((layer, i) => {
      h = layer.forward(h, this.layers[i].self_attn.isSliding ? masks.sliding : masks.global, cache?.[i], opts.linear);
      if (opts.hiddenStates && i < this.layers.length - 1) opts.hiddenStates.push(h);
    });
    const out = this.norm.forward(h);
    opts.hiddenStates?.push(out);
    return out;
  }

  private layerMasks(L: number, cache: Cache[] | undefined, opts: ForwardOptions, bidirectional: boolean) {
    if (opts.mask) return { global: { mask: opts.mask }, sliding: { mask: opts.mask } };
    // Bidirectional (EmbeddingGemma): sliding_window is the full width; a key is seen when |i − j| < w // 2 + 1,
    // as transformers' Gemma3TextConfig rewrites it (checked against the embeddinggemma-tiny reference).
    const window = bidirectional ? Math.floor(this.args.slidingWindow / 2) + 1 : this.args.slidingWindow;
    if (opts.attentionMask || bidirectional) {
      // Explicit boolean masks: key counts differ per layer kind when caches are used.
      const cacheFor = (sliding: boolean) => cache?.[this.layers.findIndex((l) => l.self_attn.isSliding === sliding)];
      const keysFor = (sliding: boolean) => {
        const c = cacheFor(sliding);
        return c ? c.keyCountAfter(L) : L;
      };
      // The padding mask covers every position so far; a cache says which positions its keys hold, in the
      // order attention sees them (a rotating cache returns its buffer rotated during decoding).
      const padFor = (sliding: boolean, keys: number) => {
        const m = opts.attentionMask;
        if (!m) return undefined;
        const have = m.shape[1];
        const c = cacheFor(sliding);
        if (c) {
          const total = c.offset + L;
          const pos = c.keyPositions(L).map((p) => p - (total - have));
          if (pos.length !== keys || pos.some((p) => p < 0))
            throw new Error(`[gemma3] attentionMask covers ${have} positions but the cache needs ${total}`);
          if (pos.length === have && pos[have - 1] === have - 1) return m;
          return mx.take(m, mx.array(pos, mx.int32), 1);
        }
        if (have === keys) return m;
        if (have > keys) return mx.slice(m, [0, have - keys], [m.shape[0], have]);
        throw new Error(`[gemma3] attentionMask covers ${have} keys but attention sees ${keys}`);
      };
      const gk = keysFor(false), sk = keysFor(true);
      return {
        global: { mask: buildMask(L, gk, { padding: padFor(false, gk), bidirectional }) },
        sliding: { mask: buildMask(L, sk, { window, padding: padFor(true, sk), bidirectional }) },
      };
    }
    if (L === 1) return { global: {}, sliding: {} };  // one query sees every cached key (rotating caches hold the window)
    return { global: { mask: "causal" as const }, sliding: { mask: "causal" as const, slidingWindow: window } };
  }
}

export class Model extends Module {
  model: Gemma3TextModel;
  declare lm_head?: Linear;
  readonly modelType = "gemma3_text";
  constructor(readonly args: Gemma3TextArgs) {
    super();
    this.model = new Gemma3TextModel(args);
    if (!args.tieWordEmbeddings) this.lm_head = new Linear(args.hiddenSize, args.vocabSize, false);
  }

  get layers(): TransformerBlock[] {
    return this.model.layers;
  }

  /** Logits [B, L, vocab] for input ids [B, L]. */
  forward(inputs: MxArray, opts: ForwardOptions = {}): MxArray {
    return this.logits(this.model.forward(inputs, opts), opts.linear);
  }

  /** Logits of final (normed) hidden states: the vocabulary head and the soft cap. */
  logits(h: MxArray, linear: LinearFn = plainLinear): MxArray {
    // Tied embeddings: the head is the embedding used as a linear layer (`tied` lets the step see its quantization).
    const head = this.lm_head ?? { forward: (x: MxArray) => this.model.embed_tokens.asLinear(x), tied: this.model.embed_tokens };
    return softcap(linear(head, h), this.args.finalLogitSoftcapping);
  }

  /**
   * The model's compiled decode step (see makeGemma3DecodeStep), built once per model and per set of weights and
   * adapter layers (it is rebuilt only when those change); undefined where it does not apply.
   */
  makeDecodeStep(opts: DecodeStepOptions = {}): DecodeStep | undefined {
    const int8 = opts.int8Activations ?? true;
    const envOff = typeof process !== "undefined" && process.env?.HEARTH_PACKED === "0";
    const packed = int8 && (opts.packedWeights ?? !envOff) && packedQuantizedKernelName() !== "generic";
    const prefillEnvOff = typeof process !== "undefined" && process.env?.HEARTH_PACKED_PREFILL === "0";
    const prefill = packed && (opts.packedPrefill ?? (!prefillEnvOff && !mx.kernelInfo().amx));
    const fingerprint = decodeStepFingerprint(this);
    const hit = this._decodeSteps.find((s) => s.int8 === int8 && s.packed === packed && s.prefill === prefill && sameArrays(s.fingerprint, fingerprint));
    if (hit) return hit.step;
    const step = makeGemma3DecodeStep(this, int8, packed, prefill);
    // One step per setting: a packed step holds a second copy of the weights, so another setting replaces it.
    this._decodeSteps = [{ int8, packed, prefill, fingerprint, step }];
    return step;
  }
  private _decodeSteps: { int8: boolean; packed: boolean; prefill: boolean; fingerprint: unknown[]; step: DecodeStep | undefined }[] = [];

  /** Checkpoint tensors → this model's parameter names. */
  sanitize(weights: Record<string, MxArray>): Record<string, MxArray> {
    const out: Record<string, MxArray> = {};
    for (let [k, v] of Object.entries(weights)) {
      if (k.includes("rotary_emb.inv_freq")) continue;
      // The text part of a multimodal (gemma3) checkpoint, in the hub's and transformers 5's naming.
      if (isGemma3VisionWeight(k)) continue;
      if (k.startsWith("language_model.")) k = k.slice("language_model.".length);
      else if (k.startsWith("model.language_model.")) k = "model." + k.slice("model.language_model.".length);
      out[k] = v;
    }
    if (this.args.tieWordEmbeddings) delete out["lm_head.weight"];
    return out;
  }

  /** KVCache on global layers, RotatingKVCache (the sliding window) on local ones. */
  makeCache(opts: { maxKvSize?: number } = {}): Cache[] {
    return this.layers.map((l) => {
      if (opts.maxKvSize !== undefined)
        return new RotatingKVCache(l.self_attn.isSliding ? Math.min(opts.maxKvSize, this.args.slidingWindow) : opts.maxKvSize, l.self_attn.isSliding ? 0 : 4);
      return l.self_attn.isSliding ? new RotatingKVCache(this.args.slidingWindow, 0) : new KVCache();
    });
  }
}

// ---- the compiled decode step ----

export interface DecodeStepOptions {
  /**
   * 4- and 8-bit quantized layers use int8 activations (x rounded per group, as llama.cpp does for Q4_0/Q8_0)
   * on AVX512-VNNI: ~0.5% relative error in each product, ~2x less CPU per weight. Default true.
   */
  int8Activations?: boolean;
  /**
   * With int8 activations: 4- and 8-bit layers are repacked once, when the step is built, into the packed layout
   * (core/ops-qmv-packed.ts: one interleaved stream per 16 output columns; q/k/v and gate/up each packed into
   * one product), which reads each weight once for all rows of a batched step. Costs a second copy of those
   * weights in memory. Default true where the CPU has a vector kernel for it (AVX-512 VNNI or AVX2);
   * HEARTH_PACKED=0 turns it off (A/B runs).
   */
  packedWeights?: boolean;
  /**
   * With packed weights: DecodeStep.prefill runs the prompt through the packed int8 products too (an int8 GEMM:
   * row blocks of 6 against each 16-column record), ~0.5% relative error per product as in decode. Default true
   * where the CPU has no AMX (there the exact dequantize + AMX path is faster); HEARTH_PACKED_PREFILL=0 turns it off.
   * The model's forward() stays exact whatever this says.
   */
  packedPrefill?: boolean;
}

/** Which kernels a decode step chose (as `hearth bench` reports them). */
export interface DecodeStepInfo {
  int8Activations: boolean;
  /** Quantized layers repacked into the packed layout (and how many products a layer runs: 4 packed vs 7). */
  packedWeights: boolean;
  /** Prompt chunks go through the packed products (DecodeStep.prefill is set). */
  packedPrefill: boolean;
  /** The packed product's kernel ("avx512-vnni" | "avx2" | "generic"). */
  packedKernel: string;
}

/**
 * Token ids [B, 1] → logits [B, vocab] for B rows, each with its own caches (`caches[b]`, the model's own kinds,
 * already holding that row's prompt) at its own offset; advances every row's caches by one position.
 * `prefill`, where set, is the forward a decode loop runs prompt chunks through (token ids [1, L], the row's
 * caches → logits, lazily): the model's forward with the step's packed products.
 */
export type DecodeStep = ((tokens: MxArray, caches: Cache[][]) => MxArray) & {
  info?: DecodeStepInfo;
  prefill?: (inputs: MxArray, cache: Cache[]) => MxArray;
};

/** A quantized layer's parameters (QuantizedLinear / QuantizedEmbedding). */
interface Quantized {
  weight: MxArray;
  scales: MxArray;
  biases: MxArray;
  groupSize: number;
  bits: number;
  bias?: MxArray;
}

function quantizedOf(m: unknown): Quantized | undefined {
  const q = m as Partial<Quantized> & { mode?: string };
  if (!q || !q.scales || !q.biases || !q.weight || typeof q.groupSize !== "number" || typeof q.bits !== "number") return undefined;
  if (q.mode !== undefined && q.mode !== "affine") return undefined;
  return q as Quantized;
}

/** What a compiled step captured: every parameter array and layer object (adapters replace layers). */
function decodeStepFingerprint(model: Model): unknown[] {
  const out: unknown[] = [model.lm_head, model.model.embed_tokens];
  const walk = (t: unknown): void => {
    if (mx.isArray(t)) out.push(t);
    else if (Array.isArray(t)) t.forEach(walk);
    else if (t && typeof t === "object") Object.values(t).forEach(walk);
  };
  for (const l of model.model.layers) {
    const a = l.self_attn, m = l.mlp;
    out.push(a.q_proj, a.k_proj, a.v_proj, a.o_proj, m.gate_proj, m.up_proj, m.down_proj);
  }
  walk(model.parameters());
  return out;
}

const sameArrays = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The packed weights of a model's quantized layers (see DecodeStepOptions.packedWeights), keyed by layer: q/k/v
 * under q_proj and gate/up under gate_proj as one packed weight each (where they can be packed together), the
 * others alone. Evaluated here, layer by layer, so the step's trace captures them as constants.
 */
function packWeights(model: Model): Map<object, PackedQuantized> {
  const out = new Map<object, PackedQuantized>();
  const packable = (l: object) => {
    const q = quantizedOf(l);
    if (!q || q.weight.ndim !== 2) return undefined;
    const K = (q.weight.shape[1] * 32) / q.bits;
    return quantizedRepackSupported(q.weight.shape[0], K, q.groupSize, q.bits) ? q : undefined;
  };
  const add = (key: object, ls: object[]) => {
    const qs = ls.map(packable);
    if (qs.some((q) => !q)) return false;
    const first = qs[0]!;
    if (qs.some((q) => q!.groupSize !== first.groupSize || q!.bits !== first.bits || q!.scales.dtype !== first.scales.dtype ||
      q!.weight.shape[1] !== first.weight.shape[1])) return false;
    const p = quantizedRepack(qs.map((q) => ({ wq: q!.weight, scales: q!.scales, biases: q!.biases })), { groupSize: first.groupSize, bits: first.bits });
    mx.eval(p.packed);
    out.set(key, p);
    return true;
  };
  for (const l of model.model.layers) {
    const a = l.self_attn, m = l.mlp;
    if (!add(a.q_proj, [a.q_proj, a.k_proj, a.v_proj])) for (const x of [a.q_proj, a.k_proj, a.v_proj]) add(x, [x]);
    if (!add(m.gate_proj, [m.gate_proj, m.up_proj])) for (const x of [m.gate_proj, m.up_proj]) add(x, [x]);
    add(a.o_proj, [a.o_proj]);
    add(m.down_proj, [m.down_proj]);
  }
  add(model.lm_head ?? model.model.embed_tokens, [model.lm_head ?? model.model.embed_tokens]);
  return out;
}

/**
 * The compiled decode step of a Gemma 3 text model. The forward builds ~2000 graph nodes per token from JS (each
 * op: a JS wrapper, a native call, scalar constants as full+broadcast nodes, `1 + weight` of every norm
 * recomputed). Here each layer is the block's own attnIn / attnOut (the same code as the forward), each under
 * `mx.compile` with static shapes, replayed natively per token with elementwise chains fused and
 * input-independent values (the norms' 1 + w, transposed weights) computed once at trace time. Only the KV cache
 * update and attention, whose shapes grow with the context and differ per row, stay uncompiled.
 *
 * Batching: the projections and the MLP run once over all B rows (one read of the weights per step, which is
 * what a decode step on a CPU is bound by); RoPE takes one offset per row; each row's keys/values go to its own
 * caches and attention runs per row on exactly that row's keys, so rows at different lengths, and sliding-window
 * rows that have rotated, need neither padding nor masks and give what they give alone.
 */
function makeGemma3DecodeStep(model: Model, int8: boolean, packed: boolean, packedPrefill: boolean): DecodeStep | undefined {
  const inner = model.model;
  if (inner.args.attnLogitSoftcapping) return undefined;  // not a Gemma 3 feature; leave such configs to forward()
  const quantOf = (layer: object) => (int8 ? quantizedOf((layer as { tied?: unknown }).tied ?? layer) : undefined);
  const packs = packed ? packWeights(model) : undefined;
  const withBias = (y: MxArray, q: Quantized) => (q.bias ? mx.add(y, q.bias) : y);
  const linear: LinearFn = (layer, x) => {
    const q = quantOf(layer);
    const p = packs?.get((layer as { tied?: object }).tied ?? layer);
    if (q && p) return withBias(packedQuantizedMatmul(x, p), q);
    if (!q || !quantizedMatmulInt8Supported(x.shape[x.ndim - 1], q.groupSize, q.bits)) return layer.forward(x);
    return withBias(quantizedMatmulInt8(x, q.weight, q.scales, q.biases, q.groupSize, q.bits), q);
  };
  // q/k/v and gate/up packed together: one product (one quantization of x, one parallel region), split after.
  linear.many = (ls, x) => {
    const p = packs?.get(ls[0]);
    if (!p || p.splits.length !== ls.length) return ls.map((l) => linear(l, x));
    return packedQuantizedMatmulSplit(x, p).map((y, i) => withBias(y, quantOf(ls[i])!));
  };
  const embed = mx.compile((tok: MxArray) => inner.scaleEmbeddings(inner.embed_tokens.forward(tok)));
  const layers = inner.layers.map((layer) => ({
    pre: mx.compile((h: MxArray, offset: MxArray) => layer.attnIn(h, offset, linear)),
    post: mx.compile((h: MxArray, o: MxArray) => layer.attnOut(h, o, linear)),
    attn: layer.self_attn,
  }));
  const head = mx.compile((h: MxArray) => {
    const out = model.logits(inner.norm.forward(h), linear);
    return mx.reshape(out, [out.shape[0], out.shape[2]]);
  });
  const step: DecodeStep = (tokens: MxArray, caches: Cache[][]) => {
    const B = caches.length;
    if (tokens.shape[0] !== B || tokens.shape[1] !== 1)
      throw new Error(`[decodeStep] tokens must be [${B}, 1] for ${B} rows, got [${tokens.shape.join(", ")}]`);
    // One row: a scalar offset (the trace the single-sequence step always used); several: one per row.
    const offset = B === 1 ? mx.array(caches[0][0].offset, mx.int32) : mx.array(caches.map((c) => c[0].offset), mx.int32);
    let h = embed(tokens);
    layers.forEach((l, i) => {
      const [q, k, v] = l.pre(h, offset) as MxArray[];
      let o: MxArray;
      if (B === 1) {
        const [kc, vc] = caches[0][i].updateAndFetch(k, v);
        o = l.attn.attend(q, kc, vc);
      } else {
        const row = (t: MxArray, b: number) => mx.slice(t, [b, 0, 0, 0], [b + 1, t.shape[1], 1, t.shape[3]]);
        o = mx.concatenate(caches.map((c, b) => {
          const [kc, vc] = c[i].updateAndFetch(row(k, b), row(v, b));
          return l.attn.attend(row(q, b), kc, vc);
        }), 0);
      }
      h = l.post(h, o);
    });
    return head(h);
  };
  // Prefill: only the packed layers change (an unpacked int8 product is a matvec kernel, slower than the tiled
  // float path for a prompt); everything else is the model's own forward.
  const prefillLinear: LinearFn = (layer, x) => {
    const p = packs?.get((layer as { tied?: object }).tied ?? layer);
    const q = p ? quantOf(layer) : undefined;
    return q && p ? withBias(packedQuantizedMatmul(x, p), q) : layer.forward(x);
  };
  prefillLinear.many = (ls, x) => {
    const p = packs?.get(ls[0]);
    if (!p || p.splits.length !== ls.length) return ls.map((l) => prefillLinear(l, x));
    return packedQuantizedMatmulSplit(x, p).map((y, i) => withBias(y, quantOf(ls[i])!));
  };
  const usePrefill = packedPrefill && !!packs && packs.size > 0;
  if (usePrefill) step.prefill = (inputs: MxArray, cache: Cache[]) => model.forward(inputs, { cache, linear: prefillLinear });
  step.info = { int8Activations: int8, packedWeights: !!packs && packs.size > 0, packedPrefill: usePrefill, packedKernel: packedQuantizedKernelName() };
  return step;
}
