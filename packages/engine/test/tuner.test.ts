// The fine-tuning pipeline: datasets (formats, prompt masks, errors), batching and the masked loss, the YAML
// subset, and `hearth lora` / `hearth fuse` end to end on gemma3-tiny-a with a small word-level tokenizer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, lm } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { load } from "../src/lm/load.js";
import { createTokenizer, loadTokenizer, type Tokenizer } from "../src/lm/tokenizer.js";
import { findFixture } from "./helpers/fixtures.js";

const modelDir = findFixture("gemma3-tiny-a");

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hearth-${prefix}-`));
}

// ---- a word-level tokenizer for the tiny model's 512-token vocabulary ----

const SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"];
const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }} " +
  "{{ m['content'] }} <end_of_turn> {% endfor %}{% if add_generation_prompt %}<start_of_turn>model {% endif %}";

/** tokenizer.json (the tokenizers library's WordLevel model) + tokenizer_config.json with a Gemma-like template. */
function tokenizerFiles(template = CHAT_TEMPLATE) {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((t, i) => (vocab[t] = i));
  vocab.user = 6;
  vocab.model = 7;
  for (let i = 8; i < 512; i++) vocab[`w${i}`] = i;
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: { type: "WordPiece", prefix: "##", cleanup: false },
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  };
  const config = { bos_token: "<bos>", eos_token: "<eos>", pad_token: "<pad>", unk_token: "<unk>", chat_template: template, clean_up_tokenization_spaces: false };
  return { tokenizer, config };
}

function wordTokenizer(template = CHAT_TEMPLATE): Tokenizer {
  const { tokenizer, config } = tokenizerFiles(template);
  const chatTemplates = new Map([["default", { template, source: "test" }]]);
  return createTokenizer({ tokenizer, tokenizerConfig: config, chatTemplates });
}

/** gemma3-tiny-a plus the word-level tokenizer, as a model folder. */
function modelWithTokenizer(): string {
  const dir = tmp("model");
  for (const f of ["config.json", "model.safetensors", "generation_config.json"]) copyFileSync(join(modelDir, f), join(dir, f));
  const { tokenizer, config } = tokenizerFiles();
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  return dir;
}

function writeJsonl(path: string, records: unknown[]): void {
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

/** A fixed mapping the tiny model can memorise: user "w(100+k)" → assistant "w(200+k) w(300+k)". */
function chatRecords(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) => ({
    messages: [
      { role: "user", content: `w${100 + from + i}` },
      { role: "assistant", content: `w${200 + from + i} w${300 + from + i}` },
    ],
  }));
}

test("word-level tokenizer: encodes words to their ids and renders the chat template", () => {
  const tok = wordTokenizer();
  assert.deepEqual(tok.encode("w10 w11 user", { addSpecialTokens: false }), [10, 11, 6]);
  const ids = tok.applyChatTemplate([{ role: "user", content: "w100" }], { addGenerationPrompt: true });
  assert.deepEqual(ids, [2, 4, 6, 100, 5, 4, 7]);
});

// ---- datasets ----

test("datasets: chat, completions and text records; --mask-prompt offsets from the prompt render", () => {
  const tok = wordTokenizer();
  const chat = lm.createDataset(chatRecords(2), tok, "chat", { maskPrompt: true });
  assert.equal(chat.format, "chat");
  assert.deepEqual(chat.examples[0].tokens, [2, 4, 6, 100, 5, 4, 7, 200, 300, 5]);
  assert.equal(chat.examples[0].offset, 7);
  const noMask = lm.createDataset(chatRecords(1), tok, "chat");
  assert.equal(noMask.examples[0].offset, 0);
  const comp = lm.createDataset([{ prompt: "w10", completion: "w20 w21" }], tok, "comp", { maskPrompt: true });
  assert.equal(comp.format, "completions");
  assert.deepEqual(comp.examples[0].tokens, [2, 4, 6, 10, 5, 4, 7, 20, 21, 5]);
  assert.equal(comp.examples[0].offset, 7);
  const text = lm.createDataset([{ text: "w10 w11" }], tok, "text");
  assert.deepEqual(text.examples[0].tokens, [10, 11, 1], "EOS appended");
  assert.throws(() => lm.createDataset([{ text: "w10" }], tok, "t.jsonl", { maskPrompt: true }), /--mask-prompt needs a prompt/);
  const tools = lm.createDataset([{ messages: chatRecords(1)[0].messages, tools: [{ type: "function", function: { name: "f" } }] }], tok, "tools");
  assert.equal(tools.examples.length, 1);
});

test("datasets: malformed lines are errors naming the file, the line and what was expected", () => {
  const tok = wordTokenizer();
  const dir = tmp("data");
  const f = join(dir, "train.jsonl");
  writeFileSync(f, `${JSON.stringify(chatRecords(1)[0])}\n\n{"messages": [{"role": "user", "content": "w1"}\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok), (e: Error) => e.message.startsWith(`${f} line 3: invalid JSON`) && /one JSON object per line/.test(e.message));
  writeFileSync(f, `${JSON.stringify(chatRecords(1)[0])}\n[1, 2]\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok), /line 2: expected a JSON object such as \{"messages"/);
  writeFileSync(f, `${JSON.stringify(chatRecords(1)[0])}\n{"text": "w1"}\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok), /line 2: expected a chat record like line 1 \("messages"\), got keys \["text"\]/);
  writeFileSync(f, `{"messages": [{"role": "user", "content": 5}]}\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok), /line 1: message 0 \("user"\) needs a "content" string/);
  writeFileSync(f, `{"prompt": "w1", "completion": null}\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok), /line 1: expected "completion" to be a string, got null/);
  writeFileSync(f, `{"input": "w1"}\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok), /line 1: unsupported record with keys \["input"\]; expected \{"messages"/);
  writeFileSync(f, `{"messages": [{"role": "user", "content": "w1"}]}\n`);
  assert.throws(() => lm.loadJsonlDataset(f, tok, { maskPrompt: true }), /line 1: --mask-prompt trains on the final assistant message, but the last message's role is "user"/);
});

test("datasets: a template whose prompt render is not a token prefix is an error under --mask-prompt", () => {
  const odd = "{{ bos_token }}{% if add_generation_prompt %}w9 {% endif %}{% for m in messages %}{{ m['content'] }} {% endfor %}";
  assert.throws(() => lm.createDataset(chatRecords(1), wordTokenizer(odd), "odd.jsonl", { maskPrompt: true }),
    /odd\.jsonl line 1: with --mask-prompt the conversation without its last turn .* must be a token prefix/);
});

test("datasets: empty or missing sets are clear errors; a missing valid.jsonl is a warning", () => {
  const tok = wordTokenizer();
  const dir = tmp("data");
  assert.throws(() => lm.loadDataset(dir, tok, { train: true }), /Training set not found: .*train\.jsonl does not exist/);
  writeFileSync(join(dir, "train.jsonl"), "\n\n");
  assert.throws(() => lm.loadDataset(dir, tok, { train: true }), /train\.jsonl has no examples \(it is empty\)/);
  writeJsonl(join(dir, "train.jsonl"), chatRecords(4));
  const d = lm.loadDataset(dir, tok, { train: true });
  assert.equal(d.train!.examples.length, 4);
  assert.match(d.warnings[0], /valid\.jsonl not found; training proceeds without validation/);
  writeFileSync(join(dir, "valid.jsonl"), "");
  assert.throws(() => lm.loadDataset(dir, tok, { train: true }), /valid\.jsonl has no examples/);
  assert.throws(() => lm.loadDataset(dir, tok, { train: false, test: true }), /Test set not found/);
  assert.throws(() => lm.loadDataset(join(dir, "nope"), tok), /The data path does not exist/);
  const single = lm.loadDataset(join(dir, "train.jsonl"), tok, { train: true });
  assert.equal(single.train!.examples.length, 4);
});

// ---- batches and loss ----

test("batches: sorted by length, padded to 1 + a multiple of 32 (capped), truncated rows, [offset, length] pairs", () => {
  const ex = (n: number, offset = 0) => ({ tokens: Array.from({ length: n }, (_, i) => 10 + i), offset, source: "t" });
  const data = [ex(40), ex(5, 2), ex(70), ex(6, 3)];
  const batches = [...lm.iterateBatches(data, 2, 64, { seed: 1 })];
  assert.equal(batches.length, 2);
  const shapes = batches.map((b) => b.batch.shape[1]).sort((a, b) => a - b);
  assert.deepEqual(shapes, [33, 64]);
  const short = batches.find((b) => b.batch.shape[1] === 33)!;
  assert.deepEqual(short.lengths.tolist(), [[2, 5], [3, 6]]);
  const long = batches.find((b) => b.batch.shape[1] === 64)!;
  assert.deepEqual(long.lengths.tolist(), [[0, 40], [0, 64]], "the 70-token row is truncated to max_seq_length");
  assert.throws(() => [...lm.iterateBatches([ex(3)], 2, 64)], /at least batch_size=2 examples but only has 1/);
});

test("defaultLoss: mean cross-entropy over targets with offset ≤ position < length", async () => {
  const { model } = await load(modelDir);
  const b = lm.makeBatch([{ tokens: [2, 10, 11, 12, 13, 14], offset: 3, source: "a" }, { tokens: [2, 20, 21, 22], offset: 0, source: "b" }], 64);
  const [loss, ntoks] = lm.defaultLoss(model, b.batch, b.lengths);
  assert.equal(ntoks.item(), 3 + 3);
  const logits = model.forward(mx.slice(b.batch, [0, 0], [2, b.batch.shape[1] - 1]));
  const lsm = mx.subtract(logits, mx.logsumexp(logits, -1, true)).tolist() as number[][][];
  const ids = b.batch.tolist() as number[][];
  let sum = 0;
  for (const j of [2, 3, 4]) sum -= lsm[0][j][ids[0][j + 1]];
  for (const j of [0, 1, 2]) sum -= lsm[1][j][ids[1][j + 1]];
  assert.ok(Math.abs((loss.item() as number) - sum / 6) < 1e-4);
});

test("lr schedules: warmup then cosine decay, as mlx-lm's build_schedule", () => {
  const s = lm.buildSchedule({ name: "cosine_decay", arguments: [1e-3, 100, 1e-5], warmup: 10, warmup_init: 0 });
  const at = (i: number) => s(mx.array(i)).item() as number;
  assert.ok(Math.abs(at(0)) < 1e-9);
  assert.ok(Math.abs(at(5) - 5e-4) < 1e-9);
  assert.ok(Math.abs(at(10) - 1e-3) < 1e-9);
  assert.ok(Math.abs(at(11) - 1e-3) < 1e-9);
  assert.ok(Math.abs(at(111) - 1e-5) < 1e-9);
  assert.throws(() => lm.buildSchedule({ name: "nope", arguments: [1] }), /unknown schedule 'nope'/);
});

// ---- the YAML subset ----

test("train(): over-long examples are truncated with one warning that counts them", async () => {
  const { model } = await load(modelDir);
  const tok = wordTokenizer();
  const trainSet = lm.createDataset([...chatRecords(2), { messages: [{ role: "user", content: "w1" }, { role: "assistant", content: "w2" }] },
    { prompt: "w5", completion: "w6" }].slice(0, 3).concat(chatRecords(1, 5)), tok, "train.jsonl", { maskPrompt: true });
  const warnings: string[] = [];
  const res = await lm.train({ model, trainSet, args: { iters: 1, batchSize: 2, maxSeqLength: 9, numLayers: 1 }, onWarning: (w) => warnings.push(w) });
  assert.equal(res.iterations, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /\[WARNING\] 3 of 4 training examples are longer than max_seq_length=9 tokens \(the longest has 10\); they are truncated to 9\. /);
  warnings.length = 0;
  await lm.train({ model, trainSet, args: { iters: 1, batchSize: 2, maxSeqLength: 8, numLayers: 1 }, onWarning: (w) => warnings.push(w) });
  assert.match(warnings[0], /4 of 4 training examples .* and 4 of them lose every trained token/);
  await assert.rejects(lm.train({ model, trainSet: { name: "e", format: "chat", examples: [] }, args: { iters: 1 } }), /the training set is empty/);
});
