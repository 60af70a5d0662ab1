// Every safety rule of `hearth server`, each with a request that must be refused, against a real server process.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, symlinkSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { enginePackage, raw, startServer, type RunningServer } from "./helpers.js";

const KEY = "test-key-0123456789";
const ORIGIN = "http://app.example:3000";
let server: RunningServer;
let client: OpenAI;
let port: string;
const allowedDir = join(enginePackage, "models");
// A second allowed folder holding a symlink that points outside it: following it must not escape.
const linkDir = mkdtempSync(join(tmpdir(), "hearth-allowed-"));
const outsideDir = mkdtempSync(join(tmpdir(), "hearth-secret-"));
copyFileSync(join(enginePackage, "test", "fixtures", "image-preprocess", "input.png"), join(outsideDir, "secret.png"));
symlinkSync(outsideDir, join(linkDir, "escape"));
const auth = { authorization: `Bearer ${KEY}` };
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "hearth-tiny", messages: [{ role: "user", content: "What is 2 + 3?" }], max_tokens: 4, ...extra });

before(async () => {
  server = await startServer([
    "--api-key", KEY, "--allowed-origin", ORIGIN, "--max-tokens-cap", "64", "--max-n", "2", "--max-body-mb", "0.01",
    "--max-prompt-tokens", "50", "--allowed-path", allowedDir, "--allowed-path", linkDir,
  ]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  port = new URL(server.url).port;
});
after(async () => server?.stop());

describe("Host check (DNS rebinding)", () => {
  test("a foreign host name is refused before anything else, even with the key", async () => {
    const r = await raw(server.url, "POST", "/v1/chat/completions", { ...auth, host: `attacker.example:${port}` }, chat());
    assert.equal(r.status, 403);
    assert.equal(r.json().error.code, "host_not_allowed");
    const h = await raw(server.url, "GET", "/health", { host: "rebind.attacker.example" });
    assert.equal(h.status, 403);
  });

  test("localhost and IP literals are served", async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, "localhost"]) {
      const r = await raw(server.url, "GET", "/health", { host });
      assert.equal(r.status, 200, host);
    }
  });
});

describe("Origin and CORS", () => {
  test("a browser Origin that is not allowed gets 403, on POST, GET and preflight", async () => {
    const evil = { origin: "http://evil.example" };
    const p = await raw(server.url, "POST", "/v1/chat/completions", { ...auth, ...evil }, chat());
    assert.equal(p.status, 403);
    assert.equal(p.json().error.code, "origin_not_allowed");
    assert.equal(p.headers["access-control-allow-origin"], undefined);
    const g = await raw(server.url, "GET", "/v1/models", { ...auth, ...evil });
    assert.equal(g.status, 403);
    const o = await raw(server.url, "OPTIONS", "/v1/chat/completions", { ...evil, "access-control-request-method": "POST" });
    assert.equal(o.status, 403);
    const n = await raw(server.url, "GET", "/v1/models", { ...auth, origin: "null" });
    assert.equal(n.status, 403);
  });

  test("the allowed origin gets CORS headers and a preflight answer; requests without Origin get none", async () => {
    const o = await raw(server.url, "OPTIONS", "/v1/chat/completions", { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" });
    assert.equal(o.status, 204);
    assert.equal(o.headers["access-control-allow-origin"], ORIGIN);
    assert.match(String(o.headers["access-control-allow-methods"]), /POST/);
    const p = await raw(server.url, "POST", "/v1/chat/completions", { ...auth, origin: ORIGIN }, chat());
    assert.equal(p.status, 200);
    assert.equal(p.headers["access-control-allow-origin"], ORIGIN);
    const plain = await raw(server.url, "POST", "/v1/chat/completions", auth, chat());
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["access-control-allow-origin"], undefined);
  });
});

describe("API key", () => {
  test("missing, wrong (same and other length) and lowercase-scheme keys: 401 in OpenAI's shape; /health stays open", async () => {
    const none = await raw(server.url, "POST", "/v1/chat/completions", {}, chat());
    assert.equal(none.status, 401);
    assert.equal(none.json().error.type, "authentication_error");
    const sameLength = "x".repeat(KEY.length);
    for (const k of [sameLength, "short", `${KEY}x`]) {
      const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: k, maxRetries: 0 });
      await assert.rejects(wrong.models.list(), OpenAI.AuthenticationError, k);
    }
    const ok = await raw(server.url, "GET", "/v1/models", { authorization: `bearer ${KEY}` });
    assert.equal(ok.status, 200);
    const health = await raw(server.url, "GET", "/health");
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), { status: "ok" }, "without the key /health says only that it is up");
    assert.ok((await raw(server.url, "GET", "/health", auth)).json().models.includes("hearth-tiny"));
    assert.ok((await client.models.list()).data.length > 0);
  });
});

