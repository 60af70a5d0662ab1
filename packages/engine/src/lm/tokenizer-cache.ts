/**
 * A pre-built form of a BPE tokenizer.json, so that a process starts in milliseconds instead of seconds.
 *
 * Why: for Gemma 3 (262,144 tokens, 514,906 merges) `@huggingface/tokenizers` spends ~25% of a load in
 * JSON.parse of tokenizer.json and ~65% in its BPE constructor, which fills a Map of every token and a Map of
 * every merge keyed by `JSON.stringify([a, b])` (~3 s on a busy 2-core machine; node --cpu-prof: BPE, object_to_map
 * and the garbage collector). Building a JS Map of 262k strings alone takes ~250 ms there, so a cache of the
 * parsed JSON or of the Maps cannot reach the start-up target.
 *
 * What: the cache holds the vocabulary as one UTF-8 blob with offsets, an open-addressing hash table from token
 * to id and one from merge pair (by ids) to rank, all typed arrays read with one file read; the rest of
 * tokenizer.json (normalizer, pre-tokenizer, added tokens, decoder, …) is kept as JSON. The library's tokenizer is
 * built from that small JSON (empty vocab and merges), then its BPE model gets Map-like views over the tables:
 * `tokens_to_ids` (get/has/set), `vocab` (indexing) and `bpe_ranks` (get by the library's own JSON key). The
 * library's encode and decode code runs unchanged, with the same ranks, so ids are the same (the engine's test
 * tokenizer-cache.test.ts compares both paths on the reference cases). Strings are decoded from the blob when a
 * token is looked at.
 *
 * Where: `$HEARTH_CACHE_DIR`, else `$XDG_CACHE_HOME/hearth`, else `~/.cache/hearth`, in `tokenizers/`; model
 * folders may be read-only (hub caches, installed packages). The file is named by the SHA-256 of the
 * tokenizer.json bytes as stored (gzipped or not) and checks that hash, the size, its own format version and the
 * library version, so any change to tokenizer.json misses the cache. Written to a temporary file and renamed.
 * `HEARTH_TOKENIZER_CACHE=0` turns it off. Only BPE models whose vocabulary ids are dense and whose merge pieces
 * are all in the vocabulary are cached (the tokenizers of every Gemma); others load as before.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { endianness, homedir } from "node:os";
import { join } from "node:path";

type JsonObject = Record<string, unknown>;

const MAGIC = "HEARTH-TOKENIZER\n";
/** Bump when the layout or the way the tables are installed changes. */
const FORMAT_VERSION = 1;
/** The library whose internals (BPE's tokens_to_ids, vocab, bpe_ranks, unk_token_id) the tables stand in for. */
export const TOKENIZERS_LIBRARY_VERSION = "0.2.0";

/** The tables of a cached tokenizer (see the module comment). */
export interface PrebuiltVocab {
  /** Base vocabulary size (ids 0..n-1). */
  n: number;
  /** UTF-8 bytes of every token, back to back; token i is blob[offsets[i], offsets[i+1]). */
  blob: Buffer;
  offsets: Int32Array;
  /** Token hash table: id + 1 per slot, 0 = empty (length a power of two). */
  slots: Int32Array;
  /** Merge pieces by rank (ids). */
  mergeA: Int32Array;
  mergeB: Int32Array;
  /** Merge hash table: rank + 1 per slot, 0 = empty (length a power of two). */
  pairSlots: Int32Array;
}

/** What a cache hit gives: tokenizer.json without model.vocab and model.merges, and the tables. */
export interface CachedTokenizer {
  lite: JsonObject;
  prebuilt: PrebuiltVocab;
}

export function tokenizerCacheDir(): string {
  const base = process.env.HEARTH_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "hearth");
  return join(base, "tokenizers");
}

export function tokenizerCacheEnabled(): boolean {
  return process.env.HEARTH_TOKENIZER_CACHE !== "0";
}

