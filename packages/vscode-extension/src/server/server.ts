// The hearth-lsp language server: settings, documents, the backend's life cycle, and the request handlers. The
// model runs in this process (or behind baseUrl), never in the editor.
import { realpath } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend } from "@hearth/serving";
import { isServingError } from "@hearth/serving";
import {
  DidChangeConfigurationNotification, ResponseError, TextDocumentSyncKind, TextDocuments, type Connection,
  type InitializeParams, type InitializeResult, type InlineCompletionItem,
} from "vscode-languageserver";
import { TextDocument } from "vscode-languageserver-textdocument";
import {
  ChatDeltaNotification, ChatRequest, DEFAULT_SETTINGS, HearthErrorCodes, ModelsRequest, StatusNotification, StatusRequest,
  type ChatResult, type HearthSettings, type ServerState, type StatusInfo,
} from "../shared/protocol.js";
import { BUNDLED_MODEL, createBackend, displayModelId, isDemoModel, localTokenLookup, resolveModelName, type BackendChoice } from "./backend.js";
import { chatTurns } from "./chat.js";
import { Completer } from "./completion.js";
import { ContextRing } from "./context-ring.js";
import { detectFim, type FimTemplate, type PromptStyle } from "./prompt.js";

/** Settings as sent, checked field by field (a wrong type is reported and ignored, never fatal). */
export function parseSettings(raw: unknown, log: (m: string) => void): HearthSettings {
  const out: HearthSettings = {};
  if (raw === null || raw === undefined) return out;
  if (typeof raw !== "object") {
    log(`settings must be an object, got ${typeof raw}: ignored`);
    return out;
  }
  const r = raw as Record<string, unknown>;
  const str = (k: "model" | "baseUrl") => {
    if (r[k] === undefined || r[k] === null || r[k] === "") return;
    if (typeof r[k] === "string") out[k] = r[k] as string;
    else log(`setting ${k} must be a string: ignored`);
  };
  const int = (k: "maxTokens" | "debounceMs" | "maxTimeMs", min: number, max: number) => {
    if (r[k] === undefined || r[k] === null) return;
    const v = r[k];
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) out[k] = v;
    else log(`setting ${k} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}: ignored`);
  };
  str("model");
  str("baseUrl");
  int("maxTokens", 1, 4096);
  int("debounceMs", 0, 10_000);
  int("maxTimeMs", 50, 120_000);
  for (const k of ["enabled", "fileContext"] as const) {
    if (r[k] === undefined || r[k] === null) continue;
    if (typeof r[k] === "boolean") out[k] = r[k] as boolean;
    else log(`setting ${k} must be true or false: ignored`);
  }
  if (r.promptStyle !== undefined) {
    if (["auto", "fim", "hole-filler", "complete"].includes(r.promptStyle as string)) out.promptStyle = r.promptStyle as HearthSettings["promptStyle"];
    else log(`setting promptStyle must be auto | fim | hole-filler | complete: ignored`);
  }
  return out;
}

