// Transports and refusals that need their own server: Streamable HTTP (contract line, tools, a base64 image above
// the SDK's default body size, foreign Origin and Host 403, bearer token 401, body limit 413), stdio with no roots
// (every path refused; client MCP roots admitted and withdrawn), missing models, image caps, and stdout carrying
// nothing but protocol while something in the process prints.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ListRootsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BIN, PKG, dataUrl, httpClient, httpServer, stdioClient, text, workspace } from "./helpers.js";

const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } } };

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const data = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path: u.pathname, method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": String(data.length), ...headers },
    }, (res) => {
      let b = "";
      res.on("data", (d) => { b += d; });
      res.on("end", () => resolve({ status: res.statusCode!, body: b }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

describe("Streamable HTTP", () => {
  test("--http --port 0 prints the contract line; tools work; a base64 image past 100 kB fits the body limit", async () => {
    const w = await workspace();
    const srv = await httpServer(["--root", w.root, "--vision-model", w.vlm]);
    try {
      assert.match(srv.stderr(), /^hearth-mcp listening on http:\/\/127\.0\.0\.1:\d+\/mcp$/m);
      const client = await httpClient(srv.url);
      const { tools } = await client.listTools();
      assert.equal(tools.length, 7);
      const g = (await client.callTool({ name: "generate", arguments: { prompt: "What is 3 + 4?", maxTokens: 6 } })) as CallToolResult;
      assert.equal(g.isError, undefined, text(g));
      assert.ok((g.structuredContent as { tokens: number }).tokens >= 1);
      const big = dataUrl(w.png, "image/png");
      assert.ok(big.length > 500_000);
      const d = (await client.callTool({ name: "describe_image", arguments: { image: big, maxTokens: 4 } })) as CallToolResult;
      assert.equal(d.isError, undefined, text(d));
      const viaPath = (await client.callTool({ name: "describe_image", arguments: { image: w.png, maxTokens: 4 } })) as CallToolResult;
      assert.equal((d.structuredContent as { text: string }).text, (viaPath.structuredContent as { text: string }).text);
      const out = (await client.callTool({ name: "describe_image", arguments: { image: w.outsideImage } })) as CallToolResult;
      assert.match(text(out), /^path_denied/);
      await client.close();

      // Origin: a foreign one is refused before the SDK sees the request; loopback origins pass.
      const evil = await post(srv.url, INIT, { origin: "https://evil.example" });
      assert.equal(evil.status, 403);
      assert.match(evil.body, /forbidden Origin https:\/\/evil\.example/);
      const local = await post(srv.url, INIT, { origin: `http://localhost:${new URL(srv.url).port}` });
      assert.equal(local.status, 200, local.body);
      // Host: DNS rebinding (a foreign name resolving to 127.0.0.1) is refused.
      const host = await post(srv.url, INIT, { host: "attacker.example" });
      assert.equal(host.status, 403);
      assert.match(host.body, /forbidden Host/);
      const notJson = await post(srv.url, "{nope");
      assert.equal(notJson.status, 400);
      assert.match(notJson.body, /-32700/);
    } finally {
      await srv.close();
    }
  });

  test("bearer token (401 without it) and the body limit (413)", async () => {
    const srv = await httpServer(["--token", "s3cret", "--max-body-bytes", "4096"]);
    try {
      await assert.rejects(httpClient(srv.url), /401|bearer|Unauthorized/i);
      const wrong = await post(srv.url, INIT, { authorization: "Bearer nope" });
      assert.equal(wrong.status, 401);
      const client = await httpClient(srv.url, { authorization: "Bearer s3cret" });
      assert.equal((await client.listTools()).tools.length, 7);
      await client.close();
      const huge = await post(srv.url, { ...INIT, params: { ...INIT.params, pad: "x".repeat(10_000) } }, { authorization: "Bearer s3cret" });
      assert.equal(huge.status, 413);
      assert.match(huge.body, /--max-body-bytes/);
    } finally {
      await srv.close();
    }
  });
});

describe("stdio without roots", () => {
  test("every path is refused; a client's MCP roots admit paths and withdrawing them refuses again", async () => {
    const w = await workspace();
    const bare = await stdioClient(["--vision-model", w.vlm]);
    try {
      const r = (await bare.client.callTool({ name: "describe_image", arguments: { image: w.png } })) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match(text(r), /^path_denied: image: paths are refused because no roots are configured\. Start hearth-mcp with --root/);
      const t = (await bare.client.callTool({ name: "lora_train", arguments: { data: w.dataset, name: "x" } })) as CallToolResult;
      assert.match(text(t), /no roots are configured/);
      const m = (await bare.client.callTool({ name: "models", arguments: { action: "load", model: w.vlm } })) as CallToolResult;
      assert.match(text(m), /no roots are configured/);
      const inline = (await bare.client.callTool({ name: "describe_image", arguments: { image: PNG_1X1, mimeType: "image/png", maxTokens: 2 } })) as CallToolResult;
      assert.equal(inline.isError, undefined, text(inline));
    } finally {
      await bare.close();
    }

    let roots = [{ uri: pathToFileURL(w.root).href, name: "workspace" }];
    const client = new Client({ name: "roots-client", version: "0" }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots }));
    const s = await stdioClient(["--vision-model", w.vlm], { client });
    try {
      const ok = (await client.callTool({ name: "describe_image", arguments: { image: w.png, maxTokens: 2 } })) as CallToolResult;
      assert.equal(ok.isError, undefined, text(ok));
      const esc = (await client.callTool({ name: "describe_image", arguments: { image: w.escapeLink } })) as CallToolResult;
      assert.match(text(esc), /^path_denied: .* is outside the allowed roots/);
      roots = [];
      await client.sendRootsListChanged();
      const again = await (async () => {
        for (let i = 0; i < 50; i++) {
          const r = (await client.callTool({ name: "describe_image", arguments: { image: w.png } })) as CallToolResult;
          if (r.isError) return r;
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error("roots were not withdrawn");
      })();
      assert.match(text(again), /no roots are configured/);
    } finally {
      await s.close();
    }
  });

  test("missing models and image caps are refused with what to do", async () => {
    const s = await stdioClient(["--max-image-bytes", "200000", "--max-image-pixels", "100000"], { env: { HEARTH_EMBEDDING_MODEL: "", HEARTH_VISION_MODEL: "" } });
    const w = await workspace();
    try {
      const e = (await s.client.callTool({ name: "embed", arguments: { texts: ["a"] } })) as CallToolResult;
      assert.equal(e.isError, true);
      assert.match(text(e), /no embedding model is configured: start hearth-mcp with --embedding-model <folder> or set HEARTH_EMBEDDING_MODEL/);
      const v = (await s.client.callTool({ name: "describe_image", arguments: { image: PNG_1X1, mimeType: "image/png" } })) as CallToolResult;
      assert.equal(v.isError, true);
      assert.match(text(v), /--vision-model <folder> or set HEARTH_VISION_MODEL/);
      const bytes = (await s.client.callTool({ name: "describe_image", arguments: { image: dataUrl(w.png, "image/png") } })) as CallToolResult;
      assert.match(text(bytes), /^too_large: image: the image is over 200000 bytes/);
      const pixels = (await s.client.callTool({ name: "describe_image", arguments: { image: dataUrl(w.jpg, "image/jpeg") } })) as CallToolResult;
      assert.match(text(pixels), /^too_large: image: .*640×480 = 307200 pixels, over the limit of 100000 \(the server's --max-image-pixels\)/);
      const badModel = (await s.client.callTool({ name: "models", arguments: { action: "load", model: "no-such-model-anywhere" } })) as CallToolResult;
      assert.equal(badModel.isError, true);
      assert.match(text(badModel), /^model_not_found: /);
    } finally {
      await s.close();
    }
  });

  test("HEARTH_MODEL selects the text model; an unknown one fails the call, not the server", async () => {
    const s = await stdioClient([], { env: { HEARTH_MODEL: "/no/such/model-folder" } });
    try {
      const r = (await s.client.callTool({ name: "generate", arguments: { prompt: "hi" } })) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match(text(r), /model_not_found|no such|not found/i);
      assert.equal((await s.client.listTools()).tools.length, 7);
    } finally {
      await s.close();
    }
  });
});

describe("--base-url", () => {
  test("a remote backend that is down gives an upstream error that says what to check; the server stays up", async () => {
    const s = await stdioClient(["--base-url", "http://127.0.0.1:9/v1"]);
    try {
      const r = (await s.client.callTool({ name: "generate", arguments: { prompt: "hi", maxTokens: 2 } })) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match(text(r), /^upstream: .*check that the --base-url server is running/);
      const t = (await s.client.callTool({ name: "lora_train", arguments: { data: PNG_1X1, name: "x" } })) as CallToolResult;
      assert.equal(t.isError, true);
      assert.equal((await s.client.listTools()).tools.length, 7);
      assert.match(s.stderr(), /ready \(remote backend/);
    } finally {
      await s.close();
    }
  });
});

describe("stdout", () => {
  test("carries only JSON-RPC messages, also while code in the process prints to stdout", async () => {
    const noise = join(PKG, "test", "fixtures", "stdout-noise.mjs");
    const proc = spawn(BIN, [], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: `--import ${pathToFileURL(noise).href}` } });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    proc.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const send = (m: unknown) => proc.stdin.write(JSON.stringify(m) + "\n");
    const waitFor = async (pred: () => boolean, what: string) => {
      for (let i = 0; i < 1200 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(pred(), `timed out waiting for ${what}; stderr:\n${err.slice(-2000)}`);
    };
    try {
      send(INIT);
      await waitFor(() => /"id":1/.test(out), "initialize");
      send({ jsonrpc: "2.0", method: "notifications/initialized" });
      send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "generate", arguments: { prompt: "What is 5 + 5?", maxTokens: 8 } } });
      send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "models", arguments: {} } });
      await waitFor(() => /"id":2/.test(out) && /"id":3/.test(out), "the tool results");
      await new Promise((r) => setTimeout(r, 100));
      assert.match(err, /NOISE from console\.log/);
      assert.match(err, /NOISE from process\.stdout\.write/);
      const lines = out.split("\n").filter((l) => l.length > 0);
      assert.ok(lines.length >= 3);
      for (const l of lines) {
        const m = JSON.parse(l) as { jsonrpc: string };
        assert.equal(m.jsonrpc, "2.0", l);
      }
      assert.doesNotMatch(out, /NOISE/);
    } finally {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
  });
});
