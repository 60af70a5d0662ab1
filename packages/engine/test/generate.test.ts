// Text generation on the tiny Gemma 3 fixture (random weights) with a tiny 512-token tokenizer: greedy decoding
// against transformers' continuation, sampling, stop strings, EOS, abort, streaming, prompt caches, batching.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, lm } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import type { GenerateOptions, GenerationResponse } from "../src/lm/generate.js";
import { findFixture } from "./helpers/fixtures.js";
import { tinyModelFolder } from "./helpers/tiny-model.js";

const loaded = lm.load(tinyModelFolder());
const ref = mx.load(join(findFixture("gemma3-tiny-a"), "reference.safetensors")) as Record<string, MxArray>;
const greedy = (ref.greedy_prompt12_new20.tolist() as number[][])[0];
const PROMPT12 = greedy.slice(0, 12);
const LONG = (ref.input_ids.tolist() as number[][])[0];  // 40 ids

async function collect(opts: GenerateOptions): Promise<GenerationResponse[]> {
  const { model, tokenizer } = await loaded;
  const out: GenerationResponse[] = [];
  for await (const r of lm.streamGenerate(model, tokenizer!, opts)) out.push(r);
  return out;
}
const tokensOf = (rs: GenerationResponse[]) => rs.map((r) => r.token).filter((t) => t >= 0);
const textOf = (rs: GenerationResponse[]) => rs.map((r) => r.text).join("");

test("greedy generation equals transformers' greedy continuation (prompt as token ids)", async () => {
  const { model, tokenizer } = await loaded;
  const rs = await collect({ prompt: PROMPT12, maxTokens: 20 });
  assert.deepEqual(tokensOf(rs), greedy.slice(12));
  assert.equal(rs.length, 20);
  assert.equal(rs.at(-1)!.finishReason, "length");
  assert.ok(rs.slice(0, -1).every((r) => r.finishReason === undefined));
  assert.equal(rs.at(-1)!.generationTokens, 20);
  assert.equal(rs.at(-1)!.promptTokens, 12);
  const text = await lm.generate(model, tokenizer!, { prompt: PROMPT12, maxTokens: 20 });
  assert.equal(text, tokenizer!.decode(greedy.slice(12)));
  assert.equal(textOf(rs), text);
});

test("generateStep gives the same tokens, and prefill in chunks of 3 gives the same tokens and logprobs", async () => {
  const { model } = await loaded;
  const run = async (prefillStepSize?: number) => {
    const toks: number[] = [], lps: Float32Array[] = [];
    for await (const s of lm.generateStep(model, LONG, { maxTokens: 8, logprobs: true, ...(prefillStepSize ? { prefillStepSize } : {}) })) {
      toks.push(s.token);
      assert.deepEqual(s.logprobs!.shape, [512]);
      lps.push(s.logprobs!.toFloat32Array());
    }
    return { toks, lps };
  };
  const a = await run(), b = await run(3);
  assert.deepEqual(b.toks, a.toks);
  for (let i = 0; i < a.lps.length; i++)
    for (let v = 0; v < 512; v++) assert.ok(Math.abs(a.lps[i][v] - b.lps[i][v]) < 1e-4, `step ${i} token ${v}`);
  // The logprobs are normalised and the greedy token is their argmax.
  const p = a.lps[0].reduce((s, x) => s + Math.exp(x), 0);
  assert.ok(Math.abs(p - 1) < 1e-4);
  assert.equal(a.toks[0], a.lps[0].indexOf(Math.max(...a.lps[0])));
});

