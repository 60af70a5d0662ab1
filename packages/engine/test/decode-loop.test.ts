// lm.DecodeLoop on the tiny Gemma 3 fixtures (gemma3-tiny-a/b: 4 layers, sliding window 8): the batched compiled
// step against the model's forward; batched rows against one row at a time (different prompt lengths, prompts
// longer than the window); rows joining a running batch; abort within one step; memory back to the baseline;
// token-mask constraints; logprobs against log_softmax of the full forward; caches handed back for prefix reuse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, lm, type MxArray } from "../src/index.js";
import { findFixture } from "./helpers/fixtures.js";

type WithStep = lm.LanguageModel & { makeDecodeStep(o?: lm.DecodeStepOptions): lm.DecodeStep | undefined };
const maxAbs = (a: MxArray, b: MxArray) => mx.max(mx.abs(mx.subtract(a.astype(mx.float32), b.astype(mx.float32)))).item() as number;
const lastLogits = (model: lm.LanguageModel, ids: number[], cache?: lm.Cache[]) => {
  const l = model.forward(mx.array([ids], mx.int32), cache ? { cache } : {});
  const [, L, V] = l.shape;
  return mx.reshape(mx.slice(l, [0, L - 1, 0], [1, L, V]), [1, V]);
};
const promptOf = (n: number, salt: number) => [2, ...Array.from({ length: n - 1 }, (_, i) => (i * 37 + salt * 11 + 5) % 500 + 6)];

/** Runs rows to completion; events per row. `extra` runs before each step (e.g. inserting more rows). */
async function drain(loop: lm.DecodeLoop, extra?: (step: number) => void): Promise<Map<number, lm.RowEvent[]>> {
  const out = new Map<number, lm.RowEvent[]>();
  for (let i = 0; loop.size; i++) {
    extra?.(i);
    for (const ev of await loop.step()) {
      if (!out.has(ev.rowId)) out.set(ev.rowId, []);
      out.get(ev.rowId)!.push(ev);
    }
  }
  return out;
}

async function alone(model: lm.LanguageModel, row: lm.RowOptions): Promise<lm.RowEvent[]> {
  const loop = new lm.DecodeLoop(model, { prefillChunk: 4 });
  const id = loop.insert(row);
  const evs = (await drain(loop)).get(id)!;
  loop.dispose();
  return evs;
}

function sameRow(a: lm.RowEvent[], b: lm.RowEvent[], what: string): void {
  assert.deepEqual(a.map((e) => e.token), b.map((e) => e.token), `${what}: tokens`);
  assert.deepEqual(a.map((e) => e.finishReason), b.map((e) => e.finishReason), `${what}: finish`);
  a.forEach((e, i) => {
    if (e.logprob === undefined) return;
    assert.ok(Math.abs(e.logprob - b[i].logprob!) <= 1e-4, `${what} token ${i}: logprob ${e.logprob} vs ${b[i].logprob}`);
    if (e.topLogprobs) assert.deepEqual(e.topLogprobs.map((t) => t.token), b[i].topLogprobs!.map((t) => t.token), `${what} token ${i}: top`);
  });
}

