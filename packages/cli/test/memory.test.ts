// Long generations stay flat: the allocator's buffer cache is bounded and trimmed every 256 tokens, so peak RSS
// (what `--verbose` reports as "Peak memory") at 16k generated tokens is within 10% of the 2k figure on the tiny
// model, apart from the KV cache itself, which holds every token (bounded only with --max-kv-size). Before the fix
// the cache kept each freed KV buffer: 79 MB at 1k tokens, 287 MB at 16k. The JS heap is held flat too (heap.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { hearth } from "./helpers/run.js";

async function peak(tokens: number): Promise<{ rss: number; arrays: number }> {
  const r = await hearth(["generate", "--model", tinyModelFolder(), "-p", "hi", "--ignore-chat-template", "-m", String(tokens), "--verbose"], { timeout: 900_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`Generation: ${tokens} tokens`), "the tiny model runs to the token limit (greedy, no EOS)");
  const m = /Peak memory: ([\d.]+) GB \(engine arrays ([\d.]+) GB\)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { rss: Number(m[1]) * 1e9, arrays: Number(m[2]) * 1e9 };
}

test("peak RSS at 16k generated tokens is within 10% of 2k (plus the growing KV cache's own peak: twice its bytes)", { timeout: 1_000_000 }, async () => {
  const a = await peak(2000);
  const b = await peak(16000);
  // The figure includes what the process really holds: more than the engine's arrays (weights, heap, cache).
  assert.ok(a.rss > a.arrays && a.rss > 50e6, `RSS ${a.rss} vs arrays ${a.arrays}`);
  const kvGrowth = b.arrays - a.arrays;
  const growth = b.rss - a.rss;
  // A growing KV cache holds its old and its new buffer at once while it grows by a step (concatenate, as
  // mlx-lm's KVCache), so its own share of peak RSS is up to twice its size. Before the fixes the process grew
  // 208 MB (issue 17) and, after the decode-loop merge, 57 MB (the JS heap's young and old generations).
  assert.ok(growth <= 0.1 * a.rss + 2 * kvGrowth,
    `RSS ${(a.rss / 1e6).toFixed(1)} MB at 2k → ${(b.rss / 1e6).toFixed(1)} MB at 16k; the KV cache grew ${(kvGrowth / 1e6).toFixed(1)} MB`);
});
