// The OpenAI-compatible API through the real `openai` client against a real `hearth server` process on the bundled
// hearth-tiny model and the tiny EmbeddingGemma fixture.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import sharp from "sharp";
import { z } from "zod";
import { engineHelpers, hearthCommand, startServer, raw, type RunningServer } from "./helpers.js";

let server: RunningServer;
let client: OpenAI;
let embedModel: string;

before(async () => {
  const emb = (await engineHelpers()).tinyEmbedderWithTokenizer();
  server = await startServer(["--embedding-model", emb]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
  const list = await client.models.list();
  embedModel = list.data.find((m) => (m as unknown as { kind: string }).kind === "embedding")!.id;
});
after(async () => server?.stop());

const ask = [{ role: "user" as const, content: "What is 2 + 3?" }];
/** Usage without cached_tokens, which depends on what the prefix cache holds from earlier requests. */
const counts = (u: OpenAI.CompletionUsage | null | undefined) => u && { p: u.prompt_tokens, c: u.completion_tokens, t: u.total_tokens };

describe("models and health", () => {
  test("GET /v1/models lists the loaded text and embedding models in OpenAI's shape", async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes("hearth-tiny"), ids.join(","));
    assert.ok(ids.includes(embedModel));
    for (const m of list.data) {
      assert.equal(m.object, "model");
      assert.equal(typeof m.created, "number");
      assert.equal(m.owned_by, "hearth");
    }
  });

  test("GET /health answers ok with the loaded models", async () => {
    const r = await raw(server.url, "GET", "/health");
    assert.equal(r.status, 200);
    assert.equal(r.json().status, "ok");
    assert.ok(r.json().models.includes("hearth-tiny"));
  });

  test("the server runs from the hearth bin, bound 127.0.0.1 by default, and said so on one line", () => {
    assert.deepEqual(hearthCommand().slice(-1), ["server"], "the hearth bin with the server command");
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.stderr().split("\n").filter((l) => l.startsWith("hearth server listening on ")).length, 1);
  });
});