for (const name of ["gemma3-tiny-a", "gemma3-tiny-b"]) {
  for (const dtype of ["float32", "bfloat16"] as const) {
    test(`makeDecodeStep: ${name} ${dtype}: one row and three rows at different offsets match the forward past the window`, async () => {
      const { model } = await lm.load(findFixture(name), { dtype, noTokenizer: true });
      const step = (model as WithStep).makeDecodeStep()!;
      assert.equal((model as WithStep).makeDecodeStep(), step, "built once per model");
      const tol = dtype === "float32" ? 1e-5 : 0.02;
      const prompts = [promptOf(11, 1), promptOf(3, 2), promptOf(20, 3)];
      const plain = prompts.map(() => model.makeCache()), fast = prompts.map(() => model.makeCache()), one = prompts.map(() => model.makeCache());
      prompts.forEach((p, b) => [plain, fast, one].forEach((c) => lastLogits(model, p, c[b])));
      for (let i = 0; i < 14; i++) {  // 8-token windows: every row's sliding caches rotate
        const toks = prompts.map((_, b) => (i * 13 + b * 7 + 7) % 512);
        const batched = step(mx.array(toks.map((t) => [t]), mx.int32), fast);
        toks.forEach((t, b) => {
          const want = lastLogits(model, [t], plain[b]);
          const single = step(mx.array([[t]], mx.int32), [one[b]]);
          const got = mx.slice(batched, [b, 0], [b + 1, batched.shape[1]]);
          const scale = mx.max(mx.abs(want.astype(mx.float32))).item() as number;
          assert.ok(maxAbs(want, single) <= tol * scale, `step ${i} row ${b}: one row vs forward`);
          assert.ok(maxAbs(want, got) <= tol * scale, `step ${i} row ${b}: batched vs forward`);
        });
      }
      prompts.forEach((p, b) => assert.equal(fast[b][0].offset, p.length + 14));
    });
  }

  test(`DecodeLoop ${name}: batched greedy rows give the tokens and logprobs of one row at a time`, async () => {
    const { model } = await lm.load(findFixture(name), { dtype: "float32", noTokenizer: true });
    const rows: lm.RowOptions[] = [3, 9, 20, 30].map((n, i) => ({ prompt: promptOf(n, i), maxTokens: 12 - i, logprobs: 3 }));
    const single: lm.RowEvent[][] = [];
    for (const r of rows) single.push(await alone(model, r));
    const loop = new lm.DecodeLoop(model, { prefillChunk: 4 });
    assert.ok(loop.compiled);
    const ids = rows.map((r) => loop.insert(r));
    const got = await drain(loop);
    ids.forEach((id, i) => sameRow(got.get(id)!, single[i], `row ${i}`));
    assert.equal(got.get(ids[0])!.at(-1)!.finishReason, "length");
    assert.equal(got.get(ids[0])!.length, 12);
    assert.equal(got.get(ids[0])![0].promptTokens, 3);
    // Sampled rows with seeds: each draws what it draws alone.
    const sampled: lm.RowOptions[] = [5, 17].map((n, i) => ({ prompt: promptOf(n, i), maxTokens: 10, temp: 4, seed: 9 + i, topK: 50, repetitionPenalty: 1.2 }));
    const sLoop = new lm.DecodeLoop(model);
    const sIds = sampled.map((r) => sLoop.insert(r));
    const sGot = await drain(sLoop);
    for (const [i, r] of sampled.entries()) sameRow(sGot.get(sIds[i])!, await alone(model, r), `sampled row ${i}`);
    loop.dispose();
    sLoop.dispose();
  });
}

test("DecodeLoop: rows with different samplers in one batch (greedy, greedy + logprobs, seeded, penalised) each give what they give alone", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const rows: lm.RowOptions[] = [
    { prompt: promptOf(6, 1), maxTokens: 9 },  // greedy, no logprobs: the batch's one argmax, no log-softmax
    { prompt: promptOf(13, 2), maxTokens: 9, logprobs: 2 },  // greedy with logprobs: the batch's log-softmax
    { prompt: promptOf(4, 3), maxTokens: 9, temp: 2, seed: 5, topP: 0.9 },  // sampled from its row of it
    { prompt: promptOf(9, 4), maxTokens: 9, temp: 2, seed: 6, repetitionPenalty: 1.3 },  // processors: its own chain
    { prompt: promptOf(11, 5), maxTokens: 9, fullLogprobs: true },
    { prompt: promptOf(7, 6), maxTokens: 9 },
  ];
  const loop = new lm.DecodeLoop(model, { prefillChunk: 4 });
  const ids = rows.map((r) => loop.insert(r));
  const got = await drain(loop);
  for (const [i, r] of rows.entries()) sameRow(got.get(ids[i])!, await alone(model, r), `row ${i}`);
  // Greedy rows against the model's forward over the whole sequence: each token is the argmax of its logits, and
  // full log-probabilities are its log_softmax.
  for (const i of [0, 1, 4, 5]) {
    const evs = got.get(ids[i])!;
    const seq = [...rows[i].prompt, ...evs.map((e) => e.token)];
    const logits = model.forward(mx.array([seq], mx.int32)).astype(mx.float32);
    const lsm = (mx.subtract(logits, mx.logsumexp(logits, -1, true)).tolist() as number[][][])[0];
    evs.forEach((e, j) => {
      const ref = lsm[rows[i].prompt.length - 1 + j];
      assert.equal(e.token, ref.indexOf(Math.max(...ref)), `row ${i} token ${j}: argmax of the forward's logits`);
      if (e.logprobsArray) {
        const full = e.logprobsArray.toFloat32Array();
        assert.ok(ref.every((v, t) => Math.abs(v - full[t]) < 1e-4), `row ${i} token ${j}: full log-probabilities`);
        e.logprobsArray.dispose();
      }
    });
    if (i === 4) assert.ok(evs.every((e) => e.logprobsArray), "fullLogprobs rows report every token's array");
  }
  loop.dispose();
});

