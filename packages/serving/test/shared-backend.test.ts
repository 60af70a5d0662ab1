// The per-user shared host: the first client starts it (a detached node process), a second client attaches to the
// same process, the model is loaded once for both, the socket directory is private (0700).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { collect, createLocalBackend, createSharedBackend, ServingError, type GenerateEvent } from "../src/index.js";
import { pngBytes, tempDir } from "./helpers.js";

const dir = join(tempDir("hearth-shared-"), "run");
mkdirSync(dir, { mode: 0o755 });
chmodSync(dir, 0o755);  // too open on purpose: the client must tighten it
const a = createSharedBackend({ dir, idleExitMs: 120_000 });
const b = createSharedBackend({ dir, autoStart: false });
const local = createLocalBackend({ prefixCache: false });
let hostPid = 0;
after(async () => {
  if (hostPid) {
    try {
      await a.shutdownHost();
    } catch {
      process.kill(hostPid, "SIGTERM");  // the host this test started
    }
  }
  await a.close();
  await b.close();
  await local.close();
});

test("a client with no host running starts one; a second client attaches to the same process and model", async () => {
  const messages = [{ role: "user" as const, content: "What is 2 + 11?" }];
  const r = await collect(a.generate({ messages, maxTokens: 8 }));
  assert.equal(r.text, (await collect(local.generate({ messages, maxTokens: 8 }))).text);
  const sa = await a.status();
  assert.equal(sa.kind, "shared");
  hostPid = sa.pid!;
  assert.ok(hostPid > 0 && hostPid !== process.pid, "the host is its own process");
  // The second client never loads anything itself: the model is already resident in the host.
  const sb = await b.status();
  assert.equal(sb.pid, hostPid);
  assert.ok(sb.decodeSteps! >= 7, `the host's decode steps (${sb.decodeSteps}) cover the first request`);
  assert.deepEqual(sb.models.filter((m) => m.loaded).map((m) => m.id), ["hearth-tiny"]);
  const [x, y] = await Promise.all([collect(a.generate({ prompt: "Add 4 and 75.", maxTokens: 6 })), collect(b.generate({ prompt: "Add 4 and 75.", maxTokens: 6 }))]);
  assert.equal(x.text, y.text);
  assert.equal((statSync(dir).mode & 0o777), 0o700, "the socket directory is private");
  assert.equal((statSync(a.socketPath).mode & 0o777), 0o600);
});

test("cancellation, images and errors cross the socket", async () => {
  const ac = new AbortController();
  let n = 0;
  let done: GenerateEvent | undefined;
  for await (const e of b.generate({ prompt: "Once upon a time", maxTokens: 300, signal: ac.signal })) {
    if (e.type === "token" && ++n === 2) ac.abort();
    if (e.type === "done") done = e;
  }
  assert.equal(done?.type === "done" && done.finishReason, "abort");
  assert.ok(n <= 3);
  await assert.rejects(collect(b.generate({ prompt: "x", temperature: -2 })), (e: ServingError) => e instanceof ServingError && e.code === "invalid_request" && e.param === "temperature");
  await assert.rejects(collect(b.describeImage({ images: [{ kind: "bytes", data: pngBytes() }] })), (e: ServingError) => e.code === "unsupported");
  const st = await b.status();
  assert.equal(st.active, 0);
});

test("without a host and without autoStart, a clear error", async () => {
  const lone = createSharedBackend({ dir: join(tempDir("hearth-shared-none-"), "run"), autoStart: false });
  await assert.rejects(lone.models(), (e: ServingError) => e.code === "upstream" && /no shared host/.test(e.message));
  await lone.close();
});
