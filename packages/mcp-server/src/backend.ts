// Which backend serves the tools: the engine in this process (default), a remote OpenAI-compatible URL
// (--base-url), or the per-user shared host (--shared). All come from @hearth/serving.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createLocalBackend, createRemoteBackend, createSharedBackend, type Backend } from "@hearth/serving";
import type { McpOptions } from "./args.js";

/** Adapters lora_train saved earlier (adapterDir/<name>/adapter_config.json): served by name after a restart too. */
export function savedAdapters(adapterDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(adapterDir)) return out;
  for (const e of readdirSync(adapterDir, { withFileTypes: true })) {
    const dir = join(adapterDir, e.name);
    if (e.isDirectory() && existsSync(join(dir, "adapter_config.json")) && existsSync(join(dir, "adapters.safetensors"))) out[e.name] = dir;
  }
  return out;
}

export async function createBackend(opts: McpOptions, adapterDir: string): Promise<Backend> {
  if (opts.baseUrl) {
    // The remote server's own names: --model and --embedding-model become the names sent when a call gives none.
    return createRemoteBackend({ baseURL: opts.baseUrl, apiKey: opts.apiKey, model: opts.model, embeddingModel: opts.embeddingModel });
  }
  if (opts.shared) {
    // A running host keeps its own models; these settings start one when none runs.
    return createSharedBackend({
      model: opts.model, embeddingModel: opts.embeddingModel, visionModel: opts.visionModel, adapterDir,
      ...(opts.sharedIdleExitMs !== undefined ? { idleExitMs: opts.sharedIdleExitMs } : {}),
    });
  }
  return createLocalBackend({
    model: opts.model, embeddingModel: opts.embeddingModel, visionModel: opts.visionModel, adapterDir,
    adapters: savedAdapters(adapterDir),
  });
}
