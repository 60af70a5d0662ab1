// GGUF (llama.cpp's model file format, version 3): a streaming writer, a reader, and the ggml block formats
// Hearth writes (F32, F16, BF16, Q8_0, Q4_0). Layout: magic "GGUF", u32 version, u64 tensor count, u64 KV count,
// the KV pairs, the tensor infos (name, dims innermost first, ggml type, offset into the data section), padding
// to `general.alignment` (32 by default), then the tensor data, each tensor aligned. All little-endian.
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";

/** ggml tensor types that Hearth writes and reads (the numbering is ggml's). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  BF16 = 30,
}

/** GGUF metadata value types (gguf_type). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Values per quantization block and bytes per block (or per element for float types). */
export const QK8_0 = 32;
export const QK4_0 = 32;
const BLOCK: Record<GgmlType, { values: number; bytes: number }> = {
  [GgmlType.F32]: { values: 1, bytes: 4 },
  [GgmlType.F16]: { values: 1, bytes: 2 },
  [GgmlType.BF16]: { values: 1, bytes: 2 },
  [GgmlType.Q8_0]: { values: QK8_0, bytes: 2 + QK8_0 },
  [GgmlType.Q4_0]: { values: QK4_0, bytes: 2 + QK4_0 / 2 },
};

/** A typed metadata value: scalars, strings, and homogeneous arrays of them. */
export type GgufValue =
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: Exclude<GgufValueType, GgufValueType.STRING | GgufValueType.BOOL | GgufValueType.ARRAY>; value: number | bigint }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType; value: readonly (string | number | bigint | boolean)[] | ArrayLike<number> };