/** FNV-1a over UTF-16 code units (the same at build and at lookup, both on JS strings). */
function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function pairHash(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

function tableSize(n: number): number {
  let s = 16;
  while (s < n * 1.5) s *= 2;
  return s;
}

/** Token → id over the blob, and id → token, without building a JS Map of the whole vocabulary. */
class VocabTables {
  private readonly strings: (string | undefined)[];
  private readonly mask: number;
  private readonly pairMask: number;

  constructor(readonly t: PrebuiltVocab) {
    this.strings = new Array(t.n);
    this.mask = t.slots.length - 1;
    this.pairMask = t.pairSlots.length - 1;
  }

  token(id: number): string | undefined {
    if (!(id >= 0 && id < this.t.n)) return undefined;
    let s = this.strings[id];
    if (s === undefined) s = this.strings[id] = this.t.blob.toString("utf8", this.t.offsets[id], this.t.offsets[id + 1]);
    return s;
  }

  id(token: string): number | undefined {
    const { slots } = this.t;
    for (let i = stringHash(token) & this.mask; ; i = (i + 1) & this.mask) {
      const v = slots[i];
      if (v === 0) return undefined;
      if (this.token(v - 1) === token) return v - 1;
    }
  }

  rank(a: number, b: number): number | undefined {
    const { pairSlots, mergeA, mergeB } = this.t;
    for (let i = pairHash(a, b) & this.pairMask; ; i = (i + 1) & this.pairMask) {
      const v = pairSlots[i];
      if (v === 0) return undefined;
      if (mergeA[v - 1] === a && mergeB[v - 1] === b) return v - 1;
    }
  }
}

/** The BPE model's `tokens_to_ids`: the base table plus what the library sets (added tokens), as a Map would. */
class TokenToId {
  private readonly extra = new Map<string, number>();
  constructor(private readonly v: VocabTables) {}
  get(token: string): number | undefined {
    const e = this.extra.get(token);
    return e !== undefined ? e : typeof token === "string" ? this.v.id(token) : undefined;
  }
  has(token: string): boolean {
    return this.get(token) !== undefined;
  }
  set(token: string, id: number): this {
    this.extra.set(token, id);
    return this;
  }
  get size(): number {
    let n = this.v.t.n;
    for (const k of this.extra.keys()) if (this.v.id(k) === undefined) n++;
    return n;
  }
  *entries(): IterableIterator<[string, number]> {
    for (let i = 0; i < this.v.t.n; i++) {
      const s = this.v.token(i)!;
      if (!this.extra.has(s)) yield [s, i];
    }
    yield* this.extra.entries();
  }
  [Symbol.iterator](): IterableIterator<[string, number]> {
    return this.entries();
  }
}

/** The BPE model's `vocab` array (id → token) as a Proxy over the blob; the library writes added tokens into it. */
function vocabArray(v: VocabTables): string[] {
  const extra = new Map<number, string>();
  let length = v.t.n;
  const index = (k: string | symbol): number => {
    if (typeof k !== "string" || k.length === 0 || k.charCodeAt(0) < 48 || k.charCodeAt(0) > 57) return -1;
    const i = Number(k);
    return Number.isInteger(i) && String(i) === k ? i : -1;
  };
  return new Proxy([] as string[], {
    get(target, k, receiver) {
      const i = index(k);
      if (i >= 0) return extra.get(i) ?? v.token(i);
      if (k === "length") return length;
      return Reflect.get(target, k, receiver);
    },
    set(target, k, value) {
      const i = index(k);
      if (i < 0) return Reflect.set(target, k, value);
      extra.set(i, value);
      if (i >= length) length = i + 1;
      return true;
    },
    has(target, k) {
      const i = index(k);
      return i >= 0 ? i < length && (extra.has(i) || i < v.t.n) : Reflect.has(target, k);
    },
  });
}

/** The BPE model's `bpe_ranks`: the library asks by `JSON.stringify([a, b])` of two token strings. */
class MergeRanks {
  constructor(private readonly v: VocabTables) {}
  get(key: string): number | undefined {
    let pair: unknown;
    try {
      pair = JSON.parse(key);
    } catch {
      return undefined;
    }
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") return undefined;
    const a = this.v.id(pair[0]);
    if (a === undefined) return undefined;
    const b = this.v.id(pair[1]);
    return b === undefined ? undefined : this.v.rank(a, b);
  }
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  get size(): number {
    return this.v.t.mergeA.length;
  }
}

interface HfBpeModel {
  tokens_to_ids: unknown;
  vocab: unknown;
  bpe_ranks: unknown;
  merges: unknown;
  unk_token?: string;
  unk_token_id?: number;
  cache?: { clear(): void };
}
interface HfTokenizerShape {
  model: HfBpeModel;
  added_tokens: { content: string; id: number }[];
}

/**
 * Gives a tokenizer built from the lite JSON its full vocabulary and merges. Returns false (and changes nothing)
 * when the library's model does not have the shape this was written for.
 */
export function installPrebuilt(hf: unknown, prebuilt: PrebuiltVocab): boolean {
  const t = hf as HfTokenizerShape;
  const m = t?.model;
  if (!m || !(m.tokens_to_ids instanceof Map) || !Array.isArray(m.vocab) || !(m.bpe_ranks instanceof Map) || !Array.isArray(t.added_tokens))
    return false;
  const v = new VocabTables(prebuilt);
  const ids = new TokenToId(v);
  const vocab = vocabArray(v);
  // What BPE's constructor does with the base vocabulary, then what Tokenizer's does with the added tokens.
  m.unk_token_id = m.unk_token === undefined ? undefined : v.id(m.unk_token);
  for (const token of t.added_tokens) {
    ids.set(token.content, token.id);
    vocab[token.id] = token.content;
  }
  m.tokens_to_ids = ids;
  m.vocab = vocab;
  m.bpe_ranks = new MergeRanks(v);
  m.merges = [];
  m.cache?.clear();
  return true;
}

/** The tables for a parsed tokenizer.json, or undefined when it is not a BPE model this cache can hold. */
export function buildPrebuilt(json: JsonObject): CachedTokenizer | undefined {
  const model = json.model as JsonObject | undefined;
  if (!model || model.type !== "BPE" || !model.vocab || typeof model.vocab !== "object" || Array.isArray(model.vocab) || !Array.isArray(model.merges))
    return undefined;
  const entries = Object.entries(model.vocab as Record<string, unknown>);
  const n = entries.length;
  const tokens = new Array<string>(n);
  for (const [token, id] of entries) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= n || tokens[id] !== undefined) return undefined;
    tokens[id] = token;
  }
  const offsets = new Int32Array(n + 1);
  let at = 0;
  const slots = new Int32Array(tableSize(n));
  const mask = slots.length - 1;
  for (let id = 0; id < n; id++) {
    const s = tokens[id];
    offsets[id] = at;
    at += Buffer.byteLength(s, "utf8");
    let i = stringHash(s) & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = id + 1;
  }
  offsets[n] = at;
  const joined = tokens.join("");
  const blob = Buffer.from(joined, "utf8");
  // A lone surrogate does not survive UTF-8: such a vocabulary stays on the plain path.
  if (blob.length !== at || blob.toString("utf8") !== joined) return undefined;
  // Merge pieces by the vocabulary object itself (a hash lookup; no Map of 262k strings to build).
  const vocabObj = model.vocab as Record<string, number>;
  const idOf = { get: (s: string): number | undefined => (Object.hasOwn(vocabObj, s) ? vocabObj[s] : undefined) };
  // As the library: pairs as given, or "a b" split at the first spaces (split(" ", 2)).
  const merges = model.merges as unknown[];
  const m = merges.length;
  const mergeA = new Int32Array(m), mergeB = new Int32Array(m);
  const pairSlots = new Int32Array(tableSize(m));
  const pmask = pairSlots.length - 1;
  for (let r = 0; r < m; r++) {
    const x = merges[r];
    const pair = Array.isArray(x) ? x : typeof x === "string" ? x.split(" ", 2) : undefined;
    if (!pair || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") return undefined;
    const a = idOf.get(pair[0]), b = idOf.get(pair[1]);
    if (a === undefined || b === undefined) return undefined;
    mergeA[r] = a;
    mergeB[r] = b;
    // A repeated pair takes the later rank, as `new Map(entries)` does.
    let i = pairHash(a, b) & pmask;
    for (; pairSlots[i] !== 0; i = (i + 1) & pmask) if (mergeA[pairSlots[i] - 1] === a && mergeB[pairSlots[i] - 1] === b) break;
    pairSlots[i] = r + 1;
  }
  const lite = { ...json, model: { ...model, vocab: {}, merges: [] } };
  return { lite, prebuilt: { n, blob, offsets, slots, mergeA, mergeB, pairSlots } };
}

