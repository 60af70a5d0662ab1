// KV caches (mlx-lm's semantics): KVCache grows in steps and is updated in place; RotatingKVCache keeps a
// fixed window (plus `keep` leading tokens) for sliding-window layers and for `maxKvSize`; QuantizedKVCache
// stores either of them affine-quantized (kvBits), also on rotating layers (mlx-lm has no quantized rotating cache).
//
// Storage is a list of "planes" per tensor, each with the token axis at 2: [keys] as is, or [wq, scales, biases]
// when quantized. Every cache operation (grow, rotate, trim, snapshot) applies to all planes alike, so the
// rotating logic exists once.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";

export interface Cache {
  /** Tokens seen so far (the position of the next token). */
  readonly offset: number;
  /** Appends keys/values [B, kvHeads, L, D]; returns what attention should see. */
  updateAndFetch(keys: MxArray, values: MxArray): [MxArray, MxArray];
  /** How many keys attention sees after the next update of L tokens (for building masks). */
  keyCountAfter(L: number): number;
  /**
   * The token positions of the keys attention sees after the next update of L tokens, in the order they are
   * returned (a rotating cache returns its buffer rotated). Used to line a padding mask up with the keys.
   */
  keyPositions(L: number): number[];
  /** Arrays to save (prompt caches) and the scalars needed to restore them. */
  readonly state: MxArray[];
  readonly metaState: string[];
  restore(state: MxArray[], meta: string[]): void;
  isTrimmable(): boolean;
  /** Drops the last n tokens; returns how many were dropped. */
  trim(n: number): number;
  /** Every array the cache holds (generation keeps them past `mx.tidy`). */
  readonly arrays: MxArray[];
  /**
   * A cheap copy of the current contents (shares buffers) to roll back to later; only caches that can't always
   * trim (rotating ones) have it.
   */
  snapshot?(): CacheSnapshot;
  restoreSnapshot?(s: CacheSnapshot): void;
  readonly nbytes: number;
  readonly kind: string;
}

/** Opaque contents of a cache at one point (see Cache.snapshot). */
export interface CacheSnapshot {
  readonly offset: number;
  readonly data: unknown;
}

/** How a cache stores a [B, H, L, D] tensor: as one plane, or as several (quantized). */
export interface KVCodec {
  encode(x: MxArray): MxArray[];
  decode(planes: MxArray[]): MxArray;
}

type Planes = MxArray[];

const tokensIn = (p: Planes) => p[0].shape[2];

function sliceT(p: Planes, start: number, end: number): Planes {
  return p.map((a) => {
    const [B, H, n, D] = a.shape;
    if (start === 0 && end === n) return a;
    return mx.slice(a, [0, 0, start, 0], [B, H, end, D]);
  });
}

function concatT(parts: Planes[]): Planes {
  const live = parts.filter((p) => tokensIn(p) > 0);
  if (live.length === 1) return live[0];
  return live[0].map((_, i) => mx.concatenate(live.map((p) => p[i]), 2));
}

function zerosT(like: Planes, n: number): Planes {
  return like.map((a) => mx.zeros([a.shape[0], a.shape[1], n, a.shape[3]], a.dtype));
}

function updateT(buf: Planes, upd: Planes, at: number): Planes {
  return buf.map((a, i) => {
    const [B, H, , D] = a.shape;
    return mx.sliceUpdate(a, upd[i], [0, 0, at, 0], [B, H, at + upd[i].shape[2], D]);
  });
}

/** A second handle to the same node (so the first can be disposed without freeing what the second sees). */
const alias = (a: MxArray) => mx.astype(a, a.dtype);

// Dropping our handle before evaluation lets the update reuse the old buffer in place.
function replace(old: Planes | undefined, next: Planes): Planes {
  if (old) for (const a of old) if (!next.includes(a)) a.dispose();
  return next;
}

// Our own handle to the caller's array: the cache disposes what it holds when it moves on.
export const plainCodec: KVCodec = { encode: (x) => [alias(x)], decode: (p) => p[0] };

const nbytesOf = (p?: Planes) => (p ? p.reduce((s, a) => s + a.nbytes, 0) : 0);
const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

