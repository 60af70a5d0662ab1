// The engine errors the faces map to responses carry stable `code`s (model_not_found, bad_image, template,
// bad_dataset, busy), keeping their classes and messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lm } from "../src/index.js";
import { findFixture } from "./helpers/fixtures.js";
import { tinyModelFolder } from "./helpers/tiny-model.js";

const codeOf = async (f: () => unknown): Promise<{ e: Error; code?: string }> => {
  try {
    await f();
  } catch (e) {
    return { e: e as Error, code: (e as { code?: string }).code };
  }
  throw new Error("expected an error");
};

test("engine errors carry the codes the faces map", async () => {
  const nf = await codeOf(() => lm.load("/no/such/model-folder"));
  assert.ok(nf.e instanceof lm.ModelNotFoundError);
  assert.equal(nf.code, "model_not_found");

  const img = await codeOf(() => lm.preprocessImage(Buffer.from("not an image")));
  assert.ok(img.e instanceof lm.ImageError);
  assert.equal(img.code, "bad_image");

  const { tokenizer } = await lm.load(tinyModelFolder());
  const messages = [{ role: "user", content: "hi" }];
  const raised = await codeOf(() => tokenizer!.applyChatTemplate(messages, { chatTemplate: "{{ raise_exception('no') }}" }));
  assert.ok(raised.e instanceof lm.ChatTemplateError);
  assert.equal(raised.e.message, "no");
  assert.equal(raised.code, "template");
  const syntax = await codeOf(() => tokenizer!.applyChatTemplate(messages, { chatTemplate: "{% if %}" }));
  assert.ok(syntax.e instanceof lm.ChatTemplateSyntaxError);
  assert.equal(syntax.code, "template");

  const ds = await codeOf(() => lm.parseJsonl("{not json", "train.jsonl"));
  assert.ok(ds.e instanceof lm.DatasetError);
  assert.equal(ds.code, "bad_dataset");

  const { model } = await lm.load(findFixture("gemma3-tiny-a"), { noTokenizer: true });
  const loop = new lm.DecodeLoop(model, { maxRows: 1 });
  loop.insert({ prompt: [2, 3] });
  const busy = await codeOf(() => loop.insert({ prompt: [2, 3] }));
  assert.ok(busy.e instanceof lm.BusyError);
  assert.equal(busy.code, "busy");
  loop.dispose();
});
