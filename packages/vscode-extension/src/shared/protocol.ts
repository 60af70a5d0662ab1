// The hearth/* requests and notifications, defined once: the language server and the VS Code client both import
// this file, and other editors' plugins can follow it as the reference. Chat is a request whose answer streams as
// hearth/chatDelta notifications; `$/cancelRequest` on the request stops decoding within one step.
import { NotificationType, RequestType, RequestType0 } from "vscode-languageserver-protocol";

/** Settings from `initializationOptions` and `workspace/didChangeConfiguration` (`{ settings: { hearth: … } }`). */
export interface HearthSettings {
  /** A model name or folder the backend knows; absent: the bundled hearth-tiny. */
  model?: string;
  /** An OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1): the model runs there instead of in-process. */
  baseUrl?: string;
  /** Most tokens of one inline suggestion (multi-line mode; single-line mode stops at the line end anyway). */
  maxTokens?: number;
  /** Quiet time after a keystroke before the model is asked (ms). */
  debounceMs?: number;
  /** Inline completion on or off (chat keeps working). */
  enabled?: boolean;
  /** Wall-clock budget of one suggestion (ms): what is decoded by then is returned. */
  maxTimeMs?: number;
  /** Prompt style: "auto" (FIM when the tokenizer has FIM sentinels, else the hole-filler chat prompt). */
  promptStyle?: "auto" | "fim" | "hole-filler" | "complete";
  /** Read other files for context (false in an untrusted workspace). */
  fileContext?: boolean;
}

export const DEFAULT_SETTINGS: Required<Omit<HearthSettings, "model" | "baseUrl">> = {
  maxTokens: 64,
  debounceMs: 150,
  enabled: true,
  maxTimeMs: 2000,
  promptStyle: "auto",
  fileContext: true,
};

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Context given with a chat question. Files are read by the server, and only inside the workspace folders. */
export type ChatAttachment =
  | { kind: "selection"; uri: string; text: string; startLine?: number }
  | { kind: "file"; uri: string };

export interface ChatParams {
  /** Chooses which hearth/chatDelta notifications belong to this request. */
  chatId: string;
  messages: ChatMessage[];
  attachments?: ChatAttachment[];
  model?: string;
  maxTokens?: number;
  temperature?: number;
  /** Token id → bias added to its logit (OpenAI's logit_bias), e.g. { "1": -100 } to keep a model talking. */
  logitBias?: Record<string, number>;
}

export interface ChatResult {
  chatId: string;
  text: string;
  finishReason: "stop" | "length" | "abort";
  promptTokens: number;
  completionTokens: number;
  tokensPerSecond: number;
}

export interface ChatDelta {
  chatId: string;
  text: string;
}

export interface ModelEntry {
  id: string;
  loaded: boolean;
  /** The model inline completion and chat use by default. */
  current: boolean;
}

export type ServerState = "loading" | "ready" | "busy" | "error";

export interface StatusInfo {
  state: ServerState;
  model: string;
  backend: "local" | "remote" | "shared";
  /** Decode speed of the last generation (0 before the first). */
  lastTokensPerSecond: number;
  /** The last error's message, in state "error". */
  message?: string;
  /** Counters since start (for clients and the tests). */
  modelCalls: number;
  cacheHits: number;
  /** Prompt tokens prefilled, and the ones a cached prefix already held, summed over the completion calls that
   * decoded a token (promptCalls). */
  promptTokens: number;
  cachedTokens: number;
  /** Completion calls that decoded at least one token (promptTokens / promptCalls = tokens prefilled per call). */
  promptCalls: number;
  /** Completions answered at the time budget (maxTimeMs) with what was ready. */
  budgetHits: number;
}

/** LSP error codes of hearth/* failures (in the range reserved for servers). */
export const HearthErrorCodes = {
  pathDenied: -32001,
  modelNotFound: -32002,
  backend: -32003,
  invalid: -32602,
} as const;

export namespace ChatRequest {
  export const method = "hearth/chat";
  export const type = new RequestType<ChatParams, ChatResult, void>(method);
}

export namespace ChatDeltaNotification {
  export const method = "hearth/chatDelta";
  export const type = new NotificationType<ChatDelta>(method);
}

export namespace ModelsRequest {
  export const method = "hearth/models";
  export const type = new RequestType0<{ models: ModelEntry[] }, void>(method);
}

export namespace StatusRequest {
  export const method = "hearth/status";
  export const type = new RequestType0<StatusInfo, void>(method);
}

/** Sent by the server whenever the state changes (loading → ready, busy, error). */
export namespace StatusNotification {
  export const method = "hearth/statusChanged";
  export const type = new NotificationType<StatusInfo>(method);
}