test("DecodeLoop: a row inserted while others decode does not change their tokens, and its prefill never stalls them", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const a: lm.RowOptions = { prompt: promptOf(6, 1), maxTokens: 16, logprobs: 2 };
  const b: lm.RowOptions = { prompt: promptOf(13, 2), maxTokens: 14, logprobs: 2 };
  const c: lm.RowOptions = { prompt: promptOf(30, 3), maxTokens: 6, logprobs: 2 };
  const loop = new lm.DecodeLoop(model, { prefillChunk: 4 });
  const ia = loop.insert(a), ib = loop.insert(b);
  let ic = -1;
  const perStep: number[][] = [];
  const got = new Map<number, lm.RowEvent[]>();
  for (let s = 0; loop.size; s++) {
    if (s === 6) ic = loop.insert(c);
    const evs = await loop.step();
    perStep.push(evs.map((e) => e.rowId));
    for (const ev of evs) got.set(ev.rowId, [...(got.get(ev.rowId) ?? []), ev]);
  }
  sameRow(got.get(ia)!, await alone(model, a), "row a");
  sameRow(got.get(ib)!, await alone(model, b), "row b");
  sameRow(got.get(ic)!, await alone(model, c), "row c (joined late)");
  // c's 29 prompt tokens take 8 chunks of 4; a produced a token in every one of those steps.
  for (let s = 6; s < 14; s++) assert.ok(perStep[s].includes(ia), `step ${s}: row a kept decoding during c's prefill`);
  loop.dispose();
});

test("DecodeLoop: abort finishes a row within one step, and cancelled rows free their memory", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-a"), { noTokenizer: true });
  const warm = new lm.DecodeLoop(model);  // traces the compiled step for one and two rows
  warm.insert({ prompt: promptOf(40, 1), maxTokens: 3 });
  warm.insert({ prompt: promptOf(40, 2), maxTokens: 3 });
  await drain(warm);
  warm.dispose();
  const baseline = mx.getActiveMemory();
  const loop = new lm.DecodeLoop(model, { prefillChunk: 8 });
  const ctl = new AbortController();
  const other = loop.insert({ prompt: promptOf(40, 3), maxTokens: 100 });
  const cancelled = loop.insert({ prompt: promptOf(40, 4), maxTokens: 100, signal: ctl.signal });
  let tokens = 0;
  while (tokens < 3) for (const ev of await loop.step()) if (ev.rowId === cancelled && ev.token >= 0) tokens++;
  // Two rows' caches (40+ tokens, growing caches allocate 256 positions) are > 64 KB; "back at the baseline" below
  // allows 4 KB for a stray handle the garbage collector has not finalised yet (seen once under load).
  assert.ok(mx.getActiveMemory() - baseline > 64 * 1024, `${mx.getActiveMemory() - baseline} bytes in use`);
  const slack = 4096;
  ctl.abort();
  const stepsAtAbort = loop.steps;
  const evs = await loop.step();
  const end = evs.find((e) => e.rowId === cancelled)!;
  assert.deepEqual([end.token, end.finishReason], [-1, "abort"]);
  assert.ok(loop.steps - stepsAtAbort <= 1, "at most the one step that was running");
  assert.equal(loop.size, 1);
  for (let i = 0; i < 3; i++) assert.ok((await loop.step()).every((e) => e.rowId === other), "the aborted row produces nothing more");
  assert.equal(loop.remove(cancelled, true)?.offset ?? 0, 0, "an aborted row's own cache is already freed");
  loop.remove(other);
  assert.equal(loop.size, 0);
  await loop.settled();  // the step in flight when `other` was removed
  assert.ok(mx.getActiveMemory() <= baseline + slack, `active memory ${mx.getActiveMemory()} is back at the baseline ${baseline}`);
  // Aborted while its prompt is still being prefilled; and aborted before it started.
  const mid = new AbortController(), pre = new AbortController();
  pre.abort();
  const r1 = loop.insert({ prompt: promptOf(40, 5), signal: mid.signal });
  const r2 = loop.insert({ prompt: promptOf(5, 6), signal: pre.signal });
  const first = await loop.step();
  assert.deepEqual(first.map((e) => [e.rowId, e.finishReason]), [[r2, "abort"]]);
  mid.abort();
  const second = await loop.step();
  assert.deepEqual(second.map((e) => [e.rowId, e.token, e.finishReason, e.promptTokens]), [[r1, -1, "abort", 8]]);
  loop.dispose();
  await loop.settled();
  assert.ok(mx.getActiveMemory() <= baseline + slack, `active memory ${mx.getActiveMemory()} after dispose, baseline ${baseline}`);
});

