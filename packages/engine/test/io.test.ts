// Safetensors I/O: round trips of every dtype, metadata, sharded checkpoints and folders, every malformed-file
// rule, atomic saves, and the memory-mapped, zero-copy load (RSS and allocator accounting).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mx, EngineError, type MxArray } from "../src/index.js";

const tmp = fs.realpathSync(fs.mkdtempSync(join(os.tmpdir(), "hearth-io-test-")));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = "t") => {
  const d = join(tmp, `${name}-${counter++}`);
  fs.mkdirSync(d);
  return d;
};

const bytes = (a: MxArray) => Buffer.from(a._toBytes());
const ST_NAMES: Record<string, string> = {
  bool: "BOOL", uint8: "U8", int8: "I8", int16: "I16", uint16: "U16", int32: "I32", uint32: "U32", int64: "I64",
  uint64: "U64", float16: "F16", bfloat16: "BF16", float32: "F32", float64: "F64",
};

// A reader independent of the engine: header JSON and data area of a file.
function readRaw(file: string): { n: number; header: Record<string, any>; data: Buffer } {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  return { n, header: JSON.parse(b.subarray(8, 8 + n).toString("utf8")), data: b.subarray(8 + n) };
}

// Writes a safetensors file by hand: header (a JSON value, a string or raw bytes), then data.
function craft(file: string, header: unknown, data: ArrayLike<number> = [], lengthOverride?: bigint): string {
  const h = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, Buffer.from(Array.from(data))]));
  return file;
}