test("raw text prompts get bos once; text goes through the chat template by default; messages use it with the generation prompt", async () => {
  const { model, tokenizer } = await loaded;
  const tk = tokenizer!;
  assert.deepEqual(lm.promptTokens(tk, { prompt: "hello there", rawPrompt: true }), tk.encode("hello there"));
  assert.equal(lm.promptTokens(tk, { prompt: "hello there", rawPrompt: true })[0], 2);
  assert.deepEqual(lm.promptTokens(tk, { prompt: "<bos>hello there", rawPrompt: true }), tk.encode("hello there"));
  // The one prompt rule (mlx-lm's, and the CLI's --prompt): a text prompt is one user message of the chat template.
  assert.deepEqual(lm.promptTokens(tk, { prompt: "hello there" }),
    tk.applyChatTemplate([{ role: "user", content: "hello there" }], { addGenerationPrompt: true }));
  const messages = [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }];
  const ids = tk.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.deepEqual(lm.promptTokens(tk, { messages }), ids);
  assert.equal(ids.filter((t) => t === 2).length, 1);
  const a = await lm.generate(model, tk, { messages, maxTokens: 6 });
  const b = await lm.generate(model, tk, { prompt: ids, maxTokens: 6 });
  assert.equal(a, b);
  await assert.rejects(lm.generate(model, tk, { maxTokens: 3 }), /no prompt/);
  await assert.rejects(lm.generate(model, tk, { prompt: [], maxTokens: 3 }), /empty/);
  await assert.rejects(lm.generate(model, tk, { prompt: "x", messages, maxTokens: 3 }), /either prompt or messages/);
  await assert.rejects(lm.generate(model, tk, { prompt: "x", maxTokens: -1 }), /maxTokens/);
  await assert.rejects(lm.generate(model, tk, { prompt: "x", temp: -1 }), /temp/);
});

