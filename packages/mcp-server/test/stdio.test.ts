// The built hearth-mcp over stdio, driven by the SDK's own Client: tool schemas, generate (plain, JSON Schema),
// embed (against lm.loadEmbedder directly; ranking), describe_image (path, data URL), the resources and prompt,
// and every refusal that needs a root (outside, symlink escape, prefix sibling, bad image, missing model).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { lm } from "@hearth/engine";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { dataUrl, stdioClient, text, workspace, type Spawned, type Workspace } from "./helpers.js";

let w: Workspace;
let s: Spawned;

before(async () => {
  w = await workspace();
  s = await stdioClient(["--root", w.root, "--embedding-model", w.embedder, "--vision-model", w.vlm], { env: { HF_HUB_CACHE: w.hubCache } });
});
after(async () => { await s?.close(); });

const call = async (name: string, args: Record<string, unknown>) =>
  (await s.client.callTool({ name, arguments: args })) as CallToolResult;

describe("hearth-mcp over stdio", () => {
  test("tools/list: the seven tools, each with input and output schemas and annotations", async () => {
    const { tools } = await s.client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, ["describe_image", "embed", "generate", "lora_cancel", "lora_status", "lora_train", "models"]);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, "object", t.name);
      assert.equal(t.outputSchema?.type, "object", t.name);
      assert.equal(t.annotations?.openWorldHint, false, t.name);
      assert.equal(typeof t.annotations?.readOnlyHint, "boolean", t.name);
      assert.ok(t.description && t.description.length > 20, t.name);
    }
    const gen = tools.find((t) => t.name === "generate")!;
    for (const p of ["prompt", "messages", "system", "maxTokens", "temperature", "topP", "seed", "stop", "jsonSchema", "adapter"])
      assert.ok(p in (gen.inputSchema.properties ?? {}), `generate.${p}`);
    for (const p of ["text", "tokens", "finishReason", "model"]) assert.ok(p in (gen.outputSchema!.properties ?? {}), `generate output ${p}`);
    const train = tools.find((t) => t.name === "lora_train")!;
    for (const p of ["data", "name", "iters", "batchSize", "learningRate", "numLayers", "rank", "maskPrompt", "validationSplit", "wait"])
      assert.ok(p in (train.inputSchema.properties ?? {}), `lora_train.${p}`);
  });

  test("generate (plain) on the bundled model equals lm.generate on the same chat, greedy", async () => {
    const r = await call("generate", { prompt: "What is 71 - 53?", maxTokens: 12 });
    assert.equal(r.isError, undefined, text(r));
    const sc = r.structuredContent as { text: string; tokens: number; finishReason: string; model: string };
    const { model, tokenizer } = await lm.load("hearth-tiny");
    const direct = await lm.generate(model, tokenizer!, { messages: [{ role: "user", content: "What is 71 - 53?" }], maxTokens: 12 });
    assert.equal(sc.text, direct);
    assert.ok(sc.tokens >= 1 && sc.tokens <= 12);
    assert.match(sc.finishReason, /^(stop|length)$/);
    assert.match(sc.model, /hearth-tiny/);
    assert.equal(text(r), sc.text);
    // raw: the prompt is continued as written (no second chat template around it), so the template's own text
    // gives the same answer.
    const raw = await call("generate", { prompt: "<start_of_turn>user\nWhat is 71 - 53?<end_of_turn>\n<start_of_turn>model\n", raw: true, maxTokens: 12 });
    assert.equal((raw.structuredContent as { text: string }).text, direct);
  });

  test("generate with jsonSchema: the answer follows the schema and comes back parsed", async () => {
    const schema = { type: "object", properties: { answer: { type: "integer" } }, required: ["answer"], additionalProperties: false };
    const r = await call("generate", { prompt: "What is 12 + 30? Answer in JSON.", jsonSchema: schema, maxTokens: 40 });
    assert.equal(r.isError, undefined, text(r));
    const sc = r.structuredContent as { text: string; json: { answer: number } };
    assert.deepEqual(sc.json, JSON.parse(sc.text));
    assert.deepEqual(Object.keys(sc.json), ["answer"]);
    assert.ok(Number.isInteger(sc.json.answer));
  });

  test("embed: values equal lm.loadEmbedder(...).embed on the same texts; ranking is by cosine", async () => {
    const texts = ["the cat sat on the mat", "stock prices fell", "a kitten on a rug"];
    const r = await call("embed", { texts, task: "document" });
    assert.equal(r.isError, undefined, text(r));
    const sc = r.structuredContent as { embeddings: number[][]; dimensions: number };
    const emb = await lm.loadEmbedder(w.embedder);
    const direct = await emb.embed(texts, { task: "document" });
    assert.equal(sc.embeddings.length, 3);
    assert.equal(sc.dimensions, direct[0]!.length);
    for (let i = 0; i < 3; i++) for (let j = 0; j < direct[i]!.length; j++) assert.ok(Math.abs(sc.embeddings[i]![j]! - direct[i]![j]!) < 1e-5, `embedding ${i}[${j}]`);

    const query = "cat on a mat";
    const ranked = await call("embed", { query, documents: texts });
    assert.equal(ranked.isError, undefined, text(ranked));
    const q = (await emb.embed([query], { task: "query" }))[0]!;
    const d = await emb.embed(texts, { task: "document" });
    const cos = (a: Float32Array, b: Float32Array) => {
      let dot = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
      return dot / Math.sqrt(na * nb);
    };
    const expected = d.map((v, i) => ({ i, s: cos(q, v) })).sort((a, b) => b.s - a.s);
    const got = (ranked.structuredContent as { ranked: Array<{ index: number; score: number; document: string }> }).ranked;
    assert.deepEqual(got.map((g) => g.index), expected.map((e) => e.i));
    for (const g of got) assert.equal(g.document, texts[g.index]);
    for (let k = 0; k < got.length; k++) assert.ok(Math.abs(got[k]!.score - expected[k]!.s) < 1e-4);

    const small = await call("embed", { texts: ["hello"], dimensions: 16 });
    const v = (small.structuredContent as { embeddings: number[][] }).embeddings[0]!;
    assert.equal(v.length, 16);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);
  });

  test("describe_image: a path in the root and the same image as a data URL give the same answer", async () => {
    const a = await call("describe_image", { image: w.png, prompt: "What is in the picture?", maxTokens: 8 });
    assert.equal(a.isError, undefined, text(a));
    const b = await call("describe_image", { image: dataUrl(w.png, "image/png"), prompt: "What is in the picture?", maxTokens: 8 });
    assert.equal(b.isError, undefined, text(b));
    const sa = a.structuredContent as { text: string; tokens: number };
    assert.ok(sa.tokens >= 1);
    assert.equal(sa.text, (b.structuredContent as { text: string }).text);
    const rel = await call("describe_image", { image: "input.jpg", maxTokens: 4 });
    assert.equal(rel.isError, undefined, text(rel));
    const b64 = await call("describe_image", { image: dataUrl(w.jpg, "image/jpeg").split(",")[1], mimeType: "image/jpeg", maxTokens: 4 });
    assert.equal((b64.structuredContent as { text: string }).text, (rel.structuredContent as { text: string }).text);
  });

  test("describe_image with jsonSchema returns structured", async () => {
    const schema = { type: "object", properties: { score: { type: "integer", minimum: 0, maximum: 9 } }, required: ["score"] };
    const r = await call("describe_image", { image: w.png, prompt: "Score this frame from 0 to 9.", jsonSchema: schema, maxTokens: 30 });
    assert.equal(r.isError, undefined, text(r));
    const st = (r.structuredContent as { structured: { score: number } }).structured;
    assert.ok(Number.isInteger(st.score) && st.score >= 0 && st.score <= 9);
  });

  test("refused: a path outside the roots, a sibling that only shares the root's prefix, a symlink escape", async () => {
    for (const image of [w.outsideImage, `${w.root}/../${w.outside.split("/").pop()}/secret.png`]) {
      const r = await call("describe_image", { image });
      assert.equal(r.isError, true);
      assert.match(text(r), /^path_denied: image: .* is outside the allowed roots/);
      assert.match(text(r), /--root/);
    }
    const link = await call("describe_image", { image: w.escapeLink });
    assert.equal(link.isError, true);
    assert.match(text(link), /path_denied: .*escape\.png \(resolves to .*secret\.png\) is outside the allowed roots/);
    const train = await call("lora_train", { data: w.outside, name: "nope" });
    assert.match(text(train), /^path_denied: data:/);
    const missing = await call("describe_image", { image: "no-such.png" });
    assert.match(text(missing), /does not exist/);
  });

  test("refused: a bad image (corrupt file, bad base64, not an image) says what to send", async () => {
    const corrupt = await call("describe_image", { image: w.badImage });
    assert.equal(corrupt.isError, true);
    assert.match(text(corrupt), /^bad_image: image: the image cannot be decoded .* Send a PNG, JPEG/);
    const b64 = await call("describe_image", { image: "data:image/png;base64,@@@not base64@@@" });
    assert.match(text(b64), /^bad_image: image: not valid base64/);
    const notImage = await call("describe_image", { image: `data:image/png;base64,${Buffer.from("hello world, plain text").toString("base64")}` });
    assert.match(text(notImage), /^bad_image/);
  });

  test("refused: a missing model, and unknown adapter; the server keeps answering", async () => {
    const r = await call("generate", { prompt: "hi", model: "no-such-model" });
    assert.equal(r.isError, true);
    assert.match(text(r), /^model_not_found: /);
    assert.doesNotMatch(text(r), /\n\s+at /, "no stack trace");
    const a = await call("generate", { prompt: "hi", adapter: "no-such-adapter" });
    assert.equal(a.isError, true);
    assert.match(text(a), /^model_not_found: /);
    const ok = await call("generate", { prompt: "hi", maxTokens: 2 });
    assert.equal(ok.isError, undefined, text(ok));
  });

  test("refused: bad arguments (prompt and messages, no texts) are isError results that name the fix", async () => {
    const both = await call("generate", { prompt: "a", messages: [{ role: "user", content: "b" }] });
    assert.match(text(both), /exactly one of prompt or messages/);
    const none = await call("embed", {});
    assert.match(text(none), /give either texts, or query together with documents/);
    const badType = await call("generate", { prompt: "a", maxTokens: -3 });
    assert.equal(badType.isError, true);
    assert.match(text(badType), /maxTokens/);
  });

  test("models lists the configured models and what is in the roots; the adapters resource and caption prompt work", async () => {
    const r = await call("models", {});
    assert.equal(r.isError, undefined, text(r));
    const sc = r.structuredContent as { models: Array<{ id: string; kind: string; loaded: boolean }>; inRoots: Array<{ path: string; kind: string }> };
    assert.ok(sc.models.some((m) => m.kind === "text" && /hearth-tiny/.test(m.id)), JSON.stringify(sc.models));
    assert.ok(sc.inRoots.some((m) => m.path === w.vlm && m.kind === "vision"));
    assert.ok(sc.inRoots.some((m) => m.path === w.embedder && m.kind === "embedding"));
    // The Hugging Face cache: listed by id, and loadable by that id (embed with it = embed with the folder).
    assert.deepEqual((r.structuredContent as { inCache: unknown[] }).inCache, [{ id: "hearth-test/tiny-embedder", kind: "embedding" }]);
    const byId = await call("embed", { texts: ["hello"], model: "hearth-test/tiny-embedder" });
    assert.equal(byId.isError, undefined, text(byId));
    const byFolder = await call("embed", { texts: ["hello"] });
    assert.deepEqual((byId.structuredContent as { embeddings: number[][] }).embeddings, (byFolder.structuredContent as { embeddings: number[][] }).embeddings);
    const res = await s.client.listResources();
    assert.ok(res.resources.some((x) => x.uri === "hearth://adapters"));
    const adapters = await s.client.readResource({ uri: "hearth://adapters" });
    assert.ok(Array.isArray(JSON.parse((adapters.contents[0] as { text: string }).text)));
    const p = await s.client.getPrompt({ name: "caption_polish", arguments: { caption: "a dog, brown, on grass i think", style: "alt text" } });
    assert.match((p.messages[0]!.content as { text: string }).text, /a dog, brown, on grass i think/);
  });

  test("logs go to stderr", () => {
    assert.match(s.stderr(), /hearth-mcp: ready/);
  });
});