test("DecodeLoop: a token-mask constraint is honoured, greedy and sampled, and ends the row when terminated", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const allowed = [10, 77, 300, 511];
  const makeConstraint = (n: number) => {
    const seen: number[] = [];
    const bits = new Int32Array(16);
    for (const t of allowed) bits[t >> 5] |= 1 << (t & 31);
    return {
      seen,
      nextTokenMask: () => bits,
      accept: (t: number) => void seen.push(t),
      isTerminated: () => seen.length >= n,
    };
  };
  for (const opts of [{}, { temp: 5, seed: 1 }]) {
    const constraint = makeConstraint(6);
    const evs = await alone(model, { prompt: promptOf(12, 1), maxTokens: 20, logprobs: 4, constraint, ...opts });
    const toks = evs.map((e) => e.token);
    assert.equal(toks.length, 6);
    assert.ok(toks.every((t) => allowed.includes(t)), `${toks}`);
    assert.deepEqual(constraint.seen, toks);
    assert.equal(evs.at(-1)!.finishReason, "stop");
    // The reported distribution is the masked one: the allowed tokens carry all the mass.
    for (const e of evs) {
      assert.ok(e.topLogprobs!.every((t) => allowed.includes(t.token)));
      const mass = e.topLogprobs!.reduce((s, t) => s + Math.exp(t.logprob), 0);
      assert.ok(Math.abs(mass - 1) < 1e-4, `mass ${mass}`);
    }
  }
  // Without the mask the greedy run picks other tokens (so the mask did the work).
  const free = await alone(model, { prompt: promptOf(12, 1), maxTokens: 6 });
  assert.ok(free.some((e) => !allowed.includes(e.token)));
});

test("DecodeLoop: logprobs and top alternatives equal log_softmax of the model's logits", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const prompt = promptOf(15, 4);
  const evs = await alone(model, { prompt, maxTokens: 10, logprobs: 5, temp: 3, seed: 4 });
  const seq = [...prompt, ...evs.map((e) => e.token)];
  const logits = model.forward(mx.array([seq], mx.int32)).astype(mx.float32);
  const lsm = mx.subtract(logits, mx.logsumexp(logits, -1, true));
  const rows = (lsm.tolist() as number[][][])[0];
  evs.forEach((e, i) => {
    const ref = rows[prompt.length - 1 + i];
    assert.ok(Math.abs(e.logprob! - ref[e.token]) < 1e-4, `token ${i}: ${e.logprob} vs ${ref[e.token]}`);
    const want = ref.map((lp, t) => ({ t, lp })).sort((a, b) => b.lp - a.lp).slice(0, 5);
    assert.deepEqual(e.topLogprobs!.map((x) => x.token), want.map((x) => x.t));
    e.topLogprobs!.forEach((x, j) => assert.ok(Math.abs(x.logprob - want[j].lp) < 1e-4));
  });
});

