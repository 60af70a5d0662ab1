// The sidebar chat: a WebviewView whose page (webview/chat.ts) renders sanitised markdown; this side talks to the
// language server (hearth/chat, streamed by hearth/chatDelta, stopped by cancelling the request) and keeps the
// history per workspace (workspaceState).
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import {
  ChatDeltaNotification, ChatRequest, ModelsRequest, type ChatAttachment, type ChatMessage, type ChatResult,
} from "../shared/protocol.js";

/** Messages from the page. */
type FromPage =
  | { type: "ready" }
  | { type: "send"; text: string; model?: string }
  | { type: "stop" }
  | { type: "newChat" }
  | { type: "insert"; code: string }
  | { type: "copy"; code: string }
  | { type: "addSelection" }
  | { type: "addFile" }
  | { type: "removeAttachment"; index: number }
  | { type: "pickModel"; model: string };

interface Attached {
  label: string;
  attachment: ChatAttachment;
}

const HISTORY_KEY = "hearth.chat.history";

export class ChatViewProvider implements vscode.WebviewViewProvider {
  static readonly viewType = "hearth.chat";
  private view: vscode.WebviewView | undefined;
  private messages: ChatMessage[];
  private attachments: Attached[] = [];
  private running: vscode.CancellationTokenSource | undefined;
  private model: string | undefined;

