// Tool `models`: list the models and adapters (loaded, in the HF cache, and in the roots), load one, unload one.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ServingError, type ModelInfo, type ModelKind } from "@hearth/serving";
import { confineModelArg, type ToolContext } from "../context.js";
import { toolError, toolResult } from "../errors.js";

export const modelsInput = {
  action: z.enum(["list", "load", "unload"]).optional().describe("list (default), load or unload."),
  model: z.string().optional().describe("load/unload: a model name, hub id, or a folder inside an allowed root."),
  kind: z.enum(["text", "vision", "embedding"]).optional().describe("load: what the model is for (detected when absent)."),
};

const modelInfo = z.object({
  id: z.string(), kind: z.enum(["text", "vision", "embedding"]), loaded: z.boolean(),
  path: z.string().optional(), bytes: z.number().optional(), adapters: z.array(z.string()),
});

export const modelsOutput = {
  models: z.array(modelInfo),
  adapters: z.array(z.object({ name: z.string(), path: z.string().optional(), source: z.string() })),
  /** Folders in the roots that look like models, loadable by path. */
  inRoots: z.array(z.object({ path: z.string(), kind: z.enum(["text", "vision", "embedding", "adapter"]) })),
  /** Models downloaded to the Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub): load by id. */
  inCache: z.array(z.object({ id: z.string(), kind: z.enum(["text", "vision", "embedding", "adapter"]) })),
};

type Args = z.infer<z.ZodObject<typeof modelsInput>>;

async function kindOf(dir: string): Promise<ModelKind | "adapter" | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  if (names.includes("adapter_config.json")) return "adapter";
  if (names.includes("modules.json")) return "embedding";
  if (!names.includes("config.json") || !names.some((n) => n.endsWith(".safetensors"))) return undefined;
  try {
    const cfg = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    return cfg.vision_config ? "vision" : "text";
  } catch {
    return undefined;
  }
}

/** Model and adapter folders at depth 0..2 under each root (a shallow scan: roots can be large project trees). */
export async function scanRoots(roots: string[]): Promise<Array<{ path: string; kind: ModelKind | "adapter" }>> {
  const out: Array<{ path: string; kind: ModelKind | "adapter" }> = [];
  const visit = async (dir: string, depth: number) => {
    const k = await kindOf(dir);
    if (k) { out.push({ path: dir, kind: k }); return; }
    if (depth === 2) return;
    let ents;
    try {
      ents = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents.slice(0, 200)) if (e.isDirectory() && !e.name.startsWith(".") && e.name !== "node_modules") await visit(join(dir, e.name), depth + 1);
  };
  for (const r of roots) await visit(r, 0);
  return out;
}

/**
 * Models in the Hugging Face cache that the engine can load by id: `models--org--name` with the snapshot its
 * `refs/main` names (the one lm.load resolves). The cache is this machine's, so a remote backend does not list it.
 */
export async function scanHubCache(cache = lm.hubCacheDir()): Promise<Array<{ id: string; kind: ModelKind | "adapter" }>> {
  let ents;
  try {
    ents = await readdir(cache, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: Array<{ id: string; kind: ModelKind | "adapter" }> = [];
  for (const e of ents) {
    const m = /^models--([^-].*?)--(.+)$/.exec(e.name);
    if (!e.isDirectory() || !m) continue;
    let rev: string;
    try {
      rev = (await readFile(join(cache, e.name, "refs", "main"), "utf8")).trim();
    } catch {
      continue;
    }
    const kind = await kindOf(join(cache, e.name, "snapshots", rev));
    if (kind) out.push({ id: `${m[1]}/${m[2]}`, kind });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export async function listAll(ctx: ToolContext) {
  const models: ModelInfo[] = await ctx.backend.models();
  const adapters = new Map<string, { name: string; path?: string; source: string }>();
  for (const m of models) for (const a of m.adapters) if (!adapters.has(a)) adapters.set(a, { name: a, source: `model ${m.id}` });
  for (const j of ctx.jobs.list()) {
    if (j.status === "done" || j.status === "cancelled") {
      const entry: { name: string; path?: string; source: string } = { name: j.req.name, source: `lora_train (${j.status})` };
      if (j.path) entry.path = j.path;
      adapters.set(j.req.name, entry);
    }
  }
  const inRoots = await scanRoots(ctx.roots.all());
  const inCache = ctx.backend.kind === "remote" ? [] : await scanHubCache();
  return { models: models.map((m) => ({ ...m })), adapters: [...adapters.values()], inRoots, inCache };
}

export const modelsTool = {
  name: "models",
  config: {
    title: "List, load and unload models",
    description: "List the models and LoRA adapters this server can use (loaded, in the Hugging Face cache, and in the allowed roots), or load / unload one.",
    inputSchema: modelsInput,
    outputSchema: modelsOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: Args): Promise<CallToolResult> => {
    try {
      const action = args.action ?? "list";
      if (action !== "list") {
        if (!args.model) throw new ServingError("invalid_request", `${action} needs model (a name from models {"action": "list"}, a hub id, or a folder inside a root)`, { param: "model" });
        const model = (await confineModelArg(ctx, args.model, "model"))!;
        if (action === "load") await ctx.backend.load(model, args.kind);
        else await ctx.backend.unload(model);
      }
      const all = await listAll(ctx);
      const lines = [
        ...all.models.map((m) => `${m.loaded ? "*" : " "} ${m.id} (${m.kind})${m.adapters.length ? ` adapters: ${m.adapters.join(", ")}` : ""}`),
        ...all.adapters.map((a) => `  adapter ${a.name}${a.path ? ` at ${a.path}` : ""} [${a.source}]`),
        ...all.inRoots.map((r) => `  in roots: ${r.path} (${r.kind})`),
        ...all.inCache.map((r) => `  in the Hugging Face cache: ${r.id} (${r.kind})`),
      ];
      const head = action === "list" ? "models (* = loaded):" : `${action}ed ${args.model}. models (* = loaded):`;
      return toolResult(all, [head, ...lines].join("\n"));
    } catch (e) {
      return toolError(e);
    }
  },
};