export function sourceHash(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function cacheFile(hash: string): string {
  return join(tokenizerCacheDir(), `${hash}.bin`);
}

interface Header {
  format: number;
  /** The tables are in this machine's byte order. */
  endian: string;
  library: string;
  source: { sha256: string; size: number; path: string };
  n: number;
  slots: number;
  merges: number;
  pairSlots: number;
  blob: number;
  lite: JsonObject;
}

/** The cached form of the tokenizer.json whose bytes (as stored) are `source`, or undefined on any mismatch. */
export function readTokenizerCache(source: Buffer, hash = sourceHash(source)): CachedTokenizer | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(cacheFile(hash));
  } catch {
    return undefined;
  }
  try {
    if (buf.toString("latin1", 0, MAGIC.length) !== MAGIC) return undefined;
    const headerLength = buf.readUInt32LE(MAGIC.length);
    let at = MAGIC.length + 4;
    const h = JSON.parse(buf.toString("utf8", at, at + headerLength)) as Header;
    at += headerLength;
    if (h.format !== FORMAT_VERSION || h.endian !== endianness() || h.library !== TOKENIZERS_LIBRARY_VERSION || h.source?.sha256 !== hash || h.source.size !== source.length)
      return undefined;
    at = (at + 3) & ~3;
    const ints = h.n + 1 + h.slots + 2 * h.merges + h.pairSlots;
    if (buf.length !== at + ints * 4 + h.blob) return undefined;
    // A view on the file's bytes where they are 4-aligned in memory (a file read into its own buffer), else a copy.
    let all: Int32Array;
    if ((buf.byteOffset + at) % 4 === 0) {
      all = new Int32Array(buf.buffer, buf.byteOffset + at, ints);
    } else {
      all = new Int32Array(ints);
      new Uint8Array(all.buffer).set(buf.subarray(at, at + ints * 4));
    }
    let o = 0;
    const take = (k: number) => all.subarray(o, (o += k));
    const prebuilt: PrebuiltVocab = {
      n: h.n,
      offsets: take(h.n + 1),
      slots: take(h.slots),
      mergeA: take(h.merges),
      mergeB: take(h.merges),
      pairSlots: take(h.pairSlots),
      blob: buf.subarray(at + ints * 4),
    };
    if (prebuilt.offsets[h.n] !== h.blob) return undefined;
    return { lite: h.lite, prebuilt };
  } catch {
    return undefined;
  }
}

