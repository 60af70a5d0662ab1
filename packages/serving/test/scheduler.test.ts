// The scheduler over the decode loop, on the bundled hearth-tiny: batching gives the same tokens as one request at
// a time, joining does not disturb running rows, cancellation stops within a step and frees memory, prefix hits
// prefill only the suffix (also across Gemma 3's rotating sliding-window caches), priorities and the bounded queue.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { lm, mx } from "@hearth/engine";
import { collect, createLocalBackend, ServingError, type GenerateEvent, type GenerateRequest } from "../src/index.js";

const backends: { close(): Promise<void> }[] = [];
after(async () => {
  for (const b of backends) await b.close();
});
function backend(opts: Parameters<typeof createLocalBackend>[0] = {}) {
  const b = createLocalBackend(opts);
  backends.push(b);
  return b;
}

const tokenizer = await lm.loadTokenizer(lm.bundledModelPath());
const ids = (text: string) => lm.promptTokens(tokenizer, { prompt: text });

async function tokensOf(it: AsyncIterable<GenerateEvent>, onToken?: (n: number) => void): Promise<{ tokens: number[]; done: Extract<GenerateEvent, { type: "done" }>; start?: Extract<GenerateEvent, { type: "start" }> }> {
  const tokens: number[] = [];
  let done, start;
  for await (const e of it) {
    if (e.type === "start") start = e;
    if (e.type === "token" && e.token >= 0) {
      tokens.push(e.token);
      onToken?.(tokens.length);
    }
    if (e.type === "done") done = e;
  }
  return { tokens, done: done!, start };
}

/** Active memory once arrays left to the garbage collector are gone (the test script runs node with --expose-gc). */
async function settledMemory(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run the tests with node --expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return mx.getActiveMemory();
}

const prompts = ["What is 2 + 11?", "Add 99 and 73.", "Compute 1 + 25.", "Add 36 and 57.", "Tell me about cats.", "Add 4 and 75."];

test("batched greedy decoding gives the tokens of each request run alone", async () => {
  const b = backend({ prefixCache: false });
  const alone: number[][] = [];
  for (const p of prompts) alone.push((await tokensOf(b.generate({ messages: [{ role: "user", content: p }], maxTokens: 12 }))).tokens);
  const together = await Promise.all(prompts.map((p) => tokensOf(b.generate({ messages: [{ role: "user", content: p }], maxTokens: 12 }))));
  together.forEach((r, i) => assert.deepEqual(r.tokens, alone[i], `prompt ${i}`));
});

test("a request that joins a running batch does not disturb the others", async () => {
  const b = backend({ prefixCache: false });
  const req: GenerateRequest = { prompt: "Once upon a time", maxTokens: 24, temperature: 0.8, seed: 11 };
  const aloneA = (await tokensOf(b.generate(req))).tokens;
  const joinerReq: GenerateRequest = { messages: [{ role: "user", content: "Add 36 and 57." }], maxTokens: 10 };
  const aloneB = (await tokensOf(b.generate(joinerReq))).tokens;
  let joined: Promise<{ tokens: number[] }> | undefined;
  const a = await tokensOf(b.generate(req), (n) => {
    if (n === 5) joined = tokensOf(b.generate(joinerReq));
  });
  assert.ok(joined);
  assert.deepEqual(a.tokens, aloneA);
  assert.deepEqual((await joined!).tokens, aloneB);
});

test("cancellation stops within one decode step and active memory returns to the baseline", async () => {
  const b = backend({ prefixCache: false });
  const long = Array(40).fill("Add 4 and 75.").join(" ");
  await collect(b.generate({ prompt: long, maxTokens: 4 }));  // warm: model, compiled step, allocator pools
  const baseline = await settledMemory();
  const ac = new AbortController();
  let stepsAtAbort = -1;
  const r = await tokensOf(b.generate({ prompt: long, maxTokens: 500, signal: ac.signal }), (n) => {
    if (n === 3) {
      stepsAtAbort = b.decodeSteps();
      ac.abort();
    }
  });
  assert.equal(r.done.finishReason, "abort");
  assert.ok(b.decodeSteps() - stepsAtAbort <= 1, `steps after the abort: ${b.decodeSteps() - stepsAtAbort}`);
  assert.equal((await b.status()).decodeSteps, b.decodeSteps(), "status() reports the same decode steps");
  assert.ok(r.tokens.length <= 4);
  const st = await b.status();
  assert.equal(st.active, 0);
  const now = await settledMemory();
  assert.ok(now <= baseline, `active memory ${now} > baseline ${baseline}`);
});

