// lora_train through the built server: progress notifications, the trained adapter changing the next generate,
// cancellation (notifications/cancelled and lora_cancel) leaving a loadable adapter, other tools answering while
// training runs in the background, and a bad JSONL refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { scratchDir, stdioClient, text, workspace, type Spawned, type Workspace } from "./helpers.js";

let w: Workspace;
let s: Spawned;
const adapterDir = scratchDir("hearth-mcp-adapters-");
const PROMPT = "What is 2 + 2?";

before(async () => {
  w = await workspace();
  s = await stdioClient(["--root", w.root, "--embedding-model", w.embedder, "--adapter-dir", adapterDir]);
});
after(async () => {
  // The server's log helps when a test here fails (it only goes to the TAP diagnostics).
  console.error(`hearth-mcp stderr:\n${s?.stderr()}`);
  await s?.close();
});

const call = async (name: string, args: Record<string, unknown>) =>
  (await s.client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as CallToolResult;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("lora_train over stdio", () => {
  test("progress notifications arrive, and the adapter trained in the call changes the next generate", async () => {
    const before = (await call("generate", { prompt: PROMPT, maxTokens: 8 })).structuredContent as { text: string };
    const progress: Progress[] = [];
    const r = (await s.client.callTool(
      { name: "lora_train", arguments: { data: w.dataset, name: "zebra", iters: 12, batchSize: 4, learningRate: 0.02, rank: 8, numLayers: 4 } },
      undefined,
      { timeout: 600_000, resetTimeoutOnProgress: true, onprogress: (p) => progress.push(p) },
    )) as CallToolResult;
    assert.equal(r.isError, undefined, text(r));
    const sc = r.structuredContent as { adapter: string; status: string; path: string; iters: number; trainLoss: number; seconds: number };
    assert.equal(sc.status, "done");
    assert.equal(sc.adapter, "zebra");
    assert.equal(sc.iters, 12);
    assert.ok(Number.isFinite(sc.trainLoss) && sc.seconds > 0);
    assert.equal(sc.path, join(adapterDir, "zebra"));
    assert.ok(existsSync(join(sc.path, "adapters.safetensors")));
    // One notification per iteration, in order (the spec: progress increases with each), total = iters, and each
    // message gives that iteration's loss and speed.
    // The server sends all 12 (and waits between the last one and the result), but the SDK's client can still drop a
    // last notification that it reads in the same chunk as the result (it dispatches notifications a microtask late
    // and forgets the request's progress handler on the response): 11 or 12, never a gap or a repeat.
    const got = progress.map((p) => p.progress);
    assert.ok(got.length >= 11, JSON.stringify(progress));
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i + 1), JSON.stringify(progress));
    for (const p of progress) {
      assert.equal(p.total, 12);
      assert.match(p.message ?? "", /loss \d+\.\d+.*\d+ tokens\/s/);
    }

    const afterTrain = await call("generate", { prompt: PROMPT, maxTokens: 8, adapter: "zebra" });
    assert.equal(afterTrain.isError, undefined, text(afterTrain));
    const sa = afterTrain.structuredContent as { text: string; adapter: string };
    assert.equal(sa.adapter, "zebra");
    assert.notEqual(sa.text, before.text);
    // Without the adapter the base model still answers as before.
    assert.equal(((await call("generate", { prompt: PROMPT, maxTokens: 8 })).structuredContent as { text: string }).text, before.text);
    const listed = (await call("models", {})).structuredContent as { adapters: Array<{ name: string }> };
    assert.ok(listed.adapters.some((a) => a.name === "zebra"));

    // A restarted server with the same --adapter-dir serves the adapter by name.
    const again = await stdioClient(["--adapter-dir", adapterDir]);
    try {
      const r2 = (await again.client.callTool({ name: "generate", arguments: { prompt: PROMPT, maxTokens: 8, adapter: "zebra" } })) as CallToolResult;
      assert.equal(r2.isError, undefined, text(r2));
      assert.equal((r2.structuredContent as { text: string }).text, sa.text);
    } finally {
      await again.close();
    }
  });

  test("notifications/cancelled stops training within a step and leaves a loadable adapter", async () => {
    const ac = new AbortController();
    let seen = 0;
    const pending = s.client.callTool(
      { name: "lora_train", arguments: { data: w.dataset, name: "zebra-cancelled", iters: 2000, batchSize: 2, learningRate: 0.01, numLayers: 4 } },
      undefined,
      { signal: ac.signal, timeout: 600_000, onprogress: (p) => { seen = p.progress; if (p.progress >= 3) ac.abort("enough"); } },
    );
    await assert.rejects(pending);
    assert.ok(seen >= 3 && seen < 2000);
    const listed = await waitFor("the cancelled adapter", async () => {
      const m = (await call("models", {})).structuredContent as { adapters: Array<{ name: string; path?: string; source: string }> };
      return m.adapters.find((a) => a.name === "zebra-cancelled");
    });
    assert.match(listed.source, /cancelled/);
    const g = await call("generate", { prompt: PROMPT, maxTokens: 4, adapter: "zebra-cancelled" });
    assert.equal(g.isError, undefined, text(g));
    // And the engine itself loads the files the server kept.
    const { model } = await lm.load("hearth-tiny");
    assert.doesNotThrow(() => lm.loadAdapters(model, listed.path!));
  });

  test("wait: false trains in the background: generate and embed answer meanwhile; lora_status and lora_cancel follow it", async () => {
    const start = await call("lora_train", { data: w.dataset, name: "background", iters: 5000, batchSize: 2, numLayers: 4, wait: false });
    assert.equal(start.isError, undefined, text(start));
    const job = start.structuredContent as { jobId: string; status: string; adapter: string };
    assert.equal(job.status, "running");
    assert.match(text(start), /lora_status/);
    await waitFor("a training step", async () => {
      const st = (await call("lora_status", { jobId: job.jobId })).structuredContent as { iteration: number };
      return st.iteration >= 1 ? st : undefined;
    });
    const g = await call("generate", { prompt: "hello", maxTokens: 4 });
    assert.equal(g.isError, undefined, text(g));
    const e = await call("embed", { texts: ["while training"] });
    assert.equal(e.isError, undefined, text(e));
    const mid = (await call("lora_status", { jobId: job.jobId })).structuredContent as { status: string; iteration: number };
    assert.equal(mid.status, "running", "training was still running while the other tools answered");
    const c = await call("lora_cancel", { jobId: job.jobId });
    assert.equal(c.isError, undefined, text(c));
    const cs = c.structuredContent as { status: string; iters: number; path: string };
    assert.equal(cs.status, "cancelled");
    assert.ok(cs.iters >= 1 && cs.iters < 5000);
    assert.match(text(c), /last checkpoint is kept/);
    const unknown = await call("lora_status", { jobId: "nope" });
    assert.equal(unknown.isError, true);
    assert.match(text(unknown), /no training job nope; known jobs: /);
  });

  test("refused: a bad JSONL line and a bad adapter name", async () => {
    const r = await call("lora_train", { data: w.badDataset, name: "bad", iters: 2 });
    assert.equal(r.isError, true);
    assert.match(text(r), /^bad_dataset: .*bad\.jsonl.*line 2/);
    const bg = await call("lora_train", { data: w.badDataset, name: "bad2", iters: 2, wait: false });
    assert.equal(bg.isError, true);
    assert.match(text(bg), /^bad_dataset: /);
    // Without numLayers the backend trains min(16, layers); more layers than the model has is refused.
    const layers = await call("lora_train", { data: w.dataset, name: "too-deep", iters: 2, numLayers: 99 });
    assert.equal(layers.isError, true);
    assert.match(text(layers), /^invalid_request: numLayers 99 is more than the model's \d+ layers: pass numLayers/);
    const name = await call("lora_train", { data: w.dataset, name: "../escape" });
    assert.equal(name.isError, true);
    assert.match(text(name), /name/);
  });
});
