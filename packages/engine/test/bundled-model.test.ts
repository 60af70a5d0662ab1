// The bundled demo model (models/hearth-tiny, docs/DEMO_MODEL.md): a Gemma 3 folder in the mlx-community layout
// within the size bound, the default model of the CLI, and — the claim it ships with — at least 80% of held-out
// arithmetic and word tasks answered exactly with greedy decoding, through the public lm.generate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lm } from "../src/index.js";
import { findFixture } from "./helpers/fixtures.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const MAIN = join(HERE, "..", "src", "cli", "main.js");
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

// The README's first quick-start line asks exactly this (a held-out pair: 71 - 53 is in no training item).
test("hearth generate without --model uses the bundled model, says so, and answers the README's question", async () => {
  const q = HELD_OUT.find((r) => r.messages[0].content === "What is 71 - 53?")!;
  assert.ok(q, "the README's question is in the held-out split");
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const env = { ...process.env };
    delete env.HEARTH_MODEL;
    const child = execFile(process.execPath, [MAIN, "generate", "--prompt", q.messages[0].content, "--max-tokens", "8"], { env, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    child.stdin!.end();
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /bundled demo model hearth-tiny/);
  assert.equal(r.stdout.trim(), String(71 - 53));
});
