// hearth-vscode: a thin client. Activation only registers the status bar, commands and the chat view; the language
// server (which holds the model) starts on the first file editor or chat use. Inline completion comes through
// vscode-languageclient's built-in textDocument/inlineCompletion support.
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import { ModelsRequest, StatusNotification, type HearthSettings, type StatusInfo } from "../shared/protocol.js";
import { ChatViewProvider } from "./chat-view.js";

let client: LanguageClient | undefined;
let starting: Promise<LanguageClient> | undefined;
let statusItem: vscode.StatusBarItem;
let lastStatus: StatusInfo | undefined;

/** The server's settings from the VS Code configuration (workspace trust decides whether files are read). */
function serverSettings(): HearthSettings {
  const c = vscode.workspace.getConfiguration("hearth");
  const s: HearthSettings = {
    enabled: c.get<boolean>("enabled", true),
    debounceMs: c.get<number>("debounceMs", 150),
    maxTokens: c.get<number>("maxTokens", 64),
    fileContext: vscode.workspace.isTrusted,
  };
  const model = c.get<string>("model", "");
  const baseUrl = c.get<string>("baseUrl", "");
  if (model) s.model = model;
  if (baseUrl) s.baseUrl = baseUrl;
  return s;
}

function enabledFor(languageId: string): boolean {
  const c = vscode.workspace.getConfiguration("hearth");
  if (!c.get<boolean>("enabled", true)) return false;
  const per = c.get<Record<string, boolean>>("enable", {});
  return per[languageId] ?? per["*"] ?? true;
}

function renderStatus(): void {
  const s = lastStatus;
  const on = vscode.workspace.getConfiguration("hearth").get<boolean>("enabled", true);
  const icon = !s ? "$(circle-outline)" : s.state === "loading" ? "$(loading~spin)" : s.state === "busy" ? "$(sync~spin)" : s.state === "error" ? "$(error)" : "$(sparkle)";
  const tps = s && s.lastTokensPerSecond > 0 ? ` ${s.lastTokensPerSecond.toFixed(0)} tok/s` : "";
  statusItem.text = `${icon} Hearth${on ? "" : " (off)"}${s ? `: ${s.model}${tps}` : ""}`;
  statusItem.tooltip = s
    ? `Hearth ${s.state}${s.message ? `: ${s.message}` : ""}\nmodel ${s.model} (${s.backend})\nclick to turn inline completion ${on ? "off" : "on"}`
    : "Hearth: the server starts when a file is opened";
  statusItem.backgroundColor = s?.state === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  statusItem.show();
}

/** Starts the language server once (lazily). */
export function ensureClient(context: vscode.ExtensionContext): Promise<LanguageClient> {
  if (client) return Promise.resolve(client);
  starting ??= (async () => {
    const serverModule = context.asAbsolutePath(path.join("server", "hearth-lsp.mjs"));
    const serverOptions: ServerOptions = {
      run: { module: serverModule, transport: TransportKind.stdio },
      debug: { module: serverModule, transport: TransportKind.stdio },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      initializationOptions: serverSettings(),
      middleware: {
        provideInlineCompletionItems: (document, position, ctx, token, next) =>
          enabledFor(document.languageId) ? next(document, position, ctx, token) : null,
      },
      outputChannelName: "Hearth",
    };
    const c = new LanguageClient("hearth", "Hearth", serverOptions, clientOptions);
    c.onNotification(StatusNotification.type, (s) => {
      lastStatus = s;
      renderStatus();
    });
    await c.start();
    client = c;
    return c;
  })();
  return starting;
}

function pushSettings(): void {
  void client?.sendNotification("workspace/didChangeConfiguration", { settings: { hearth: serverSettings() } });
}

export function activate(context: vscode.ExtensionContext): void {
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = "hearth.toggle";
  context.subscriptions.push(statusItem);
  renderStatus();

  const chat = new ChatViewProvider(context, () => ensureClient(context));
  context.subscriptions.push(
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, chat, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.commands.registerCommand("hearth.toggle", async () => {
      const c = vscode.workspace.getConfiguration("hearth");
      await c.update("enabled", !c.get<boolean>("enabled", true), vscode.ConfigurationTarget.Global);
      renderStatus();
    }),
    vscode.commands.registerCommand("hearth.selectModel", async () => {
      const c = await ensureClient(context);
      const { models } = await c.sendRequest(ModelsRequest.type);
      const picked = await vscode.window.showQuickPick(
        [...models.map((m) => ({ label: m.id, description: m.current ? "current" : m.loaded ? "loaded" : "" })), { label: "Other…", description: "a folder or Hugging Face id" }],
        { placeHolder: "Model for inline completion and chat" },
      );
      if (!picked) return;
      const id = picked.label === "Other…" ? await vscode.window.showInputBox({ prompt: "Model folder or Hugging Face id (in the local cache)" }) : picked.label;
      if (id) await vscode.workspace.getConfiguration("hearth").update("model", id, vscode.ConfigurationTarget.Global);
    }),
    vscode.commands.registerCommand("hearth.openChat", async () => {
      await vscode.commands.executeCommand("hearth.chat.focus");
    }),
    vscode.commands.registerCommand("hearth.newChat", () => chat.newChat()),
    vscode.commands.registerCommand("hearth.addSelection", () => chat.addSelection()),
    vscode.commands.registerCommand("hearth.addFile", () => chat.addFile()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("hearth")) return;
      renderStatus();
      pushSettings();
    }),
    // Trust decides whether the server may read files: it travels inside the settings we push.
    vscode.workspace.onDidGrantWorkspaceTrust(pushSettings),
  );

  // Lazy start: the first real file editor brings the server up (and with it the model).
  const maybeStart = (e: vscode.TextEditor | undefined) => {
    if (e && (e.document.uri.scheme === "file" || e.document.uri.scheme === "untitled")) void ensureClient(context).catch((err: Error) => {
      lastStatus = { state: "error", model: "", backend: "local", lastTokensPerSecond: 0, message: err.message, modelCalls: 0, cacheHits: 0, promptTokens: 0, cachedTokens: 0, budgetHits: 0, promptCalls: 0 };
      renderStatus();
    });
  };
  maybeStart(vscode.window.activeTextEditor);
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(maybeStart));
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
