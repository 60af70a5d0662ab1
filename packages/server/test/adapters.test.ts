// A LoRA adapter served next to the base model: trained with `hearth lora`, served with --adapter-path, listed in
// /v1/models under the base model, chosen by `model`, and answering exactly as `hearth generate --adapter-path` does.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import OpenAI from "openai";
import { fixture, hearthCommand, startServer, type RunningServer } from "./helpers.js";

let server: RunningServer;
let client: OpenAI;
let adapter: string;
const hearth = (args: string[]) => {
  const bin = hearthCommand();
  const r = spawnSync(process.execPath, [bin[0]!, ...args], { encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-adapter-"));
  const lines = readFileSync(join(fixture("demo-model"), "test.jsonl"), "utf8").split("\n").filter(Boolean);
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "data", "train.jsonl"), lines.slice(0, 40).join("\n") + "\n");
  writeFileSync(join(dir, "data", "valid.jsonl"), lines.slice(40, 48).join("\n") + "\n");
  adapter = join(dir, "shouty");
  // A few steps at a high learning rate: enough to change the demo model's answers.
  hearth(["lora", "--model", "hearth-tiny", "--train", "--data", join(dir, "data"), "--iters", "3", "--batch-size", "2",
    "--num-layers", "2", "--learning-rate", "0.05", "--steps-per-eval", "100", "--adapter-path", adapter]);
  server = await startServer(["--adapter-path", adapter]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
}, { timeout: 400_000 });
after(async () => server?.stop());

test("the adapter is listed with its base model and answers as hearth generate --adapter-path does", { skip: hearthCommand().length < 2 && "needs the hearth CLI" }, async () => {
  const list = await client.models.list();
  const entry = list.data.find((m) => m.id === basename(adapter)) as unknown as { parent: string } | undefined;
  assert.ok(entry, JSON.stringify(list.data));
  assert.equal(entry.parent, "hearth-tiny");
  const prompt = "What is 2 + 3?";
  const expected = hearth(["generate", "--model", "hearth-tiny", "--adapter-path", adapter, "--prompt", prompt, "--max-tokens", "8"]).replace(/\n$/, "");
  const base = await client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: prompt }], max_tokens: 8, temperature: 0 });
  const tuned = await client.chat.completions.create({ model: basename(adapter), messages: [{ role: "user", content: prompt }], max_tokens: 8, temperature: 0 });
  assert.equal(tuned.model, basename(adapter));
  assert.equal(tuned.choices[0]!.message.content, expected);
  assert.equal(base.choices[0]!.message.content?.trim(), "5");
  assert.notEqual(tuned.choices[0]!.message.content, base.choices[0]!.message.content, "the adapter changes the answer");
});
