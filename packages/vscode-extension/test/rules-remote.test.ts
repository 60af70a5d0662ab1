// The completion rules through the whole server: the scripted LSP client drives hearth-lsp with `baseUrl` set, and
// hearth-lsp's serving RemoteBackend streams from a scripted OpenAI-compatible endpoint in this process. hearth-tiny
// only knows one-line answers, so the multi-line cut, the discard rules and the time budget need answers chosen by
// the test; the endpoint also shows what the server asked for (stop strings, max_tokens) and when it hung up.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { CancellationTokenSource, ResponseError } from "vscode-languageserver-protocol/node";
import { itemsOf, LspClient, textOf } from "./lsp-client.js";

/** One scripted answer: the pieces streamed as chat deltas, `delayMs` apart, the first after `firstDelayMs`. */
interface Script {
  pieces: string[];
  delayMs?: number;
  firstDelayMs?: number;
}

interface Seen {
  body: Record<string, any>;
  /** Pieces written before the answer ended or the client hung up. */
  sent: number;
  /** The client closed the stream before the last piece. */
  hungUp: boolean;
}

/** An OpenAI-compatible /v1/chat/completions endpoint that streams scripted answers and honours `stop`. */
class ScriptedEndpoint {
  readonly seen: Seen[] = [];
  private queue: Script[] = [];
  private server: Server;
  url = "";

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  next(...s: Script[]): void {
    this.queue.push(...s);
  }