test("a prefix hit prefills only the new suffix and gives the tokens of a cold run", async () => {
  const warm = backend({});
  const cold = backend({ prefixCache: false });
  const system = "You are a careful assistant who answers arithmetic questions with one number. ".repeat(3);
  const first = [{ role: "system" as const, content: system }, { role: "user" as const, content: "What is 2 + 11?" }];
  const second = [{ role: "system" as const, content: system }, { role: "user" as const, content: "Add 99 and 73." }];
  await collect(warm.generate({ messages: first, maxTokens: 6 }));
  const hit = await tokensOf(warm.generate({ messages: second, maxTokens: 6 }));
  const p1 = tokenizer.applyChatTemplate(first, { addGenerationPrompt: true }) as number[];
  const p2 = tokenizer.applyChatTemplate(second, { addGenerationPrompt: true }) as number[];
  let common = 0;
  while (p1[common] === p2[common]) common++;
  assert.equal(hit.start!.cachedTokens, common, "the shared system prompt came from the cache");
  assert.equal(hit.done.usage.cachedTokens, common);
  assert.ok(common > 40);
  const ref = await tokensOf(cold.generate({ messages: second, maxTokens: 6 }));
  assert.equal(ref.start!.cachedTokens, 0);
  assert.deepEqual(hit.tokens, ref.tokens);
});

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

test("a cancelled request's prefilled prompt goes to the prefix cache: the next keystroke prefills only the new characters", async () => {
  const warm = backend({ prefillChunk: 64 });
  const cold = backend({ prefixCache: false });
  const code = "function total(items) {\n  let sum = 0;\n  for (const item of items) sum += item.price * item.count;\n";
  const fileA = Array(6).fill(code).join("") + "  return su";
  // hearth-tiny ends most answers within a few tokens: the cancelled requests must still be decoding.
  const noEos = Object.fromEntries(tokenizer.eosTokenIds.map((t) => [t, -100]));
  // Warm up both backends (models, the compiled step for one and two rows) before the memory baseline.
  await Promise.all([collect(warm.generate({ prompt: "warm up", maxTokens: 3 })), collect(warm.generate({ prompt: "and two rows", maxTokens: 3 }))]);
  await collect(cold.generate({ prompt: "warm up", maxTokens: 2 }));
  warm.prefixCacheOf()!.clear();
  const baseline = await settledMemory();

  // Mid-decode: A is cancelled after 3 tokens (an editor's next keystroke), B = A's text + a few characters.
  const acA = new AbortController();
  const a = await tokensOf(warm.generate({ prompt: fileA, maxTokens: 200, logitBias: noEos, signal: acA.signal }), (n) => n === 3 && acA.abort());
  assert.equal(a.done.finishReason, "abort");
  const pA = ids(fileA), fileB = fileA + "m;\n}", pB = ids(fileB);
  const shared = commonPrefix(pA, pB);  // the tokenizer may merge the last few characters differently
  assert.ok(shared > pA.length - 10, `A and B share ${shared} of A's ${pA.length} tokens`);
  const held = warm.prefixCacheOf()!.match(pB);
  assert.ok(held >= shared, `the cache holds ${held} of B's tokens, A and B share ${shared}`);
  const b = await tokensOf(warm.generate({ prompt: fileB, maxTokens: 8 }));
  assert.equal(b.start!.cachedTokens, Math.min(held, pB.length - 1), "B prefilled only what A's cache did not hold");
  assert.ok(b.start!.cachedTokens >= shared);
  const coldB = await tokensOf(cold.generate({ prompt: fileB, maxTokens: 8 }));
  assert.equal(coldB.start!.cachedTokens, 0);
  assert.deepEqual(b.tokens, coldB.tokens, "the same tokens as a cold run");

  // Mid-prefill: C is cancelled after a few of its 64-token prefill chunks (another request keeps the loop stepping).
  warm.prefixCacheOf()!.clear();
  const fileC = Array(12).fill(code).join("") + "  // the end";
  const pC = ids(fileC);
  assert.ok(pC.length > 6 * 64, `${pC.length} tokens: several prefill chunks`);
  const other = new AbortController();
  let otherTokens = 0;
  const running = tokensOf(warm.generate({ prompt: "Once upon a time", maxTokens: 400, logitBias: noEos, signal: other.signal }), (n) => (otherTokens = n));
  while (otherTokens < 1) await new Promise((r) => setTimeout(r, 2));
  const acC = new AbortController();
  const c = tokensOf(warm.generate({ prompt: fileC, maxTokens: 50, signal: acC.signal }));
  while ((await warm.status()).active < 2) await new Promise((r) => setTimeout(r, 1));
  const at = otherTokens;
  while (otherTokens < at + 2) await new Promise((r) => setTimeout(r, 1));
  acC.abort();
  const cr = await c;
  assert.equal(cr.done.finishReason, "abort");
  assert.equal(cr.tokens.length, 0, "cancelled before its first token");
  other.abort();
  await running;
  const fileD = fileC + "ing";
  const pD = ids(fileD);
  const heldD = warm.prefixCacheOf()!.match(pD);
  assert.ok(heldD >= 64 && heldD < pC.length - 1, `C's cache holds ${heldD} of its ${pC.length} prompt tokens`);
  const d = await tokensOf(warm.generate({ prompt: fileD, maxTokens: 8 }));
  assert.equal(d.start!.cachedTokens, heldD);
  assert.deepEqual(d.tokens, (await tokensOf(cold.generate({ prompt: fileD, maxTokens: 8 }))).tokens, "the same tokens as a cold run");

  // What the cancelled rows kept is the prefix cache's (bounded by its byte budget); cleared, memory is back.
  assert.ok(warm.prefixCacheOf()!.bytes > 0);
  warm.prefixCacheOf()!.clear();
  const now = await settledMemory();
  assert.ok(now <= baseline, `active memory ${now} > baseline ${baseline}`);
});

