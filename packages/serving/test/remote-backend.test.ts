// RemoteBackend over real HTTP against an OpenAI-shaped server (test/openai-shape-server.ts) that runs a real
// LocalBackend: remote results equal local ones; keys, errors, busy and training are handled.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { collect, createLocalBackend, createRemoteBackend, ServingError, type GenerateEvent } from "../src/index.js";
import { engineHelpers } from "./helpers.js";
import { startShapeServer } from "./openai-shape-server.js";

const embedDir = (await engineHelpers()).tinyEmbedderWithTokenizer();
const local = createLocalBackend({ embeddingModel: embedDir });
const server = await startShapeServer(local, "sekret");
const remote = createRemoteBackend({ baseURL: server.url, apiKey: "sekret", model: "hearth-tiny", embeddingModel: embedDir });
after(async () => {
  await server.close();
  await local.close();
});

test("chat and completions stream over SSE and equal the local backend (greedy), with usage", async () => {
  const messages = [{ role: "user" as const, content: "What is 2 + 11?" }];
  const r = await collect(remote.generate({ messages, maxTokens: 8 }));
  const l = await collect(local.generate({ messages, maxTokens: 8 }));
  assert.equal(r.text, l.text);
  assert.equal(r.usage.completionTokens, l.usage.completionTokens);
  assert.equal(r.usage.promptTokens, l.usage.promptTokens);
  assert.equal(r.finishReason, l.finishReason);
  const pieces: string[] = [];
  for await (const e of remote.generate({ prompt: "Add 4 and 75.", maxTokens: 6 })) if (e.type === "token") pieces.push(e.text);
  assert.equal(pieces.join(""), (await collect(local.generate({ prompt: "Add 4 and 75.", maxTokens: 6 }))).text);
  assert.equal(server.seen.at(-1)!.auth, "Bearer sekret");
  assert.equal(server.seen.at(-1)!.body.stream, true);
});

test("tool calls and logprobs come back in OpenAI's shape", async () => {
  const tools = [{ name: "add", parameters: { type: "object", properties: { a: { type: "integer", minimum: 0, maximum: 9 }, b: { type: "integer", minimum: 0, maximum: 9 } }, required: ["a", "b"], additionalProperties: false } }];
  const r = await collect(remote.generate({ messages: [{ role: "user", content: "Add 4 and 5." }], tools, toolChoice: { name: "add" }, maxTokens: 300 }));
  assert.equal(r.finishReason, "tool_calls");
  assert.equal(r.toolCalls![0].name, "add");
  assert.ok(Number.isInteger(JSON.parse(r.toolCalls![0].arguments).a));
  const evs: GenerateEvent[] = [];
  for await (const e of remote.generate({ messages: [{ role: "user", content: "Hi" }], maxTokens: 3, logprobs: 2 })) evs.push(e);
  const tok = evs.find((e) => e.type === "token");
  assert.ok(tok && tok.type === "token" && tok.logprob! <= 0 && tok.topLogprobs!.length === 2);
});

test("embeddings equal the local ones", async () => {
  const r = await remote.embed({ input: ["hello world", "a cat"] });
  const l = await local.embed({ input: ["hello world", "a cat"] });
  assert.deepEqual(r.embeddings, l.embeddings);
});

test("errors: wrong key, unknown model, busy with Retry-After, unreachable server, train unsupported", async () => {
  const badKey = createRemoteBackend({ baseURL: server.url, apiKey: "wrong" });
  await assert.rejects(collect(badKey.generate({ prompt: "x" })), (e: ServingError) => e.code === "unauthorized");
  await assert.rejects(collect(remote.generate({ prompt: "x", model: "no-such-model" })), (e: ServingError) => e.code === "model_not_found");
  server.busy = true;
  try {
    await assert.rejects(collect(remote.generate({ prompt: "x" })), (e: ServingError) => e.code === "busy" && e.retryAfter === 7);
  } finally {
    server.busy = false;
  }
  const gone = createRemoteBackend({ baseURL: "http://127.0.0.1:9/v1" });
  await assert.rejects(collect(gone.generate({ prompt: "x" })), (e: ServingError) => e.code === "upstream");
  await assert.rejects(async () => { for await (const _ of remote.train({ data: "x", name: "y" })) void _; }, (e: ServingError) => e.code === "unsupported");
  assert.throws(() => createRemoteBackend({ baseURL: "ftp://x" }), (e: ServingError) => e.code === "invalid_request");
});

test("an abort closes the HTTP stream and the server-side request stops", async () => {
  const ac = new AbortController();
  let n = 0;
  let done: GenerateEvent | undefined;
  for await (const e of remote.generate({ prompt: "Once upon a time", maxTokens: 300, signal: ac.signal })) {
    if (e.type === "token" && ++n === 2) ac.abort();
    if (e.type === "done") done = e;
  }
  assert.equal(done?.type === "done" && done.finishReason, "abort");
  for (let i = 0; i < 100 && (await local.status()).active > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await local.status()).active, 0);
  const models = await remote.models();
  assert.ok(models.some((m) => m.id === "hearth-tiny"));
});
