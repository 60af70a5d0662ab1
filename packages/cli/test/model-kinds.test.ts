// Errors that say which model is which: a tokenizer that does not fit the model, a prompt cache from another
// model, an embedding model given to generate/convert, a vision model given to embed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFixture } from "./helpers/fixtures.js";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { tinyEmbedderWithTokenizer, tinyVlmWithTokenizer, writeTinyTokenizer } from "./helpers/tiny-tokenizer.js";
import { hearth, oneLine } from "./helpers/run.js";

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `hearth-kinds-${p}-`));

test("a tokenizer larger than the model's vocabulary is named as such", async () => {
  // gemma3-tiny-a (vocab_size 512) with a 600-token tokenizer: ids 512..599 would index past the embedding.
  const dir = tmp("vocab");
  for (const f of ["config.json", "generation_config.json", "model.safetensors"]) cpSync(join(findFixture("gemma3-tiny-a"), f), join(dir, f));
  writeTinyTokenizer(dir, 600);
  const r = await hearth(["generate", "--model", dir, "-p", "hi", "-m", "2"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the tokenizer of .* \(vocabulary 600\) does not match the model \(vocab_size 512\)/i);
  assert.ok(oneLine(r.stderr), r.stderr);
});

test("a prompt cache made by another model names that model", async () => {
  const file = join(tmp("pc"), "ctx.safetensors");
  // gemma3-tiny-b (6 layers, 1 KV head) with a tokenizer: another model than the tiny model (4 layers, 2 KV heads).
  const other = tmp("b");
  for (const f of ["config.json", "generation_config.json", "model.safetensors"]) cpSync(join(findFixture("gemma3-tiny-b"), f), join(other, f));
  writeTinyTokenizer(other, 640);
  const c = await hearth(["cache-prompt", "--model", other, "-p", "some context", "--prompt-cache-file", file]);
  assert.equal(c.code, 0, c.stderr);
  const r = await hearth(["generate", "--model", tinyModelFolder(), "--prompt-cache-file", file, "-p", "more", "-m", "2"]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes(`was made by ${other}`), r.stderr);
  assert.ok(oneLine(r.stderr), r.stderr);
});

test("cache-prompt never writes into the model folder", async () => {
  const dir = tmp("pcm");
  cpSync(tinyModelFolder(), dir, { recursive: true });
  for (const file of [join(dir, "model.safetensors"), join(dir, "ctx")]) {
    const r = await hearth(["cache-prompt", "--model", dir, "-p", "x", "--prompt-cache-file", file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /the prompt cache file .* is inside the model folder/);
  }
  assert.equal((await hearth(["generate", "--model", dir, "-p", "hi", "-m", "2"])).code, 0);
});

test("an EmbeddingGemma folder given to generate or convert, a VLM given to embed: which model, which command", async () => {
  const emb = tinyEmbedderWithTokenizer();
  for (const args of [["generate", "--model", emb, "-p", "hi"], ["convert", "--hf-path", emb, "--mlx-path", join(tmp("e"), "o")]]) {
    const r = await hearth(args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /is an embedding model \(EmbeddingGemma.*use 'hearth embed'/);
    assert.ok(oneLine(r.stderr), r.stderr);
  }
  const r = await hearth(["embed", "--model", tinyVlmWithTokenizer(), "--text", "x"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /is a Gemma 3 vision-language model .* use 'hearth generate' or 'hearth describe-image'/);
  assert.ok(oneLine(r.stderr), r.stderr);
  assert.ok(findFixture("embeddinggemma-tiny"));
});
