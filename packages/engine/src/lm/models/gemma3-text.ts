// Gemma 3 text (Gemma3ForCausalLM, model_type "gemma3_text"), following mlx-lm's model file: Args → blocks →
// Model with sanitize() and makeCache(). Parameter paths equal the checkpoint's tensor names.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { Module } from "../../nn/module.js";
import { Linear } from "../../nn/layers/linear.js";
import { Embedding } from "../../nn/layers/embedding.js";
import { geluApprox } from "../../core/ops-activations.js";
import { gemma3TextArgs, type Gemma3TextArgs, type Json } from "../config.js";
import { KVCache, RotatingKVCache, type Cache } from "../cache.js";

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
}

type LayerMask = { mask?: MxArray | "causal"; slidingWindow?: number };

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

  forward(x: MxArray, layerMask: LayerMask, cache?: Cache): MxArray {
    const [B, L] = x.shape;
    const split = (t: MxArray, heads: number) => mx.transpose(mx.reshape(t, [B, L, heads, this.headDim]), [0, 2, 1, 3]);
    let q = this.q_norm.forward(split(this.q_proj.forward(x), this.nHeads));
    let k = this.k_norm.forward(split(this.k_proj.forward(x), this.nKv));
    let v = split(this.v_proj.forward(x), this.nKv);
    const offset = cache ? cache.offset : 0;
    const ropeOpts = { traditional: false, base: this.ropeBase, scale: this.ropeScale, offset };
    q = mx.fast.rope(q, this.headDim, ropeOpts);
    k = mx.fast.rope(k, this.headDim, ropeOpts);
    if (cache) [k, v] = cache.updateAndFetch(k, v);
    const opts: Record<string, unknown> = { scale: this.scale };
    if (layerMask.mask !== undefined) opts.mask = layerMask.mask;
    if (layerMask.slidingWindow !== undefined) opts.slidingWindow = layerMask.slidingWindow;
    const o = mx.fast.scaledDotProductAttention(q, k, v, opts);
    return this.o_proj.forward(mx.reshape(mx.transpose(o, [0, 2, 1, 3]), [B, L, -1]));
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
  forward(x: MxArray): MxArray {
    // gelu(gate) · up as one fused kernel (the plain-op chain runs tanh through scalar libm: in a 512-token
    // prompt it cost as much as all the matrix products).
    return this.down_proj.forward(geluApprox(this.gate_proj.forward(x), this.up_proj.forward(x)));
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

  forward(x: MxArray, mask: LayerMask, cache?: Cache): MxArray {
    const r = this.self_attn.forward(this.input_layernorm.forward(x), mask, cache);
    const h = clipResidual(x, this.post_attention_layernorm.forward(r));
    const m = this.mlp.forward(this.pre_feedforward_layernorm.forward(h));
    return clipResidual(h, this.post_feedforward_layernorm.forward(m));
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

  forward(inputs: MxArray, opts: ForwardOptions = {}): MxArray {
    let h = opts.inputEmbeddings ?? this.embed_tokens.forward(inputs);
    // Scaled by sqrt(hidden) rounded to the model dtype, as transformers does.
    h = mx.multiply(h, mx.array(Math.sqrt(this.args.hiddenSize), h.dtype));
    opts.hiddenStates?.push(h);
    const cache = opts.cache;
    const L = h.shape[1];
    const bidirectional = opts.bidirectional ?? this.args.useBidirectionalAttention;
    const masks = this.layerMasks(L, cache, opts, bidirectional);
    this.layers.forEach((layer, i) => {
      h = layer.forward(h, this.layers[i].self_attn.isSliding ? masks.sliding : masks.global, cache?.[i]);
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
    const h = this.model.forward(inputs, opts);
    let out = this.lm_head ? this.lm_head.forward(h) : this.model.embed_tokens.asLinear(h);
    const cap = this.args.finalLogitSoftcapping;
    if (cap) out = mx.multiply(mx.tanh(mx.divide(out, cap)), cap);
    return out;
  }

  /** Checkpoint tensors → this model's parameter names. */
  sanitize(weights: Record<string, MxArray>): Record<string, MxArray> {
    const out: Record<string, MxArray> = {};
    for (let [k, v] of Object.entries(weights)) {
      if (k.includes("rotary_emb.inv_freq")) continue;
      // The text part of a multimodal (gemma3) checkpoint, in the hub's and transformers 5's naming.
      if (/^(model\.)?(vision_tower|multi_modal_projector)\./.test(k)) continue;
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