export const gguf = {
  str: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.INT32, value }),
  u64: (value: number | bigint): GgufValue => ({ type: GgufValueType.UINT64, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
  arr: (itemType: GgufValueType, value: readonly (string | number | bigint | boolean)[] | ArrayLike<number>): GgufValue =>
    ({ type: GgufValueType.ARRAY, itemType, value }),
};

/** A tensor to write. `shape` is row-major as in safetensors/numpy ([rows, cols]); GGUF stores it reversed. */
export interface GgufTensorSpec {
  name: string;
  shape: number[];
  type: GgmlType;
  /** Called once, when the tensor's turn to be written comes; may return the bytes in several chunks. */
  data: () => Uint8Array | Iterable<Uint8Array>;
}

export interface GgufTensorInfo {
  name: string;
  /** Row-major shape (GGUF's dims reversed). */
  shape: number[];
  type: GgmlType;
  /** Byte offset from the start of the data section. */
  offset: number;
  nbytes: number;
}

export interface GgufFile {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

/** Bytes of a tensor of `n` elements stored as `type` (n must be a multiple of the block size). */
export function ggmlNbytes(type: GgmlType, n: number): number {
  const b = BLOCK[type];
  if (!b) throw new Error(`[gguf] unsupported ggml type ${type}`);
  if (n % b.values) throw new Error(`[gguf] ${GgmlType[type]} needs a multiple of ${b.values} elements, got ${n}`);
  return (n / b.values) * b.bytes;
}

const align = (x: number, a: number) => Math.ceil(x / a) * a;

// ---- value encoding ----------------------------------------------------------------------------------------
class ByteSink {
  private chunks: Buffer[] = [];
  private cur = Buffer.allocUnsafe(1 << 16);
  private pos = 0;
  length = 0;
  private room(n: number) {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = Buffer.allocUnsafe(Math.max(1 << 16, n));
    this.pos = 0;
  }
  u8(v: number) { this.room(1); this.cur.writeUInt8(v, this.pos); this.pos += 1; this.length += 1; }
  i8(v: number) { this.room(1); this.cur.writeInt8(v, this.pos); this.pos += 1; this.length += 1; }
  u16(v: number) { this.room(2); this.cur.writeUInt16LE(v, this.pos); this.pos += 2; this.length += 2; }
  i16(v: number) { this.room(2); this.cur.writeInt16LE(v, this.pos); this.pos += 2; this.length += 2; }
  u32(v: number) { this.room(4); this.cur.writeUInt32LE(v >>> 0, this.pos); this.pos += 4; this.length += 4; }
  i32(v: number) { this.room(4); this.cur.writeInt32LE(v, this.pos); this.pos += 4; this.length += 4; }
  f32(v: number) { this.room(4); this.cur.writeFloatLE(v, this.pos); this.pos += 4; this.length += 4; }
  f64(v: number) { this.room(8); this.cur.writeDoubleLE(v, this.pos); this.pos += 8; this.length += 8; }
  u64(v: number | bigint) { this.room(8); this.cur.writeBigUInt64LE(BigInt(v), this.pos); this.pos += 8; this.length += 8; }
  i64(v: number | bigint) { this.room(8); this.cur.writeBigInt64LE(BigInt(v), this.pos); this.pos += 8; this.length += 8; }
  bytes(b: Uint8Array) { this.room(b.length); this.cur.set(b, this.pos); this.pos += b.length; this.length += b.length; }
  str(s: string) {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.bytes(b);
  }
  finish(): Buffer {
    this.chunks.push(this.cur.subarray(0, this.pos));
    return Buffer.concat(this.chunks);
  }
}

function writeScalar(s: ByteSink, type: GgufValueType, v: string | number | bigint | boolean) {
  switch (type) {
    case GgufValueType.UINT8: return s.u8(Number(v));
    case GgufValueType.INT8: return s.i8(Number(v));
    case GgufValueType.UINT16: return s.u16(Number(v));
    case GgufValueType.INT16: return s.i16(Number(v));
    case GgufValueType.UINT32: return s.u32(Number(v));
    case GgufValueType.INT32: return s.i32(Number(v));
    case GgufValueType.FLOAT32: return s.f32(Number(v));
    case GgufValueType.FLOAT64: return s.f64(Number(v));
    case GgufValueType.UINT64: return s.u64(v as number | bigint);
    case GgufValueType.INT64: return s.i64(v as number | bigint);
    case GgufValueType.BOOL: return s.u8(v ? 1 : 0);
    case GgufValueType.STRING: return s.str(String(v));
    default: throw new Error(`[gguf] cannot write a value of type ${type} as a scalar`);
  }
}

function writeValue(s: ByteSink, v: GgufValue) {
  s.u32(v.type);
  if (v.type !== GgufValueType.ARRAY) return writeScalar(s, v.type, v.value);
  if (v.itemType === GgufValueType.ARRAY) throw new Error("[gguf] nested arrays are not supported");
  s.u32(v.itemType);
  s.u64(v.value.length);
  for (let i = 0; i < v.value.length; i++) writeScalar(s, v.itemType, (v.value as ArrayLike<any>)[i]);
}

/**
 * Writes a GGUF v3 file. Tensors are streamed one at a time (each `data()` is called when its turn comes), so a
 * multi-GB model never has to be in memory at once. The file is written under a temporary name and renamed at
 * the end: a failure leaves no partial file behind.
 */
export function writeGguf(
  path: string,
  metadata: Iterable<[string, GgufValue]>,
  tensors: GgufTensorSpec[],
  opts: { alignment?: number } = {},
): void {
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const kv = [...metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !kv.some(([k]) => k === "general.alignment"))
    kv.push(["general.alignment", gguf.u32(alignment)]);
  const names = new Set<string>();
  const s = new ByteSink();
  s.u32(GGUF_MAGIC);
  s.u32(GGUF_VERSION);
  s.u64(tensors.length);
  s.u64(kv.length);
  for (const [key, value] of kv) {
    s.str(key);
    writeValue(s, value);
  }
  let offset = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`[gguf] duplicate tensor name ${t.name}`);
    names.add(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length && t.shape[t.shape.length - 1] % BLOCK[t.type].values)
      throw new Error(`[gguf] ${t.name}: rows of ${t.shape[t.shape.length - 1]} values don't split into ${GgmlType[t.type]} blocks`);
    const nbytes = ggmlNbytes(t.type, n);
    s.str(t.name);
    s.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) s.u64(t.shape[d]);
    s.u32(t.type);
    s.u64(offset);
    sizes.push(nbytes);
    offset = align(offset + nbytes, alignment);
  }
  const header = s.finish();
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    let pos = 0;
    const put = (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    const pad = (to: number) => {
      if (to > pos) put(new Uint8Array(to - pos));
    };
    put(header);
    pad(align(pos, alignment));
    const dataStart = pos;
    tensors.forEach((t, i) => {
      pad(dataStart + align(pos - dataStart, alignment));
      const start = pos;
      const d = t.data();
      for (const chunk of d instanceof Uint8Array ? [d] : d) put(chunk);
      if (pos - start !== sizes[i]) throw new Error(`[gguf] ${t.name}: data has ${pos - start} bytes, expected ${sizes[i]}`);
    });
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}

