// Which backend serves the tools: the engine in this process (default), a remote OpenAI-compatible URL
// (--base-url), or the per-user shared host (--shared). All come from @hearth/serving.
import * as serving from "@hearth/serving";
import { createLocalBackend, type Backend } from "@hearth/serving";
import type { McpOptions } from "./args.js";

type Factory = (opts: Record<string, unknown>) => Backend | Promise<Backend>;

function factory(name: string, what: string): Factory {
  const f = (serving as unknown as Record<string, unknown>)[name];
  if (typeof f !== "function") throw new Error(`this build of @hearth/serving has no ${name}: ${what} is not available`);
  return f as Factory;
}

export async function createBackend(opts: McpOptions, adapterDir: string): Promise<Backend> {
  const models = { text: opts.model, vision: opts.visionModel, embedding: opts.embeddingModel };
  if (opts.baseUrl) return factory("createRemoteBackend", "--base-url")({ baseUrl: opts.baseUrl, apiKey: opts.apiKey, ...models });
  if (opts.shared) return factory("connectSharedBackend", "--shared")({ ...models });
  return createLocalBackend({ model: opts.model, embeddingModel: opts.embeddingModel, visionModel: opts.visionModel, adapterDir });
}