describe("chat completions", () => {
  test("non-streamed: the bundled model's answer with usage", async () => {
    const r = await client.chat.completions.create({ model: "hearth-tiny", messages: ask, max_tokens: 16, temperature: 0 });
    assert.equal(r.object, "chat.completion");
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0]!.message.role, "assistant");
    assert.equal(r.choices[0]!.message.content?.trim(), "5");
    assert.equal(r.choices[0]!.finish_reason, "stop");
    const u = r.usage!;
    assert.ok(u.prompt_tokens > 5);
    assert.ok(u.completion_tokens >= 1);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  });

  test("streamed with include_usage: same text as non-streamed, a final usage chunk with empty choices, then [DONE]", async () => {
    const params = { model: "hearth-tiny", messages: [{ role: "user" as const, content: "Sort in ascending order: 66, 22, 33, 53, 42" }], max_tokens: 24, temperature: 0 };
    const whole = await client.chat.completions.create(params);
    const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let role: string | undefined;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    let afterUsage = 0;
    for await (const c of stream) {
      chunks++;
      if (usage) afterUsage++;
      if (c.choices.length === 0) {
        usage = c.usage;
        continue;
      }
      role ??= c.choices[0]!.delta.role;
      text += c.choices[0]!.delta.content ?? "";
      finish = c.choices[0]!.finish_reason ?? finish;
    }
    assert.ok(chunks > 2);
    assert.equal(role, "assistant");
    assert.equal(text, whole.choices[0]!.message.content);
    assert.equal(finish, whole.choices[0]!.finish_reason);
    assert.deepEqual(counts(usage), counts(whole.usage));
    assert.equal(afterUsage, 0);
  });

  test("the raw stream ends with data: [DONE]", async () => {
    const r = await raw(server.url, "POST", "/v1/chat/completions", {}, JSON.stringify({ messages: ask, max_tokens: 4, stream: true }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /^text\/event-stream/);
    assert.ok(r.body.trimEnd().endsWith("data: [DONE]"), r.body);
  });

  test("stop strings, n choices with a seed, and logprobs", async () => {
    const full = await client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "Sort in ascending order: 66, 22, 33, 53, 42" }], max_tokens: 24, temperature: 0 });
    const text = full.choices[0]!.message.content!;
    assert.ok(text.includes(", "), text);
    const stopped = await client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "Sort in ascending order: 66, 22, 33, 53, 42" }], max_tokens: 24, temperature: 0, stop: [", "] });
    assert.equal(stopped.choices[0]!.message.content, text.slice(0, text.indexOf(", ")));
    assert.equal(stopped.choices[0]!.finish_reason, "stop");

    const many = await client.chat.completions.create({ model: "hearth-tiny", messages: ask, max_tokens: 8, temperature: 1, seed: 7, n: 3 });
    assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2]);
    assert.ok(many.usage!.completion_tokens >= 3);

    const lp = await client.chat.completions.create({ model: "hearth-tiny", messages: ask, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = lp.choices[0]!.logprobs!.content!;
    assert.equal(content.length, lp.usage!.completion_tokens);
    for (const t of content) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 2);
      // Greedy: the chosen token is the most likely one.
      assert.ok(Math.abs(t.top_logprobs[0]!.logprob - t.logprob) < 1e-6);
    }
    // Without alternatives each entry still carries its token's own text: together they spell the answer (then the
    // end-of-turn token that stopped it), and bytes are that text's UTF-8.
    const own = await client.chat.completions.create({ model: "hearth-tiny", messages: ask, max_tokens: 8, temperature: 0, logprobs: true });
    const entries = own.choices[0]!.logprobs!.content!;
    assert.equal(entries.map((t) => t.token).join(""), `${own.choices[0]!.message.content}<end_of_turn>`);
    for (const t of entries) {
      assert.deepEqual(t.bytes, [...Buffer.from(t.token, "utf8")]);
      assert.deepEqual(t.top_logprobs, []);
    }
  });

  test("bad parameters and unknown models are OpenAI errors with the right status", async () => {
    await assert.rejects(client.chat.completions.create({ model: "no-such-model", messages: ask }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal((e.error as { code: string }).code, "model_not_found");
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: ask, temperature: 5 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "temperature");
      return true;
    });
    const r = await raw(server.url, "POST", "/v1/chat/completions", {}, "{not json");
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.json().error).sort(), ["code", "message", "param", "type"]);
    const m = await raw(server.url, "POST", "/v1/chat/completions", {}, JSON.stringify({ model: "hearth-tiny", messages: [] }));
    assert.equal(m.status, 400);
    assert.equal(m.json().error.param, "messages");
  });
});

