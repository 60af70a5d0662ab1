// The pre-built tokenizer cache (tokenizer-cache.ts) must give exactly the ids of the plain path: the Gemma 3
// tokenizer through both, on the reference cases (ids from the real Hugging Face tokenizer) and on random text;
// and any change to tokenizer.json must miss the cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { loadTokenizer, type Tokenizer } from "../src/lm/tokenizer.js";
import { findFixture } from "./helpers/fixtures.js";
import { writeTinyTokenizer } from "./helpers/tiny-tokenizer.js";
import { spawnSync } from "node:child_process";

const FIXTURE = findFixture("tokenizer-gemma3");
const REF = JSON.parse(readFileSync(join(FIXTURE, "reference.json"), "utf8")) as {
  encode: { text: string; ids: number[]; ids_with_bos: number[]; decoded: string }[];
  chat: { messages: never[]; add_generation_prompt: boolean; ids: number[] }[];
};

function withCacheDir<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const old = process.env.HEARTH_CACHE_DIR;
  process.env.HEARTH_CACHE_DIR = dir;
  return f().finally(() => {
    if (old === undefined) delete process.env.HEARTH_CACHE_DIR;
    else process.env.HEARTH_CACHE_DIR = old;
  });
}

/** One cache folder for the file: the Gemma 3 entry the first test writes is reused by the last. */
const DIR = mkdtempSync(join(tmpdir(), "hearth-tokcache-"));

const cacheFiles = (dir: string) => {
  try {
    return readdirSync(join(dir, "tokenizers"));
  } catch {
    return [];
  }
};

/** Text that reaches the merges: words of every script in the fixture, numbers, code, emoji, odd spacing. */
function randomTexts(seed: number, n: number): string[] {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pieces = REF.encode.flatMap((c) => c.text.split(/(\s+)/)).filter((p) => p.length > 0);
  pieces.push("function", "const x = [1, 2, 3];", "\t", "\n\n", "  ", "ŉ", "🙂", "日本語", "ÅÄÖ", "<start_of_turn>", "<bos>", "123456789", "zzzzqqq");
  return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => {
    const p = pieces[Math.floor(rnd() * pieces.length)];
    return rnd() < 0.2 ? p.slice(0, 1 + Math.floor(rnd() * p.length)) : p;
  }).join(rnd() < 0.5 ? " " : ""));
}

test("the cached Gemma 3 tokenizer gives the plain path's ids (and the reference ids) on every reference case", async () => {
  const dir = DIR;
  const plain = await loadTokenizer(FIXTURE, { cache: false });
  assert.equal(plain.prebuilt, false);
  const cold = await withCacheDir(dir, () => loadTokenizer(FIXTURE));
  assert.equal(cold.prebuilt, false, "the first load builds from tokenizer.json");
  assert.equal(cacheFiles(dir).length, 1, "and writes one cache file");
  assert.ok(!cacheFiles(dir)[0].endsWith(".tmp"));
  const warm: Tokenizer = await withCacheDir(dir, () => loadTokenizer(FIXTURE));
  assert.equal(warm.prebuilt, true, "the second load starts from the cache");

  for (const k of ["vocabSize", "size", "bosTokenId", "partialCharacters", "hasChatTemplate"] as const) assert.deepEqual(warm[k], plain[k], k);
  assert.deepEqual(warm.eosTokenIds, plain.eosTokenIds);
  assert.deepEqual([...warm.specialTokens.all], [...plain.specialTokens.all]);
  for (const c of REF.encode) {
    assert.deepEqual(warm.encode(c.text, { addSpecialTokens: false }), c.ids, `ids for ${JSON.stringify(c.text)}`);
    assert.deepEqual(warm.encode(c.text), c.ids_with_bos);
    assert.equal(warm.decode(c.ids), c.decoded);
    assert.equal(warm.decode(c.ids_with_bos, { skipSpecialTokens: true }), plain.decode(c.ids_with_bos, { skipSpecialTokens: true }));
    const chunks: string[] = [];
    const detok = warm.createDetokenizer();
    for (const id of c.ids) chunks.push(detok.add(id));
    chunks.push(detok.flush());
    assert.equal(chunks.join(""), c.decoded);
  }
  for (const c of REF.chat)
    assert.deepEqual(warm.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt }), c.ids);
  for (const text of randomTexts(7, 400)) assert.deepEqual(warm.encode(text), plain.encode(text), JSON.stringify(text));
  for (const id of [0, 1, 2, 3, 105, 106, 238, 255, 1000, 123456, 262143, 262144, 262145])
    assert.equal(warm.idToToken(id), plain.idToToken(id), `token ${id}`);
  for (const t of ["<end_of_turn>", "▁the", "<0x0A>", "<image_soft_token>", "no such token"]) assert.equal(warm.tokenToId(t), plain.tokenToId(t), t);
});

