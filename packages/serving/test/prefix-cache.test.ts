// The prefix cache's shared byte budget, with real KV caches of hearth-tiny: the caches of several models or
// adapters (one PrefixCache each) stay under one total, the least recently used entry of any of them going first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lm, mx } from "@hearth/engine";
import { PrefixCache, PrefixCacheBudget } from "../src/index.js";

const { model } = await lm.load(lm.bundledModelPath(), { noTokenizer: true });
const promptOf = (salt: number) => [2, ...Array.from({ length: 40 }, (_, i) => 100 + ((i * 31 + salt * 7) % 900))];

/** A prompt cache holding `tokens`, prefilled by the model. */
function cacheOf(tokens: number[]): lm.PromptCache {
  const pc = lm.makePromptCache(model);
  mx.tidy(() => {
    model.forward(mx.array([tokens], mx.int32), { cache: pc.layers });
    mx.keep(pc.arrays);
  });
  mx.eval(...pc.arrays);
  pc.tokens!.push(...tokens);
  return pc;
}

test("prefix caches sharing a budget stay under its total; the oldest entry of any of them is dropped first", () => {
  const prompts = [1, 2, 3, 4].map(promptOf);
  const caches = prompts.map(cacheOf);
  const one = caches[0].nbytes;
  assert.ok(one > 0 && caches.every((c) => c.nbytes === one));
  const budget = new PrefixCacheBudget(Math.floor(2.5 * one));
  const a = new PrefixCache({ budget }), b = new PrefixCache({ budget });
  a.insert(caches[0]);
  b.insert(caches[1]);
  assert.equal(budget.bytes, 2 * one);
  a.insert(caches[2]);  // 3 caches > 2.5: the oldest (a's first) goes, although b is the other cache
  assert.ok(budget.bytes <= budget.maxBytes);
  assert.deepEqual([a.match(prompts[0]), b.match(prompts[1]), a.match(prompts[2])], [1, prompts[1].length, prompts[2].length],
    "a's first entry was dropped (only the shared BOS token still matches, through a's other entry)");
  assert.equal(caches[0].offset, 0, "the dropped cache was freed");
  b.insert(caches[3]);  // now b's first entry is the oldest anywhere
  assert.equal(b.match(prompts[1]), 1);
  assert.equal(a.match(prompts[2]), prompts[2].length);
  assert.equal(b.match(prompts[3]), prompts[3].length);
  assert.ok(budget.bytes <= budget.maxBytes);
  a.dispose();
  b.dispose();
  assert.equal(budget.members.size, 0);
  assert.equal(budget.bytes, 0);
});