/** `{ hearth: {...} }` or the settings object itself (clients differ). */
const unwrap = (raw: unknown): unknown =>
  raw && typeof raw === "object" && "hearth" in (raw as object) ? (raw as { hearth: unknown }).hearth : raw;

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const ring = new ContextRing();
  const log = (m: string) => connection.console.log(`[hearth-lsp] ${m}`);
  let settings: HearthSettings = {};
  let roots: string[] = [];
  let choice: Promise<BackendChoice> | undefined;
  let backendNow: Backend | undefined;
  let style: Promise<{ style: PromptStyle; fim?: FimTemplate }> | undefined;
  let state: ServerState = "loading";
  let message: string | undefined;
  let busy = 0;
  let lastTps = 0;
  let configCapability = false;
  let foldersCapability = false;

  const eff = () => ({ ...DEFAULT_SETTINGS, ...settings });
  const modelName = () => settings.model || BUNDLED_MODEL;

  const status = (): StatusInfo => {
    const s: StatusInfo = {
      state, model: modelName(), backend: settings.baseUrl ? "remote" : "local",
      lastTokensPerSecond: Math.max(lastTps, completer.stats.lastTokensPerSecond),
      modelCalls: completer.stats.modelCalls, cacheHits: completer.stats.cacheHits,
      promptTokens: completer.stats.promptTokens, cachedTokens: completer.stats.cachedTokens,
      budgetHits: completer.stats.budgetHits, promptCalls: completer.stats.promptCalls,
    };
    if (message !== undefined) s.message = message;
    return s;
  };
  const setState = (s: ServerState, msg?: string) => {
    state = s;
    message = msg;
    void connection.sendNotification(StatusNotification.type, status());
  };
  const onBusy = (b: boolean) => {
    busy += b ? 1 : -1;
    if (state === "error" || state === "loading") return;
    setState(busy > 0 ? "busy" : "ready");
  };

  /** (Re)creates the backend for the current model / baseUrl and warms the model up. */
  const connect = () => {
    const old = choice;
    completer.abortAll();
    completer.cache.clear();
    setState("loading");
    const s = { ...settings };
    choice = (async () => {
      if (old) await old.then((c) => c.backend.close()).catch(() => undefined);
      // HEARTH_LSP_PREFIX_CACHE=0 turns the serving prefix cache off (for the typing benchmark's comparison).
      return createBackend(s, process.env.HEARTH_LSP_PREFIX_CACHE === "0" ? { prefixCache: false } : {});
    })();
    style = undefined;
    const mine = choice;
    mine.then(async (c) => {
      backendNow = c.backend;
      // Warm up: the first keystroke should not wait for the weights.
      if (!s.baseUrl) await c.backend.load(c.model);
      await (style ??= resolveStyle());
      if (choice === mine) setState("ready");
    }).catch((e: unknown) => {
      if (choice === mine) {
        log(`backend failed: ${(e as Error).message}`);
        setState("error", (e as Error).message);
      }
    });
  };

  const resolveStyle = async (): Promise<{ style: PromptStyle; fim?: FimTemplate }> => {
    const want = eff().promptStyle;
    const c = await choice!;
    let fim: FimTemplate | undefined;
    if (!settings.baseUrl) {
      const lookup = localTokenLookup(modelName());
      if (lookup) fim = detectFim(lookup);
    }
    if (want === "fim") {
      if (!fim) throw new ResponseError(HearthErrorCodes.invalid, "promptStyle fim: this model's tokenizer has no FIM sentinels");
      return { style: "fim", fim };
    }
    if (want === "hole-filler" || want === "complete") return { style: want };
    if (fim) return { style: "fim", fim };
    // The bundled demo model knows one request shape for code (docs/DEMO_MODEL.md); instruct models the hole filler.
    // Behind baseUrl with no model named, the server's default model is unknown: the hole filler.
    const demo = settings.baseUrl ? settings.model === BUNDLED_MODEL : isDemoModel(modelName());
    return { style: demo ? "complete" : "hole-filler" };
  };

  const completer = new Completer({
    backend: () => {
      if (!backendNow) throw new Error("the backend is not ready");
      return backendNow;
    },
    model: () => (settings.model ? (settings.baseUrl ? settings.model : resolveModelName(settings.model)) : undefined),
    style: () => (style ??= resolveStyle()),
    settings: () => {
      const e = eff();
      return { maxTokens: e.maxTokens, debounceMs: e.debounceMs, maxTimeMs: e.maxTimeMs, fileContext: e.fileContext };
    },
    ring,
    onBusy,
    log,
  });

  const ready = async (): Promise<Backend> => {
    if (!choice) connect();
    const c = await choice!;
    return c.backend;
  };

  const toResponseError = (e: unknown): ResponseError<void> | Error => {
    if (e instanceof ResponseError) return e;
    if (isServingError(e)) {
      const code = e.code === "path_denied" ? HearthErrorCodes.pathDenied
        : e.code === "model_not_found" ? HearthErrorCodes.modelNotFound
        : e.code === "invalid_request" ? HearthErrorCodes.invalid : HearthErrorCodes.backend;
      return new ResponseError(code, `${e.code}: ${e.message}`);
    }
    return new ResponseError(HearthErrorCodes.backend, (e as Error)?.message ?? String(e));
  };

  connection.onInitialize(async (params: InitializeParams): Promise<InitializeResult> => {
    settings = parseSettings(unwrap(params.initializationOptions), log);
    configCapability = !!params.capabilities.workspace?.configuration;
    foldersCapability = !!params.capabilities.workspace?.workspaceFolders;
    const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
    roots = await realRoots(folders);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        inlineCompletionProvider: true,
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: "hearth-lsp", version: "0.1.0" },
    };
  });

  connection.onInitialized(() => {
    connect();
    if (configCapability)
      void connection.client.register(DidChangeConfigurationNotification.type, { section: "hearth" }).catch(() => undefined);
    if (foldersCapability)
      connection.workspace.onDidChangeWorkspaceFolders(async () => {
        const f = await connection.workspace.getWorkspaceFolders();
        roots = await realRoots((f ?? []).map((x) => x.uri));
      });
  });

  connection.onDidChangeConfiguration(async (p) => {
    let raw = unwrap(p.settings);
    // A client that sends no settings wants us to pull them (VS Code with a registered section).
    if ((raw === null || raw === undefined) && configCapability)
      raw = await connection.workspace.getConfiguration("hearth").catch(() => undefined);
    // Nothing said (null, {}): keep what initializationOptions set. Zed, for one, sends an empty configuration
    // right after initialize when its `settings` key is unset; Neovim and Helix send theirs only when set.
    if (raw === null || raw === undefined || (typeof raw === "object" && Object.keys(raw as object).length === 0)) {
      log("empty configuration: settings unchanged");
      return;
    }
    const next = parseSettings(raw, log);
    const restart = next.model !== settings.model || next.baseUrl !== settings.baseUrl;
    settings = next;
    if (next.fileContext === false) ring.clear();
    if (restart) connect();
    else void connection.sendNotification(StatusNotification.type, status());
  });

  documents.onDidOpen((e) => {
    if (eff().fileContext) ring.record(e.document.uri, displayPath(e.document.uri), e.document.getText(), 0);
  });
  // The ring records the area around each edit: the first line where the text differs from the previous version.
  const previous = new Map<string, string>();
  documents.onDidChangeContent((e) => {
    const text = e.document.getText();
    const before = previous.get(e.document.uri);
    previous.set(e.document.uri, text);
    if (!eff().fileContext || before === undefined) return;
    let i = 0;
    const n = Math.min(before.length, text.length);
    while (i < n && before.charCodeAt(i) === text.charCodeAt(i)) i++;
    ring.record(e.document.uri, displayPath(e.document.uri), text, e.document.positionAt(i).line);
  });
  documents.onDidClose((e) => previous.delete(e.document.uri));

  connection.languages.inlineCompletion.on(async (params, token) => {
    if (!eff().enabled) return null;
    const doc = documents.get(params.textDocument.uri);
    if (!doc) return null;
    try {
      backendNow = await ready();
    } catch (e) {
      throw toResponseError(e);
    }
    const text = doc.getText();
    const offset = doc.offsetAt(params.position);
    try {
      const out = await completer.complete({
        uri: doc.uri, path: displayPath(doc.uri), languageId: doc.languageId,
        prefix: text.slice(0, offset), suffix: text.slice(offset), token,
      });
      if (!out.text) return { items: [] };
      const item: InlineCompletionItem = {
        insertText: out.text,
        range: { start: params.position, end: params.position },
      };
      return { items: [item] };
    } catch (e) {
      setState("error", (e as Error).message);
      throw toResponseError(e);
    }
  });

  connection.onRequest(ChatRequest.type, async (params, token): Promise<ChatResult> => {
    const backend = await ready().catch((e: unknown) => {
      throw toResponseError(e);
    });
    const messages = await chatTurns(params, {
      roots: async () => roots,
      openText: (uri) => documents.get(uri)?.getText(),
      fileContext: () => eff().fileContext,
    });
    const ctl = new AbortController();
    const sub = token.onCancellationRequested(() => ctl.abort());
    onBusy(true);
    let text = "";
    try {
      const req: Parameters<Backend["generate"]>[0] = {
        messages, maxTokens: params.maxTokens ?? 512, temperature: params.temperature ?? 0,
        priority: "background", signal: ctl.signal,
      };
      const model = params.model || settings.model;
      // "hearth-tiny" means the shipped folder when there is one (a local backend; a remote one gets the name).
      if (model) req.model = settings.baseUrl ? model : resolveModelName(model);
      if (params.logitBias !== undefined) {
        const lb: Record<number, number> = {};
        for (const [k, v] of Object.entries(params.logitBias ?? {})) {
          if (!/^\d+$/.test(k) || typeof v !== "number" || !Number.isFinite(v))
            throw new ResponseError(HearthErrorCodes.invalid, "logitBias maps token ids to finite numbers");
          lb[Number(k)] = v;
        }
        req.logitBias = lb;
      }
      for await (const e of backend.generate(req)) {
        if (e.type === "token" && e.text) {
          text += e.text;
          void connection.sendNotification(ChatDeltaNotification.type, { chatId: params.chatId, text: e.text });
        } else if (e.type === "done") {
          if (e.tokensPerSecond > 0) lastTps = e.tokensPerSecond;
          return {
            chatId: params.chatId, text, finishReason: e.finishReason === "tool_calls" ? "stop" : e.finishReason,
            promptTokens: e.usage.promptTokens, completionTokens: e.usage.completionTokens, tokensPerSecond: e.tokensPerSecond,
          };
        }
      }
      return { chatId: params.chatId, text, finishReason: "abort", promptTokens: 0, completionTokens: 0, tokensPerSecond: 0 };
    } catch (e) {
      if (ctl.signal.aborted)
        return { chatId: params.chatId, text, finishReason: "abort", promptTokens: 0, completionTokens: 0, tokensPerSecond: 0 };
      throw toResponseError(e);
    } finally {
      sub.dispose();
      onBusy(false);
    }
  });

  connection.onRequest(ModelsRequest.type, async () => {
    try {
      const backend = await ready();
      const list = await backend.models();
      const current = modelName();
      const models = list.map((m) => ({ id: displayModelId(m.id), loaded: m.loaded, current: displayModelId(m.id) === current }));
      if (!models.some((m) => m.current)) models.unshift({ id: current, loaded: false, current: true });
      return { models };
    } catch (e) {
      throw toResponseError(e);
    }
  });

  connection.onRequest(StatusRequest.type, () => status());

  connection.onShutdown(async () => {
    completer.abortAll();
    const c = await choice?.catch(() => undefined);
    await c?.backend.close().catch(() => undefined);
  });

  documents.listen(connection);
  connection.listen();
}

async function realRoots(uris: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const u of uris) {
    try {
      out.push(await realpath(fileURLToPath(new URL(u))));
    } catch {
      // a non-file or missing folder holds nothing we can read
    }
  }
  return out;
}

function displayPath(uri: string): string {
  try {
    return basename(fileURLToPath(new URL(uri)));
  } catch {
    return uri;
  }
}
