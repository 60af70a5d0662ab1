import { test } from "node:test";
import assert from "node:assert/strict";
import { ServingError, collect, type GenerateEvent } from "../src/index.js";

test("collect returns the done event and fails on a stream without one", async () => {
  async function* events(withDone: boolean): AsyncGenerator<GenerateEvent> {
    yield { type: "token", text: "a", token: 1 };
    if (withDone) yield { type: "done", finishReason: "stop", text: "a", usage: { promptTokens: 1, cachedTokens: 0, completionTokens: 1 }, timeToFirstToken: 0, tokensPerSecond: 0 };
  }
  assert.equal((await collect(events(true))).text, "a");
  await assert.rejects(collect(events(false)), /without a done event/);
});

test("ServingError carries its code, param and retryAfter", () => {
  const e = new ServingError("busy", "queue full", { retryAfter: 2 });
  assert.equal(e.code, "busy");
  assert.equal(e.retryAfter, 2);
  assert.ok(e instanceof Error);
});
