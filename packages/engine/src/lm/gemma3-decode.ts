// A compiled one-token decode step for Gemma 3 text models. The model's forward builds ~2000 graph nodes per
// token from JS (each op: a JS wrapper, a native call, scalar constants as full+broadcast nodes, `1 + weight` of
// every norm recomputed). Here each layer is two `mx.compile`d functions with static shapes — before attention
// (norm, q/k/v projections, q/k norms, RoPE at an offset given as an array) and after it (output projection,
// norms, residuals, MLP) — replayed natively per token, with elementwise chains fused (GELU becomes one kernel)
// and input-independent values (the norms' 1 + w, transposed weights) computed once at trace time. Only the KV
// cache update and the attention, whose shapes grow with the context, stay uncompiled: about 10 JS-level calls
// per layer instead of ~80.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { Cache } from "./cache.js";
import { geluApprox } from "../core/ops-activations.js";
import type { LanguageModel } from "./model.js";
import type { Attention, Model, TransformerBlock } from "./models/gemma3-text.js";
import { quantizedMatmulInt8, quantizedMatmulInt8Supported } from "../core/ops-qmv-int8.js";

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

export interface DecodeStepOptions {
  /**
   * 4- and 8-bit quantized layers use int8 activations (x rounded per group, as llama.cpp does for Q4_0/Q8_0)
   * on AVX512-VNNI: ~0.5% relative error in each product, ~2x less CPU per weight. Default true.
   */
  int8Activations?: boolean;
}

type Step = (tokens: MxArray) => MxArray;

interface AttnInternals {
  nHeads: number;
  nKv: number;
  headDim: number;
  scale: number;
  ropeBase: number;
  ropeScale: number;
}

function isGemma3Text(model: LanguageModel): model is LanguageModel & Model {
  const m = model as unknown as Partial<Model>;
  return (model.modelType === "gemma3_text" || model.modelType === "gemma3") && !!m.model && Array.isArray(m.model.layers) &&
    !!m.model.embed_tokens && !!m.model.norm;
}

/**
 * A function from token ids [1, 1] to logits [1, vocab] that advances `cache` by one position, for Gemma 3 text
 * models; undefined for other models (callers fall back to the model's forward). The caches must be the
 * model's own (`model.makeCache()`), already holding the prompt.
 */
export function makeGemma3DecodeStep(model: LanguageModel, cache: Cache[], opts: DecodeStepOptions = {}): Step | undefined {
  if (!isGemma3Text(model)) return undefined;
  const inner = model.model;
  const args = inner.args;
  const int8 = opts.int8Activations ?? true;
  // x · Wᵀ through a layer, on the int8-activation kernel where it applies.
  const linear = (layer: { forward(x: MxArray): MxArray }, x: MxArray): MxArray => {
    const q = int8 ? quantizedOf(layer) : undefined;
    if (!q || !quantizedMatmulInt8Supported(x.shape[x.ndim - 1], q.groupSize, q.bits)) return layer.forward(x);
    const y = quantizedMatmulInt8(x, q.weight, q.scales, q.biases, q.groupSize, q.bits);
    return q.bias ? mx.add(y, q.bias) : y;
  };
  const headOf = (x: MxArray): MxArray => {
    if (model.lm_head) return linear(model.lm_head, x);
    const q = int8 ? quantizedOf(inner.embed_tokens) : undefined;
    if (q && quantizedMatmulInt8Supported(x.shape[x.ndim - 1], q.groupSize, q.bits))
      return quantizedMatmulInt8(x, q.weight, q.scales, q.biases, q.groupSize, q.bits);
    return inner.embed_tokens.asLinear(x);
  };
  if (args.attnLogitSoftcapping) return undefined;  // not a Gemma 3 feature; leave such configs to forward()
  const H = args.hiddenSize;
  const embedScale = Math.sqrt(H);
  const embed = mx.compile((tok: MxArray) => {
    const h = inner.embed_tokens.forward(tok);
    return mx.multiply(h, mx.array(embedScale, h.dtype));
  });
  const layers = inner.layers.map((layer: TransformerBlock) => {
    const attn: Attention = layer.self_attn;
    const { nHeads, nKv, headDim, ropeBase, ropeScale, scale } = attn as unknown as AttnInternals;  // private fields
    const split = (t: MxArray, heads: number) => mx.transpose(mx.reshape(t, [1, 1, heads, headDim]), [0, 2, 1, 3]);
    const pre = mx.compile((h: MxArray, offset: MxArray) => {
      const x = layer.input_layernorm.forward(h);
      const ropeOpts = { traditional: false, base: ropeBase, scale: ropeScale, offset };
      const q = mx.fast.rope(attn.q_norm.forward(split(linear(attn.q_proj, x), nHeads)), headDim, ropeOpts);
      const k = mx.fast.rope(attn.k_norm.forward(split(linear(attn.k_proj, x), nKv)), headDim, ropeOpts);
      const v = split(linear(attn.v_proj, x), nKv);
      return [q, k, v];
    });
    const post = mx.compile((h: MxArray, o: MxArray) => {
      const r = linear(attn.o_proj, mx.reshape(mx.transpose(o, [0, 2, 1, 3]), [1, 1, nHeads * headDim]));
      const h2 = residual(h, layer.post_attention_layernorm.forward(r));
      const mlp = layer.mlp;
      const xm = layer.pre_feedforward_layernorm.forward(h2);
      const m = linear(mlp.down_proj, geluApprox(linear(mlp.gate_proj, xm), linear(mlp.up_proj, xm)));
      return residual(h2, layer.post_feedforward_layernorm.forward(m));
    });
    return { pre, post, scale };
  });
  const cap = args.finalLogitSoftcapping;
  const head = mx.compile((h: MxArray) => {
    const x = inner.norm.forward(h);
    let out = headOf(x);
    if (cap) out = mx.multiply(mx.tanh(mx.divide(out, cap)), cap);
    return mx.reshape(out, [1, out.shape[2]]);
  });
  return (tokens: MxArray) => {
    const offset = mx.array(cache[0].offset, mx.int32);
    let h = embed(tokens);
    layers.forEach((l, i) => {
      const [q, k0, v0] = l.pre(h, offset) as MxArray[];
      const [k, v] = cache[i].updateAndFetch(k0, v0);
      const o = mx.fast.scaledDotProductAttention(q, k, v, { scale: l.scale });
      h = l.post(h, o);
    });
    return head(h);
  };
}

/** Gemma's residual: in float16 the sum is formed in float32 and clipped to the float16 range. */
function residual(x: MxArray, y: MxArray): MxArray {
  if (x.dtype !== mx.float16) return mx.add(x, y);
  const bound = 65504;
  return mx.clip(mx.add(x.astype(mx.float32), y.astype(mx.float32)), -bound, bound).astype(mx.float16);
}
