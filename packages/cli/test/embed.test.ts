// hearth embed through the built bin: JSON output; load errors exit 1 with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tinyEmbedderWithTokenizer } from "./helpers/tiny-tokenizer.js";
import { hearth, oneLine } from "./helpers/run.js";

test("hearth embed prints JSON embeddings", async () => {
  const dir = tinyEmbedderWithTokenizer("config.legacy.json");
  const lines = join(dir, "lines.txt");
  writeFileSync(lines, "first line\n\nsecond line\n");
  const r = await hearth(["embed", "--model", dir, "--text", "hello", "--file", lines, "--task", "query", "--dimensions", "16"]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.dimensions, 16);
  assert.deepEqual(json.data.map((d: { text: string }) => d.text), ["hello", "first line", "second line"]);
  assert.equal(json.data[0].embedding.length, 16);
  for (const [args, re] of [
    [["--model", join(dir, "nope"), "--text", "x"], /nope/],
    [["--model", dir, "--file", join(dir, "missing.txt")], /Cannot read --file/],
  ] as [string[], RegExp][]) {
    const e = await hearth(["embed", ...args]);
    assert.equal(e.code, 1, e.stderr);
    assert.match(e.stderr, re);
    assert.ok(oneLine(e.stderr), e.stderr);
  }
});