  get last(): Seen {
    return this.seen[this.seen.length - 1]!;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    let raw = "";
    for await (const c of req) raw += c;
    if (req.url !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no ${req.url}` } }));
      return;
    }
    const body = JSON.parse(raw) as Record<string, any>;
    const script = this.queue.shift() ?? { pieces: [] };
    const seen: Seen = { body, sent: 0, hungUp: false };
    this.seen.push(seen);
    let done = false;
    res.on("close", () => {
      if (!done) seen.hungUp = true;
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", model: "scripted", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const stops: string[] = typeof body.stop === "string" ? [body.stop] : body.stop ?? [];
    let text = "";
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(script.firstDelayMs ?? 0);
    for (let i = 0; i < script.pieces.length; i++) {
      if (seen.hungUp) return;
      if (i > 0) await sleep(script.delayMs ?? 0);
      if (seen.hungUp) return;
      let piece = script.pieces[i]!;
      // Stop strings end the answer as a real server does: the text before the stop string, finish_reason stop.
      const all = text + piece;
      const at = Math.min(...stops.map((s) => all.indexOf(s, Math.max(0, text.length - s.length + 1))).filter((x) => x >= 0), Infinity);
      if (at !== Infinity) piece = all.slice(text.length, at);
      text += piece;
      if (piece) res.write(chunk({ content: piece }, null));
      seen.sent++;
      if (at !== Infinity) break;
    }
    done = true;
    res.write(chunk({}, "stop"));
    res.end("data: [DONE]\n\n");
  }
}

describe("hearth-lsp completion rules through a remote backend (scripted OpenAI-compatible endpoint)", () => {
  const ws = mkdtempSync(join(tmpdir(), "hearth-lsp-rules-"));
  const api = new ScriptedEndpoint();
  let c: LspClient;
  let n = 0;
  /** A fresh document with the cursor at `|`; a first line of its own keeps the completion cache keys apart. */
  const doc = async (textWithCursor: string, languageId = "python") => {
    textWithCursor = `${languageId === "python" ? "#" : "//"} case ${n + 1}\n${textWithCursor}`;
    const at = textWithCursor.indexOf("|");
    const text = textWithCursor.replace("|", "");
    const before = text.slice(0, at).split("\n");
    const uri = pathToFileURL(join(ws, `f${++n}.${languageId === "python" ? "py" : "ts"}`)).href;
    await c.open(uri, languageId, text);
    return { uri, pos: { line: before.length - 1, character: before[before.length - 1]!.length } };
  };
  const suggest = async (textWithCursor: string, languageId?: string) => {
    const d = await doc(textWithCursor, languageId);
    const items = itemsOf(await c.inline(d.uri, d.pos));
    return { text: items.length ? textOf(items[0]!) : undefined, ...d };
  };

  before(async () => {
    await api.start();
    c = new LspClient();
    await c.initialize(ws, { baseUrl: api.url, debounceMs: 0, maxTokens: 100 });
    const s = await c.ready(30_000);
    assert.equal(s.backend, "remote");
  });

  after(async () => {
    await c?.close();
    await api.close();
    rmSync(ws, { recursive: true, force: true });
  });

  it("asks an unnamed remote model with the hole-filler prompt", async () => {
    api.next({ pieces: ["<COMPLETION>", "1 + 2"] });
    const r = await suggest("x = |\n");
    assert.equal(r.text, "1 + 2");
    const content = api.last.body.messages.at(-1).content as string;
    assert.match(content, /x = \{\{FILL_HERE\}\}/);
    assert.ok(api.last.body.stop.includes("</COMPLETION>"));
  });

  it("picks single-line mode when text follows the cursor or no block opens, multi-line after { : ( [ or in a docstring", async () => {
    const cases: Array<[string, string, boolean]> = [
      ["total = add(1, |)\n", "python", false],
      ["x = 1\n|", "python", false],
      ["def f(x):\n    |", "python", true],
      ["def f(x):\n    \"\"\"|", "python", true],
      ["function f(a) {\n  |\n}\n", "typescript", true],
      ["const xs = [\n  |", "typescript", true],
    ];
    for (const [text, lang, multi] of cases) {
      api.next({ pieces: ["<COMPLETION>", "y"] });
      await suggest(text, lang);
      const body = api.last.body;
      assert.equal(body.stop.includes("\n"), !multi, `${JSON.stringify(text)}: stop ${JSON.stringify(body.stop)}`);
      assert.equal(body.max_tokens, multi ? 100 : 48, `${JSON.stringify(text)}: max_tokens`);
    }
  });

  it("single-line mode: the answer ends at the line end (the endpoint stopped it by the stop string)", async () => {
    api.next({ pieces: ["<COMPLETION>", "compute(", "1)\n", "print(x)\n"] });
    const r = await suggest("x = |");
    assert.equal(r.text, "compute(1)");
    assert.equal(api.last.hungUp, false, "finished by the stop string, not an abort");
  });

  it("multi-line mode stops at the end of the block (indentation) and stops decoding there", async () => {
    const tail = Array.from({ length: 20 }, (_, i) => `v${i} = ${i}\n`);
    api.next({ pieces: ["<COMPLETION>", "if x:\n", "        return 1\n", "    return 2\n", "print(f(3))\n", ...tail], delayMs: 50 });
    const r = await suggest("def f(x):\n    |");
    assert.equal(r.text, "if x:\n        return 1\n    return 2");
    assert.equal(api.last.hungUp, true, "the stream was closed at the block end");
    assert.ok(api.last.sent < 10, `${api.last.sent} pieces sent before the hang-up`);
  });

  it("$/cancelRequest during decoding closes the backend stream (decoding stops)", async () => {
    const d = await doc("def h(x):\n    |");
    api.next({ pieces: ["<COMPLETION>", ...Array.from({ length: 50 }, (_, i) => `w${i} = ${i}\n    `)], delayMs: 100 });
    const seenBefore = api.seen.length;
    const cts = new CancellationTokenSource();
    const p = c.inline(d.uri, d.pos, cts).catch((e: unknown) => e);
    // Cancel once the answer is streaming.
    while (api.seen.length === seenBefore || api.last.sent < 3) await new Promise((r) => setTimeout(r, 20));
    cts.cancel();
    const r = await p;
    if (r instanceof ResponseError) assert.equal(r.code, -32800);
    else assert.deepEqual(itemsOf(r as never), []);
    const end = Date.now() + 10_000;
    while (!api.last.hungUp && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(api.last.hungUp, true, "the stream was closed after the cancel");
    assert.ok(api.last.sent < 25, `${api.last.sent} of 51 pieces sent`);
  });

  it("discards empty, whitespace-only, rest-of-line repeats, next-line repeats and closers already there", async () => {
    const cases: Array<[string, string[], string]> = [
      ["x = |\n", ["<COMPLETION>", ""], "empty"],
      ["def f():\n    |", ["<COMPLETION>", "   \n  \n"], "whitespace"],
      ["x = |compute()\n", ["<COMPLETION>", "compute()"], "repeats the rest of the line"],
      ["def f():\n    |\n    return 1\n", ["<COMPLETION>", "return 1"], "repeats the next lines"],
      ["y = foo(bar(1, 2|))\n", ["<COMPLETION>", "))"], "only closes what is already closed"],
    ];
    for (const [text, pieces, reason] of cases) {
      api.next({ pieces });
      const logs = c.logs.length;
      const before = await c.status();
      const r = await suggest(text);
      assert.equal(r.text, undefined, `${JSON.stringify(text)} → ${JSON.stringify(r.text)} should be discarded (${reason})`);
      assert.equal((await c.status()).modelCalls, before.modelCalls + 1);
      assert.ok(c.logs.slice(logs).some((l) => l.includes(`: ${reason}`)), `${reason}: ${c.logs.slice(logs).join("\n")}`);
    }
    // The control: the same shapes with a useful answer are shown.
    api.next({ pieces: ["<COMPLETION>", "bar(1, 2)"] });
    assert.equal((await suggest("y = foo(|)\n")).text, "bar(1, 2)");
  });

  it("time budget: answers with the complete lines ready, stops decoding, and does not cache the partial answer", async () => {
    await c.configure({ baseUrl: api.url, debounceMs: 0, maxTokens: 100, maxTimeMs: 800 });
    await c.ready(30_000);
    const lines = Array.from({ length: 30 }, (_, i) => `a${i} = ${i}\n    `);
    const full = lines.join("").trimEnd();
    api.next({ pieces: ["<COMPLETION>", ...lines], delayMs: 150 });
    const before = await c.status();
    const r = await suggest("def g():\n    |");
    const s = await c.status();
    assert.equal(s.budgetHits, before.budgetHits + 1);
    assert.equal(api.last.hungUp, true, "decoding stopped at the budget");
    assert.ok(r.text, "some lines were ready");
    assert.ok(full.startsWith(r.text + "\n"), `${JSON.stringify(r.text)} is whole lines of the answer`);
    assert.ok(r.text.split("\n").length < lines.length);
    // Not cached: the same position asks again (here the whole answer arrives in time).
    api.next({ pieces: ["<COMPLETION>", "a0 = 0\n    a1 = 1"] });
    const again = itemsOf(await c.inline(r.uri, r.pos));
    assert.equal(textOf(again[0]!), "a0 = 0\n    a1 = 1");
    assert.equal((await c.status()).modelCalls, s.modelCalls + 1);
  });

  it("time budget with nothing ready: no suggestion, nothing cached, the next request asks again", async () => {
    await c.configure({ baseUrl: api.url, debounceMs: 0, maxTokens: 100, maxTimeMs: 300 });
    api.next({ pieces: ["<COMPLETION>", "late = True"], firstDelayMs: 3000 });
    const before = await c.status();
    const r = await suggest("flag = |\n");
    assert.equal(r.text, undefined);
    assert.equal((await c.status()).budgetHits, before.budgetHits + 1);
    await c.configure({ baseUrl: api.url, debounceMs: 0, maxTokens: 100, maxTimeMs: 10_000 });
    api.next({ pieces: ["<COMPLETION>", "True"] });
    assert.equal(textOf(itemsOf(await c.inline(r.uri, r.pos))[0]!), "True");
  });
});
