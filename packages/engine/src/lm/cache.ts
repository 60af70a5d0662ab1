// KV caches (mlx-lm's semantics): KVCache grows in steps and is updated in place; RotatingKVCache keeps a
// fixed window (plus `keep` leading tokens) for sliding-window layers and for `maxKvSize`.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";

export interface Cache {
  /** Tokens seen so far (the position of the next token). */
  readonly offset: number;
  /** Appends keys/values [B, kvHeads, L, D]; returns what attention should see. */
  updateAndFetch(keys: MxArray, values: MxArray): [MxArray, MxArray];
  /** How many keys attention sees after the next update of L tokens (for building masks). */
  keyCountAfter(L: number): number;
  /** Arrays to save (prompt caches) and the scalars needed to restore them. */
  readonly state: MxArray[];
  readonly metaState: string[];
  restore(state: MxArray[], meta: string[]): void;
  isTrimmable(): boolean;
  /** Drops the last n tokens; returns how many were dropped. */
  trim(n: number): number;
  readonly nbytes: number;
  readonly kind: string;
}

function replace(old: MxArray | undefined, next: MxArray): MxArray {
  // Dropping our handle before evaluation lets the update reuse the old buffer in place.
  old?.dispose();
  return next;
}

export class KVCache implements Cache {
  readonly kind = "KVCache";
  keys?: MxArray;
  values?: MxArray;
  offset = 0;
  static step = 256;

  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const prev = this.offset;
    const [B, H, L, D] = k.shape;
    const Dv = v.shape[3];
    if (!this.keys || prev + L > this.keys.shape[2]) {
      const steps = Math.ceil(L / KVCache.step) * KVCache.step;
      const nk = mx.zeros([B, H, steps, D], k.dtype), nv = mx.zeros([B, H, steps, Dv], v.dtype);
      if (this.keys && this.values) {
        const kk = prev % KVCache.step ? mx.slice(this.keys, [0, 0, 0, 0], [B, H, prev, D]) : this.keys;
        const vv = prev % KVCache.step ? mx.slice(this.values, [0, 0, 0, 0], [B, H, prev, Dv]) : this.values;
        this.keys = replace(this.keys, mx.concatenate([kk, nk], 2));
        this.values = replace(this.values, mx.concatenate([vv, nv], 2));
      } else {
        this.keys = nk;
        this.values = nv;
      }
    }
    this.offset += L;
    const cap = this.keys.shape[2];
    this.keys = replace(this.keys, mx.sliceUpdate(this.keys, k, [0, 0, prev, 0], [B, H, this.offset, D]));
    this.values = replace(this.values!, mx.sliceUpdate(this.values!, v, [0, 0, prev, 0], [B, H, this.offset, Dv]));
    if (this.offset === cap) return [this.keys, this.values];
    return [mx.slice(this.keys, [0, 0, 0, 0], [B, H, this.offset, D]), mx.slice(this.values, [0, 0, 0, 0], [B, H, this.offset, Dv])];
  }

  keyCountAfter(L: number): number {
    return this.offset + L;
  }

  get state(): MxArray[] {
    if (!this.keys || !this.values) return [];
    const [B, H, , D] = this.keys.shape;
    return [mx.slice(this.keys, [0, 0, 0, 0], [B, H, this.offset, D]), mx.slice(this.values, [0, 0, 0, 0], [B, H, this.offset, this.values.shape[3]])];
  }
  get metaState(): string[] {
    return [];
  }
  restore(state: MxArray[]): void {
    [this.keys, this.values] = state;
    this.offset = this.keys ? this.keys.shape[2] : 0;
  }
  isTrimmable(): boolean {
    return true;
  }
  trim(n: number): number {
    const t = Math.min(this.offset, n);
    this.offset -= t;
    return t;
  }
  get nbytes(): number {
    return (this.keys?.nbytes ?? 0) + (this.values?.nbytes ?? 0);
  }
}

export class RotatingKVCache implements Cache {
  readonly kind = "RotatingKVCache";
  keys?: MxArray;
  values?: MxArray;
  offset = 0;
  private idx = 0;  // next write position in the buffer
  static step = 256;

  constructor(readonly maxSize: number, readonly keep = 0) {
    if (!(maxSize > keep)) throw new RangeError(`[RotatingKVCache] maxSize (${maxSize}) must exceed keep (${keep})`);
  }

  /** The buffer in temporal order (undoing rotation). */
  private temporal(a: MxArray): MxArray {
    const n = a.shape[2];
    if (this.idx === n || this.offset <= this.maxSize) return a;
    const [B, H, , D] = a.shape;
    const parts = [
      mx.slice(a, [0, 0, 0, 0], [B, H, this.keep, D]),
      mx.slice(a, [0, 0, this.idx, 0], [B, H, n, D]),
      mx.slice(a, [0, 0, this.keep, 0], [B, H, this.idx, D]),
    ].filter((p) => p.shape[2] > 0);
    return mx.concatenate(parts, 2);
  }

