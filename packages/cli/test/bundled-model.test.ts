// The bundled demo model as the CLI's default: `hearth generate` without --model answers the README's question.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findFixture } from "./helpers/fixtures.js";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "main.js");

interface Rec { messages: { role: string; content: string }[]; family: string; task: string }
const HELD_OUT: Rec[] = readFileSync(join(findFixture("demo-model"), "test.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));

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