export class KVCache implements Cache {
  readonly kind: string = "KVCache";
  keys?: Planes;
  values?: Planes;
  offset = 0;
  static step = 256;

  constructor(readonly codec: KVCodec = plainCodec) {}

  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const kp = this.codec.encode(k), vp = this.codec.encode(v);
    const prev = this.offset;
    const L = k.shape[2];
    if (!this.keys || !this.values || prev + L > tokensIn(this.keys)) {
      const steps = Math.ceil(L / KVCache.step) * KVCache.step;
      const nk = zerosT(kp, steps), nv = zerosT(vp, steps);
      if (this.keys && this.values) {
        const kk = prev % KVCache.step ? sliceT(this.keys, 0, prev) : this.keys;
        const vv = prev % KVCache.step ? sliceT(this.values, 0, prev) : this.values;
        this.keys = replace(this.keys, concatT([kk, nk]));
        this.values = replace(this.values, concatT([vv, nv]));
      } else {
        this.keys = nk;
        this.values = nv;
      }
    }
    this.offset += L;
    this.keys = replace(this.keys, updateT(this.keys, kp, prev));
    this.values = replace(this.values!, updateT(this.values!, vp, prev));
    return [this.codec.decode(sliceT(this.keys, 0, this.offset)), this.codec.decode(sliceT(this.values, 0, this.offset))];
  }

  keyCountAfter(L: number): number {
    return this.offset + L;
  }

  keyPositions(L: number): number[] {
    return range(0, this.offset + L);
  }

  get state(): MxArray[] {
    if (!this.keys || !this.values) return [];
    return [...sliceT(this.keys, 0, this.offset), ...sliceT(this.values, 0, this.offset)];
  }
  get metaState(): string[] {
    return [];
  }
  restore(state: MxArray[]): void {
    const half = state.length / 2;
    this.keys = replace(this.keys, state.slice(0, half));
    this.values = replace(this.values, state.slice(half));
    this.offset = half ? tokensIn(this.keys) : 0;
    if (!half) this.keys = this.values = undefined;
  }
  isTrimmable(): boolean {
    return true;
  }
  trim(n: number): number {
    const t = Math.min(this.offset, n);
    this.offset -= t;
    return t;
  }
  get arrays(): MxArray[] {
    return [...(this.keys ?? []), ...(this.values ?? [])];
  }
  get nbytes(): number {
    return nbytesOf(this.keys) + nbytesOf(this.values);
  }
}

export class RotatingKVCache implements Cache {
  readonly kind: string = "RotatingKVCache";
  keys?: Planes;
  values?: Planes;
  offset = 0;
  private idx = 0;  // next write position in the buffer
  static step = 256;

  constructor(readonly maxSize: number, readonly keep = 0, readonly codec: KVCodec = plainCodec) {
    if (!(maxSize > keep)) throw new RangeError(`[RotatingKVCache] maxSize (${maxSize}) must exceed keep (${keep})`);
  }

  private get size(): number {
    return this.keys ? tokensIn(this.keys) : 0;
  }

  /** The valid part of the buffer in temporal order (undoing rotation). */
  private temporal(p: Planes): Planes {
    const n = tokensIn(p);
    if (this.idx === n) return p;
    // Not wrapped yet: the buffer is in order but only filled up to idx (the rest is unwritten growth).
    if (this.offset <= this.maxSize) return sliceT(p, 0, this.idx);
    return concatT([sliceT(p, 0, this.keep), sliceT(p, this.idx, n), sliceT(p, this.keep, this.idx)]);
  }

