// The demo model's corpus generator (scripts/demo-model/make-corpus.ts): deterministic for a seed, every answer
// right (recomputed here from the prompt, independently of the generator), and held-out items really held out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeCorpus, type Item } from "../scripts/demo-model/make-corpus.js";
import { parseArgs } from "../scripts/demo-model/common.js";

const SCALE = 0.04;  // 6,000 training items: the same generator, quick
const corpus = makeCorpus(1234, SCALE);

test("demo corpus: the same seed gives the same corpus, another seed another one", () => {
  assert.deepEqual(makeCorpus(1234, SCALE), corpus);
  assert.notDeepEqual(makeCorpus(99, SCALE).train.slice(0, 50), corpus.train.slice(0, 50));
  for (const split of ["train", "valid", "test"] as const) assert.ok(corpus[split].length > 0);
});

/** The answer an item must have, computed from its prompt alone (undefined: a family checked elsewhere). */
function expected(it: Item): string | undefined {
  const nums = (it.prompt.match(/\d+/g) ?? []).map(Number);
  switch (it.task) {
    case "add": return String(nums[0] + nums[1]);
    case "sub": return /^Subtract/.test(it.prompt) ? String(nums[1] - nums[0]) : String(nums[0] - nums[1]);
    case "mul": return String(nums[0] * nums[1]);
    case "sort_asc": return [...nums].sort((a, b) => a - b).join(", ");
    case "sort_desc": return [...nums].sort((a, b) => b - a).join(", ");
    case "spell": return [.../'([a-z]+)'/.exec(it.prompt)![1]].join(" ");
    case "reverse": return [.../'([a-z]+)'/.exec(it.prompt)![1]].reverse().join(" ");
    case "reverse_letters": return it.prompt.replace(/^[^:]*:\s*/, "").split(" ").reverse().join(" ");
    default: return undefined;
  }
}

test("demo corpus: every arithmetic, sorting and word answer is right", () => {
  let checked = 0;
  for (const it of [...corpus.train, ...corpus.valid, ...corpus.test]) {
    const want = expected(it);
    if (want === undefined) continue;
    assert.equal(it.answer, want, `${it.task}: ${JSON.stringify(it.prompt)}`);
    checked++;
  }
  assert.ok(checked > 4000, `checked ${checked}`);
  const units = corpus.test.filter((it) => it.task === "units");
  assert.ok(units.length > 0 && units.every((it) => /^\d+$/.test(it.answer)));
});

test("demo corpus: held-out ordered add/sub pairs never occur in training, in any phrasing; no test prompt is trained", () => {
  // The ordered operands (a, b) of "a + b" / "a - b" ("Subtract b from a" names them the other way round).
  const pairKey = (it: Item) => {
    const [x, y] = (it.prompt.match(/\d+/g) ?? []).map(Number);
    return `${it.task}:${/^Subtract/.test(it.prompt) ? [y, x] : [x, y]}`;
  };
  const trainPairs = new Set(corpus.train.filter((it) => it.task === "add" || it.task === "sub").map(pairKey));
  const heldOut = [...corpus.test, ...corpus.valid].filter((it) => it.task === "add" || it.task === "sub");
  assert.ok(heldOut.length >= 100);
  for (const it of heldOut) assert.ok(!trainPairs.has(pairKey(it)), `held-out pair trained: ${it.prompt}`);
  const trainPrompts = new Set(corpus.train.map((it) => it.prompt));
  for (const it of [...corpus.test, ...corpus.valid]) assert.ok(!trainPrompts.has(it.prompt), it.prompt);
});

test("demo scripts: unknown options, missing values and non-numbers are clear errors", () => {
  const defaults = { iters: 100, data: "x", resume: false };
  assert.deepEqual(parseArgs(defaults, ["--iters", "7", "--resume", "--data=y"]), { iters: 7, data: "y", resume: true });
  assert.throws(() => parseArgs(defaults, ["--itres", "7"]), /unknown option --itres \(options are --iters, --data, --resume\)/);
  assert.throws(() => parseArgs(defaults, ["--iters"]), /--iters needs a value/);
  assert.throws(() => parseArgs(defaults, ["--iters", "many"]), /--iters expects a number, got 'many'/);
  assert.throws(() => parseArgs(defaults, ["stray"]), /unexpected argument 'stray'/);
});
