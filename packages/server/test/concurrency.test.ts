// Sixteen concurrent streaming clients on one real server: every stream completes, and each equals the same request
// run alone (temperature 0), so continuous batching neither mixes rows nor changes results.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, type RunningServer } from "./helpers.js";

let server: RunningServer;
let client: OpenAI;

before(async () => {
  server = await startServer([]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
});
after(async () => server?.stop());

const PROMPTS = [
  "What is 2 + 11?", "Add 99 and 73.", "Compute 1 + 25.", "Add 4 and 75.", "Add 36 and 57.", "What is 71 - 53?",
  "Sort in ascending order: 66, 22, 33, 53, 42", "Sort in ascending order: 74, 10, 87, 70, 23",
  "Sort these numbers in descending order: 15, 84, 52, 7, 94", "Spell the word 'garden' backwards.",
  "What is 8 times 7?", "Convert 3 km to meters.", "Reverse the word 'planet'.", "What is 100 - 37?",
  "Add 12 and 30.", "Sort in ascending order: 9, 3, 7, 1, 5",
];

async function streamed(content: string): Promise<{ text: string; finish: string; tokens: number }> {
  const s = await client.chat.completions.create({
    model: "hearth-tiny", messages: [{ role: "user", content }], max_tokens: 24, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", finish = "", tokens = -1;
  for await (const c of s) {
    if (c.usage) tokens = c.usage.completion_tokens;
    const d = c.choices[0];
    if (!d) continue;
    text += d.delta.content ?? "";
    finish = d.finish_reason ?? finish;
  }
  return { text, finish, tokens };
}

test("16 concurrent streams each equal the same request alone", async () => {
  const alone = [];
  for (const p of PROMPTS) alone.push(await streamed(p));
  const together = await Promise.all(PROMPTS.map(streamed));
  assert.equal(together.length, 16);
  for (let i = 0; i < 16; i++) {
    assert.ok(together[i]!.finish === "stop" || together[i]!.finish === "length", PROMPTS[i]);
    assert.ok(together[i]!.tokens > 0);
    assert.deepEqual(together[i], alone[i], PROMPTS[i]);
  }
  // Not all the same answer: the rows did not get mixed up into one.
  assert.ok(new Set(together.map((t) => t.text)).size > 8);
});