describe("caps", () => {
  test("a body over --max-body-mb is 413", async () => {
    const big = chat({ messages: [{ role: "user", content: "a".repeat(20_000) }] });
    const r = await raw(server.url, "POST", "/v1/chat/completions", auth, big);
    assert.equal(r.status, 413);
    assert.equal(r.json().error.code, "too_large");
  });

  test("max_tokens / max_completion_tokens over --max-tokens-cap, n over --max-n, a prompt over --max-prompt-tokens", async () => {
    await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 65 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "max_tokens");
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "hi" }], max_completion_tokens: 1000 }), OpenAI.BadRequestError);
    await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "hi" }], n: 3 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "n");
      return true;
    });
    await assert.rejects(client.completions.create({ model: "hearth-tiny", prompt: ["a", "b"], n: 2, best_of: 2, max_tokens: 2 }), OpenAI.BadRequestError);
    const long = "one two three four five six seven eight nine ten ".repeat(8);
    await assert.rejects(client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: long }], max_tokens: 2 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /prompt/);
      return true;
    });
    await assert.rejects(client.completions.create({ model: "hearth-tiny", prompt: Array.from({ length: 51 }, () => 10), max_tokens: 2 }), OpenAI.BadRequestError);
    // Within the caps it works.
    const ok = await client.chat.completions.create({ model: "hearth-tiny", messages: [{ role: "user", content: "What is 2 + 3?" }], max_tokens: 64, n: 2 });
    assert.equal(ok.choices.length, 2);
  });
});

describe("paths in requests", () => {
  test("model, adapter and image paths outside --allowed-path are refused with 403", async () => {
    const outside = mkdtempSync(join(tmpdir(), "hearth-outside-"));
    for (const model of [outside, "./models", "~/models", "../../../../../../../../etc", `file://${outside}`]) {
      const r = await raw(server.url, "POST", "/v1/chat/completions", auth, chat({ model }));
      assert.equal(r.status, 403, model);
      assert.equal(r.json().error.code, "path_denied", model);
    }
    const a = await raw(server.url, "POST", "/v1/chat/completions", auth, chat({ adapter: outside }));
    assert.equal(a.status, 403);
    assert.equal(a.json().error.param, "adapter");
    const img = (url: string) => chat({ messages: [{ role: "user", content: [{ type: "text", text: "what is this" }, { type: "image_url", image_url: { url } }] }] });
    for (const url of ["file:///etc/passwd", "/etc/passwd", join(linkDir, "escape", "secret.png"), `${linkDir}/../${outsideDir.split("/").pop()}/secret.png`]) {
      const r = await raw(server.url, "POST", "/v1/chat/completions", auth, img(url));
      assert.equal(r.status, 403, url);
      assert.equal(r.json().error.code, "path_denied");
    }
    // Remote URLs are never fetched (no SSRF through the server).
    const remote = await raw(server.url, "POST", "/v1/chat/completions", auth, img("http://169.254.169.254/latest/meta-data"));
    assert.equal(remote.status, 400);
  });

  test("a model path under --allowed-path is served", async () => {
    const r = await client.chat.completions.create({ model: join(allowedDir, "hearth-tiny"), messages: [{ role: "user", content: "What is 2 + 3?" }], max_tokens: 4, temperature: 0 });
    assert.equal(r.choices[0]!.message.content?.trim(), "5");
    const missing = await raw(server.url, "POST", "/v1/chat/completions", auth, chat({ model: join(allowedDir, "nope") }));
    assert.equal(missing.status, 404);
  });
});