function expectLoadError(path: string, ...parts: (string | RegExp)[]): void {
  assert.throws(() => mx.load(path), (e: any) => {
    assert.ok(e instanceof EngineError, `expected an EngineError, got ${e}`);
    assert.ok(e.message.startsWith("[load] "), e.message);
    for (const p of parts) {
      if (typeof p === "string") assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(p)}`);
      else assert.match(e.message, p);
    }
    return true;
  });
}

// One array per dtype with edge values (raw bits for the half types: NaN payloads, infinities, -0, subnormals).
function everyDtype(): Record<string, MxArray> {
  return {
    bool: mx.array([[true, false, true], [false, false, true]]),
    uint8: mx.array(new Uint8Array([0, 1, 127, 128, 255])),
    int8: mx.array(new Int8Array([-128, -1, 0, 1, 127])),
    int16: mx.array(new Int16Array([-32768, -1, 0, 12345, 32767])),
    uint16: mx.array(new Uint16Array([0, 1, 40000, 65535]), mx.uint16),
    int32: mx.array(new Int32Array([-2147483648, -1, 0, 2147483647])),
    uint32: mx.array(new Uint32Array([0, 1, 3000000000, 4294967295])),
    int64: mx.array(new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n])),
    uint64: mx.array(new BigUint64Array([0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n])),
    float16: mx.array(new Uint16Array([0x0000, 0x8000, 0x0001, 0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x7bff]), mx.float16),
    bfloat16: mx.array(new Uint16Array([0x0000, 0x8000, 0x0001, 0x3f80, 0x7f80, 0xff80, 0x7fc1, 0xc2f7]), mx.bfloat16),
    float32: mx.reshape(mx.array(new Float32Array([0, -0, 1e-45, 3.4028234e38, -Infinity, NaN, 0.1, -2.5])), [2, 2, 2]),
    float64: mx.array(new Float64Array([0, -0, 5e-324, Number.MAX_VALUE, -Infinity, Math.PI, 0.1]), mx.float64),
  };
}

test("round trip of every dtype: exact bits, file layout sorted by element size then name, aligned", () => {
  const file = join(fresh(), "all.safetensors");
  const src = everyDtype();
  mx.saveSafetensors(file, src);
  const loaded = mx.load(file);
  assert.deepEqual(Object.keys(loaded).sort(), Object.keys(src).sort());
  for (const [name, a] of Object.entries(src)) {
    const b = loaded[name];
    assert.equal(b.dtype, a.dtype, name);
    assert.deepEqual(b.shape, a.shape, name);
    assert.ok(bytes(b).equals(bytes(a)), `${name}: bits differ`);
  }
  // The file itself, read without the engine.
  const { n, header, data } = readRaw(file);
  assert.equal((8 + n) % 8, 0);
  const entries = Object.entries(header).filter(([k]) => k !== "__metadata__") as [string, any][];
  entries.sort((x, y) => x[1].data_offsets[0] - y[1].data_offsets[0]);
  const size = (st: string) => ({ BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4 } as any)[st] ?? 8;
  for (let i = 0; i < entries.length; i++) {
    const [name, e] = entries[i];
    assert.equal(e.dtype, ST_NAMES[name]);
    assert.equal((8 + n + e.data_offsets[0]) % size(e.dtype), 0, `${name} is aligned`);
    assert.ok(data.subarray(e.data_offsets[0], e.data_offsets[1]).equals(bytes(src[name])), `${name}: file bytes`);
    if (i) {
      const [pn, pe] = entries[i - 1];
      assert.ok(size(pe.dtype) > size(e.dtype) || (size(pe.dtype) === size(e.dtype) && pn < name), `${pn} before ${name}`);
    }
  }
  // Every array of a file shares one mapping and is usable in ops.
  assert.deepEqual(mx.add(loaded.int32, 1).tolist(), [-2147483647, 0, 1, -2147483648]);
  assert.deepEqual(loaded.bool.tolist(), [[true, false, true], [false, false, true]]);
  assert.equal(mx.sum(loaded.bool).item(), 3);
});

test("metadata round trip; no metadata gives {}; '.safetensors' is appended like MLX", () => {
  const d = fresh();
  const meta = { format: "mlx", note: "line\nbreak \"quoted\" café 😀", empty: "", "key with spaces": "v" };
  mx.saveSafetensors(join(d, "m"), { x: mx.array([1, 2, 3]) }, meta);
  assert.deepEqual(fs.readdirSync(d), ["m.safetensors"]);
  const [arrays, metadata] = mx.loadWithMetadata(join(d, "m.safetensors"));
  assert.deepEqual(metadata, meta);
  assert.deepEqual(arrays.x.tolist(), [1, 2, 3]);
  mx.saveSafetensors(join(d, "n.safetensors"), new Map([["y", mx.array([4])]]), new Map([["a", "b"]]));
  assert.deepEqual(mx.loadWithMetadata(join(d, "n.safetensors"))[1], { a: "b" });
  mx.saveSafetensors(join(d, "o.safetensors"), { y: mx.array([4]) });
  assert.deepEqual(mx.loadWithMetadata(join(d, "o.safetensors"))[1], {});
  assert.equal(readRaw(join(d, "o.safetensors")).header.__metadata__, undefined);
  // Names are only keys: '__proto__' does not touch the prototype.
  mx.saveSafetensors(join(d, "p.safetensors"), Object.fromEntries([["__proto__", mx.array([7])]]) as any);
  const p = mx.load(join(d, "p.safetensors"));
  assert.equal(Object.getPrototypeOf(p), Object.prototype);
  assert.deepEqual(Object.keys(p), ["__proto__"]);
  assert.deepEqual((Object.getOwnPropertyDescriptor(p, "__proto__")!.value as MxArray).tolist(), [7]);
});

test("scalars, zero-size tensors and an empty file list", () => {
  const d = fresh();
  const file = join(d, "s.safetensors");
  mx.saveSafetensors(file, {
    scalar: mx.array(2.5), iscalar: mx.array(7, mx.int64), empty: mx.zeros([0]), empty2: mx.zeros([2, 0, 3], mx.float16),
    after: mx.array([1, 2], mx.int8),
  });
  const w = mx.load(file);
  assert.deepEqual(w.scalar.shape, []);
  assert.equal(w.scalar.item(), 2.5);
  assert.equal(w.iscalar.item(), 7);
  assert.deepEqual(w.empty.shape, [0]);
  assert.deepEqual(w.empty.tolist(), []);
  assert.deepEqual(w.empty2.shape, [2, 0, 3]);
  assert.equal(w.empty2.dtype, mx.float16);
  assert.equal(mx.sum(w.empty).item(), 0);
  assert.deepEqual(w.after.tolist(), [1, 2]);
  const none = join(d, "none.safetensors");
  mx.saveSafetensors(none, {});
  assert.equal(fs.statSync(none).size, 16);
  assert.deepEqual(mx.load(none), {});
});

test("non-contiguous and lazy arrays are saved row-major", () => {
  const file = join(fresh(), "nc.safetensors");
  const a = mx.reshape(mx.arange(0, 24, 1, mx.int32), [2, 3, 4]);
  const t = mx.transpose(a, [2, 0, 1]);
  const b = mx.broadcastTo(mx.array([1.5, -2, 3]), [2, 3]);
  const lazy = mx.multiply(mx.swapaxes(mx.reshape(mx.arange(0, 6, 1, mx.float64), [2, 3]), 0, 1), 2);
  mx.saveSafetensors(file, { t, b, lazy, a });
  const w = mx.load(file);
  assert.deepEqual(w.t.tolist(), t.tolist());
  assert.deepEqual(w.b.tolist(), [[1.5, -2, 3], [1.5, -2, 3]]);
  assert.deepEqual(w.lazy.tolist(), [[0, 6], [2, 8], [4, 10]]);
  assert.deepEqual(w.a.tolist(), a.tolist());
  const { header, data } = readRaw(file);
  const [s, e] = header.t.data_offsets;
  assert.deepEqual(Array.from(new Int32Array(new Uint8Array(data.subarray(s, e)).buffer)), (t.tolist() as number[][][]).flat(2));
});

test("loading maps the file once, copies nothing, and unmaps when the last array goes", { skip: !fs.existsSync("/proc/self/maps") }, () => {
  const file = join(fresh(), "map.safetensors");
  mx.saveSafetensors(file, { a: mx.ones([1000]), b: mx.ones([10, 10], mx.float64), c: mx.array([true]) });
  const mappings = () => fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.endsWith(file)).length;
  const before = mx.getActiveMemory();
  const w = mx.load(file);
  assert.equal(mx.getActiveMemory() - before, 0, "no allocator memory for mapped tensors");
  assert.equal(mappings(), 1, "one mapping shared by every tensor");
  assert.equal(mx.sum(w.a).item(), 1000);
  w.a.dispose();
  w.b.dispose();
  assert.equal(mappings(), 1, "still mapped while 'c' lives");
  w.c.dispose();
  assert.equal(mappings(), 0, "unmapped with the last array");
});

test("a tensor at an offset that is not a multiple of its element size is copied (and read right)", () => {
  const d = fresh();
  // An odd-length U8 tensor written before an F32 one, as other writers may do: 'f' starts at data offset 3.
  const f32 = new Float32Array([1.5, -2, 1e-3]);
  const data = [7, 8, 9, ...new Uint8Array(f32.buffer)];
  const hdr = { u: { dtype: "U8", shape: [3], data_offsets: [0, 3] }, f: { dtype: "F32", shape: [3], data_offsets: [3, 15] } };
  let json = JSON.stringify(hdr);
  while ((8 + json.length) % 8) json += " ";  // data area aligned: only the order misaligns 'f'
  const file = craft(join(d, "misaligned.safetensors"), json, data);
  const before = mx.getActiveMemory();
  const w = mx.load(file);
  assert.ok(mx.getActiveMemory() - before >= 12, "the misaligned tensor was copied");
  assert.deepEqual(Array.from(w.f.toFloat32Array()), Array.from(f32));
  assert.deepEqual(w.u.tolist(), [7, 8, 9]);
  assert.equal(mx.sum(w.f).item(), Math.fround(Math.fround(1.5 + -2) + Math.fround(1e-3)));
  // A header length that is not a multiple of 8 misaligns everything after it.
  let oddJson = JSON.stringify({ x: { dtype: "F64", shape: [2], data_offsets: [0, 16] } });
  while (oddJson.length % 8 !== 3) oddJson += " ";
  const odd = craft(join(d, "odd.safetensors"), oddJson, new Uint8Array(new Float64Array([Math.PI, -0.5]).buffer));
  assert.equal(readRaw(odd).n % 8, 3);
  assert.deepEqual(mx.load(odd).x.tolist(), [Math.PI, -0.5]);
});

test("BOOL bytes other than 0/1 are read as true", () => {
  const file = craft(join(fresh(), "b.safetensors"), { m: { dtype: "BOOL", shape: [4], data_offsets: [0, 4] } }, [0, 1, 2, 255]);
  const m = mx.load(file).m;
  assert.deepEqual(m.tolist(), [false, true, true, true]);
  assert.deepEqual(Array.from(new Uint8Array(m._toBytes())), [0, 1, 1, 1]);
  assert.equal(mx.sum(m).item(), 3);
});

test("a 256 MB file loads without reading it: RSS grows only as pages are touched", () => {
  const file = join(fresh(), "big.safetensors");
  const bigBytes = 256 * 1024 * 1024;
  const header = JSON.stringify({
    big: { dtype: "F32", shape: [bigBytes / 4], data_offsets: [0, bigBytes] },
    small: { dtype: "F32", shape: [4], data_offsets: [bigBytes, bigBytes + 16] },
  }).padEnd(184, " ");
  const fd = fs.openSync(file, "w");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, header);
  const chunk = Buffer.from(new Float32Array(4 * 1024 * 1024).fill(0.5).buffer);
  for (let written = 0; written < bigBytes; written += chunk.length) fs.writeSync(fd, chunk);
  fs.writeSync(fd, Buffer.from(new Float32Array([1, 2, 3, 4.5]).buffer));
  fs.closeSync(fd);

  const rss0 = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const w = mx.load(file);
  const cpu = process.cpuUsage(cpu0);
  const rss1 = process.memoryUsage().rss;
  console.log(`# mx.load of a 256 MB file: ${((cpu.user + cpu.system) / 1000).toFixed(2)} ms CPU, RSS +${((rss1 - rss0) / 2 ** 20).toFixed(2)} MB`);
  assert.ok(rss1 - rss0 < 64 * 2 ** 20, `RSS grew by ${rss1 - rss0} bytes`);
  assert.deepEqual(w.big.shape, [bigBytes / 4]);
  assert.equal(mx.sum(w.small).item(), 10.5);
  assert.ok(process.memoryUsage().rss - rss0 < 64 * 2 ** 20);
  // Touching every page maps them in.
  assert.ok(Number.isFinite(mx.max(w.big).item() as number));
  const rss2 = process.memoryUsage().rss;
  console.log(`# after reading all of it: RSS +${((rss2 - rss0) / 2 ** 20).toFixed(2)} MB`);
  w.big.dispose();
  w.small.dispose();
});

test("sharded checkpoint: index file and folder load the union; metadata merged", () => {
  const d = fresh("sharded");
  mx.saveSafetensors(join(d, "model-00001-of-00002.safetensors"), { "a.w": mx.array([1, 2]), "a.b": mx.array([3], mx.float16) }, { format: "pt" });
  mx.saveSafetensors(join(d, "model-00002-of-00002.safetensors"), { "b.w": mx.array([[4, 5]], mx.bfloat16) }, { format: "pt", extra: "x" });
  const index = {
    metadata: { total_size: 14 },
    weight_map: { "a.w": "model-00001-of-00002.safetensors", "a.b": "model-00001-of-00002.safetensors", "b.w": "model-00002-of-00002.safetensors" },
  };
  fs.writeFileSync(join(d, "model.safetensors.index.json"), JSON.stringify(index));
  for (const path of [join(d, "model.safetensors.index.json"), d]) {
    const [w, meta] = mx.loadWithMetadata(path);
    assert.deepEqual(Object.keys(w).sort(), ["a.b", "a.w", "b.w"]);
    assert.deepEqual(w["a.w"].tolist(), [1, 2]);
    assert.deepEqual(w["a.b"].tolist(), [3]);
    assert.deepEqual(w["b.w"].tolist(), [[4, 5]]);
    assert.equal(w["b.w"].dtype, mx.bfloat16);
    assert.deepEqual(meta, { format: "pt", extra: "x" });
  }
  // Another index name in a folder without model.safetensors.index.json is found too.
  const d2 = fresh("sharded2");
  mx.saveSafetensors(join(d2, "part.safetensors"), { x: mx.array([1]) });
  fs.writeFileSync(join(d2, "weights.safetensors.index.json"), JSON.stringify({ weight_map: { x: "part.safetensors" } }));
  assert.deepEqual(mx.load(d2).x.tolist(), [1]);
});

test("sharded checkpoint errors name the index, the shard and the tensor", () => {
  const d = fresh("badindex");
  mx.saveSafetensors(join(d, "s1.safetensors"), { a: mx.array([1]), b: mx.array([2]) });
  mx.saveSafetensors(join(d, "s2.safetensors"), { c: mx.array([3]), a: mx.array([9]) });
  const idx = (name: string, content: unknown) => {
    const p = join(d, name);
    fs.writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
    return p;
  };
  let p = idx("missing.json", { weight_map: { a: "s1.safetensors", z: "gone.safetensors", y: "gone2.safetensors" } });
  expectLoadError(p, `[load] ${p}: `, "2 shard files listed in the index are missing", "'gone.safetensors' (1 tensors, e.g. 'z')", "'gone2.safetensors'");
  p = idx("notheld.json", { weight_map: { a: "s1.safetensors", b: "s1.safetensors", q: "s1.safetensors" } });
  expectLoadError(p, `[load] ${p}: tensor 'q' is listed in shard 's1.safetensors' but ${join(d, "s1.safetensors")} does not hold it`);
  p = idx("collide.json", { weight_map: { a: "s1.safetensors", b: "s1.safetensors", c: "s2.safetensors" } });
  expectLoadError(p, `[load] ${p}: tensor 'a' is in both 's1.safetensors' and 's2.safetensors'`);
  p = idx("notjson.json", "{\"weight_map\": {\"a\": \"s1.safetensors\",}}");
  expectLoadError(p, `[load] ${p}: index is not valid JSON`);
  p = idx("nomap.json", { metadata: {} });
  expectLoadError(p, `[load] ${p}: index has no "weight_map"`);
  p = idx("badvalue.json", { weight_map: { a: 3 } });
  expectLoadError(p, `tensor 'a' must be a shard file name, got number`);
  p = idx("escape.json", { weight_map: { a: "../s1.safetensors" } });
  expectLoadError(p, `tensor 'a': shard '../s1.safetensors' must be a relative path inside the index's folder`);
  p = idx("abs.json", { weight_map: { a: join(d, "s1.safetensors") } });
  expectLoadError(p, "must be a relative path inside the index's folder");
  p = idx("dup.json", "{\"weight_map\": {\"a\": \"s1.safetensors\", \"a\": \"s2.safetensors\"}}");
  expectLoadError(p, `"weight_map": tensor 'a' is listed twice`);
  // A malformed shard reports the shard's own path and rule.
  craft(join(d, "bad.safetensors"), { x: { dtype: "F33", shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]);
  p = idx("badshard.json", { weight_map: { x: "bad.safetensors" } });
  expectLoadError(p, `[load] ${join(d, "bad.safetensors")}: tensor 'x': unknown dtype 'F33'`);
});

test("folders: model.safetensors alone, else every *.safetensors (names must not collide)", () => {
  const d = fresh("folder");
  mx.saveSafetensors(join(d, "model.safetensors"), { m: mx.array([1]) });
  mx.saveSafetensors(join(d, "adapters.safetensors"), { lora: mx.array([2]) });
  assert.deepEqual(Object.keys(mx.load(d)), ["m"]);
  const d2 = fresh("folder2");
  mx.saveSafetensors(join(d2, "a.safetensors"), { x: mx.array([1]) });
  mx.saveSafetensors(join(d2, "b.safetensors"), { y: mx.array([2]) });
  fs.writeFileSync(join(d2, "config.json"), "{}");
  fs.writeFileSync(join(d2, ".hidden.safetensors"), "junk");
  const w = mx.load(d2);
  assert.deepEqual(Object.keys(w).sort(), ["x", "y"]);
  mx.saveSafetensors(join(d2, "c.safetensors"), { x: mx.array([3]) });
  expectLoadError(d2, `[load] ${d2}: tensor 'x' is in both 'a.safetensors' and 'c.safetensors'`);
  const empty = fresh("empty");
  expectLoadError(empty, `[load] ${empty}: the folder holds no .safetensors file`);
  const two = fresh("twoindex");
  fs.writeFileSync(join(two, "a.safetensors.index.json"), "{}");
  fs.writeFileSync(join(two, "b.safetensors.index.json"), "{}");
  expectLoadError(two, "several index files ('a.safetensors.index.json', 'b.safetensors.index.json')");
});

test("missing paths and bad arguments give clear errors", () => {
  const missing = join(tmp, "nope", "model.safetensors");
  expectLoadError(missing, `[load] ${missing}: no such file or directory`);
  assert.throws(() => mx.load(42 as any), (e: any) => e instanceof EngineError && /^\[load\] path must be a string/.test(e.message));
  assert.throws(() => mx.load(""), (e: any) => e instanceof EngineError && /^\[load\] path is empty/.test(e.message));
  const gguf = join(fresh(), "model.gguf");
  fs.writeFileSync(gguf, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(60)]));
  expectLoadError(gguf, `[load] ${gguf}: header length`, "(only safetensors files can be loaded, and '.gguf' suggests another format)");
  const file = join(fresh(), "x.safetensors");
  assert.throws(() => mx.saveSafetensors(file, { a: [1, 2] as any }), (e: any) => e instanceof EngineError && /tensor "a": expected an array/.test(e.message));
  assert.throws(() => mx.saveSafetensors(file, { a: mx.array([1]) }, { k: 1 as any }),
    (e: any) => e instanceof EngineError && /metadata value of "k" must be a string/.test(e.message));
  assert.throws(() => mx.saveSafetensors(file, { __metadata__: mx.array([1]) }),
    (e: any) => e instanceof EngineError && e.message.startsWith(`[save] ${file}: tensor '__metadata__': the name '__metadata__' is reserved`));
  const disposed = mx.array([1]);
  disposed.dispose();
  assert.throws(() => mx.saveSafetensors(file, { d: disposed }), (e: any) => e instanceof EngineError && /dispose/.test(e.message));
  assert.equal(fs.existsSync(file), false);
});

