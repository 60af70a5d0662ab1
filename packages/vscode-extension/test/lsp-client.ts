// A scripted LSP client: spawns the built hearth-lsp with --stdio and speaks JSON-RPC to it through
// vscode-languageserver-protocol's own connection (the library editors' clients are built on).
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  CancellationTokenSource, createProtocolConnection, DidChangeConfigurationNotification, DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification, ExitNotification, InitializedNotification, InitializeRequest, InlineCompletionRequest,
  InlineCompletionTriggerKind, ShutdownRequest, StreamMessageReader, StreamMessageWriter, type InlineCompletionItem,
  type InlineCompletionList, type ProtocolConnection,
} from "vscode-languageserver-protocol/node";
import { StatusNotification, StatusRequest, type StatusInfo } from "../src/shared/protocol.js";

/** The server under test: the built bin, or another build (the bundled server/hearth-lsp.mjs) named by HEARTH_LSP_SERVER. */
export const SERVER = process.env.HEARTH_LSP_SERVER ?? fileURLToPath(new URL("../src/server/main.js", import.meta.url));

export class LspClient {
  readonly conn: ProtocolConnection;
  readonly child: ChildProcess;
  readonly logs: string[] = [];
  stderr = "";
  private versions = new Map<string, number>();
  private texts = new Map<string, string>();

  constructor(args = ["--stdio"], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, [SERVER, ...args], { stdio: ["pipe", "pipe", "pipe"], env });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.conn = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.conn.onNotification("window/logMessage", (p: { message: string }) => void this.logs.push(p.message));
    this.conn.onRequest("workspace/configuration", () => [null]);
    this.conn.onRequest("client/registerCapability", () => null);
    this.conn.listen();
  }

  async initialize(rootDir: string, initializationOptions: unknown, capabilities: Record<string, unknown> = { textDocument: { inlineCompletion: { dynamicRegistration: false } } }): Promise<unknown> {
    const result = await this.conn.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(rootDir).href,
      workspaceFolders: [{ uri: pathToFileURL(rootDir).href, name: "ws" }],
      capabilities,
      initializationOptions,
    });
    await this.conn.sendNotification(InitializedNotification.type, {});
    return result;
  }

  /** Waits until hearth/status reports `ready` (the model is loaded). */
  async ready(timeoutMs = 120_000): Promise<StatusInfo> {
    const t0 = Date.now();
    for (;;) {
      const s = await this.conn.sendRequest(StatusRequest.type);
      if (s.state === "ready") return s;
      if (s.state === "error") throw new Error(`hearth-lsp reports an error: ${s.message}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`hearth-lsp not ready after ${timeoutMs} ms (state ${s.state})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  status(): Promise<StatusInfo> {
    return this.conn.sendRequest(StatusRequest.type);
  }

  onStatus(fn: (s: StatusInfo) => void): void {
    this.conn.onNotification(StatusNotification.type, fn);
  }

  async open(uri: string, languageId: string, text: string): Promise<void> {
    this.versions.set(uri, 1);
    this.texts.set(uri, text);
    await this.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId, version: 1, text } });
  }

  /** Replaces the whole text (full sync content change, which every server must accept). */
  async setText(uri: string, text: string): Promise<void> {
    const v = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, v);
    this.texts.set(uri, text);
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: v }, contentChanges: [{ text }] });
  }

  /** Inserts text at the end of the document, as typing does (an incremental change). */
  async type(uri: string, chars: string): Promise<void> {
    const text = this.texts.get(uri)!;
    const lines = text.split("\n");
    const pos = { line: lines.length - 1, character: lines[lines.length - 1]!.length };
    const v = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, v);
    this.texts.set(uri, text + chars);
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: v }, contentChanges: [{ range: { start: pos, end: pos }, text: chars }],
    });
  }

  endPosition(uri: string): { line: number; character: number } {
    const lines = this.texts.get(uri)!.split("\n");
    return { line: lines.length - 1, character: lines[lines.length - 1]!.length };
  }

  inline(uri: string, position: { line: number; character: number }, token?: CancellationTokenSource): Promise<InlineCompletionList | InlineCompletionItem[] | null> {
    return this.conn.sendRequest(InlineCompletionRequest.type, {
      textDocument: { uri }, position, context: { triggerKind: InlineCompletionTriggerKind.Automatic },
    }, token?.token);
  }

  configure(settings: unknown): Promise<void> {
    return this.conn.sendNotification(DidChangeConfigurationNotification.type, { settings: { hearth: settings } });
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.conn.sendRequest(ShutdownRequest.type), new Promise((r) => setTimeout(r, 5000))]);
      await this.conn.sendNotification(ExitNotification.type);
    } catch {
      // the process may already be gone
    }
    const exited = new Promise((r) => this.child.once("exit", r));
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    if (this.child.exitCode === null) await exited;
    clearTimeout(t);
    this.conn.dispose();
  }
}

export const itemsOf = (r: InlineCompletionList | InlineCompletionItem[] | null): InlineCompletionItem[] =>
  r === null ? [] : Array.isArray(r) ? r : r.items;

export const textOf = (i: InlineCompletionItem): string => (typeof i.insertText === "string" ? i.insertText : i.insertText.value);