/** A small BPE tokenizer.json with merges; `ab` is the id of the merged token "ab". */
function smallBpe(ab: number): string {
  const vocab: Record<string, number> = { "<unk>": 0, a: 1, b: 2, c: 3 };
  vocab.ab = ab;
  vocab.abc = ab === 4 ? 5 : 4;
  return JSON.stringify({
    version: "1.0", truncation: null, padding: null, added_tokens: [{ id: 0, content: "<unk>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: ["a b", "ab c"] },
  });
}

test("a changed tokenizer.json misses the cache; a damaged cache file is rebuilt; writes leave no temp file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-tokcache-"));
  const model = mkdtempSync(join(tmpdir(), "hearth-tokcache-model-"));
  await withCacheDir(dir, async () => {
    writeFileSync(join(model, "tokenizer.json"), smallBpe(4));
    assert.deepEqual((await loadTokenizer(model)).encode("abcab"), [5, 4]);
    const warm = await loadTokenizer(model);
    assert.equal(warm.prebuilt, true);
    assert.deepEqual(warm.encode("abcab"), [5, 4]);
    assert.deepEqual(warm.encode("cba"), [3, 2, 1]);

    // The same size and (on coarse clocks) the same mtime: only the content differs, and the ids follow it.
    const before = statSync(join(model, "tokenizer.json"));
    writeFileSync(join(model, "tokenizer.json"), smallBpe(5));
    assert.equal(statSync(join(model, "tokenizer.json")).size, before.size);
    const changed = await loadTokenizer(model);
    assert.equal(changed.prebuilt, false);
    assert.deepEqual(changed.encode("abcab"), [4, 5]);
    assert.deepEqual((await loadTokenizer(model)).encode("abcab"), [4, 5]);

    // A truncated or overwritten cache file is not used (and is written again).
    for (const f of cacheFiles(dir)) writeFileSync(join(dir, "tokenizers", f), readFileSync(join(dir, "tokenizers", f)).subarray(0, 100));
    const afterDamage = await loadTokenizer(model);
    assert.equal(afterDamage.prebuilt, false);
    assert.deepEqual(afterDamage.encode("abcab"), [4, 5]);
    assert.equal((await loadTokenizer(model)).prebuilt, true);
    assert.ok(cacheFiles(dir).every((f) => f.endsWith(".bin")), cacheFiles(dir).join());
  });
});

test("the cache key is tokenizer.json's bytes as stored (gzipped the same JSON differently: another entry, same ids)", async () => {
  const dir = DIR;
  const model = mkdtempSync(join(tmpdir(), "hearth-tokcache-model-"));
  const json = gunzipSync(readFileSync(join(FIXTURE, "tokenizer.json.gz")));
  copyFileSync(join(FIXTURE, "tokenizer_config.json.gz"), join(model, "tokenizer_config.json.gz"));
  writeFileSync(join(model, "tokenizer.json.gz"), gzipSync(json, { level: 1 }));
  await withCacheDir(dir, async () => {
    await loadTokenizer(model);
    const fromCache = await loadTokenizer(model);
    assert.equal(fromCache.prebuilt, true);
    const c = REF.encode[REF.encode.length - 1];
    assert.deepEqual(fromCache.encode(c.text), c.ids_with_bos);
    assert.equal(cacheFiles(dir).length, 2, "the fixture's entry from the first test and this one");
  });
  assert.equal((await withCacheDir(dir, () => loadTokenizer(model, { cache: false }))).prebuilt, false, "cache: false skips it");
});

test("the chat-template worker (started by loadTokenizer) renders in processes run with --expose-gc or --input-type=module", async () => {
  const model = mkdtempSync(join(tmpdir(), "hearth-tokcache-model-"));
  writeTinyTokenizer(model, 300);
  const tokenizerJs = new URL("../src/lm/tokenizer.js", import.meta.url).href;
  const script = `const { loadTokenizer } = await import(${JSON.stringify(tokenizerJs)});
    const t = await loadTokenizer(${JSON.stringify(model)});
    console.log(t.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true, tokenize: false }));`;
  for (const flags of [["--expose-gc"], ["--input-type=module"]]) {
    const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, HEARTH_CACHE_DIR: DIR } });
    assert.equal(r.status, 0, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, /<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n/, flags.join(" "));
  }
});