  constructor(private readonly context: vscode.ExtensionContext, private readonly client: () => Promise<LanguageClient>) {
    this.messages = context.workspaceState.get<ChatMessage[]>(HISTORY_KEY, []);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.context.extensionUri, "media");
    const dist = vscode.Uri.joinPath(this.context.extensionUri, "dist");
    view.webview.options = { enableScripts: true, localResourceRoots: [media, dist] };
    view.webview.html = this.html(view.webview);
    view.webview.onDidReceiveMessage((m: FromPage) => void this.onMessage(m).catch((e: Error) => this.post({ type: "error", message: e.message })));
  }

  private post(m: unknown): void {
    void this.view?.webview.postMessage(m);
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString("base64");
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, "dist", "webview.js"));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, "media", "chat.css"));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource} data:`,
      `font-src ${webview.cspSource}`,
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${style}" rel="stylesheet"><title>Hearth chat</title></head>
<body>
<div id="toolbar"><select id="model" title="Model"></select><button id="new" title="New chat">New chat</button></div>
<div id="log" role="log" aria-live="polite"></div>
<div id="attachments"></div>
<div id="composer">
  <div id="context-buttons"><button id="add-selection">Add selection</button><button id="add-file">Add file</button></div>
  <textarea id="input" rows="3" placeholder="Ask Hearth (Enter sends, Shift+Enter for a new line)"></textarea>
  <div id="actions"><button id="send">Send</button><button id="stop" disabled>Stop</button></div>
</div>
<script nonce="${nonce}" src="${script}"></script>
</body></html>`;
  }

  private async onMessage(m: FromPage): Promise<void> {
    switch (m.type) {
      case "ready":
        this.post({ type: "history", messages: this.messages });
        this.postAttachments();
        void this.refreshModels();
        return;
      case "send":
        return this.send(m.text);
      case "stop":
        this.running?.cancel();
        return;
      case "newChat":
        return this.newChat();
      case "insert": {
        const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
        if (!editor) throw new Error("no editor to insert into");
        await editor.edit((b) => b.replace(editor.selection, m.code));
        return;
      }
      case "copy":
        await vscode.env.clipboard.writeText(m.code);
        return;
      case "addSelection":
        return this.addSelection();
      case "addFile":
        return this.addFile();
      case "removeAttachment":
        this.attachments.splice(m.index, 1);
        this.postAttachments();
        return;
      case "pickModel":
        this.model = m.model || undefined;
        return;
    }
  }

  private async refreshModels(): Promise<void> {
    try {
      const c = await this.client();
      const { models } = await c.sendRequest(ModelsRequest.type);
      this.post({ type: "models", models });
    } catch (e) {
      this.post({ type: "error", message: (e as Error).message });
    }
  }

  async newChat(): Promise<void> {
    this.running?.cancel();
    this.messages = [];
    this.attachments = [];
    await this.context.workspaceState.update(HISTORY_KEY, this.messages);
    this.post({ type: "history", messages: [] });
    this.postAttachments();
  }

  addSelection(): void {
    const e = vscode.window.activeTextEditor;
    if (!e || e.selection.isEmpty) {
      void vscode.window.showInformationMessage("Select some code first.");
      return;
    }
    const text = e.document.getText(e.selection);
    const name = vscode.workspace.asRelativePath(e.document.uri);
    this.attachments.push({
      label: `${name}:${e.selection.start.line + 1}-${e.selection.end.line + 1}`,
      attachment: { kind: "selection", uri: e.document.uri.toString(), text, startLine: e.selection.start.line },
    });
    this.postAttachments();
  }

  async addFile(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage("Hearth does not read files in an untrusted workspace; add a selection instead.");
      return;
    }
    const current = vscode.window.activeTextEditor?.document.uri;
    const items: Array<vscode.QuickPickItem & { uri?: vscode.Uri }> = [];
    if (current?.scheme === "file") items.push({ label: "Current file", description: vscode.workspace.asRelativePath(current), uri: current });
    items.push({ label: "Choose a file…" });
    const pick = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { placeHolder: "Attach a file" });
    if (!pick) return;
    let uri = pick.uri;
    if (!uri) {
      const folders = vscode.workspace.workspaceFolders;
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, ...(folders?.[0] ? { defaultUri: folders[0].uri } : {}) });
      uri = picked?.[0];
    }
    if (!uri) return;
    this.attachments.push({ label: vscode.workspace.asRelativePath(uri), attachment: { kind: "file", uri: uri.toString() } });
    this.postAttachments();
  }

  private postAttachments(): void {
    this.post({ type: "attachments", items: this.attachments.map((a) => a.label) });
  }

  private async send(text: string): Promise<void> {
    if (!text.trim() || this.running) return;
    const c = await this.client();
    this.messages.push({ role: "user", content: text });
    const chatId = randomBytes(8).toString("hex");
    this.post({ type: "start", chatId, user: text });
    const cts = new vscode.CancellationTokenSource();
    this.running = cts;
    let streamed = "";
    const sub = c.onNotification(ChatDeltaNotification.type, (d) => {
      if (d.chatId !== chatId) return;
      streamed += d.text;
      this.post({ type: "delta", chatId, text: d.text });
    });
    let answer = "";
    let finish: ChatResult["finishReason"] | "error" = "stop";
    try {
      const cfg = vscode.workspace.getConfiguration("hearth");
      const bias = cfg.get<Record<string, number>>("chat.logitBias", {});
      const params = {
        chatId, messages: this.messages, attachments: this.attachments.map((a) => a.attachment),
        maxTokens: cfg.get<number>("chat.maxTokens", 1024),
        ...(this.model ? { model: this.model } : {}), ...(Object.keys(bias).length ? { logitBias: bias } : {}),
      };
      this.attachments = [];
      this.postAttachments();
      const r = await c.sendRequest(ChatRequest.type, params, cts.token);
      answer = r.text;
      finish = r.finishReason;
    } catch (e) {
      // A stop cancels the request: what streamed so far is kept.
      if (cts.token.isCancellationRequested) {
        finish = "abort";
        answer = streamed;
      }
      else {
        finish = "error";
        this.post({ type: "error", message: (e as Error).message });
      }
    } finally {
      sub.dispose();
      this.running = undefined;
      cts.dispose();
    }
    if (finish !== "error") this.messages.push({ role: "assistant", content: answer });
    else this.messages.pop();
    // Saved before the view shows the end: what the user sees as finished (or stopped) is what a reload restores.
    await this.context.workspaceState.update(HISTORY_KEY, this.messages);
    this.post({ type: "end", chatId, text: answer, finishReason: finish });
  }
}
