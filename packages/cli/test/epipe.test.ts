// A closed stdout ends a command quietly: `hearth … | head -c N` exits 0 with nothing on stderr.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { tinyEmbedderWithTokenizer } from "./helpers/tiny-tokenizer.js";
import { hearthIntoHead } from "./helpers/run.js";

test("generate, chat and embed piped into head exit 0 with nothing on stderr", async () => {
  const model = tinyModelFolder();
  const texts = Array.from({ length: 400 }, (_, i) => ["--text", `text number ${i}`]).flat();  // > 64 KiB of JSON
  const cases: [string[], number, string][] = [
    [["generate", "--model", model, "-p", "hi", "--ignore-chat-template", "-m", "400"], 1, ""],
    [["chat", "--model", model, "-m", "200"], 5, "hello\nhow are you\nand then\n"],
    [["embed", "--model", tinyEmbedderWithTokenizer(), ...texts], 1, ""],
  ];
  for (const [args, bytes, input] of cases) {
    const r = await hearthIntoHead(args, bytes, input);
    assert.equal(r.code, 0, `${args[0]}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stderr, "", args[0]);
    assert.equal(Buffer.byteLength(r.head), bytes, args[0]);
  }
});
