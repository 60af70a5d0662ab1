// The bundled demo model (models/hearth-tiny, docs/DEMO_MODEL.md): a Gemma 3 folder in the mlx-community layout
// within the size bound, and — the claim it ships with — at least 80% of held-out
// arithmetic and word tasks answered exactly with greedy decoding, through the public lm.generate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { lm } from "../src/index.js";
import { findFixture } from "./helpers/fixtures.js";

const loaded = lm.load(lm.BUNDLED_MODEL_NAME);

interface Rec { messages: { role: string; content: string }[]; family: string; task: string }
// The test split of the demo corpus (seed 1234): never trained on.
const HELD_OUT: Rec[] = readFileSync(join(findFixture("demo-model"), "test.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));

test("hearth-tiny: a quantized Gemma 3 folder of at most 20 MB with the real tokenizer", async () => {
  const dir = lm.bundledModelPath();
  let bytes = 0;
  for (const f of readdirSync(dir)) bytes += statSync(join(dir, f)).size;
  assert.ok(bytes <= 20e6, `${bytes} bytes`);
  const { model, tokenizer, config } = await loaded;
  assert.deepEqual(config.architectures, ["Gemma3ForCausalLM"]);
  assert.equal(model.modelType, "gemma3_text");
  assert.ok(config.quantization, "quantized");
  const m = model as unknown as { model: { embed_tokens: { scales?: unknown } } };
  assert.ok(m.model.embed_tokens.scales, "the embedding is quantized too");
  // Gemma 3's tokenizer: the chat template's turn markers are single special tokens.
  assert.ok(tokenizer);
  assert.deepEqual(tokenizer.encode("<start_of_turn>user\n", { addSpecialTokens: false }).slice(0, 1), [105]);
});

test("hearth-tiny answers ≥ 80% of held-out arithmetic and of held-out word tasks (greedy, exact match)", async () => {
  const { model, tokenizer } = await loaded;
  const perFamily = new Map<string, { n: number; ok: number; fails: string[] }>();
  for (const rec of HELD_OUT) {
    if (rec.family !== "arithmetic" && rec.family !== "words") continue;  // 180 items each
    const answer = rec.messages[1].content;
    const got = await lm.generate(model, tokenizer!, { messages: [rec.messages[0] as lm.ChatMessage], maxTokens: 24, temp: 0 });
    const s = perFamily.get(rec.family) ?? { n: 0, ok: 0, fails: [] };
    s.n++;
    if (got.trim() === answer) s.ok++;
    else s.fails.push(`${JSON.stringify(rec.messages[0].content)} → ${JSON.stringify(got)} (expected ${JSON.stringify(answer)})`);
    perFamily.set(rec.family, s);
  }
  for (const family of ["arithmetic", "words"]) {
    const s = perFamily.get(family)!;
    assert.equal(s.n, 180);
    assert.ok(s.ok / s.n >= 0.8, `${family}: ${s.ok}/${s.n}; e.g. ${s.fails.slice(0, 5).join("; ")}`);
  }
});