test("every malformed-file rule is an EngineError naming the file, the tensor and the rule", () => {
  const d = fresh("malformed");
  const f = (name: string) => join(d, name + ".safetensors");
  const t = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
  let p: string;

  p = craft(f("too_long"), "{}", [], 100000001n);
  expectLoadError(p, `[load] ${p}: header length 100000001 exceeds the 100 MB limit`);
  p = craft(f("beyond"), "{}      ", [], 100n);
  expectLoadError(p, `[load] ${p}: header length 100 exceeds the file size: 8 + 100 > 16 bytes`);
  p = craft(f("not_json"), "{\"a\": {\"dtype\": \"F32\",, }}", []);
  expectLoadError(p, `[load] ${p}: header JSON: `, / at byte \d+/);
  p = craft(f("not_object"), "[1, 2]", []);
  expectLoadError(p, `[load] ${p}: header does not start with '{' (first byte is 0x5B)`);
  p = craft(f("bad_utf8"), Buffer.concat([Buffer.from("{\"a\xff"), Buffer.from([0xff]), Buffer.from("\":{}}")]), []);
  expectLoadError(p, `[load] ${p}: header is not valid UTF-8 at byte`);
  p = craft(f("trailing_json"), "{} x", []);
  expectLoadError(p, `[load] ${p}: header has trailing bytes after the JSON object at byte 3`);
  p = craft(f("unknown_dtype"), { w: t("F33", [1], [0, 4]) }, [0, 0, 0, 0]);
  expectLoadError(p, `[load] ${p}: tensor 'w': unknown dtype 'F33'`);
  p = craft(f("unsupported_dtype"), { w: t("F8_E4M3", [2], [0, 2]) }, [0, 0]);
  expectLoadError(p, `[load] ${p}: tensor 'w': unsupported dtype 'F8_E4M3'`);
  p = craft(f("overlap"), { a: t("F32", [2], [0, 8]), b: t("F32", [2], [4, 12]) }, new Array(12).fill(0));
  expectLoadError(p, `[load] ${p}: tensor 'b': data offsets [4, 12) overlap the previous tensor 'a' ending at 8`);
  p = craft(f("gap"), { a: t("F32", [2], [0, 8]), b: t("F32", [1], [12, 16]) }, new Array(16).fill(0));
  expectLoadError(p, `[load] ${p}: tensor 'b': data offsets [12, 16) leave a gap of 4 bytes after the previous tensor 'a' ending at 8`);
  p = craft(f("gap_at_start"), { a: t("U8", [2], [2, 4]) }, [0, 0, 0, 0]);
  expectLoadError(p, `[load] ${p}: tensor 'a': data offsets [2, 4) leave a gap of 2 bytes at the start of the data area`);
  p = craft(f("not_covering"), { a: t("F32", [2], [0, 8]) }, new Array(12).fill(0));
  expectLoadError(p, `[load] ${p}: tensors do not cover the data area: 4 trailing bytes after the last tensor 'a' ending at 8`);
  p = craft(f("past_end"), { a: t("F32", [4], [0, 16]) }, new Array(8).fill(0));
  expectLoadError(p, `[load] ${p}: tensor 'a': data offsets [0, 16) extend past the end of the data area, which holds 8 bytes`);
  p = craft(f("wrong_length"), { a: t("F32", [3], [0, 8]) }, new Array(8).fill(0));
  expectLoadError(p, `[load] ${p}: tensor 'a': byte length 8 != product(shape [3]) \u00d7 4 bytes (float32) = 12`);
  p = craft(f("duplicate"), "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", [1, 2]);
  expectLoadError(p, `[load] ${p}: tensor 'a': duplicate tensor name`);
  p = craft(f("no_offsets"), { a: { dtype: "U8", shape: [1] } }, [1]);
  expectLoadError(p, `[load] ${p}: tensor 'a': missing key 'data_offsets'`);
  p = craft(f("no_dtype"), { a: { shape: [1], data_offsets: [0, 1] } }, [1]);
  expectLoadError(p, `[load] ${p}: tensor 'a': missing key 'dtype'`);
  p = craft(f("unknown_key"), { a: { ...t("U8", [1], [0, 1]), extra: 1 } }, [1]);
  expectLoadError(p, `[load] ${p}: tensor 'a': unknown key 'extra'`);
  p = craft(f("negative_dim"), { a: t("U8", [-1], [0, 0]) }, []);
  expectLoadError(p, `[load] ${p}: tensor 'a': shape[0] must be a non-negative integer, got -1`);
  p = craft(f("begin_after_end"), { a: t("U8", [0], [1, 0]) }, [0]);
  expectLoadError(p, `[load] ${p}: tensor 'a': data_offsets [1, 0]: begin is after end`);
  p = craft(f("overflow"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,4],\"data_offsets\":[0,4]}}", [0, 0, 0, 0]);
  expectLoadError(p, `[load] ${p}: tensor 'a': element count of shape [9223372036854775807, 4] exceeds 2^63 - 1`);
  p = craft(f("bad_metadata"), { __metadata__: { k: 1 } }, []);
  expectLoadError(p, `[load] ${p}: '__metadata__': the value of 'k' must be a string, got 1`);
  p = f("empty");
  fs.writeFileSync(p, "");
  expectLoadError(p, `[load] ${p}: file is empty (0 bytes)`);
  p = f("short");
  fs.writeFileSync(p, Buffer.from([1, 2, 3]));
  expectLoadError(p, `[load] ${p}: file is 3 bytes, shorter than the 8-byte header length`);
  // Errors are EINVAL for malformed content.
  assert.throws(() => mx.load(p), (e: any) => e.code === "EINVAL");
});