describe("defaults", () => {
  test("no CORS by default: a browser Origin is refused and no Access-Control header is sent", async () => {
    const r = await raw(server.url, "POST", "/v1/chat/completions", { origin: "http://localhost:3000" }, JSON.stringify({ messages: ask, max_tokens: 2 }));
    assert.equal(r.status, 403);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
    const p = await raw(server.url, "OPTIONS", "/v1/chat/completions", { origin: "http://localhost:3000", "access-control-request-method": "POST" });
    assert.equal(p.status, 403);
    const plain = await raw(server.url, "GET", "/v1/models");
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["access-control-allow-origin"], undefined);
  });

  test("paths are refused when no --allowed-path was given; images on a text model are a 400", async () => {
    const r = await raw(server.url, "POST", "/v1/chat/completions", {}, JSON.stringify({ model: "/tmp", messages: ask }));
    assert.equal(r.status, 403);
    assert.equal(r.json().error.code, "path_denied");
    const tiny = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
    await assert.rejects(client.chat.completions.create({
      model: "hearth-tiny", max_tokens: 2,
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${tiny.toString("base64")}` } }, { type: "text", text: "hi" }] }],
    }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal((e.error as { code: string }).code, "wrong_model_kind");
      return true;
    });
  });

  test("unknown routes are 404 and wrong methods 405, in OpenAI's error shape", async () => {
    const a = await raw(server.url, "GET", "/v1/nothing");
    assert.equal(a.status, 404);
    assert.equal(typeof a.json().error.message, "string");
    const b = await raw(server.url, "GET", "/v1/chat/completions");
    assert.equal(b.status, 405);
  });
});

describe("completions", () => {
  test("non-streamed and streamed give the same text and usage", async () => {
    const params = { model: "hearth-tiny", prompt: "<start_of_turn>user\nWhat is 4 + 4?<end_of_turn>\n<start_of_turn>model\n", max_tokens: 12, temperature: 0 };
    const whole = await client.completions.create(params);
    assert.equal(whole.object, "text_completion");
    assert.equal(whole.choices[0]!.text.trim(), "8");
    const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      if (c.choices.length === 0) usage = c.usage ?? undefined;
      else text += c.choices[0]!.text;
    }
    assert.equal(text, whole.choices[0]!.text);
    assert.deepEqual(counts(usage), counts(whole.usage));
    assert.equal(whole.usage!.total_tokens, whole.usage!.prompt_tokens + whole.usage!.completion_tokens);
  });

  test("token-id prompts and completion logprobs", async () => {
    const r = await client.completions.create({ model: "hearth-tiny", prompt: [2, 105, 2364, 107], max_tokens: 4, temperature: 0, logprobs: 1 });
    assert.equal(r.usage!.prompt_tokens, 4);
    const lp = r.choices[0]!.logprobs!;
    assert.equal(lp.tokens!.length, r.usage!.completion_tokens);
    assert.equal(lp.token_logprobs!.length, lp.tokens!.length);
  });
});

describe("structured output and tools", () => {
  const Answer = z.object({
    city: z.enum(["Paris", "Rome", "Oslo"]),
    population: z.number().int().min(0).max(100),
    capital: z.boolean(),
  }).strict();
  const schema = z.toJSONSchema(Answer) as Record<string, unknown>;
  delete schema.$schema;

  test("json_schema output parses and validates over 20 sampled runs at temperature 1", async () => {
    const outs: string[] = [];
    for (let k = 0; k < 4; k++) {
      const r = await client.chat.completions.create({
        model: "hearth-tiny", messages: [{ role: "user", content: "Describe a city as JSON." }], temperature: 1, n: 5, max_tokens: 200,
        response_format: { type: "json_schema", json_schema: { name: "city", schema, strict: true } },
      });
      for (const c of r.choices) outs.push(c.message.content!);
    }
    assert.equal(outs.length, 20);
    for (const o of outs) Answer.parse(JSON.parse(o));
    assert.ok(new Set(outs).size > 1, "temperature 1 should sample different objects");
  });

  const tools: OpenAI.ChatCompletionTool[] = [{
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city",
      parameters: { type: "object", properties: { city: { type: "string", enum: ["Paris", "Oslo"] } }, required: ["city"], additionalProperties: false },
    },
  }];

  const closeList = { presence_penalty: 2, frequency_penalty: 2 };

  test("a tool call round trip: tool_calls, then the tool's result, then an answer", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "What is the weather in Oslo?" }];
    // The demo model would repeat calls until max_tokens; the penalties make it close the list.
    const first = await client.chat.completions.create({ model: "hearth-tiny", messages, tools, tool_choice: "required", temperature: 0, max_tokens: 300, ...closeList });
    const choice = first.choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    const calls = choice.message.tool_calls! as OpenAI.ChatCompletionMessageFunctionToolCall[];
    assert.ok(calls.length >= 1);
    for (const call of calls) {
      assert.equal(call.type, "function");
      assert.equal(call.function.name, "get_weather");
      const a = JSON.parse(call.function.arguments);
      assert.deepEqual(Object.keys(a), ["city"]);
      assert.ok(["Paris", "Oslo"].includes(a.city), call.function.arguments);
    }
    assert.equal(new Set(calls.map((c) => c.id)).size, calls.length);
    const args = JSON.parse(calls[0]!.function.arguments);
    messages.push(choice.message, ...calls.map((c) => ({ role: "tool" as const, tool_call_id: c.id, content: JSON.stringify({ celsius: -3 }) })));
    const second = await client.chat.completions.create({ model: "hearth-tiny", messages, tools, tool_choice: "none", temperature: 0, max_tokens: 16 });
    assert.equal(typeof second.choices[0]!.message.content, "string");
    assert.equal(second.choices[0]!.message.tool_calls, undefined);
    assert.ok(second.usage!.prompt_tokens > first.usage!.prompt_tokens);

    // The same call streamed: tool_calls deltas the client assembles.
    const stream = await client.chat.completions.create({ model: "hearth-tiny", messages: messages.slice(0, 1), tools, tool_choice: "required", temperature: 0, max_tokens: 300, stream: true, ...closeList });
    const names: string[] = [], argTexts: string[] = [];
    let finish = "";
    for await (const c of stream) {
      const d = c.choices[0];
      if (!d) continue;
      for (const t of d.delta.tool_calls ?? []) {
        names[t.index] = (names[t.index] ?? "") + (t.function?.name ?? "");
        argTexts[t.index] = (argTexts[t.index] ?? "") + (t.function?.arguments ?? "");
      }
      finish = d.finish_reason ?? finish;
    }
    assert.deepEqual(names, calls.map((c) => c.function.name));
    assert.deepEqual(JSON.parse(argTexts[0]!), args);
    assert.equal(finish, "tool_calls");

    // parallel_tool_calls: false allows one call per reply, with no penalties needed to close the list.
    const single = await client.chat.completions.create({ model: "hearth-tiny", messages: messages.slice(0, 1), tools, tool_choice: "required", temperature: 0, max_tokens: 300, parallel_tool_calls: false });
    assert.equal(single.choices[0]!.finish_reason, "tool_calls");
    const one = single.choices[0]!.message.tool_calls! as OpenAI.ChatCompletionMessageFunctionToolCall[];
    assert.equal(one.length, 1);
    assert.equal(one[0]!.function.name, "get_weather");
    assert.deepEqual(Object.keys(JSON.parse(one[0]!.function.arguments)), ["city"]);
    await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: messages.slice(0, 1), tools, parallel_tool_calls: "no" as unknown as boolean }), OpenAI.BadRequestError);
  });
});

describe("embeddings", () => {
  test("base64 decodes to the float result; dimensions truncates and renormalises; token arrays work", async () => {
    const input = ["a small red fox", "hello world"];
    const floats = await client.embeddings.create({ model: embedModel, input, encoding_format: "float" });
    assert.equal(floats.data.length, 2);
    assert.ok(floats.usage.prompt_tokens > 0);
    const b64 = await client.embeddings.create({ model: embedModel, input, encoding_format: "base64" });
    for (let i = 0; i < 2; i++) {
      const s = b64.data[i]!.embedding as unknown as string;
      assert.equal(typeof s, "string");
      const buf = Buffer.from(s, "base64");
      const decoded = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
      assert.deepEqual(decoded, floats.data[i]!.embedding);
    }
    // The SDK's default asks for base64 and decodes it itself.
    const auto = await client.embeddings.create({ model: embedModel, input });
    assert.deepEqual(auto.data.map((d) => d.embedding), floats.data.map((d) => d.embedding));

    const small = await client.embeddings.create({ model: embedModel, input: "a small red fox", dimensions: 8, encoding_format: "float" });
    const v = small.data[0]!.embedding;
    assert.equal(v.length, 8);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);

    const toks = await client.embeddings.create({ model: embedModel, input: [[2, 10, 11, 12], [2, 13]], encoding_format: "float" });
    assert.equal(toks.data.length, 2);
    assert.equal(toks.usage.prompt_tokens, 6);
  });

  test("a text model on /v1/embeddings and a bad encoding_format are 400s", async () => {
    await assert.rejects(client.embeddings.create({ model: embedModel, input: "x", encoding_format: "hex" as "float" }), OpenAI.BadRequestError);
    await assert.rejects(client.embeddings.create({ model: "hearth-tiny", input: "x" }), OpenAI.BadRequestError);
  });
});
