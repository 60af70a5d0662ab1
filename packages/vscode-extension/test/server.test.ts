// The scripted LSP client against the built hearth-lsp on the bundled hearth-tiny, over stdio.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { CancellationTokenSource, ResponseError } from "vscode-languageserver-protocol/node";
import {
  ChatDeltaNotification, ChatRequest, HearthErrorCodes, ModelsRequest, type ChatDelta, type ChatParams, type ChatResult,
  type StatusInfo,
} from "../src/shared/protocol.js";
import { itemsOf, LspClient, SERVER, textOf } from "./lsp-client.js";

const ws = mkdtempSync(join(tmpdir(), "hearth-lsp-ws-"));
const outside = mkdtempSync(join(tmpdir(), "hearth-lsp-outside-"));
mkdirSync(join(ws, "src"));
writeFileSync(join(ws, "src", "util.py"), "def triple(x):\n    return 3 * x\n");
writeFileSync(join(outside, "secret.txt"), "not for the model\n");
symlinkSync(join(outside, "secret.txt"), join(ws, "link-to-secret.txt"));
const uriOf = (p: string) => pathToFileURL(p).href;

describe("hearth-lsp command line", () => {
  it("refuses to start without a transport flag, saying which one to pass", () => {
    const r = spawnSync(process.execPath, [SERVER], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /pass --stdio/);
  });
});

