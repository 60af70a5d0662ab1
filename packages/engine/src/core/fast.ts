// mx.fast: fused ops with MLX's names (native/core/ops/fast). Each runs as one fused CPU kernel; its
// gradient is that of an equivalent graph of plain ops (the fallback), so all of them are differentiable.
import { isArray, track, type MxArray } from "./array.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";
import { asArray } from "./scalars.js";

function opt(a: MxArray | null | undefined, op: string): MxArray | null {
  return a === null || a === undefined ? null : asArray(a, op);
}

/**
 * RMS normalisation over the last axis: `x * rsqrt(mean(x², -1) + eps) * weight`. Half inputs are computed in
 * float32; the result has x's dtype (promoted with weight's). `weight` is 1-D of size x.shape[-1], or null.
 */
export function rmsNorm(x: MxArray, weight: MxArray | null = null, eps = 1e-5): MxArray {
  return track(native.fastRmsNorm(asArray(x, "rmsNorm"), opt(weight, "rmsNorm"), eps, false));
}

/** Layer normalisation over the last axis: `(x - mean) * rsqrt(var + eps) * weight + bias` (weight, bias optional). */
export function layerNorm(x: MxArray, weight: MxArray | null = null, bias: MxArray | null = null, eps = 1e-5): MxArray {
  const op = "layerNorm";
  return track(native.fastLayerNorm(asArray(x, op), opt(weight, op), opt(bias, op), eps, false));
}

export interface RopeOptions {
  /** Rotate consecutive pairs (2i, 2i+1) instead of the two halves (i, i + dims/2). Default false. */
  traditional?: boolean;
  /** Frequency base: angle = position · base^(-2i/dims). Default 10000; must be null/absent with `freqs`. */
  base?: number | null;
  /** Multiplies the positions. Default 1. */
  scale?: number;
  /** First position: a number, an integer scalar array, or an integer array with one offset per batch item. */
  offset?: number | MxArray;
  /** Explicit frequencies [dims/2]: angle = position / freqs[i] (MLX's convention). */
  freqs?: MxArray | null;
}

/**
 * Rotary position embedding of x [..., L, D] (positions along axis -2): the first `dims` features are rotated
 * by angle (offset + t) · scale · θᵢ, the rest are copied.
 */
export function rope(x: MxArray, dims: number, options: RopeOptions = {}): MxArray {
  const { traditional = false, scale = 1, offset = 0, freqs = null } = options;
  let base: number | null | undefined = options.base;
  if (!freqs) {
    if (base === null) throw new EngineError("[rope] base is null: give a base or freqs");
    base ??= 10000;
  }
  const off = typeof offset === "number" ? offset : isArray(offset) ? offset : asArray(offset as never, "rope");
  return track(native.fastRope(asArray(x, "rope"), dims, traditional, base ?? null, scale, off, opt(freqs, "rope"),
    false));
}

export interface ScaledDotProductAttentionOptions {
  /** Multiplies q·k. Default 1/sqrt(head_dim). */
  scale?: number;
  /**
   * "causal" (the last query aligned with the last key: query i sees keys ≤ i + Lk − Lq), a boolean array
   * (true = attend) or an additive float array, broadcastable to [B, Hq, Lq, Lk].
   */
  mask?: "causal" | MxArray | null;
  /** Keys in (p − n, p] only, for a query at position p = i + Lk − Lq (implies causal; Gemma's local layers). */
  slidingWindow?: number | null;
}

/**
 * softmax(q·kᵀ · scale + mask) · v with q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv]; grouped-query
 * heads (Hq a multiple of Hkv; query head h uses kv head floor(h / (Hq / Hkv))) without copying k or v. The
 * softmax runs in float32 for half inputs. A query whose keys are all masked gets 0 (not NaN).
 */
export function scaledDotProductAttention(q: MxArray, k: MxArray, v: MxArray,
                                          options: ScaledDotProductAttentionOptions = {}): MxArray {
  const op = "scaledDotProductAttention";
  const { scale, mask = null, slidingWindow = null } = options;
  if (mask !== null && typeof mask !== "string" && !isArray(mask))
    throw new EngineError(`[${op}] mask must be "causal", a boolean or additive array, or null`);
  return track(native.fastScaledDotProductAttention(asArray(q, op), asArray(k, op), asArray(v, op), scale ?? null,
    mask, slidingWindow, false));
}