test("DecodeLoop: remove(rowId, true) hands back the row's cache; as a promptCache it prefills only the suffix", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const prompt = promptOf(14, 5);
  const loop = new lm.DecodeLoop(model, { eosTokenIds: [] });
  const id = loop.insert({ prompt, maxTokens: 5 });
  const first = (await drain(loop)).get(id)!;
  const pc = loop.remove(id, true)!;
  const gen = first.map((e) => e.token);
  assert.deepEqual(pc.tokens, [...prompt, ...gen.slice(0, -1)], "prompt + generated tokens fed back (all but the last)");
  const next = [...prompt, ...gen, 33, 44];
  const reuse = loop.insert({ prompt: next, promptCache: pc, maxTokens: 6 });
  const evs = (await drain(loop)).get(reuse)!;
  assert.equal(evs[0].cachedTokens, prompt.length + gen.length - 1);
  assert.equal(evs[0].promptTokens, 3);
  sameRow(evs, await alone(model, { prompt: next, maxTokens: 6 }), "continued from the cache");
  loop.dispose();
});

test("DecodeLoop: keepCacheOnAbort hands an aborted row's cache over (mid-decode and mid-prefill); reused, it gives a cold run's tokens", async () => {
  // gemma3-tiny-b's sliding layers keep 6 tokens: these prompts wrap them, so reuse needs the prompt-end checkpoint.
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const loop = new lm.DecodeLoop(model, { eosTokenIds: [], prefillChunk: 4 });
  // Mid-decode (no processors: the next step is built ahead, so the abort lands while a step is in flight).
  const prompt = promptOf(14, 5);
  const ctl = new AbortController();
  const id = loop.insert({ prompt, maxTokens: 50, signal: ctl.signal, checkpoints: true, keepCacheOnAbort: true });
  const gen: number[] = [];
  while (gen.length < 3) for (const ev of await loop.step()) if (ev.token >= 0) gen.push(ev.token);
  ctl.abort();
  const end = (await loop.step()).find((e) => e.rowId === id)!;
  assert.equal(end.finishReason, "abort");
  const pc = loop.remove(id, true)!;
  assert.ok(pc, "the aborted row's cache is handed over");
  assert.equal(pc.offset, pc.tokens!.length, "the cache holds exactly its token list");
  assert.deepEqual(pc.tokens!.slice(0, prompt.length), prompt);
  assert.deepEqual(pc.tokens!.slice(prompt.length), gen.slice(0, pc.tokens!.length - prompt.length), "then the generated tokens fed back");
  assert.ok(pc.tokens!.length >= prompt.length + gen.length - 1);
  const next = [...prompt, 33, 44, 55];
  // The sliding layers wrapped (window 6): only the checkpoint at the prompt's end can serve `next`, and every
  // layer must then hold exactly the prompt (the checkpoint was taken before the next token was fed).
  assert.equal(pc.prepare(next).reused, prompt.length);
  assert.deepEqual(pc.layers.map((l) => l.offset), pc.layers.map(() => prompt.length));
  const reuse = loop.insert({ prompt: next, promptCache: pc, maxTokens: 6, logprobs: 0 });
  const evs = (await drain(loop)).get(reuse)!;
  assert.equal(evs[0].cachedTokens, prompt.length, "rolled back to the prompt's end");
  sameRow(evs, await alone(model, { prompt: next, maxTokens: 6, logprobs: 0 }), "after a mid-decode abort");
  // Mid-prefill: two chunks of 4 are in the cache when the abort comes.
  const long = promptOf(30, 7);
  const ctl2 = new AbortController();
  const id2 = loop.insert({ prompt: long, maxTokens: 5, signal: ctl2.signal, checkpoints: true, keepCacheOnAbort: true });
  await loop.step();
  await loop.step();
  ctl2.abort();
  assert.equal((await loop.step()).find((e) => e.rowId === id2)?.finishReason, "abort");
  const pc2 = loop.remove(id2, true)!;
  assert.deepEqual(pc2.tokens, long.slice(0, 8));
  assert.equal(pc2.offset, 8);
  const reuse2 = loop.insert({ prompt: long, promptCache: pc2, maxTokens: 6, logprobs: 0 });
  const evs2 = (await drain(loop)).get(reuse2)!;
  assert.equal(evs2[0].cachedTokens, 8);
  sameRow(evs2, await alone(model, { prompt: long, maxTokens: 6, logprobs: 0 }), "after a mid-prefill abort");
  // Without the flag the loop frees the cache itself (nothing to hand over).
  const ctl3 = new AbortController();
  const id3 = loop.insert({ prompt: long, maxTokens: 5, signal: ctl3.signal });
  await loop.step();
  ctl3.abort();
  await loop.step();
  assert.equal(loop.remove(id3, true)?.offset ?? 0, 0);
  loop.dispose();
});

