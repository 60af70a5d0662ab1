// hearth/chat: the conversation plus its attachments (selection, current file, named files, the files only from
// inside the workspace folders) rendered with the model's chat template; the answer streams as hearth/chatDelta.
import { readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChatTurn } from "@hearth/serving";
import { ResponseError } from "vscode-languageserver";
import { HearthErrorCodes, type ChatAttachment, type ChatParams } from "../shared/protocol.js";

/** Largest file an attachment reads. */
export const MAX_ATTACHMENT_BYTES = 200_000;

/** Whether `path` (already resolved through symlinks) lies inside one of `roots`. */
export function isInside(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => {
    const rel = relative(r, path);
    return rel === "" || (!rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel));
  });
}

export interface AttachmentSources {
  /** Real paths of the workspace folders. */
  roots: () => Promise<string[]>;
  /** The text of an open document (unsaved edits included), if open. */
  openText: (uri: string) => string | undefined;
  /** False in an untrusted workspace: no file is read. */
  fileContext: () => boolean;
}

/** Reads a file attachment, refusing anything outside the workspace folders (after following symlinks). */
export async function readAttachment(a: Extract<ChatAttachment, { kind: "file" }>, src: AttachmentSources): Promise<{ path: string; text: string }> {
  if (!src.fileContext())
    throw new ResponseError(HearthErrorCodes.pathDenied, "file context is off (untrusted workspace): attach a selection instead");
  let path: string;
  try {
    const u = new URL(a.uri);
    if (u.protocol !== "file:") throw new Error("not a file: URI");
    path = fileURLToPath(u);
  } catch {
    throw new ResponseError(HearthErrorCodes.invalid, `attachment uri '${a.uri}' is not a file: URI`);
  }
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new ResponseError(HearthErrorCodes.invalid, `attached file ${path} does not exist`);
  }
  const roots = await src.roots();
  if (!isInside(real, roots))
    throw new ResponseError(HearthErrorCodes.pathDenied, `${path} is outside the workspace folders; only files inside them can be attached`);
  const open = src.openText(a.uri);
  if (open !== undefined) return { path, text: open.slice(0, MAX_ATTACHMENT_BYTES) };
  const st = await stat(real);
  if (!st.isFile()) throw new ResponseError(HearthErrorCodes.invalid, `${path} is not a file`);
  if (st.size > MAX_ATTACHMENT_BYTES)
    throw new ResponseError(HearthErrorCodes.invalid, `${path} is ${st.size} bytes; attachments are limited to ${MAX_ATTACHMENT_BYTES}`);
  return { path, text: await readFile(real, "utf8") };
}

/** Checks the request's shape; the messages for the backend, attachments folded into the last user turn. */
export async function chatTurns(params: ChatParams, src: AttachmentSources): Promise<ChatTurn[]> {
  if (!params || typeof params.chatId !== "string" || !Array.isArray(params.messages) || params.messages.length === 0)
    throw new ResponseError(HearthErrorCodes.invalid, "hearth/chat needs { chatId: string, messages: [{ role, content }, …] }");
  for (const m of params.messages)
    if (!m || !["system", "user", "assistant"].includes(m.role) || typeof m.content !== "string")
      throw new ResponseError(HearthErrorCodes.invalid, "each message needs role system | user | assistant and a string content");
  const last = params.messages[params.messages.length - 1]!;
  if (last.role !== "user") throw new ResponseError(HearthErrorCodes.invalid, "the last message must be the user's");
  const blocks: string[] = [];
  for (const a of params.attachments ?? []) {
    if (a.kind === "selection") {
      if (typeof a.text !== "string") throw new ResponseError(HearthErrorCodes.invalid, "a selection attachment needs text");
      blocks.push(`Selected code from ${displayName(a.uri)}${a.startLine !== undefined ? ` (line ${a.startLine + 1})` : ""}:\n\`\`\`\n${a.text}\n\`\`\``);
    } else if (a.kind === "file") {
      const f = await readAttachment(a, src);
      blocks.push(`File ${displayName(a.uri)}:\n\`\`\`\n${f.text}\n\`\`\``);
    } else {
      throw new ResponseError(HearthErrorCodes.invalid, `unknown attachment kind '${(a as { kind: string }).kind}'`);
    }
  }
  const turns: ChatTurn[] = params.messages.map((m) => ({ role: m.role, content: m.content }));
  if (blocks.length) turns[turns.length - 1] = { role: "user", content: `${blocks.join("\n\n")}\n\n${last.content}` };
  return turns;
}

function displayName(uri: string): string {
  try {
    return fileURLToPath(new URL(uri));
  } catch {
    return uri;
  }
}