describe("hearth-lsp over stdio on hearth-tiny", () => {
  let c: LspClient;
  const statuses: StatusInfo[] = [];
  const deltas: ChatDelta[] = [];

  before(async () => {
    c = new LspClient();
    c.onStatus((s) => statuses.push(s));
    c.conn.onNotification(ChatDeltaNotification.type, (d) => void deltas.push(d));
    // A wrong-typed setting is reported and ignored, never fatal.
    const init = (await c.initialize(ws, { debounceMs: 0, maxTokens: "many" })) as { capabilities: Record<string, unknown>; serverInfo: { name: string } };
    assert.equal(init.capabilities.inlineCompletionProvider, true);
    assert.equal(init.serverInfo.name, "hearth-lsp");
    const s = await c.ready();
    assert.equal(s.model, "hearth-tiny");
    assert.ok(c.logs.some((l) => /maxTokens must be an integer/.test(l)), c.logs.join("\n"));
  });

  after(async () => {
    await c?.close();
    rmSync(ws, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const doc = uriOf(join(ws, "src", "calc.py"));

  it("suggests a non-empty continuation of the code line at the cursor", async () => {
    await c.open(doc, "python", "def add(x, y):\n    ");
    const items = itemsOf(await c.inline(doc, { line: 1, character: 4 }));
    assert.equal(items.length, 1);
    const text = textOf(items[0]!);
    assert.match(text, /^return\b/, `got ${JSON.stringify(text)}`);
    assert.deepEqual(items[0]!.range, { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } });
    const s = await c.status();
    assert.equal(s.modelCalls, 1);
    assert.ok(s.lastTokensPerSecond > 0);
    assert.ok(statuses.some((x) => x.state === "busy"), "a busy state was announced while decoding");
  });

  it("keeps the suggestion without a model call while the user types its characters", async () => {
    const first = textOf(itemsOf(await c.inline(doc, { line: 1, character: 4 }))[0]!);
    const before = await c.status();
    await c.type(doc, first.slice(0, 3));
    const items = itemsOf(await c.inline(doc, c.endPosition(doc)));
    assert.equal(textOf(items[0]!), first.slice(3));
    const after = await c.status();
    assert.equal(after.modelCalls, before.modelCalls, "no new model call");
    assert.equal(after.cacheHits, before.cacheHits + 1);
  });

  it("discards a suggestion that repeats the next lines", async () => {
    const dup = uriOf(join(ws, "src", "dup.py"));
    // The same prefix as above suggests `return x + y`, which is already the next line here.
    await c.open(dup, "python", "def add(x, y):\n    \n    return x + y\n");
    const before = await c.status();
    const r = itemsOf(await c.inline(dup, { line: 1, character: 4 }));
    assert.deepEqual(r, []);
    assert.equal((await c.status()).modelCalls, before.modelCalls + 1, "the model was asked, and its answer dropped");
    assert.ok(c.logs.some((l) => /repeats the next lines/.test(l)), c.logs.join("\n"));
  });

  it("answers a request cancelled while it waits (debounce) without calling the model", async () => {
    await c.configure({ debounceMs: 3000 });
    const other = uriOf(join(ws, "src", "mul.py"));
    await c.open(other, "python", "def mul(a, b):\n    ");
    const before = await c.status();
    const cts = new CancellationTokenSource();
    const p = c.inline(other, { line: 1, character: 4 }, cts);
    setTimeout(() => cts.cancel(), 100);
    const r = await p.catch((e: unknown) => e);
    if (r instanceof ResponseError) assert.equal(r.code, -32800);  // RequestCancelled
    else assert.deepEqual(itemsOf(r as never), []);
    assert.equal((await c.status()).modelCalls, before.modelCalls);
    await c.configure({ debounceMs: 0 });
  });

  it("keeps one generation per document: a newer keystroke supersedes the one in flight", async () => {
    await c.configure({ debounceMs: 400 });
    const d = uriOf(join(ws, "src", "sub.py"));
    await c.open(d, "python", "def sub(x, y):\n    ");
    const before = await c.status();
    const first = c.inline(d, { line: 1, character: 4 });
    await new Promise((r) => setTimeout(r, 50));
    const second = c.inline(d, { line: 1, character: 4 });
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(itemsOf(a), [], "the superseded request gets nothing");
    assert.match(textOf(itemsOf(b)[0]!), /^return\b/);
    assert.equal((await c.status()).modelCalls, before.modelCalls + 1);
    await c.configure({ debounceMs: 0 });
  });

  it("follows workspace/didChangeConfiguration: enabled false stops suggestions, a bad model is an error state", async () => {
    await c.configure({ debounceMs: 0, enabled: false });
    const d = uriOf(join(ws, "src", "neg.py"));
    await c.open(d, "python", "def neg(x):\n    ");
    const before = await c.status();
    assert.equal(await c.inline(d, { line: 1, character: 4 }), null);
    assert.equal((await c.status()).modelCalls, before.modelCalls);
    await c.configure({ debounceMs: 0, model: join(ws, "no-such-model") });
    await assert.rejects(c.ready(30_000), /hearth-lsp reports an error: .*no-such-model/);
    await c.configure({ debounceMs: 0, baseUrl: "not a url" });
    await assert.rejects(c.ready(30_000), /baseUrl 'not a url' is not a URL/);
    await c.configure({ debounceMs: 0, enabled: true });
    const s = await c.ready();
    assert.equal(s.model, "hearth-tiny");
    assert.match(textOf(itemsOf(await c.inline(d, { line: 1, character: 4 }))[0]!), /^return\b/);
  });

  it("lists models with hearth/models", async () => {
    const { models } = await c.conn.sendRequest(ModelsRequest.type);
    assert.ok(models.some((m) => m.id === "hearth-tiny" && m.current && m.loaded), JSON.stringify(models));
    // The chat view's model picker sends the listed id back.
    const r = await c.conn.sendRequest(ChatRequest.type, { chatId: "m1", model: "hearth-tiny", messages: [{ role: "user", content: "What is 17 + 25?" }] });
    assert.equal(r.text, "42");
  });

  it("streams a chat answer as hearth/chatDelta notifications", async () => {
    deltas.length = 0;
    const params: ChatParams = { chatId: "c1", messages: [{ role: "user", content: "What is 17 + 25?" }] };
    const r = await c.conn.sendRequest(ChatRequest.type, params);
    assert.equal(r.text, "42");
    assert.equal(r.finishReason, "stop");
    const mine = deltas.filter((d) => d.chatId === "c1");
    assert.ok(mine.length >= 1);
    assert.equal(mine.map((d) => d.text).join(""), r.text);
  });

  it("stops a chat answer on $/cancelRequest within a step", async () => {
    deltas.length = 0;
    const cts = new CancellationTokenSource();
    let after = 0;
    const sub = c.conn.onNotification(ChatDeltaNotification.type, (d) => {
      if (d.chatId !== "c2") return;
      if (cts.token.isCancellationRequested) after++;
      else cts.cancel();
    });
    // The full answer is 11 tokens ("r a t i u g" spelled with spaces).
    const r = await c.conn.sendRequest(ChatRequest.type, { chatId: "c2", messages: [{ role: "user", content: "Write 'guitar' backwards." }], maxTokens: 64 }, cts.token)
      .catch((e: unknown) => e);
    sub.dispose();
    if (r instanceof ResponseError) assert.equal(r.code, -32800);
    else {
      assert.equal((r as ChatResult).finishReason, "abort");
      assert.ok((r as ChatResult).completionTokens < 11 || (r as ChatResult).completionTokens === 0);
    }
    assert.ok(after <= 2, `${after} deltas after the cancel`);
    // The server is still usable.
    const ok = await c.conn.sendRequest(ChatRequest.type, { chatId: "c3", messages: [{ role: "user", content: "What is 17 + 25?" }] });
    assert.equal(ok.text, "42");
  });

  it("attaches files from inside the workspace and refuses any outside it (symlinks followed)", async () => {
    const okFile = await c.conn.sendRequest(ChatRequest.type, {
      chatId: "f1", messages: [{ role: "user", content: "What is 17 + 25?" }],
      attachments: [{ kind: "file", uri: uriOf(join(ws, "src", "util.py")) }],
    });
    assert.equal(okFile.finishReason, "stop");
    for (const p of [join(outside, "secret.txt"), join(ws, "link-to-secret.txt"), join(ws, "..", "..", "etc", "passwd")]) {
      await assert.rejects(
        c.conn.sendRequest(ChatRequest.type, { chatId: "f2", messages: [{ role: "user", content: "hi" }], attachments: [{ kind: "file", uri: uriOf(p) }] }),
        (e: unknown) => e instanceof ResponseError && e.code === HearthErrorCodes.pathDenied && /outside the workspace/.test(e.message),
        p,
      );
    }
    await assert.rejects(
      c.conn.sendRequest(ChatRequest.type, { chatId: "f3", messages: [{ role: "user", content: "hi" }], attachments: [{ kind: "file", uri: "https://example.com/x" }] }),
      (e: unknown) => e instanceof ResponseError && e.code === HearthErrorCodes.invalid,
    );
    // An untrusted workspace turns file context off: even inside the workspace nothing is read.
    await c.configure({ debounceMs: 0, fileContext: false });
    await assert.rejects(
      c.conn.sendRequest(ChatRequest.type, { chatId: "f4", messages: [{ role: "user", content: "hi" }], attachments: [{ kind: "file", uri: uriOf(join(ws, "src", "util.py")) }] }),
      (e: unknown) => e instanceof ResponseError && e.code === HearthErrorCodes.pathDenied && /untrusted/.test(e.message),
    );
    await c.configure({ debounceMs: 0 });
  });

  it("rejects a malformed chat request with invalid params", async () => {
    await assert.rejects(
      c.conn.sendRequest(ChatRequest.type, { chatId: "x", messages: [] } as ChatParams),
      (e: unknown) => e instanceof ResponseError && e.code === HearthErrorCodes.invalid,
    );
  });
});