  /** Drops the oldest tokens after `keep` so that `size` remain. */
  private trimTo(a: MxArray, size: number): MxArray {
    const n = a.shape[2];
    if (n <= size) return a;
    const [B, H, , D] = a.shape;
    const cut = n - size;
    const head = mx.slice(a, [0, 0, 0, 0], [B, H, this.keep, D]);
    const tail = mx.slice(a, [0, 0, this.keep + cut, 0], [B, H, n, D]);
    return this.keep ? mx.concatenate([head, tail], 2) : tail;
  }

  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const L = k.shape[2];
    if (L === 1) return this.updateInPlace(k, v);
    // Prompt chunk: keep maxSize-1 old tokens in temporal order, append the new ones, return all of them.
    if (!this.keys || !this.values) {
      this.keys = k;
      this.values = v;
    } else {
      const kt = this.trimTo(this.temporal(this.keys), this.maxSize - 1);
      const vt = this.trimTo(this.temporal(this.values), this.maxSize - 1);
      this.keys = replace(this.keys, mx.concatenate([kt, k], 2));
      this.values = replace(this.values, mx.concatenate([vt, v], 2));
    }
    this.offset += L;
    this.idx = this.keys.shape[2];
    return [this.keys, this.values];
  }

  private updateInPlace(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const [B, H, , D] = k.shape;
    const Dv = v.shape[3];
    const size = this.keys?.shape[2] ?? 0;
    if (!this.keys || !this.values || (this.offset >= size && size < this.maxSize)) {
      // Grow (up to maxSize) before the window is full.
      const grow = Math.min(RotatingKVCache.step, this.maxSize - size);
      const nk = mx.zeros([B, H, grow, D], k.dtype), nv = mx.zeros([B, H, grow, Dv], v.dtype);
      this.keys = this.keys ? replace(this.keys, mx.concatenate([this.keys, nk], 2)) : nk;
      this.values = this.values ? replace(this.values, mx.concatenate([this.values, nv], 2)) : nv;
      this.idx = size;
    }
    const cap = this.keys.shape[2];
    if (cap > this.maxSize) {
      // After a long prompt chunk the buffer can exceed the window: bring it back to maxSize in order.
      this.keys = replace(this.keys, this.trimTo(this.temporal(this.keys), this.maxSize));
      this.values = replace(this.values, this.trimTo(this.temporal(this.values), this.maxSize));
      this.idx = this.maxSize;
    }
    if (this.idx === this.maxSize) this.idx = this.keep;  // rotate
    const at = this.idx;
    this.keys = replace(this.keys, mx.sliceUpdate(this.keys, k, [0, 0, at, 0], [B, H, at + 1, D]));
    this.values = replace(this.values, mx.sliceUpdate(this.values, v, [0, 0, at, 0], [B, H, at + 1, Dv]));
    this.offset += 1;
    this.idx += 1;
    const valid = Math.min(this.offset, this.keys.shape[2]);
    if (valid < this.keys.shape[2])
      return [mx.slice(this.keys, [0, 0, 0, 0], [B, H, valid, D]), mx.slice(this.values, [0, 0, 0, 0], [B, H, valid, Dv])];
    return [this.keys, this.values];
  }

  keyCountAfter(L: number): number {
    if (L === 1) return Math.min(this.offset + 1, this.maxSize);
    const held = this.keys ? Math.min(this.offset, this.maxSize - 1) : 0;
    return held + L;
  }

  get state(): MxArray[] {
    if (!this.keys || !this.values) return [];
    const n = Math.min(this.offset, this.keys.shape[2]);
    const [B, H, , D] = this.keys.shape;
    if (n < this.keys.shape[2])
      return [mx.slice(this.keys, [0, 0, 0, 0], [B, H, n, D]), mx.slice(this.values, [0, 0, 0, 0], [B, H, n, this.values.shape[3]])];
    return [this.temporal(this.keys), this.temporal(this.values)];
  }
  get metaState(): string[] {
    return [String(this.keep), String(this.maxSize), String(this.offset)];
  }
  restore(state: MxArray[], meta: string[]): void {
    [this.keys, this.values] = state;
    this.offset = Number(meta[2] ?? (this.keys ? this.keys.shape[2] : 0));
    this.idx = this.keys ? this.keys.shape[2] : 0;
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
  get nbytes(): number {
    return (this.keys?.nbytes ?? 0) + (this.values?.nbytes ?? 0);
  }
}