test("the committed fuzz corpus: valid files load with the right bytes, bad ones are rejected", () => {
  let dir = dirname(fileURLToPath(import.meta.url));
  let corpus = "";
  for (let i = 0; i < 6 && !corpus; i++, dir = dirname(dir))
    if (fs.existsSync(join(dir, "native/io/fuzz/corpus"))) corpus = join(dir, "native/io/fuzz/corpus");
  assert.ok(corpus, "corpus folder found");
  const files = fs.readdirSync(corpus).sort();
  assert.ok(files.length >= 10);
  for (const name of files) {
    const p = join(corpus, name);
    if (name.startsWith("bad_")) {
      expectLoadError(p, `[load] ${p}: `);
      continue;
    }
    const [w, meta] = mx.loadWithMetadata(p);
    const { header, data } = readRaw(p);
    assert.deepEqual(meta, header.__metadata__ ?? {});
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    assert.deepEqual(Object.keys(w).sort(), names.sort(), name);
    for (const n of names) {
      const e = header[n];
      assert.deepEqual(w[n].shape, e.shape);
      assert.equal(ST_NAMES[w[n].dtype.name], e.dtype);
      const raw = data.subarray(e.data_offsets[0], e.data_offsets[1]);
      const expected = e.dtype === "BOOL" ? Buffer.from(Array.from(raw, (v) => (v ? 1 : 0))) : raw;
      assert.ok(bytes(w[n]).equals(expected), `${name}: ${n}`);
    }
  }
});

