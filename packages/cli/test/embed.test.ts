// hearth embed: JSON output, usage and load errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runEmbed } from "../src/embed.js";
import { tinyEmbedderWithTokenizer } from "./helpers/tiny-tokenizer.js";

test("hearth embed CLI prints JSON embeddings", async () => {
  const dir = tinyEmbedderWithTokenizer("config.legacy.json");
  const lines = join(dir, "lines.txt");
  writeFileSync(lines, "first line\n\nsecond line\n");
  const out: string[] = [], err: string[] = [];
  const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
  const code = await runEmbed(["--model", dir, "--text", "hello", "--file", lines, "--task", "query", "--dimensions", "16"], io);
  assert.equal(code, 0, err.join(""));
  const json = JSON.parse(out.join(""));
  assert.equal(json.dimensions, 16);
  assert.deepEqual(json.data.map((d: { text: string }) => d.text), ["hello", "first line", "second line"]);
  assert.equal(json.data[0].embedding.length, 16);
  assert.equal(await runEmbed(["--model", dir], io), 2);
  assert.match(err.join(""), /give --text \(one or more\) or --file/);
  assert.equal(await runEmbed(["--model", dir, "--text", "x", "--dimensions", "abc"], io), 2);
  assert.equal(await runEmbed(["--model", join(dir, "nope"), "--text", "x"], io), 1);
  assert.equal(await runEmbed(["--bogus"], io), 2);
  assert.equal(await runEmbed(["--model", dir, "--file", join(dir, "missing.txt")], io), 1);
  assert.match(err.join(""), /Cannot read --file/);
});
