// The chat page inside the webview: renders answers as markdown (markdown-it, raw HTML off) sanitised by DOMPurify,
// with copy / insert buttons on code blocks. It talks only to the extension (postMessage); no network access.
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";

declare function acquireVsCodeApi(): { postMessage(m: unknown): void };
const vscode = acquireVsCodeApi();
const md = new MarkdownIt({ html: false, linkify: false, breaks: false });

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const log = $("log");
const input = $<HTMLTextAreaElement>("input");
const send = $<HTMLButtonElement>("send");
const stop = $<HTMLButtonElement>("stop");
const modelSelect = $<HTMLSelectElement>("model");
const attachments = $("attachments");

let current: { el: HTMLElement; text: string } | undefined;

function render(el: HTMLElement, markdown: string): void {
  el.innerHTML = DOMPurify.sanitize(md.render(markdown));
  for (const pre of Array.from(el.querySelectorAll("pre"))) {
    const code = pre.textContent ?? "";
    const bar = document.createElement("div");
    bar.className = "code-actions";
    for (const [label, type] of [["Copy", "copy"], ["Insert", "insert"]] as const) {
      const b = document.createElement("button");
      b.textContent = label;
      b.className = `code-${type}`;
      b.addEventListener("click", () => vscode.postMessage({ type, code }));
      bar.appendChild(b);
    }
    pre.before(bar);
  }
}

function bubble(role: "user" | "assistant", text: string): HTMLElement {
  const el = document.createElement("div");
  el.className = `msg ${role}`;
  if (role === "user") el.textContent = text;
  else render(el, text);
  log.appendChild(el);
  log.scrollTop = log.scrollHeight;
  return el;
}

function setRunning(on: boolean): void {
  send.disabled = on;
  stop.disabled = !on;
}

function submit(): void {
  const text = input.value;
  if (!text.trim() || send.disabled) return;
  input.value = "";
  vscode.postMessage({ type: "send", text });
}

input.addEventListener("keydown", (e) => {
  // Enter sends, Shift+Enter is a new line (the textarea's own behaviour).
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
send.addEventListener("click", submit);
stop.addEventListener("click", () => vscode.postMessage({ type: "stop" }));
$("new").addEventListener("click", () => vscode.postMessage({ type: "newChat" }));
$("add-selection").addEventListener("click", () => vscode.postMessage({ type: "addSelection" }));
$("add-file").addEventListener("click", () => vscode.postMessage({ type: "addFile" }));
modelSelect.addEventListener("change", () => vscode.postMessage({ type: "pickModel", model: modelSelect.value }));

window.addEventListener("message", (ev: MessageEvent) => {
  const m = ev.data as { type: string; [k: string]: any };
  switch (m.type) {
    case "history":
      log.textContent = "";
      for (const x of m.messages as Array<{ role: "user" | "assistant"; content: string }>) bubble(x.role, x.content);
      break;
    case "start":
      bubble("user", m.user);
      current = { el: bubble("assistant", ""), text: "" };
      current.el.classList.add("streaming");
      setRunning(true);
      break;
    case "delta":
      if (!current) break;
      current.text += m.text;
      render(current.el, current.text);
      log.scrollTop = log.scrollHeight;
      break;
    case "end":
      if (current) {
        current.el.classList.remove("streaming");
        if (m.finishReason === "abort") {
          const note = document.createElement("div");
          note.className = "stopped";
          note.textContent = "(stopped)";
          current.el.appendChild(note);
        }
      }
      current = undefined;
      setRunning(false);
      break;
    case "models":
      modelSelect.textContent = "";
      for (const x of m.models as Array<{ id: string; current: boolean }>) {
        const o = document.createElement("option");
        o.value = x.id;
        o.textContent = x.id;
        o.selected = x.current;
        modelSelect.appendChild(o);
      }
      break;
    case "attachments":
      attachments.textContent = "";
      (m.items as string[]).forEach((label, index) => {
        const chip = document.createElement("span");
        chip.className = "chip";
        chip.textContent = label + " ";
        const x = document.createElement("button");
        x.textContent = "×";
        x.title = "Remove";
        x.addEventListener("click", () => vscode.postMessage({ type: "removeAttachment", index }));
        chip.appendChild(x);
        attachments.appendChild(chip);
      });
      break;
    case "error": {
      const el = document.createElement("div");
      el.className = "msg error";
      el.textContent = m.message;
      log.appendChild(el);
      setRunning(false);
      break;
    }
  }
});

vscode.postMessage({ type: "ready" });