  /** Drops the oldest tokens after `keep` so that `size` remain. */
  private trimTo(p: Planes, size: number): Planes {
    const n = tokensIn(p);
    if (n <= size) return p;
    const cut = n - size;
    return concatT([sliceT(p, 0, this.keep), sliceT(p, this.keep + cut, n)]);
  }

  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const kp = this.codec.encode(k), vp = this.codec.encode(v);
    const L = k.shape[2];
    if (L === 1) return this.updateInPlace(kp, vp);
    // Prompt chunk: keep maxSize-1 old tokens in temporal order, append the new ones, return all of them.
    if (!this.keys || !this.values) {
      this.keys = kp;
      this.values = vp;
    } else {
      const kt = this.trimTo(this.temporal(this.keys), this.maxSize - 1);
      const vt = this.trimTo(this.temporal(this.values), this.maxSize - 1);
      this.keys = replace(this.keys, concatT([kt, kp]));
      this.values = replace(this.values, concatT([vt, vp]));
    }
    this.offset += L;
    this.idx = tokensIn(this.keys);
    return [this.codec.decode(this.keys), this.codec.decode(this.values)];
  }

  private updateInPlace(kp: Planes, vp: Planes): [MxArray, MxArray] {
    const size = this.size;
    if (!this.keys || !this.values || (this.offset >= size && size < this.maxSize)) {
      // Grow (up to maxSize) before the window is full.
      const grow = Math.min(RotatingKVCache.step, this.maxSize - size);
      const nk = zerosT(kp, grow), nv = zerosT(vp, grow);
      this.keys = this.keys ? replace(this.keys, concatT([this.keys, nk])) : nk;
      this.values = this.values ? replace(this.values, concatT([this.values, nv])) : nv;
      this.idx = size;
    }
    if (tokensIn(this.keys) > this.maxSize) {
      // After a long prompt chunk the buffer can exceed the window: bring it back to maxSize in order.
      this.keys = replace(this.keys, this.trimTo(this.temporal(this.keys), this.maxSize));
      this.values = replace(this.values!, this.trimTo(this.temporal(this.values!), this.maxSize));
      this.idx = this.maxSize;
    }
    if (this.idx === this.maxSize) this.idx = this.keep;  // rotate
    const at = this.idx;
    this.keys = replace(this.keys, updateT(this.keys, kp, at));
    this.values = replace(this.values!, updateT(this.values!, vp, at));
    this.offset += 1;
    this.idx += 1;
    const valid = Math.min(this.offset, tokensIn(this.keys));
    return [this.codec.decode(sliceT(this.keys, 0, valid)), this.codec.decode(sliceT(this.values, 0, valid))];
  }

  keyCountAfter(L: number): number {
    if (L === 1) return Math.min(this.offset + 1, this.maxSize);
    const held = this.keys ? Math.min(this.offset, this.maxSize - 1) : 0;
    return held + L;
  }

  keyPositions(L: number): number[] {
    const o = this.offset + L;
    // `count` keys in temporal order: the first `keep` positions, then the most recent ones.
    const temporalPositions = (count: number) =>
      count >= o ? range(0, o) : [...range(0, this.keep), ...range(o - (count - this.keep), o)];
    if (L > 1) return temporalPositions(this.keyCountAfter(L));
    // Mirror updateInPlace's grow / trim / rotate to find where each key will sit.
    let n = this.size, idx = this.idx;
    if (!this.keys || (this.offset >= n && n < this.maxSize)) {
      idx = n;
      n += Math.min(RotatingKVCache.step, this.maxSize - n);
    }
    if (n > this.maxSize) n = idx = this.maxSize;
    if (idx === this.maxSize) idx = this.keep;
    idx += 1;
    const valid = Math.min(o, n);
    if (o <= this.maxSize) return range(0, valid);
    const w0 = o - (n - this.keep);
    return range(0, n).map((s) => (s < this.keep ? s : s >= idx ? w0 + (s - idx) : w0 + (n - idx) + (s - this.keep)));
  }

  get state(): MxArray[] {
    if (!this.keys || !this.values) return [];
    return [...this.temporal(this.keys), ...this.temporal(this.values)];
  }
  get metaState(): string[] {
    return [String(this.keep), String(this.maxSize), String(this.offset)];
  }
  restore(state: MxArray[], meta: string[]): void {
    const half = state.length / 2;
    this.keys = replace(this.keys, state.slice(0, half));
    this.values = replace(this.values, state.slice(half));
    if (!half) this.keys = this.values = undefined;
    this.offset = Number(meta[2] ?? (this.keys ? tokensIn(this.keys) : 0));
    this.idx = this.keys ? tokensIn(this.keys) : 0;
  }
  isTrimmable(): boolean {
    return this.offset < this.maxSize;
  }
  trim(n: number): number {
    const t = Math.min(this.offset, n);
    this.offset -= t;
    this.idx -= t;
    return t;
  }
  snapshot(): CacheSnapshot {
    return {
      offset: this.offset,
      data: { keys: this.keys?.map(alias), values: this.values?.map(alias), idx: this.idx },
    };
  }
  restoreSnapshot(s: CacheSnapshot): void {
    const d = s.data as { keys?: Planes; values?: Planes; idx: number };
    // Fresh handles: the snapshot stays usable after the cache disposes what it holds.
    if (d.keys && d.values) {
      this.keys = replace(this.keys, d.keys.map(alias));
      this.values = replace(this.values, d.values.map(alias));
    } else {
      replace(this.keys, []);
      replace(this.values, []);
      this.keys = this.values = undefined;
    }
    this.offset = s.offset;
    this.idx = d.idx;
  }
  get arrays(): MxArray[] {
    return [...(this.keys ?? []), ...(this.values ?? [])];
  }
  get nbytes(): number {
    return nbytesOf(this.keys) + nbytesOf(this.values);
  }
}

