// Protocol-only checks with a small in-test Backend (no model): an error in the middle of a stream is an SSE
// `data: {"error": …}` event before the stream closes, which the real openai client raises as an APIError.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { ServingError, type Backend, type GenerateEvent, type ModelInfo } from "@hearth/serving";
import { HearthServer } from "../src/server.js";
import { raw } from "./helpers.js";

const MODEL: ModelInfo = { id: "fails-midway", kind: "text", loaded: true, adapters: [] };

/** Two tokens, then a failure. */
class FailingBackend implements Backend {
  readonly kind = "local" as const;
  async *generate(): AsyncGenerator<GenerateEvent> {
    yield { type: "start", model: MODEL.id, promptTokens: 3, cachedTokens: 0 };
    yield { type: "token", text: "Hel", token: 10 };
    yield { type: "token", text: "lo", token: 11 };
    throw new ServingError("internal", "the model failed at step 3");
  }
  describeImage = this.generate;
  async embed(): Promise<never> {
    throw new ServingError("unsupported", "no embeddings");
  }
  async *train(): AsyncGenerator<never> {
    throw new ServingError("unsupported", "no training");
  }
  async models() {
    return [MODEL];
  }
  async load() {
    return MODEL;
  }
  async unload() {}
  async status() {
    return { kind: "local" as const, models: [MODEL], active: 0, queued: 0 };
  }
  async close() {}
}

let server: HearthServer;
let client: OpenAI;
before(async () => {
  server = new HearthServer(new FailingBackend(), { port: 0 });
  client = new OpenAI({ baseURL: `${await server.listen()}/v1`, apiKey: "none", maxRetries: 0 });
});
after(async () => server?.close());

test("a failure mid-stream is an SSE error event in OpenAI's shape, after the tokens already sent", async () => {
  const r = await raw(server.url, "POST", "/v1/chat/completions", {}, JSON.stringify({ model: MODEL.id, messages: [{ role: "user", content: "hi" }], stream: true }));
  assert.equal(r.status, 200);
  const events = r.body.split("\n\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
  assert.ok(!events.includes("[DONE]"));
  const last = JSON.parse(events.at(-1)!);
  assert.deepEqual(last, { error: { message: "the model failed at step 3", type: "server_error", param: null, code: "internal" } });
  const text = events.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, "Hello");

  const stream = await client.chat.completions.create({ model: MODEL.id, messages: [{ role: "user", content: "hi" }], stream: true });
  let got = "";
  await assert.rejects(async () => {
    for await (const c of stream) got += c.choices[0]?.delta.content ?? "";
  }, (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError);
    assert.match(e.message, /failed at step 3/);
    return true;
  });
  assert.equal(got, "Hello");
});

test("the same failure without streaming is a 500 in OpenAI's shape", async () => {
  await assert.rejects(client.chat.completions.create({ model: MODEL.id, messages: [{ role: "user", content: "hi" }] }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.InternalServerError);
    assert.equal((e.error as { code: string }).code, "internal");
    return true;
  });
});