// ---- reading -------------------------------------------------------------------------------------------------
class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(private fd: number, private size: number) {}
  private need(n: number) {
    if (this.pos + n > this.size) throw new Error(`[gguf] truncated file: need ${n} bytes at ${this.pos}, file has ${this.size}`);
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20));
    this.buf = Buffer.alloc(len);
    readSync(this.fd, this.buf, 0, len, this.pos);
    this.bufStart = this.pos;
  }
  // Callers take the offset first: `this.buf.read(this.at(n))` would read the buffer from before a refill.
  private at(n: number): number {
    this.need(n);
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }
  u8() { const o = this.at(1); return this.buf.readUInt8(o); }
  i8() { const o = this.at(1); return this.buf.readInt8(o); }
  u16() { const o = this.at(2); return this.buf.readUInt16LE(o); }
  i16() { const o = this.at(2); return this.buf.readInt16LE(o); }
  u32() { const o = this.at(4); return this.buf.readUInt32LE(o); }
  i32() { const o = this.at(4); return this.buf.readInt32LE(o); }
  f32() { const o = this.at(4); return this.buf.readFloatLE(o); }
  f64() { const o = this.at(8); return this.buf.readDoubleLE(o); }
  u64(): bigint { const o = this.at(8); return this.buf.readBigUInt64LE(o); }
  i64(): bigint { const o = this.at(8); return this.buf.readBigInt64LE(o); }
  num(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`[gguf] value ${v} too large at ${this.pos - 8}`);
    return Number(v);
  }
  str(): string {
    const n = this.num();
    const o = this.at(n);
    return this.buf.toString("utf8", o, o + n);
  }
}

function readScalar(c: FileCursor, type: GgufValueType): string | number | bigint | boolean {
  switch (type) {
    case GgufValueType.UINT8: return c.u8();
    case GgufValueType.INT8: return c.i8();
    case GgufValueType.UINT16: return c.u16();
    case GgufValueType.INT16: return c.i16();
    case GgufValueType.UINT32: return c.u32();
    case GgufValueType.INT32: return c.i32();
    case GgufValueType.FLOAT32: return c.f32();
    case GgufValueType.FLOAT64: return c.f64();
    case GgufValueType.UINT64: return c.u64();
    case GgufValueType.INT64: return c.i64();
    case GgufValueType.BOOL: return c.u8() !== 0;
    case GgufValueType.STRING: return c.str();
    default: throw new Error(`[gguf] unknown value type ${type} at ${c.pos - 4}`);
  }
}

/** Reads a GGUF file's header, metadata and tensor infos (not the tensor data; see `readGgufTensor`). */
export function readGguf(path: string): GgufFile {
  const fd = openSync(path, "r");
  try {
    const c = new FileCursor(fd, fstatSync(fd).size);
    if (c.u32() !== GGUF_MAGIC) throw new Error(`[gguf] ${path}: not a GGUF file (bad magic)`);
    const version = c.u32();
    if (version !== 2 && version !== 3) throw new Error(`[gguf] ${path}: unsupported version ${version}`);
    const nTensors = c.num();
    const nKv = c.num();
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.str();
      const type = c.u32() as GgufValueType;
      if (type === GgufValueType.ARRAY) {
        const itemType = c.u32() as GgufValueType;
        const n = c.num();
        const value: (string | number | bigint | boolean)[] = new Array(n);
        for (let j = 0; j < n; j++) value[j] = readScalar(c, itemType);
        metadata.set(key, { type, itemType, value });
      } else {
        metadata.set(key, { type, value: readScalar(c, type) } as GgufValue);
      }
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.str();
      const nd = c.u32();
      const dims: number[] = [];
      for (let d = 0; d < nd; d++) dims.push(c.num());
      const type = c.u32() as GgmlType;
      const offset = c.num();
      const shape = dims.reverse();
      tensors.push({ name, shape, type, offset, nbytes: ggmlNbytes(type, shape.reduce((a, b) => a * b, 1)) });
    }
    const al = metadata.get("general.alignment");
    const alignment = al ? Number(al.value) : GGUF_DEFAULT_ALIGNMENT;
    return { version, alignment, metadata, tensors, dataOffset: align(c.pos, alignment) };
  } finally {
    closeSync(fd);
  }
}

/** The raw bytes of one tensor of a file read by `readGguf`. */
export function readGgufTensor(path: string, file: GgufFile, name: string): Uint8Array {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`[gguf] ${path}: no tensor ${name}`);
  const out = new Uint8Array(t.nbytes);
  const fd = openSync(path, "r");
  try {
    readSync(fd, out, 0, t.nbytes, file.dataOffset + t.offset);
  } finally {
    closeSync(fd);
  }
  return out;
}

// ---- element formats -----------------------------------------------------------------------------------------
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** float32 -> IEEE half bits, round to nearest even (overflow to inf, NaN kept). */
export function floatToHalf(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;  // a carry into the exponent is the right rounding
  return sign | h;
}