// ---- quantized ----

export interface QuantizeOptions {
  groupSize?: number;
  bits?: number;
}

type Quantized = { wq: MxArray; scales: MxArray; biases: MxArray } | [MxArray, MxArray, MxArray];
type QuantizeFn = (w: MxArray, opts: { groupSize: number; bits: number }) => Quantized;
type DequantizeFn = (wq: MxArray, scales: MxArray, biases: MxArray, opts: { groupSize: number; bits: number }) => MxArray;

function quantOps(): { quantize: (w: MxArray, opts: { groupSize: number; bits: number }) => MxArray[]; dequantize: DequantizeFn } {
  const m = mx as unknown as { quantize?: QuantizeFn; dequantize?: DequantizeFn };
  const quantize = m.quantize, dequantize = m.dequantize;
  if (typeof quantize !== "function" || typeof dequantize !== "function")
    throw new Error("[QuantizedKVCache] this build has no mx.quantize / mx.dequantize (kvBits needs them)");
  return {
    // { wq, scales, biases }, or MLX Python's (wq, scales, biases) tuple.
    quantize: (w, opts) => {
      const r = quantize(w, opts);
      return Array.isArray(r) ? r : [r.wq, r.scales, r.biases];
    },
    dequantize,
  };
}

/**
 * MLX affine group quantization as [wq, scales, biases] planes: groups along the head dimension, or, when the
 * head dimension is smaller than a group (tiny models), along all heads of a token (planes [B, 1, L, ·]).
 */
export function quantizedCodec(groupSize: number, bits: number): KVCodec {
  const q = { groupSize, bits };
  let heads = 0;  // > 0 once the cross-head layout is in use (learned at the first encode)
  return {
    encode(x) {
      const { quantize } = quantOps();
      const [B, H, L, D] = x.shape;
      if (D % groupSize === 0) {
        return quantize(mx.reshape(x, [B * H * L, D]), q).map((a) => mx.reshape(a, [B, H, L, a.shape[1]]));
      }
      if ((H * D) % groupSize)
        throw new RangeError(`[QuantizedKVCache] neither the head dimension ${D} nor heads × head dimension ${H * D} is a multiple of kvGroupSize ${groupSize}`);
      heads = H;
      return quantize(mx.reshape(mx.transpose(x, [0, 2, 1, 3]), [B * L, H * D]), q).map((a) => mx.reshape(a, [B, 1, L, a.shape[1]]));
    },
    decode(p) {
      const { dequantize } = quantOps();
      const [B, H, n] = p[0].shape;
      const flat = p.map((a) => mx.reshape(a, [B * H * n, a.shape[3]]));
      const out = dequantize(flat[0], flat[1], flat[2], q);
      if (!heads) return mx.reshape(out, [B, H, n, out.shape[1]]);
      return mx.transpose(mx.reshape(out, [B, n, heads, out.shape[1] / heads]), [0, 2, 1, 3]);
    },
  };
}

/**
 * A KV cache stored affine-quantized (`kvBits` 4 or 8, groups of `kvGroupSize` along the head dimension) and
 * dequantized when attention reads it. Wraps a growing cache, or a rotating one when `maxSize` is given.
 */