/**
 * Writes the cache for `source` (tokenizer.json's bytes as stored at `path`) atomically: a temporary file in the
 * cache folder, renamed over the final name. Returns the file written, or undefined when this tokenizer can't be
 * cached or the folder can't be written (loading goes on either way).
 */
export function writeTokenizerCache(source: Buffer, path: string, built: CachedTokenizer, hash = sourceHash(source)): string | undefined {
  const { prebuilt: p, lite } = built;
  const header: Header = {
    format: FORMAT_VERSION, endian: endianness(), library: TOKENIZERS_LIBRARY_VERSION, source: { sha256: hash, size: source.length, path },
    n: p.n, slots: p.slots.length, merges: p.mergeA.length, pairSlots: p.pairSlots.length, blob: p.blob.length, lite,
  };
  const head = Buffer.from(JSON.stringify(header), "utf8");
  const pre = MAGIC.length + 4 + head.length;
  const pad = ((pre + 3) & ~3) - pre;
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(head.length);
  const ints = [p.offsets, p.slots, p.mergeA, p.mergeB, p.pairSlots].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  const file = cacheFile(hash);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    mkdirSync(tokenizerCacheDir(), { recursive: true });
    writeFileSync(tmp, Buffer.concat([Buffer.from(MAGIC, "latin1"), lengthField, head, Buffer.alloc(pad), ...ints, p.blob]));
    renameSync(tmp, file);
    return file;
  } catch {
    rmSync(tmp, { force: true });
    return undefined;
  }
}
