// Images in chat (image_url data URLs) on the tiny Gemma 3 vision fixture, through the openai client and a real server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import sharp from "sharp";
import { engineHelpers, fixture, startServer, type RunningServer } from "./helpers.js";

let server: RunningServer;
let client: OpenAI;
let model: string;
const png = readFileSync(join(fixture("image-preprocess"), "input.png"));  // 640 x 480
const dataUrl = (b: Buffer, type = "image/png") => `data:${type};base64,${b.toString("base64")}`;

before(async () => {
  const vlm = (await engineHelpers()).tinyVlmWithTokenizer();
  // The photo is 307,200 pixels: the cap sits between it and a 1000 x 1000 image.
  server = await startServer(["--model", vlm, "--max-image-pixels", "500000"]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
  model = (await client.models.list()).data[0]!.id;
});
after(async () => server?.stop());

const withImage = (url: string): OpenAI.ChatCompletionMessageParam[] => [{
  role: "user", content: [{ type: "image_url", image_url: { url } }, { type: "text", text: "Describe this image." }],
}];

test("an image in chat: the prompt holds its image tokens, streamed and not", async () => {
  const textOnly = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Describe this image." }], max_tokens: 6, temperature: 0 });
  const r = await client.chat.completions.create({ model, messages: withImage(dataUrl(png)), max_tokens: 6, temperature: 0 });
  assert.equal(typeof r.choices[0]!.message.content, "string");
  assert.ok(r.usage!.completion_tokens >= 1);
  // The image adds its soft tokens (plus begin/end markers) to the prompt.
  assert.ok(r.usage!.prompt_tokens > textOnly.usage!.prompt_tokens + 2, `${r.usage!.prompt_tokens} vs ${textOnly.usage!.prompt_tokens}`);
  const s = await client.chat.completions.create({ model, messages: withImage(dataUrl(png)), max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const c of s) {
    text += c.choices[0]?.delta.content ?? "";
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, r.choices[0]!.message.content);
  assert.equal(usage!.prompt_tokens, r.usage!.prompt_tokens);
  // A JPEG of the same photo works too.
  const jpg = readFileSync(join(fixture("image-preprocess"), "input.jpg"));
  const j = await client.chat.completions.create({ model, messages: withImage(dataUrl(jpg, "image/jpeg")), max_tokens: 2, temperature: 0 });
  assert.equal(j.usage!.prompt_tokens, r.usage!.prompt_tokens);
});

test("an image over --max-image-pixels, a corrupt image and a non-base64 data URL are 400s", async () => {
  const big = await sharp({ create: { width: 1000, height: 1000, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
  await assert.rejects(client.chat.completions.create({ model, messages: withImage(dataUrl(big)), max_tokens: 2 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.match(e.message, /1000x1000/);
    assert.equal((e.error as { code: string }).code, "too_large");
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model, messages: withImage(dataUrl(Buffer.from("not an image at all"))), max_tokens: 2 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal((e.error as { code: string }).code, "bad_image");
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model, messages: withImage("data:image/png,rawbytes"), max_tokens: 2 }), OpenAI.BadRequestError);
});

test("an error in the middle of a stream (the real backend) is an SSE error event after the text so far, without [DONE]", async () => {
  // The fixture's character vocabulary has no "{": the schema's constant can be written up to "ab", then nothing fits.
  const body = {
    model, messages: [{ role: "user", content: "x" }], max_tokens: 20, stream: true,
    response_format: { type: "json_schema", json_schema: { name: "stuck", schema: { const: "ab{" } } },
  };
  const r = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 200);
  const events = (await r.text()).split("\n\n").filter((e) => e.trim()).map((e) => e.replace(/^data: /, ""));
  assert.ok(!events.includes("[DONE]"), events.join("\n"));
  const last = JSON.parse(events.at(-1)!) as { error: { message: string; type: string; param: string; code: string } };
  assert.deepEqual({ ...last.error, message: last.error.message.slice(0, 47) }, {
    message: "the model's vocabulary cannot write this schema", type: "invalid_request_error", param: "response_format", code: "unsupported",
  });
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as OpenAI.ChatCompletionChunk);
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), '"ab');

  // The openai client yields the text so far, then raises the error.
  const stream = await client.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = "";
  await assert.rejects((async () => { for await (const c of stream) text += c.choices[0]?.delta.content ?? ""; })(), (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError, String(e));
    assert.match(e.message, /vocabulary cannot write this schema/);
    return true;
  });
  assert.equal(text, '"ab');
  // A schema that no first token can start is refused before any stream opens: a plain 400.
  await assert.rejects(client.chat.completions.create({ ...body, response_format: { type: "json_schema", json_schema: { name: "obj", schema: { type: "object" } } } } as OpenAI.ChatCompletionCreateParamsStreaming),
    (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as { code: string }).code === "unsupported");
});
