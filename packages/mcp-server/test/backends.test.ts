// The two backends beside the in-process one, each against the real thing: `--base-url` pointed at a real
// `hearth server` process (generate and embed give what the in-process backend gives; training is refused with a
// clear `unsupported`), and `--shared` in a private temporary runtime folder (two hearth-mcp processes use one host,
// which exits once they are gone, leaving no process behind).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BIN, hearthServer, scratchDir, stdioClient, text, workspace, type Spawned, type Workspace } from "./helpers.js";

let w: Workspace;
before(async () => { w = await workspace(); });

type Client = Spawned["client"];
const call = async (c: Client, name: string, args: Record<string, unknown>) =>
  (await c.callTool({ name, arguments: args }, undefined, { timeout: 300_000 })) as CallToolResult;
const status = async (c: Client) =>
  JSON.parse((((await c.readResource({ uri: "hearth://status" })).contents[0]) as { text: string }).text) as { kind: string; pid?: number };

const GEN = { prompt: "What is 71 - 53?", maxTokens: 12 };
const SCHEMA = { type: "object", properties: { answer: { type: "integer" } }, required: ["answer"], additionalProperties: false };
const TEXTS = ["the cat sat on the mat", "stock prices fell", "a kitten on a rug"];

describe("--base-url: hearth-mcp on a real hearth server", () => {
  let server: Awaited<ReturnType<typeof hearthServer>>;
  let vlmServer: Awaited<ReturnType<typeof hearthServer>>;
  let remote: Spawned;
  let remoteVlm: Spawned;
  let local: Spawned;
  before(async () => {
    // The in-process reference starts while the servers load (two cores). A hearth server serves one text or vision
    // model: a second one serves the tiny VLM (its character tokenizer loads in a moment).
    [server, vlmServer, local] = await Promise.all([
      hearthServer(["--embedding-model", w.embedder]),
      hearthServer(["--model", w.vlm]),
      stdioClient(["--root", w.root, "--embedding-model", w.embedder, "--vision-model", w.vlm]),
    ]);
    // The server's bare URL: hearth-mcp adds the /v1 API root itself.
    [remote, remoteVlm] = await Promise.all([
      stdioClient(["--root", w.root, "--base-url", server.url]),
      stdioClient(["--root", w.root, "--base-url", `${vlmServer.url}/v1`]),
    ]);
  });
  after(async () => {
    await Promise.all([remote?.close(), remoteVlm?.close(), local?.close()]);
    await Promise.all([server?.close(), vlmServer?.close()]);
  });

  test("generate (plain and with jsonSchema) gives the in-process backend's answer", async () => {
    const [r, l] = [await call(remote.client, "generate", GEN), await call(local.client, "generate", GEN)];
    assert.equal(r.isError, undefined, text(r));
    assert.equal(l.isError, undefined, text(l));
    const rs = r.structuredContent as { text: string; tokens: number; finishReason: string };
    const ls = l.structuredContent as { text: string; tokens: number; finishReason: string };
    assert.deepEqual([rs.text, rs.tokens, rs.finishReason], [ls.text, ls.tokens, ls.finishReason]);
    assert.ok(rs.text.length > 0);

    const args = { prompt: "What is 12 + 30? Answer in JSON.", jsonSchema: SCHEMA, maxTokens: 40 };
    const rj = await call(remote.client, "generate", args);
    const lj = await call(local.client, "generate", args);
    assert.equal(rj.isError, undefined, text(rj));
    assert.deepEqual((rj.structuredContent as { json: unknown }).json, (lj.structuredContent as { json: unknown }).json);
    assert.equal((rj.structuredContent as { text: string }).text, (lj.structuredContent as { text: string }).text);
  });

  test("embed (texts, and query + documents) gives the in-process backend's vectors and ranking", async () => {
    const r = (await call(remote.client, "embed", { texts: TEXTS, task: "document" })).structuredContent as { embeddings: number[][]; dimensions: number };
    const l = (await call(local.client, "embed", { texts: TEXTS, task: "document" })).structuredContent as { embeddings: number[][]; dimensions: number };
    assert.equal(r.dimensions, l.dimensions);
    assert.equal(r.embeddings.length, TEXTS.length);
    for (let i = 0; i < TEXTS.length; i++)
      for (let j = 0; j < l.dimensions; j++) assert.ok(Math.abs(r.embeddings[i]![j]! - l.embeddings[i]![j]!) < 1e-6, `embedding ${i}[${j}]`);

    const q = { query: "cat on a mat", documents: TEXTS, dimensions: 32 };
    const rr = (await call(remote.client, "embed", q)).structuredContent as { ranked: Array<{ index: number; score: number }>; dimensions: number };
    const lr = (await call(local.client, "embed", q)).structuredContent as { ranked: Array<{ index: number; score: number }> };
    assert.equal(rr.dimensions, 32);
    assert.deepEqual(rr.ranked.map((x) => x.index), lr.ranked.map((x) => x.index));
    rr.ranked.forEach((x, k) => assert.ok(Math.abs(x.score - lr.ranked[k]!.score) < 1e-6));
  });

  test("describe_image (a path in the root, sent to the server as a data URL) gives the in-process answer", async () => {
    const args = { image: w.png, prompt: "What is in the picture?", maxTokens: 8 };
    const r = await call(remoteVlm.client, "describe_image", args);
    const l = await call(local.client, "describe_image", args);
    assert.equal(r.isError, undefined, text(r));
    assert.equal(l.isError, undefined, text(l));
    const rs = r.structuredContent as { text: string; tokens: number };
    const ls = l.structuredContent as { text: string; tokens: number };
    assert.deepEqual([rs.text, rs.tokens], [ls.text, ls.tokens]);
    // Confinement stays with hearth-mcp: the remote server never sees a path.
    assert.match(text(await call(remoteVlm.client, "describe_image", { image: w.outsideImage })), /^path_denied: /);
  });

  test("lora_train over a remote backend is an isError 'unsupported' that names the way out; the server keeps answering", async () => {
    const r = await call(remote.client, "lora_train", { data: w.dataset, name: "remote-try", iters: 2 });
    assert.equal(r.isError, true);
    assert.match(text(r), /^unsupported: training is not available on a remote backend: train with a local or shared backend/);
    assert.doesNotMatch(text(r), /\n\s+at /);
    const st = await status(remote.client);
    assert.equal(st.kind, "remote");
    const m = (await call(remote.client, "models", {})).structuredContent as { models: Array<{ id: string }> };
    assert.deepEqual(m.models.map((x) => x.id).sort(), ["embedder", "hearth-tiny"]);
    assert.equal((await call(remote.client, "generate", { prompt: "hi", maxTokens: 2 })).isError, undefined);
    assert.ok(remote.stderr().includes(`ready (remote backend at ${server.url}/v1;`), remote.stderr());
  });

  test("a --base-url that is not an http(s) URL is a usage error (exit 2)", () => {
    for (const bad of ["ftp://127.0.0.1/v1", "localhost:8080"]) {
      const r = spawnSync(BIN, ["--base-url", bad], { encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--base-url must be an http\(s\) URL/);
    }
  });
});

/** Processes whose command line mentions `s` (the temporary runtime folder): what would be left behind. */
function processesMentioning(s: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, "utf8"))) continue; // exited, not yet reaped
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(s)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("--shared: two hearth-mcp processes on one per-user host", { skip: process.platform !== "linux" && "reads /proc" }, () => {
  // A private runtime folder and home, so the test can neither meet nor disturb the user's own host.
  const base = scratchDir("hearth-mcp-shared-");
  const runtime = join(base, "run");
  const env = { XDG_RUNTIME_DIR: runtime, HOME: join(base, "home") };
  const unsetEnv = ["HEARTH_RUN_DIR", "XDG_CACHE_HOME"];
  let a: Spawned & { pid: number | null };
  let b: Spawned & { pid: number | null };
  let hostPid: number | undefined;
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(env.HOME);

  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    // Safety net only: the test below expects the host to have left by itself.
    for (const pid of processesMentioning(runtime)) if (pid === hostPid) process.kill(pid, "SIGTERM");
  });

  test("both attach to one host (same pid), share its answers, and the host exits after they leave", async () => {
    const args = ["--shared", "--shared-idle-exit", "2", "--root", w.root, "--embedding-model", w.embedder];
    // Started together: both find no host, both may start one; one wins the socket, the other steps aside.
    [a, b] = await Promise.all([stdioClient(args, { env, unsetEnv }), stdioClient(args, { env, unsetEnv })]);
    const [ga, gb] = await Promise.all([call(a.client, "generate", GEN), call(b.client, "generate", GEN)]);
    assert.equal(ga.isError, undefined, `${text(ga)}\n${a.stderr()}`);
    assert.equal(gb.isError, undefined, `${text(gb)}\n${b.stderr()}`);
    assert.equal((ga.structuredContent as { text: string }).text, (gb.structuredContent as { text: string }).text);
    const ea = (await call(a.client, "embed", { texts: TEXTS })).structuredContent as { embeddings: number[][] };
    const eb = (await call(b.client, "embed", { texts: TEXTS })).structuredContent as { embeddings: number[][] };
    assert.deepEqual(ea.embeddings, eb.embeddings);

    const [sa, sb] = [await status(a.client), await status(b.client)];
    assert.equal(sa.kind, "shared");
    assert.ok(Number.isInteger(sa.pid), JSON.stringify(sa));
    assert.equal(sb.pid, sa.pid, "one host for both");
    hostPid = sa.pid!;
    assert.notEqual(hostPid, a.pid);
    assert.notEqual(hostPid, b.pid);
    assert.deepEqual(processesMentioning(runtime), [hostPid], "exactly one host process runs");
    // The socket sits in a private folder under the temporary runtime dir, not the user's.
    const dir = join(runtime, "hearth");
    assert.ok(existsSync(join(dir, "host.sock")));
    assert.equal(statSync(dir).mode & 0o777, 0o700);

    await Promise.all([a.close(), b.close()]);
    const end = Date.now() + 60_000;
    while (processesMentioning(runtime).length && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(processesMentioning(runtime), [], `the host is still running; its log:\n${readFileSync(join(dir, "host.log"), "utf8")}`);
  });
});
