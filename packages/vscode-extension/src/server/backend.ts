// Picks the Backend for the settings: a remote OpenAI-compatible URL, or the model in this process. Uses
// @hearth/serving's factories when that package provides them, the in-process engine backend otherwise.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lm } from "@hearth/engine";
import type { Backend } from "@hearth/serving";
import * as serving from "@hearth/serving";
import { ServingError } from "@hearth/serving";
import { EngineBackend } from "./engine-backend.js";

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

type Factory = (opts: Record<string, unknown>) => Backend | Promise<Backend>;

export interface BackendChoice {
  backend: Backend;
  /** The in-process backend when we run the engine ourselves (tokenizer access for FIM detection). */
  engine?: EngineBackend;
}

export async function createBackend(settings: { model?: string; baseUrl?: string }): Promise<BackendChoice> {
  const model = settings.model || BUNDLED_MODEL;
  const s = serving as unknown as Record<string, Factory | undefined>;
  if (settings.baseUrl) {
    try {
      new URL(settings.baseUrl);
    } catch {
      throw new ServingError("invalid_request", `baseUrl '${settings.baseUrl}' is not a URL (e.g. http://127.0.0.1:8080/v1)`, { param: "baseUrl" });
    }
    const remote = s.createRemoteBackend;
    if (!remote) throw new ServingError("unsupported", "this build of @hearth/serving has no remote backend (createRemoteBackend)");
    return { backend: await remote({ baseUrl: settings.baseUrl, defaultModel: model }) };
  }
  const local = s.createLocalBackend;
  if (local && process.env.HEARTH_LSP_BACKEND !== "engine") {
    return { backend: await local({ defaultModel: resolveModelName(model) }) };
  }
  const engine = new EngineBackend({ defaultModel: model, resolve: resolveModel });
  return { backend: engine, engine };
}

/** The bundled model by its folder when it ships beside the server (the serving host resolves folders). */
function resolveModelName(model: string): string {
  return model === BUNDLED_MODEL ? (shippedModelPath() ?? model) : model;
}