/** IEEE half bits -> float32 value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits -> float32 values. */
export function bf16ToFloat32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const u = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return dst;
}

/** float32 -> bfloat16 bits, round to nearest even. */
export function float32ToBf16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i];
    dst[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return dst;
}

export function float32ToF16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = floatToHalf(src[i]);
  return dst;
}

/**
 * Q8_0: blocks of 32 values, each an fp16 scale d = max|x| / 127 followed by 32 int8 q = round(x / d) (rounding
 * half away from zero, as C's roundf). 34 bytes per block.
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % QK8_0) throw new Error(`[gguf] Q8_0 needs a multiple of ${QK8_0} values, got ${x.length}`);
  const nb = x.length / QK8_0;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const base = b * QK8_0, o = b * 34;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = Math.fround(amax / 127);  // float32 arithmetic throughout, as ggml's reference quantizer
    const id = d ? Math.fround(1 / d) : 0;
    dv.setUint16(o, floatToHalf(d), true);
    for (let j = 0; j < QK8_0; j++) {
      const v = Math.fround(x[base + j] * id);
      dv.setInt8(o + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
    }
  }
  return out;
}

/**
 * Q4_0: blocks of 32 values, an fp16 scale d = m / -8 where m is the value of largest magnitude (sign kept), then
 * 16 bytes: byte j holds q[j] in its low nibble and q[j + 16] in its high nibble, q = min(15, trunc(x / d + 8.5)).
 * 18 bytes per block; a value decodes as (q - 8) * d.
 */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  if (x.length % QK4_0) throw new Error(`[gguf] Q4_0 needs a multiple of ${QK4_0} values, got ${x.length}`);
  const nb = x.length / QK4_0;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  const f = new Float32Array(2);
  for (let b = 0; b < nb; b++) {
    const base = b * QK4_0, o = b * 18;
    let amax = 0, max = 0;
    for (let j = 0; j < QK4_0; j++) {
      const v = x[base + j];
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    f[0] = max / -8;  // computed in float32 as ggml does
    const d = f[0];
    f[1] = d ? 1 / d : 0;
    const id = f[1];
    dv.setUint16(o, floatToHalf(d), true);
    for (let j = 0; j < QK4_0 / 2; j++) {
      f[0] = x[base + j] * id;
      f[0] += 8.5;
      const q0 = Math.min(15, Math.trunc(f[0]));
      f[0] = x[base + j + 16] * id;
      f[0] += 8.5;
      const q1 = Math.min(15, Math.trunc(f[0]));
      out[o + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** Decodes Q8_0 / Q4_0 / float blocks back to float32 (for tests and checks). */
export function dequantize(type: GgmlType, data: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (type) {
    case GgmlType.F32: return new Float32Array(data.slice(0, n * 4).buffer);
    case GgmlType.F16: for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true)); return out;
    case GgmlType.BF16: for (let i = 0; i < n; i++) { u32buf[0] = dv.getUint16(2 * i, true) << 16; out[i] = f32buf[0]; } return out;
    case GgmlType.Q8_0:
      for (let b = 0; b < n / QK8_0; b++) {
        const d = halfToFloat(dv.getUint16(b * 34, true));
        for (let j = 0; j < QK8_0; j++) out[b * QK8_0 + j] = d * dv.getInt8(b * 34 + 2 + j);
      }
      return out;
    case GgmlType.Q4_0:
      for (let b = 0; b < n / QK4_0; b++) {
        const d = halfToFloat(dv.getUint16(b * 18, true));
        for (let j = 0; j < 16; j++) {
          const q = data[b * 18 + 2 + j];
          out[b * QK4_0 + j] = ((q & 15) - 8) * d;
          out[b * QK4_0 + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      return out;
  }
  throw new Error(`[gguf] cannot decode type ${type}`);
}

/** Encodes float32 values (a whole number of rows) as `type`. */
export function encodeTensor(type: GgmlType, x: Float32Array): Uint8Array {
  switch (type) {
    case GgmlType.F32: return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    case GgmlType.F16: { const h = float32ToF16(x); return new Uint8Array(h.buffer, h.byteOffset, h.byteLength); }
    case GgmlType.BF16: { const h = float32ToBf16(x); return new Uint8Array(h.buffer, h.byteOffset, h.byteLength); }
    case GgmlType.Q8_0: return quantizeQ8_0(x);
    case GgmlType.Q4_0: return quantizeQ4_0(x);
  }
  throw new Error(`[gguf] cannot encode type ${type}`);
}