test("a failed save leaves the existing file untouched and no temporary file behind", () => {
  const d = fresh("atomic");
  const file = join(d, "keep.safetensors");
  mx.saveSafetensors(file, { old: mx.array([1, 2, 3]) });
  const original = fs.readFileSync(file);
  const untouched = () => {
    assert.ok(fs.readFileSync(file).equals(original));
    assert.deepEqual(fs.readdirSync(d), ["keep.safetensors"]);
  };
  // An array whose evaluation fails (past the memory limit): nothing is written.
  const previous = mx.setMemoryLimit(mx.getActiveMemory() + 2 ** 20);
  try {
    const huge = mx.add(mx.ones([4 * 2 ** 20]), 1);
    assert.throws(() => mx.saveSafetensors(file, { new: mx.array([9]), huge }), (e: any) => e instanceof EngineError && /^\[malloc\]/.test(e.message));
  } finally {
    mx.setMemoryLimit(previous);
  }
  untouched();
  // Invalid input is rejected before anything is written.
  assert.throws(() => mx.saveSafetensors(file, { ["bad\ud800"]: mx.array([1]), __metadata__: mx.array([2]) }), EngineError);
  untouched();
  // The target folder does not exist.
  const nowhere = join(d, "missing", "x.safetensors");
  assert.throws(() => mx.saveSafetensors(nowhere, { a: mx.array([1]) }),
    (e: any) => e instanceof EngineError && e.message.startsWith(`[save] ${nowhere}: cannot create a temporary file in '${join(d, "missing")}'`));
  // The target is a folder: the rename fails and the temporary file is removed.
  fs.mkdirSync(join(d, "dir.safetensors"));
  assert.throws(() => mx.saveSafetensors(join(d, "dir.safetensors"), { a: mx.array([1]) }), /cannot rename the temporary file over it/);
  assert.deepEqual(fs.readdirSync(join(d, "dir.safetensors")), []);
  fs.rmdirSync(join(d, "dir.safetensors"));
  untouched();
  // A read-only folder (root ignores permissions, so only as another user).
  if (process.getuid?.() !== 0) {
    fs.chmodSync(d, 0o555);
    try {
      assert.throws(() => mx.saveSafetensors(file, { a: mx.array([1]) }), /cannot create a temporary file/);
    } finally {
      fs.chmodSync(d, 0o755);
    }
    untouched();
  }
  // Overwriting while the old file is mapped: the loaded arrays keep the old data.
  const old = mx.load(file).old;
  mx.saveSafetensors(file, { fresh: mx.array([5]) });
  assert.deepEqual(old.tolist(), [1, 2, 3]);
  assert.deepEqual(Object.keys(mx.load(file)), ["fresh"]);
});
