// Picks the Backend for the settings: a remote OpenAI-compatible URL, or the model in this process. Uses
// @hearth/serving's LocalBackend (scheduler, prefix cache, interactive priority) or its RemoteBackend.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { lm } from "@hearth/engine";
import type { Backend } from "@hearth/serving";
import * as serving from "@hearth/serving";
import { ServingError } from "@hearth/serving";

export const BUNDLED_MODEL = "hearth-tiny";

/** A folder `models/hearth-tiny` next to (or above) this file: the VS Code extension ships the model there. */
function shippedModelPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, "models", BUNDLED_MODEL);
    if (existsSync(join(p, "config.json"))) return p;
    dir = dirname(dir);
  }
  return undefined;
}

/** Model name → folder; the bundled name also resolves inside a packaged extension. */
export function resolveModel(name: string): string {
  if (name === BUNDLED_MODEL && !existsSync(name)) {
    const shipped = shippedModelPath();
    if (shipped) return shipped;
  }
  return lm.resolveModelPath(name);
}

/** A backend's model id as the user knows it: the shipped hearth-tiny folder is "hearth-tiny". */
export function displayModelId(id: string): string {
  return id !== BUNDLED_MODEL && id === shippedModelPath() ? BUNDLED_MODEL : id;
}

/** The bundled demo model, by name or by its folder (it knows one request shape for code: docs/DEMO_MODEL.md). */
export function isDemoModel(name: string): boolean {
  if (name === BUNDLED_MODEL) return true;
  try {
    return basename(resolveModel(name)) === BUNDLED_MODEL;
  } catch {
    return false;
  }
}

export interface BackendChoice {
  backend: Backend;
  /** The default model's name as this backend knows it (for warm-up). */
  model: string;
}

/**
 * The token strings a local model's tokenizer files define as special or added (plus the vocabulary when only
 * tokenizer.json has them), for FIM sentinel detection without building a tokenizer. Undefined: not a local folder.
 */
export function localTokenLookup(model: string): ((t: string) => number | undefined) | undefined {
  let path: string;
  try {
    path = resolveModel(model);
  } catch {
    return undefined;
  }
  const read = (name: string): any => {
    for (const f of [name, name + ".gz"]) {
      const p = join(path, f);
      if (!existsSync(p)) continue;
      const buf = readFileSync(p);
      return JSON.parse((f.endsWith(".gz") ? gunzipSync(buf) : buf).toString("utf8"));
    }
    return undefined;
  };
  const ids = new Map<string, number>();
  try {
    const cfg = read("tokenizer_config.json");
    for (const [id, t] of Object.entries<any>(cfg?.added_tokens_decoder ?? {})) if (typeof t?.content === "string") ids.set(t.content, Number(id));
    const tok = read("tokenizer.json");
    for (const t of tok?.added_tokens ?? []) if (typeof t?.content === "string") ids.set(t.content, t.id);
    const vocab = tok?.model?.vocab;
    if (vocab && !Array.isArray(vocab)) for (const k of ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>"]) if (typeof vocab[k] === "number") ids.set(k, vocab[k]);
  } catch {
    return undefined;
  }
  return (t) => ids.get(t);
}

export async function createBackend(settings: { model?: string; baseUrl?: string }, local: Record<string, unknown> = {}): Promise<BackendChoice> {
  const model = settings.model || BUNDLED_MODEL;
  if (settings.baseUrl) {
    try {
      new URL(settings.baseUrl);
    } catch {
      throw new ServingError("invalid_request", `baseUrl '${settings.baseUrl}' is not a URL (e.g. http://127.0.0.1:8080/v1)`, { param: "baseUrl" });
    }
    // No model named: the remote server's default model answers.
    const backend = serving.createRemoteBackend({ baseURL: settings.baseUrl, ...(settings.model ? { model: settings.model } : {}) });
    return { backend, model };
  }
  const id = resolveModelName(model);
  return { backend: serving.createLocalBackend({ ...local, model: id }), model: id };
}

/** The bundled model by its folder when it ships beside the server (the serving host resolves folders). */
export function resolveModelName(model: string): string {
  return model === BUNDLED_MODEL ? (shippedModelPath() ?? model) : model;
}
