// LocalBackend end to end on the bundled hearth-tiny model and the engine's tiny vision / embedding fixtures.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import { collect, createLocalBackend, ServingError, type GenerateEvent, type TrainEvent } from "../src/index.js";
import { chatDataset, engineHelpers, pngBytes, tempDir } from "./helpers.js";

const backend = createLocalBackend({ adapterDir: tempDir("hearth-serving-adapters-"), batched: false });
after(() => backend.close());

async function events(it: AsyncIterable<GenerateEvent>): Promise<GenerateEvent[]> {
  const out: GenerateEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

test("chat uses the model's chat template and equals lm.generate on the same messages (greedy)", async () => {
  const messages = [{ role: "user" as const, content: "What is 2 + 11?" }];
  const done = await collect(backend.generate({ messages, maxTokens: 12 }));
  const { model, tokenizer } = await lm.load(lm.bundledModelPath());
  const want = await lm.generate(model, tokenizer!, { messages, maxTokens: 12 });
  assert.equal(done.text, want);
  assert.ok(done.usage.completionTokens > 0);
  assert.equal(done.usage.promptTokens, (tokenizer!.applyChatTemplate(messages, { addGenerationPrompt: true }) as number[]).length);
});

test("completion continues a raw prompt; stream pieces add up to the final text", async () => {
  const evs = await events(backend.generate({ prompt: "Add 4 and 75.", maxTokens: 10 }));
  assert.equal(evs[0].type, "start");
  const done = evs.at(-1)!;
  assert.equal(done.type, "done");
  const pieces = evs.filter((e) => e.type === "token").map((e) => (e as { text: string }).text).join("");
  assert.equal(pieces, (done as { text: string }).text);
  // Each token's own text (as in OpenAI logprobs): the reference tokenizer's piece for that id; ASCII pieces
  // (no character split across tokens) add up to the text too.
  const { tokenizer } = await lm.load(lm.bundledModelPath());
  const toks = evs.filter((e): e is Extract<GenerateEvent, { type: "token" }> => e.type === "token" && e.token >= 0 && ![1, 106].includes(e.token));
  assert.ok(toks.length > 0);
  for (const t of toks) assert.equal(t.tokenText, tokenizer!.idToToken(t.token)!.replace(/\u2581/g, " "));
  assert.equal(toks.map((t) => t.tokenText).join(""), (done as { text: string }).text);
});

test("stop strings end generation before the string; seed makes sampling repeatable", async () => {
  // hearth-tiny often ends after a few tokens: its end-of-turn ids are banned so there is text to cut.
  const logitBias = { 1: -100, 106: -100 };
  const base = await collect(backend.generate({ prompt: "Compute 1 + 25.", maxTokens: 16, temperature: 1, seed: 7, logitBias }));
  const again = await collect(backend.generate({ prompt: "Compute 1 + 25.", maxTokens: 16, temperature: 1, seed: 7, logitBias }));
  assert.equal(again.text, base.text);
  assert.ok(base.text.length >= 3, `need some text to cut, got ${JSON.stringify(base.text)}`);
  const stop = base.text.slice(2, 3);
  const cut = await collect(backend.generate({ prompt: "Compute 1 + 25.", maxTokens: 16, temperature: 1, seed: 7, logitBias, stop: [stop] }));
  assert.equal(cut.finishReason, "stop");
  assert.equal(cut.text, base.text.slice(0, base.text.indexOf(stop)));
});

test("logprobs: the chosen token's log-probability and sorted alternatives", async () => {
  const evs = (await events(backend.generate({ prompt: "Add 99 and 73.", maxTokens: 4, logprobs: 3 }))).filter((e) => e.type === "token");
  for (const e of evs) {
    if (e.type !== "token") continue;
    assert.ok(e.logprob! <= 0);
    assert.equal(e.topLogprobs!.length, 3);
    // Greedy: the chosen token is the most likely one.
    assert.equal(e.topLogprobs![0].token, e.token);
    assert.ok(Math.abs(e.topLogprobs![0].logprob - e.logprob!) < 1e-5);
    assert.ok(e.topLogprobs![0].logprob >= e.topLogprobs![1].logprob);
  }
});

test("an AbortSignal stops the request with finishReason abort", async () => {
  const ac = new AbortController();
  let tokens = 0;
  let done: GenerateEvent | undefined;
  for await (const e of backend.generate({ prompt: "Once upon a time", maxTokens: 200, signal: ac.signal })) {
    if (e.type === "token" && ++tokens === 3) ac.abort();
    if (e.type === "done") done = e;
  }
  assert.equal(done?.type === "done" && done.finishReason, "abort");
  assert.ok(tokens <= 4, `stopped within one step, got ${tokens} tokens`);
});

test("bad requests are clear ServingErrors", async () => {
  await assert.rejects(collect(backend.generate({ prompt: "x", messages: [] })), (e: ServingError) => e.code === "invalid_request");
  await assert.rejects(collect(backend.generate({ prompt: "x", temperature: -1 })), (e: ServingError) => e.code === "invalid_request" && e.param === "temperature");
  await assert.rejects(collect(backend.generate({ prompt: "x", model: "no-such-model" })), (e: ServingError) => e.code === "model_not_found");
  await assert.rejects(collect(backend.generate({ prompt: "x", adapter: "nope" })), (e: ServingError) => e.code === "model_not_found" && e.param === "adapter");
  await assert.rejects(collect(backend.generate({ prompt: "x", maxTokens: 100000 })), (e: ServingError) => e.code === "too_large");
  await assert.rejects(collect(backend.generate({ messages: [{ role: "user", content: [{ type: "image", image: { kind: "bytes", data: pngBytes() } }] }] })),
    (e: ServingError) => e.code === "unsupported");
  await assert.rejects(backend.embed({ input: ["x"] }), (e: ServingError) => e.code === "model_not_found");
});

test("embed: EmbeddingGemma vectors equal lm.loadEmbedder's, Matryoshka sizes renormalised, token ids accepted", async () => {
  const dir = (await engineHelpers()).tinyEmbedderWithTokenizer();
  const r = await backend.embed({ model: dir, input: ["hello world", "a cat"], task: "query" });
  const e = await lm.loadEmbedder(dir);
  const want = await e.embed(["hello world", "a cat"], { task: "query" });
  assert.equal(r.embeddings.length, 2);
  for (let i = 0; i < 2; i++) for (let j = 0; j < want[i].length; j++) assert.ok(Math.abs(r.embeddings[i][j] - want[i][j]) < 1e-5);
  const small = await backend.embed({ model: dir, input: ["hello world"], dimensions: 8 });
  assert.equal(small.embeddings[0].length, 8);
  assert.ok(Math.abs(Math.hypot(...small.embeddings[0]) - 1) < 1e-4);
  const ids = e.tokenizer!.encode("hello world");
  const byIds = await backend.embed({ model: dir, input: [ids] });
  const text = await backend.embed({ model: dir, input: ["hello world"] });
  for (let j = 0; j < text.embeddings[0].length; j++) assert.ok(Math.abs(byIds.embeddings[0][j] - text.embeddings[0][j]) < 1e-5);
  await assert.rejects(backend.embed({ model: dir, input: ["x"], dimensions: 100000 }), (err: ServingError) => err.param === "dimensions");
});

test("describeImage on the tiny vision model equals lm.describeImage (greedy)", async () => {
  const dir = (await engineHelpers()).tinyVlmWithTokenizer();
  const done = await collect(backend.describeImage({ model: dir, images: [{ kind: "bytes", data: pngBytes() }], prompt: "What?", maxTokens: 6 }));
  const { model } = await lm.load(dir);
  const want = await lm.describeImage(model, await lm.loadProcessor(dir), { image: Buffer.from(pngBytes()), prompt: "What?", maxTokens: 6 });
  assert.equal(done.text, want.text);
  await assert.rejects(collect(backend.describeImage({ model: dir, images: [{ kind: "bytes", data: new Uint8Array([1, 2, 3]) }] })),
    (e: ServingError) => e.code === "bad_image");
});

test("train: progress events, the adapter is served by name right after; cancelling keeps the last complete step", async () => {
  const data = chatDataset();
  const progress: Extract<TrainEvent, { type: "progress" }>[] = [];
  let done: Extract<TrainEvent, { type: "done" }> | undefined;
  // No numLayers: hearth-tiny has 6 layers, so min(16, 6) of them get adapters.
  for await (const e of backend.train({ data, name: "arith", iters: 3, batchSize: 2 })) {
    if (e.type === "progress") progress.push(e);
    if (e.type === "done") done = e;
  }
  assert.deepEqual(progress.map((p) => p.iteration), [1, 2, 3], "one progress event per iteration");
  for (const p of progress) {
    assert.ok(Number.isFinite(p.loss) && p.loss > 0 && p.trainLoss === p.loss, `loss ${p.loss}`);
    assert.ok(p.tokensPerSecond > 0);
    assert.match(p.message, /^iter \d\/3: loss \d+\.\d{3}.* tokens\/s$/);
  }
  assert.ok(progress[0].validLoss! > 0 && progress[2].validLoss! > 0, "validation on the first and last iterations");
  assert.equal(done?.trainLoss, progress[2].loss);
  assert.equal(done?.cancelled, false);
  assert.deepEqual(JSON.parse(readFileSync(join(done!.path, "adapter_config.json"), "utf8")).num_layers, 6);
  assert.ok(existsSync(join(done!.path, "adapters.safetensors")));
  const models = await backend.models();
  assert.ok(models.find((m) => m.id === "hearth-tiny")?.adapters.includes("arith"));
  const messages = [{ role: "user" as const, content: "What is 2 + 11?" }];
  const served = await collect(backend.generate({ messages, adapter: "arith", maxTokens: 8 }));
  const { model, tokenizer } = await lm.load(lm.bundledModelPath(), { adapterPath: done!.path });
  assert.equal(served.text, await lm.generate(model, tokenizer!, { messages, maxTokens: 8 }));

  const ac = new AbortController();
  let cancelled: typeof done = undefined as unknown as typeof done;
  for await (const e of backend.train({ data, name: "arith2", iters: 50, batchSize: 2, numLayers: 2, signal: ac.signal })) {
    if (e.type === "progress" && e.iteration >= 2) ac.abort();
    if (e.type === "done") cancelled = e;
  }
  assert.equal(cancelled?.cancelled, true);
  assert.ok(cancelled!.iters >= 2 && cancelled!.iters < 50);
  assert.ok(existsSync(join(cancelled!.path, "adapters.safetensors")));
  const r = await collect(backend.generate({ prompt: "Add 1 and 2.", adapter: "arith2", maxTokens: 3 }));
  assert.equal(r.usage.completionTokens > 0, true);
  await assert.rejects(async () => { for await (const _ of backend.train({ data: "/no/such/folder", name: "x" })) void _; },
    (e: ServingError) => e.code === "bad_dataset");
  await assert.rejects(async () => { for await (const _ of backend.train({ data, name: "x", numLayers: 99 })) void _; },
    (e: ServingError) => e.code === "invalid_request" && e.param === "numLayers" && /numLayers 99 is more than the model's 6 layers/.test(e.message));
});

test("train checks every dataset line before loading the base model's weights", async () => {
  // A base model folder with its tokenizer and config but no weights: a dataset error can only come first.
  const base = tempDir("hearth-serving-noweights-");
  for (const f of readdirSync(lm.bundledModelPath())) if (!f.endsWith(".safetensors") && !f.endsWith(".json.index")) cpSync(join(lm.bundledModelPath(), f), join(base, f), { recursive: true });
  const bad = join(tempDir("hearth-serving-baddata-"), "data.jsonl");
  writeFileSync(bad, '{"text": "fine"}\n{"text": "also fine"}\n{"prompt": "no completion"}\n');
  await assert.rejects(async () => { for await (const _ of backend.train({ model: base, data: bad, name: "y" })) void _; },
    (e: ServingError) => e.code === "bad_dataset" && /line 3/.test(e.message));
  // The same folder with good data gets as far as loading the weights, which are missing.
  await assert.rejects(async () => { for await (const _ of backend.train({ model: base, data: chatDataset(), name: "y" })) void _; },
    (e: ServingError) => e.code !== "bad_dataset");
});

test("models, load and unload", async () => {
  const info = await backend.load("hearth-tiny");
  assert.equal(info.loaded, true);
  assert.equal(info.kind, "text");
  await backend.unload("hearth-tiny");
  assert.equal((await backend.models()).find((m) => m.id === "hearth-tiny")?.loaded, false);
  await assert.rejects(backend.unload("hearth-tiny"), (e: ServingError) => e.code === "model_not_found");
  const st = await backend.status();
  assert.equal(st.kind, "local");
});