test("rotating sliding-window caches: reused when the window has not overwritten the prefix, else prefilled again", async () => {
  // hearth-tiny's sliding layers keep 512 tokens: a 700-token prompt wraps them.
  const warm = backend({});
  const cold = backend({ prefixCache: false });
  const base = ids(Array(120).fill("Add 4 and 75.").join(" ")).slice(0, 700);
  assert.equal(base.length, 700);
  await collect(warm.generate({ prompt: base, maxTokens: 3 }));
  // The whole earlier prompt is a prefix: the cache rolls back to its checkpoint at the prompt's end.
  const longer = [...base, ...ids("Compute 1 + 25.").slice(1)];
  const hit = await tokensOf(warm.generate({ prompt: longer, maxTokens: 5 }));
  assert.equal(hit.start!.cachedTokens, base.length);
  assert.deepEqual(hit.tokens, (await tokensOf(cold.generate({ prompt: longer, maxTokens: 5 }))).tokens);
  // Sharing only the first 100 tokens: the wrapped window no longer holds them, so nothing is reused (and the
  // answer is still the cold one).
  const diverging = [...base.slice(0, 100), ...ids("Tell me about cats.").slice(1)];
  const miss = await tokensOf(warm.generate({ prompt: diverging, maxTokens: 5 }));
  assert.equal(miss.start!.cachedTokens, 0);
  assert.deepEqual(miss.tokens, (await tokensOf(cold.generate({ prompt: diverging, maxTokens: 5 }))).tokens);
});

test("a chat whose shared system prompt is longer than the window reuses it on the next request", async () => {
  const warm = backend({});
  const cold = backend({ prefixCache: false });
  const system = Array(150).fill("Answer with one number.").join(" ");
  const turn = (q: string) => [{ role: "system" as const, content: system }, { role: "user" as const, content: q }];
  const first = await tokensOf(warm.generate({ messages: turn("What is 2 + 11?"), maxTokens: 4 }));
  assert.equal(first.start!.cachedTokens, 0);
  assert.equal(first.done.usage.cachedTokens, 0);
  const p2 = tokenizer.applyChatTemplate(turn("Add 99 and 73."), { addGenerationPrompt: true }) as number[];
  const p1 = tokenizer.applyChatTemplate(turn("What is 2 + 11?"), { addGenerationPrompt: true }) as number[];
  let common = 0;
  while (p1[common] === p2[common]) common++;
  assert.ok(common > 600, `the shared prefix (${common} tokens) wraps the 512-token window`);
  const hit = await tokensOf(warm.generate({ messages: turn("Add 99 and 73."), maxTokens: 4 }));
  assert.ok(hit.start!.cachedTokens >= common - 2 && hit.start!.cachedTokens <= common, `cached ${hit.start!.cachedTokens} of ${common}`);
  assert.deepEqual(hit.tokens, (await tokensOf(cold.generate({ messages: turn("Add 99 and 73."), maxTokens: 4 }))).tokens);
});

test("interactive requests go ahead of background ones waiting in the queue", async () => {
  const b = backend({ maxBatch: 1, prefixCache: false });
  const order: string[] = [];
  const run = (name: string, priority: "interactive" | "background") =>
    collect(b.generate({ prompt: "Add 4 and 75.", maxTokens: 3, priority })).then(() => order.push(name));
  const first = run("first", "background");
  while ((await b.status()).active === 0) await new Promise((r) => setTimeout(r, 5));
  const bg = run("background", "background");
  while ((await b.status()).queued < 1) await new Promise((r) => setTimeout(r, 5));
  const fg = run("interactive", "interactive");
  await Promise.all([first, bg, fg]);
  assert.deepEqual(order, ["first", "interactive", "background"]);
});

test("a full queue refuses new work with busy and a retry time", async () => {
  const b = backend({ maxBatch: 1, maxQueue: 1, prefixCache: false });
  const ac = new AbortController();
  const running = collect(b.generate({ prompt: "Once upon a time", maxTokens: 400, signal: ac.signal }));
  while ((await b.status()).active === 0) await new Promise((r) => setTimeout(r, 5));
  const waiting = collect(b.generate({ prompt: "Add 4 and 75.", maxTokens: 2, signal: ac.signal }));
  while ((await b.status()).queued < 1) await new Promise((r) => setTimeout(r, 5));
  await assert.rejects(collect(b.generate({ prompt: "x", maxTokens: 2 })), (e: ServingError) => e.code === "busy" && e.retryAfter! > 0);
  ac.abort();
  assert.equal((await running).finishReason, "abort");
  assert.equal((await waiting).finishReason, "abort");
});
