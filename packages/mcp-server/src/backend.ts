// Which backend serves the tools: the engine in this process (default), a remote OpenAI-compatible URL
// (--base-url), or the per-user shared host (--shared). All come from @hearth/serving.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as serving from "@hearth/serving";
import { createLocalBackend, type Backend } from "@hearth/serving";
import type { McpOptions } from "./args.js";

type Factory = (opts: Record<string, unknown>) => Backend | Promise<Backend>;

function factory(name: string, what: string): Factory {
  const f = (serving as unknown as Record<string, unknown>)[name];
  if (typeof f !== "function") throw new Error(`this build of @hearth/serving has no ${name}: ${what} is not available`);
  return f as Factory;
}

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
  const models = { text: opts.model, vision: opts.visionModel, embedding: opts.embeddingModel };
  if (opts.baseUrl) return factory("createRemoteBackend", "--base-url")({ baseUrl: opts.baseUrl, apiKey: opts.apiKey, ...models });
  if (opts.shared) return factory("connectSharedBackend", "--shared")({ ...models });
  return createLocalBackend({
    model: opts.model, embeddingModel: opts.embeddingModel, visionModel: opts.visionModel, adapterDir,
    adapters: savedAdapters(adapterDir),
  });
}
