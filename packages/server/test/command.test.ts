// The `hearth server` command line through the real `hearth` bin: --help lists the contract flags, wrong flags exit 2,
// a port in use is a clear error, and SIGTERM stops the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { hearthCommand, startServer } from "./helpers.js";
import { parseServerArgs } from "../src/options.js";

const hearth = (args: string[]) => spawnSync(process.execPath, [...hearthCommand(), ...args], { encoding: "utf8", timeout: 60_000 });

test("hearth server --help lists every flag of the contract", () => {
  const r = hearth(["--help"]);
  assert.equal(r.status, 0, r.stderr);
  for (const f of ["--model", "--embedding-model", "--adapter-path", "--host", "--port", "--api-key", "--allowed-origin",
    "--max-tokens-cap", "--max-queue", "--max-body-mb", "--allowed-path", "--max-n", "--max-prompt-tokens", "--max-image-pixels"])
    assert.ok(r.stdout.includes(f), f);
});

test("wrong flags exit 2 with a message naming the flag", () => {
  for (const [args, re] of [[["--port", "x"], /--port/], [["--nope"], /nope/], [["--max-queue", "-1"], /--max-queue/], [["--allowed-origin", "file:///x"], /allowed-origin/]] as const) {
    const r = hearth([...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});

test("flags and environment resolve to settings with safe defaults", () => {
  const d = parseServerArgs([], {});
  assert.equal(d.settings.host, "127.0.0.1");
  assert.equal(d.settings.port, 8080);
  assert.equal(d.settings.apiKey, undefined);
  assert.deepEqual(d.settings.allowedOrigins, []);
  assert.deepEqual(d.settings.allowedPaths, []);
  assert.equal(d.model, undefined);
  const e = parseServerArgs(["--allowed-origin", "http://a.example:3000/", "--max-body-mb", "2"], { HEARTH_MODEL: "m", HEARTH_API_KEY: "k" });
  assert.equal(e.model, "m");
  assert.equal(e.settings.apiKey, "k");
  assert.deepEqual(e.settings.allowedOrigins, ["http://a.example:3000"]);
  assert.equal(e.settings.maxBodyBytes, 2 * 1024 * 1024);
});

test("a port in use is a clear error (exit 2)", async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = hearth(["--port", String(port)]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /in use/);
  } finally {
    blocker.close();
  }
});

test("SIGTERM stops a running server with exit code 0", async () => {
  const s = await startServer([]);
  const [code, signal] = await new Promise<[number | null, string | null]>((res) => {
    s.proc.once("exit", (c, sig) => res([c, sig]));
    s.proc.kill("SIGTERM");
  });
  assert.deepEqual([code, signal], [0, null], s.stderr());
});