test("seeded sampling is reproducible; different seeds differ; topK 1 is greedy", async () => {
  // The random-weight model is very peaked (gaps of ~30 nats): a high temperature makes sampling varied.
  const base = { prompt: LONG.slice(0, 10), maxTokens: 40, temp: 25 };
  const a = tokensOf(await collect({ ...base, seed: 7 }));
  const b = tokensOf(await collect({ ...base, seed: 7 }));
  const c = tokensOf(await collect({ ...base, seed: 8 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const g = tokensOf(await collect({ prompt: LONG.slice(0, 10), maxTokens: 15 }));
  const k1 = tokensOf(await collect({ prompt: LONG.slice(0, 10), maxTokens: 15, temp: 2, topK: 1, seed: 3 }));
  assert.deepEqual(k1, g);
  // Filters keep sampling within the allowed set: with minP 1 only the top token survives.
  const m1 = tokensOf(await collect({ prompt: LONG.slice(0, 10), maxTokens: 15, temp: 2, minP: 1, seed: 5 }));
  assert.deepEqual(m1, g);
});

test("EOS ends generation with finishReason stop and no text; maxTokens ends it with length", async () => {
  const rs = await collect({ prompt: PROMPT12, maxTokens: 10, logitBias: { 5: 1000 } });  // <end_of_turn>
  assert.equal(rs.length, 1);
  assert.equal(rs[0].token, 5);
  assert.equal(rs[0].finishReason, "stop");
  assert.equal(rs[0].text, "");
  const r3 = await collect({ prompt: PROMPT12, maxTokens: 3 });
  assert.equal(r3.length, 3);
  assert.equal(r3[2].finishReason, "length");
  const r0 = await collect({ prompt: PROMPT12, maxTokens: 0 });
  assert.equal(r0.length, 1);
  assert.equal(r0[0].token, -1);
  assert.equal(r0[0].finishReason, "length");
  assert.equal(r0[0].promptTokens, 12);
});

test("stop strings are never emitted, also when split across tokens", async () => {
  const { tokenizer } = await loaded;
  const tk = tokenizer!;
  const base = { prompt: LONG.slice(0, 10), maxTokens: 40, temp: 25, seed: 11 };
  const free = await collect(base);
  const toks = tokensOf(free);
  const full = textOf(free);
  assert.equal(full, tk.decode(toks));
  // A two-character stop string made of the last character of one token and the first of the next.
  let stop: string | undefined;
  let at = -1;
  for (let k = 2; k < toks.length - 1 && stop === undefined; k++) {
    const b = tk.decode(toks.slice(0, k)).length;
    const s = full.slice(b - 1, b + 1);
    if (s.length === 2 && !/[\uD800-\uDFFF\uFFFD]/.test(s) && full.indexOf(s) === b - 1) [stop, at] = [s, b - 1];
  }
  assert.ok(stop !== undefined, `no usable token boundary in ${JSON.stringify(full)}`);
  const rs = await collect({ ...base, stop: ["never-there", stop] });
  assert.equal(textOf(rs), full.slice(0, at));
  assert.equal(rs.at(-1)!.finishReason, "stop");
  for (const r of rs) assert.ok(!r.text.includes(stop));
  // A stop string that never completes: everything held back is released at the end.
  const tail = full.slice(-1) + "\u0007never";
  const rs2 = await collect({ ...base, stop: tail });
  assert.equal(textOf(rs2), full);
  assert.equal(rs2.at(-1)!.finishReason, "length");
  assert.equal(await (async () => { const { model } = await loaded; return lm.generate(model, tk, { ...base, stop }); })(), full.slice(0, at));
});

test("TextAssembler holds a possible stop-string prefix until it is decided", async () => {
  const { tokenizer } = await loaded;
  const tk = tokenizer!;
  const ids = tk.encode("the cat sat on the mat", { addSpecialTokens: false });
  const a = new lm.TextAssembler(tk, ["on the m", "xyz"]);
  const chunks: string[] = [];
  let stopped = false;
  for (const t of ids) {
    const r = a.add(t);
    chunks.push(r.text);
    if (r.stopped) { stopped = true; break; }
  }
  assert.ok(stopped);
  assert.equal(chunks.join(""), "the cat sat ");
  for (const c of chunks) assert.ok(!c.includes("on"), `chunk ${JSON.stringify(c)} leaked a stop prefix`);
});

test("streamed chunks concatenate to the final text and never split a UTF-8 character", async () => {
  const { model, tokenizer } = await loaded;
  const tk = tokenizer!;
  // A scripted sampler spells "é€😀 ok" in byte tokens so characters straddle up to four tokens.
  const byteId = (b: number) => tk.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)!;
  const script = [...new TextEncoder().encode("é€😀")].map(byteId).concat(tk.encode(" ok", { addSpecialTokens: false }));
  let i = 0;
  const sampler = () => mx.array([script[i++ % script.length]], mx.int32);
  const rs = await collect({ prompt: LONG.slice(0, 6), maxTokens: script.length * 3, sampler });
  assert.deepEqual(tokensOf(rs), [...script, ...script, ...script]);
  assert.equal(textOf(rs), "é€😀 ok".repeat(3));
  for (const r of rs) {
    assert.ok(!r.text.includes("\uFFFD"), `chunk ${JSON.stringify(r.text)} has a replacement character`);
    assert.ok(!/[\uD800-\uDBFF]$/.test(r.text) && !/^[\uDC00-\uDFFF]/.test(r.text), "a chunk splits a surrogate pair");
  }
  assert.ok(rs.filter((r) => r.text === "").length >= 6, "partial characters are held back");
  // Sampled text: the chunks concatenate to decode(tokens) and to generate()'s text.
  const opts = { prompt: LONG.slice(0, 6), maxTokens: 40, temp: 25, seed: 4 };
  const sampled = await collect(opts);
  assert.equal(textOf(sampled), tk.decode(tokensOf(sampled)));
  assert.equal(await lm.generate(model, tk, opts), textOf(sampled));
});

test("an AbortSignal stops generation between tokens (finishReason abort)", async () => {
  const { model, tokenizer } = await loaded;
  const ctl = new AbortController();
  const rs: GenerationResponse[] = [];
  for await (const r of lm.streamGenerate(model, tokenizer!, { prompt: PROMPT12, maxTokens: 50, signal: ctl.signal })) {
    rs.push(r);
    if (rs.length === 3) ctl.abort();
  }
  assert.equal(rs.length, 4);
  assert.equal(rs[3].finishReason, "abort");
  assert.equal(rs[3].token, -1);
  assert.deepEqual(tokensOf(rs), greedy.slice(12, 15));
  const pre = new AbortController();
  pre.abort();
  const r0 = await collect({ prompt: PROMPT12, signal: pre.signal });
  assert.deepEqual(r0.map((r) => r.finishReason), ["abort"]);
  // Aborting during the prefill.
  const mid = new AbortController();
  const r1 = await collect({ prompt: LONG, prefillStepSize: 4, signal: mid.signal, onPromptProgress: (done) => done >= 8 && mid.abort() });
  assert.deepEqual(r1.map((r) => r.finishReason), ["abort"]);
  assert.equal(r1[0].generationTokens, 0);
  assert.equal(r1[0].promptTokens, 8);
});

test("prompt cache: a second call with the same prefix only prefills the suffix and continues identically", async () => {
  const { model } = await loaded;
  const P = LONG.slice(0, 20), S = LONG.slice(20, 26);
  const fresh = await collect({ prompt: [...P, ...S], maxTokens: 10 });
  const pc = lm.makePromptCache(model);
  const first = await collect({ prompt: P, maxTokens: 5, promptCache: pc });
  assert.equal(first.at(-1)!.promptTokens, 20);
  assert.equal(first.at(-1)!.cachedTokens, 0);
  assert.equal(pc.offset, 20 + 4);  // the last generated token is never fed back
  assert.deepEqual(pc.tokens, [...P, ...tokensOf(first).slice(0, 4)]);
  const second = await collect({ prompt: [...P, ...S], maxTokens: 10, promptCache: pc });
  assert.equal(second.at(-1)!.promptTokens, S.length);
  assert.equal(second.at(-1)!.cachedTokens, P.length);
  assert.deepEqual(tokensOf(second), tokensOf(fresh));
  // Extending what the cache holds (a conversation going on) reuses all of it.
  const held = [...pc.tokens!];
  const third = await collect({ prompt: [...held, ...LONG.slice(30, 33)], maxTokens: 4, promptCache: pc });
  assert.equal(third.at(-1)!.cachedTokens, held.length);
  assert.equal(third.at(-1)!.promptTokens, 3);
});

test("prompt cache: shared system prefix with changing questions is reused from the third call on", async () => {
  const { model } = await loaded;
  const Sys = LONG.slice(0, 16);
  const q = (i: number) => LONG.slice(16 + 4 * i, 20 + 4 * i);
  const pc = lm.makePromptCache(model);
  const r1 = await collect({ prompt: [...Sys, ...q(0)], maxTokens: 4, promptCache: pc });
  assert.equal(r1.at(-1)!.promptTokens, 20);
  // The sliding layers have wrapped (window 8), so the first divergence starts over and leaves a checkpoint.
  const r2 = await collect({ prompt: [...Sys, ...q(1)], maxTokens: 4, promptCache: pc });
  assert.equal(r2.at(-1)!.promptTokens, 20);
  const r3 = await collect({ prompt: [...Sys, ...q(2)], maxTokens: 4, promptCache: pc });
  assert.equal(r3.at(-1)!.cachedTokens, 16);
  assert.equal(r3.at(-1)!.promptTokens, 4);
  assert.deepEqual(tokensOf(r3), tokensOf(await collect({ prompt: [...Sys, ...q(2)], maxTokens: 4 })));
  // The same prompt again: everything but the last token is reused.
  const r4 = await collect({ prompt: [...Sys, ...q(2)], maxTokens: 4, promptCache: pc });
  assert.equal(r4.at(-1)!.cachedTokens, 19);
  assert.deepEqual(tokensOf(r4), tokensOf(r3));
});

test("prompt cache: diverging tokens are trimmed while the cache can trim", async () => {
  const { model } = await loaded;
  const pc = lm.makePromptCache(model, { maxKvSize: 64 });  // rotating everywhere, big enough to stay trimmable
  assert.ok(pc.layers.every((c) => c.kind === "RotatingKVCache"));
  const A = LONG.slice(0, 4);
  await collect({ prompt: [...A, 7], maxTokens: 2, promptCache: pc });  // 6 tokens: the window of 8 has not wrapped
  assert.equal(pc.offset, 6);
  assert.ok(lm.canTrimPromptCache(pc));
  const r = await collect({ prompt: [...A, 9], maxTokens: 3, promptCache: pc });
  assert.equal(r.at(-1)!.cachedTokens, 4);
  assert.equal(r.at(-1)!.promptTokens, 1);
  assert.deepEqual(tokensOf(r), tokensOf(await collect({ prompt: [...A, 9], maxTokens: 3 })));
  assert.equal(lm.trimPromptCache(pc, 2), 2);
  assert.equal(pc.offset, pc.tokens!.length);
});

test("savePromptCache / loadPromptCache round trip continues identically", async () => {
  const { model } = await loaded;
  const P = LONG.slice(0, 20), S = LONG.slice(20, 24);
  const pc = lm.makePromptCache(model);
  await collect({ prompt: P, maxTokens: 0, promptCache: pc });
  assert.equal(pc.offset, 20);
  const file = join(mkdtempSync(join(tmpdir(), "hearth-pc-")), "cache.safetensors");
  lm.savePromptCache(file, pc, { model: "tiny", note: "system prompt" });
  const [loadedPc, meta] = lm.loadPromptCache(file);
  assert.deepEqual(meta, { model: "tiny", note: "system prompt" });
  assert.deepEqual(loadedPc.tokens, P);
  assert.deepEqual(loadedPc.layers.map((c) => c.kind), pc.layers.map((c) => c.kind));
  assert.equal(loadedPc.offset, 20);
  const a = await collect({ prompt: [...P, ...S], maxTokens: 8, promptCache: loadedPc });
  assert.equal(a.at(-1)!.promptTokens, 4);
  const b = await collect({ prompt: [...P, ...S], maxTokens: 8 });
  assert.deepEqual(tokensOf(a), tokensOf(b));
  assert.throws(() => lm.savePromptCache(file, pc, { "hearth.kinds": "x" }), /reserved/);
  assert.throws(() => lm.loadPromptCache(join(findFixture("gemma3-tiny-a"), "model.safetensors")), /not a Hearth prompt cache/);
});

test("maxKvSize: a rotating cache on every layer; large enough it changes nothing", async () => {
  const { model } = await loaded;
  const big = await collect({ prompt: PROMPT12, maxTokens: 20, maxKvSize: 64 });
  assert.deepEqual(tokensOf(big), greedy.slice(12));
  const pc = lm.makePromptCache(model, { maxKvSize: 10 });
  const small = await collect({ prompt: LONG, maxTokens: 30, promptCache: pc });
  assert.equal(tokensOf(small).length, 30);
  assert.ok(pc.layers.every((c) => c.kind === "RotatingKVCache" && c.state[0].shape[2] <= 10));
});

test("batchGenerate equals generating each prompt alone (left padding, rows finishing on their own)", async () => {
  const { model, tokenizer } = await loaded;
  const prompts = [LONG.slice(0, 3), LONG.slice(5, 10), PROMPT12, LONG.slice(0, 20)];
  const single: string[] = [];
  for (const p of prompts) single.push(await lm.generate(model, tokenizer!, { prompt: p, maxTokens: 14 }));
  const reasons: string[][] = [];
  const batch = await lm.batchGenerate(model, tokenizer!, prompts, { maxTokens: 14, prefillStepSize: 4, onFinish: (r) => reasons.push(r) });
  assert.deepEqual(batch, single);
  assert.deepEqual(reasons, [["length", "length", "length", "length"]]);
  // A stop string ends one row early while the others go on.
  const stop = single[2].slice(0, 3);
  const withStop = await lm.batchGenerate(model, tokenizer!, prompts, { maxTokens: 14, stop, onFinish: (r) => reasons.push(r) });
  for (let i = 0; i < prompts.length; i++) {
    const at = single[i].indexOf(stop);
    assert.equal(withStop[i], at >= 0 ? single[i].slice(0, at) : single[i]);
  }
  assert.equal(reasons[1][2], "stop");
  // Text prompts and seeded sampling work too.
  const s1 = await lm.batchGenerate(model, tokenizer!, ["hello", "the cat"], { maxTokens: 6, temp: 1, seed: 2 });
  const s2 = await lm.batchGenerate(model, tokenizer!, ["hello", "the cat"], { maxTokens: 6, temp: 1, seed: 2 });
  assert.deepEqual(s1, s2);
});

test("active memory stays flat over 200 decode steps", async () => {
  const { model } = await loaded;
  const samples: number[] = [];
  let i = 0;
  for await (const _ of lm.generateStep(model, PROMPT12, { maxTokens: 200, temp: 1, seed: 1, repetitionPenalty: 1.2 })) {
    i++;
    if (i === 20 || i === 200) samples.push(mx.getActiveMemory());
  }
  assert.equal(i, 200);
  const [early, late] = samples;
  assert.ok(late - early < 16 * 1024, `active memory grew from ${early} to ${late} bytes`);
});

test("logits processors: repetition penalty and logit bias", () => {
  const logits = mx.array([[2, -2, 1, 0.5]], mx.float32);
  const [rep] = lm.makeLogitsProcessors({ repetitionPenalty: 2 });
  const out = rep(mx.array([[0, 1, 1]], mx.int32), logits).tolist() as number[][];
  assert.deepEqual(out, [[1, -4, 1, 0.5]]);
  assert.equal(rep(null, logits), logits);
  const [ctx1] = lm.makeLogitsProcessors({ repetitionPenalty: 2, repetitionContextSize: 1 });
  assert.deepEqual(ctx1(mx.array([[0, 2]], mx.int32), logits).tolist(), [[2, -2, 0.5, 0.5]]);
  const [bias] = lm.makeLogitsProcessors({ logitBias: { 3: 10, 0: -1 } });
  assert.deepEqual(bias(null, logits).tolist(), [[1, -2, 1, 10.5]]);
  assert.deepEqual(lm.makeLogitsProcessors({}), []);
  assert.throws(() => lm.makeLogitsProcessors({ repetitionPenalty: 0 }), /repetitionPenalty/);
  assert.throws(() => lm.makeLogitsProcessors({ logitBias: { [-1]: 1 } }), /logitBias/);
});

test("samplers: greedy, topK, topP, minP keep the right tokens", () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const lp = mx.log(mx.array([probs], mx.float32));
  assert.deepEqual(lm.makeSampler({ temp: 0 })(lp).tolist(), [0]);
  const kept = (x: MxArray) => (x.tolist() as number[][])[0].map((v) => v > -Infinity);
  assert.deepEqual(kept(lm.applyTopK(lp, 2)), [true, true, false, false]);
  assert.deepEqual(kept(lm.applyTopP(lp, 0.7)), [true, true, false, false]);
  assert.deepEqual(kept(lm.applyTopP(lp, 0.9)), [true, true, true, false]);
  assert.deepEqual(kept(lm.applyMinP(lp, 0.5)), [true, true, false, false]);
  assert.deepEqual(kept(lm.applyMinP(lp, 0.9, 3)), [true, true, true, false]);
  // Sampling with a key is reproducible and only draws kept tokens.
  const s = lm.makeSampler({ temp: 1, topK: 2 });
  const draws = Array.from({ length: 50 }, (_, i) => (s(lp, mx.random.key(i)).tolist() as number[])[0]);
  assert.ok(draws.every((d) => d === 0 || d === 1));
  assert.ok(draws.includes(0) && draws.includes(1));
  assert.deepEqual((s(lp, mx.random.key(9)).tolist() as number[]), (s(lp, mx.random.key(9)).tolist() as number[]));
  assert.throws(() => lm.makeSampler({ topP: 2 }), /topP/);
  assert.throws(() => lm.makeSampler({ topK: 1.5 }), /topK/);
});
