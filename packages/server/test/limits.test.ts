// Client disconnects and the bounded queue, against a real server with one decode slot and one queue place.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { debugStats, NO_EOS_BIAS, sleep, startServer, waitFor, type RunningServer } from "./helpers.js";

let server: RunningServer;
let client: OpenAI;

before(async () => {
  server = await startServer(["--max-batch", "1", "--max-queue", "1"]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
});
after(async () => server?.stop());

/** A stream that would run to 4000 tokens (end-of-turn banned). */
const endless = (content: string) => client.chat.completions.create({
  model: "hearth-tiny", messages: [{ role: "user", content }], max_tokens: 4000, temperature: 0, stream: true,
  logit_bias: NO_EOS_BIAS,
});

test("a client that disconnects mid-stream stops its generation within one decode step", async () => {
  const stream = await endless("What is 12 + 30?");
  let chunks = 0;
  for await (const _ of stream) {
    if (++chunks === 6) break;  // leaving the loop aborts the request: the socket closes
  }
  const stats = await waitFor("the aborted run to finish", async () => {
    const s = await debugStats(server.url);
    return s.server.abortedRuns >= 1 && s.server.activeRuns === 0 ? s : undefined;
  });
  assert.equal(stats.server.lastAbortFinishReason, "abort");
  assert.ok(stats.server.lastTokensAfterAbort <= 1, `decode steps after the abort: ${stats.server.lastTokensAfterAbort}`);
  assert.equal(stats.backend.active, 0);
  assert.equal(stats.backend.queued, 0);
  // The backend's own step counter stands still from then on, and the request stopped far before its 4000 tokens.
  const steps = stats.decodeSteps as number;
  assert.ok(steps >= 5 && steps < 4000, String(steps));
  await sleep(300);
  assert.equal((await debugStats(server.url)).decodeSteps, steps);
  // The slot is free again: a new request runs at once.
  const r = await client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "What is 2 + 3?" }], max_tokens: 4, temperature: 0 });
  assert.equal(r.choices[0]!.message.content?.trim(), "5");
});

test("a full queue gives 503 with Retry-After, and the server recovers", async () => {
  const running = await endless("Add 99 and 73.");
  const itA = running[Symbol.asyncIterator]();
  await itA.next();  // A decodes in the only slot
  // B waits in the only queue place (its headers come with its first token, so don't await it).
  const waiting = endless("Add 4 and 75.");
  await waitFor("B to be queued", async () => ((await debugStats(server.url)).backend.queued === 1 ? true : undefined));
  await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "What is 2 + 3?" }], max_tokens: 4 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError);
    assert.equal(e.status, 503);
    assert.ok(Number(e.headers?.get("retry-after")) >= 1);
    assert.equal((e.error as { code: string }).code, "busy");
    return true;
  });
  running.controller.abort();
  // B gets the slot once A is gone; then it is dropped too.
  const b = await waiting;
  const itB = b[Symbol.asyncIterator]();
  assert.equal((await itB.next()).done, false);
  b.controller.abort();
  await waitFor("both runs to end", async () => {
    const s = await debugStats(server.url);
    return s.server.activeRuns === 0 && s.backend.active === 0 && s.backend.queued === 0 ? true : undefined;
  });
  const ok = await client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "What is 2 + 3?" }], max_tokens: 4, temperature: 0 });
  assert.equal(ok.choices[0]!.message.content?.trim(), "5");
});