test("DecodeLoop: the multimodal gemma3 layout and LoRA adapters get the compiled step (rebuilt only when layers change)", async () => {
  const { model } = await lm.load(findFixture("gemma3-vlm-tiny"), { noTokenizer: true });
  assert.equal(model.modelType, "gemma3");
  assert.ok(new lm.DecodeLoop(model).compiled);
  const text = (await lm.load(findFixture("gemma3-tiny-a"), { noTokenizer: true })).model as WithStep;
  const s1 = text.makeDecodeStep()!;
  assert.equal(text.makeDecodeStep(), s1);
  const p = promptOf(9, 2);
  const before = await alone(text, { prompt: p, maxTokens: 6, logprobs: 3 });
  lm.linearToLoraLayers(text, 2, { rank: 4, scale: 10, dropout: 0 });
  // Non-zero B matrices, so that the adapters change the output.
  for (const l of text.layers.slice(-2) as unknown as { self_attn: Record<string, { lora_b?: MxArray }> }[])
    for (const k of ["q_proj", "v_proj"]) {
      const lora = l.self_attn[k];
      lora.lora_b = mx.multiply(mx.random.normal(lora.lora_b!.shape, { key: mx.random.key(k.length) }), 0.5).astype(lora.lora_b!.dtype);
    }
  const s2 = text.makeDecodeStep()!;
  assert.notEqual(s2, s1, "adapter layers: a new step");
  assert.equal(text.makeDecodeStep(), s2);
  const a = await alone(text, { prompt: p, maxTokens: 6, logprobs: 3 });
  const runnerUp = (evs: lm.RowEvent[]) => evs.map((e) => e.topLogprobs![1].logprob);
  assert.ok(runnerUp(a).some((lp, i) => Math.abs(lp - runnerUp(before)[i]) > 1e-2), "the adapters change the log-probabilities");
  const loop = new lm.DecodeLoop(text, { compile: false });
  assert.equal(loop.compiled, false);
  const id = loop.insert({ prompt: p, maxTokens: 6, logprobs: 3 });
  sameRow((await drain(loop)).get(id)!, a, "compiled vs forward with adapters");
});

test("DecodeLoop: bad rows get clear errors and leave the loop usable", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-a"), { noTokenizer: true });
  const loop = new lm.DecodeLoop(model, { maxRows: 1 });
  assert.throws(() => loop.insert({ prompt: [] }), /prompt is empty/);
  assert.throws(() => loop.insert({ prompt: [1, -2] }), /integers >= 0/);
  assert.throws(() => loop.insert({ prompt: [1], maxTokens: 1.5 }), /maxTokens must be an integer/);
  assert.throws(() => loop.insert({ prompt: [1], temp: -1 }), /temp/);
  assert.throws(() => loop.insert({ prompt: [1], promptCache: [] as never }), /promptCache must be a PromptCache/);
  assert.throws(() => new lm.DecodeLoop(model, { prefillChunk: 0 }), /prefillChunk/);
  const id = loop.insert({ prompt: [2, 3], maxTokens: 2 });
  assert.throws(() => loop.insert({ prompt: [2] }), (e: Error & { code?: string }) =>
    e instanceof lm.BusyError && e.code === "busy" && /full \(1 rows\)/.test(e.message));
  const evs = await drain(loop);
  assert.equal(evs.get(id)!.length, 2);
  assert.equal(loop.remove(12345), undefined);
  const z = loop.insert({ prompt: [2, 3, 4], maxTokens: 0 });
  const zs = await loop.step();
  assert.deepEqual(zs.map((e) => [e.rowId, e.token, e.finishReason, e.promptTokens]), [[z, -1, "length", 3]]);
  assert.equal(loop.remove(z, true)!.offset, 3, "maxTokens 0 prefills the whole prompt");
  loop.dispose();
});