export class QuantizedKVCache implements Cache {
  readonly kind = "QuantizedKVCache";
  readonly groupSize: number;
  readonly bits: number;
  readonly inner: KVCache | RotatingKVCache;

  constructor(opts: QuantizeOptions & { maxSize?: number; keep?: number } = {}) {
    this.groupSize = opts.groupSize ?? 64;
    this.bits = opts.bits ?? 8;
    if (![2, 3, 4, 5, 6, 8].includes(this.bits)) throw new RangeError(`[QuantizedKVCache] bits must be 2, 3, 4, 5, 6 or 8, got ${this.bits}`);
    if (!(this.groupSize > 0)) throw new RangeError(`[QuantizedKVCache] groupSize must be positive, got ${this.groupSize}`);
    const codec = quantizedCodec(this.groupSize, this.bits);
    this.inner = opts.maxSize !== undefined ? new RotatingKVCache(opts.maxSize, opts.keep ?? 0, codec) : new KVCache(codec);
  }

  /** The quantized equivalent of a KVCache / RotatingKVCache, holding the same tokens. */
  static fromCache(c: Cache, opts: QuantizeOptions = {}): QuantizedKVCache {
    if (c instanceof QuantizedKVCache) return c;
    if (!(c instanceof KVCache) && !(c instanceof RotatingKVCache)) throw new Error(`[QuantizedKVCache] cannot quantize a ${c.kind}`);
    const q = c instanceof RotatingKVCache
      ? new QuantizedKVCache({ ...opts, maxSize: c.maxSize, keep: c.keep })
      : new QuantizedKVCache(opts);
    const state = c.state;
    if (state.length) {
      const codec = q.inner.codec;
      q.inner.restore([...codec.encode(state[0]), ...codec.encode(state[1])], c.metaState);
    }
    return q;
  }

  get offset(): number {
    return this.inner.offset;
  }
  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    return this.inner.updateAndFetch(k, v);
  }
  keyCountAfter(L: number): number {
    return this.inner.keyCountAfter(L);
  }
  keyPositions(L: number): number[] {
    return this.inner.keyPositions(L);
  }
  get state(): MxArray[] {
    return this.inner.state;
  }
  get metaState(): string[] {
    return [String(this.groupSize), String(this.bits), this.inner.kind, ...this.inner.metaState];
  }
  restore(state: MxArray[], meta: string[]): void {
    this.inner.restore(state, meta.slice(3));
  }
  isTrimmable(): boolean {
    return this.inner.isTrimmable();
  }
  trim(n: number): number {
    return this.inner.trim(n);
  }
  get arrays(): MxArray[] {
    return this.inner.arrays;
  }
  get snapshot(): (() => CacheSnapshot) | undefined {
    const inner = this.inner;
    return inner instanceof RotatingKVCache ? () => inner.snapshot() : undefined;
  }
  get restoreSnapshot(): ((s: CacheSnapshot) => void) | undefined {
    const inner = this.inner;
    return inner instanceof RotatingKVCache ? (s) => inner.restoreSnapshot(s) : undefined;
  }
  get nbytes(): number {
    return this.inner.nbytes;
  }
}

/** An empty cache of a kind named in a saved prompt cache, from its meta state. */
export function cacheFromKind(kind: string, meta: readonly string[]): Cache {
  switch (kind) {
    case "KVCache":
      return new KVCache();
    case "RotatingKVCache":
      return new RotatingKVCache(Number(meta[1]), Number(meta[0]));
    case "QuantizedKVCache": {
      const [groupSize, bits, innerKind] = meta;
      const rotating = innerKind === "RotatingKVCache";
      if (!rotating && innerKind !== "KVCache") throw new Error(`Unknown inner cache kind '${innerKind}' of a QuantizedKVCache`);
      return new QuantizedKVCache({
        groupSize: Number(groupSize),
        bits: Number(bits),
        ...(rotating ? { keep: Number(meta[3]), maxSize: Number(meta[4]) } : {}),
      });
    }
    default:
      throw new Error(`Unknown cache kind '${kind}' (expected KVCache, RotatingKVCache or QuantizedKVCache)`);
  }
}

/** An empty cache of the same kind and size. */
export function emptyLike(c: Cache): Cache {
  return cacheFromKind(c.kind, c.metaState);
}
