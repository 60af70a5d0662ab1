// One MCP session: an McpServer with Hearth's tools, resources and prompts over a shared backend. stdio has one
// session; Streamable HTTP makes one per client session. The backend and the training jobs are shared by all.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { RootsListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Backend } from "@hearth/serving";
import type { McpOptions } from "./args.js";
import type { ToolContext } from "./context.js";
import type { TrainingJobs } from "./jobs.js";
import { RootSet } from "./roots.js";
import { generateTool } from "./tools/generate.js";
import { embedTool } from "./tools/embed.js";
import { describeImageTool } from "./tools/describe-image.js";
import { loraTrainTool } from "./tools/lora-train.js";
import { loraCancelTool, loraStatusTool } from "./tools/lora-jobs.js";
import { listAll, modelsTool } from "./tools/models.js";

export const SERVER_NAME = "hearth-mcp";
export const SERVER_VERSION = "0.1.0";

export interface SharedState {
  backend: Backend;
  opts: McpOptions;
  jobs: TrainingJobs;
  /** Realpaths of the --root folders. */
  cliRoots: string[];
  log: (msg: string) => void;
}

const INSTRUCTIONS = `Hearth runs Gemma models locally, inside this server: generate (text, JSON-constrained, with LoRA adapters), embed (vectors, or rank documents against a query), describe_image (vision), lora_train (fine-tune an adapter on a JSONL file, then pass its name as adapter to generate), lora_status / lora_cancel, models (list / load / unload). File paths must lie inside the allowed roots.`;

export function createSessionServer(state: SharedState): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION, title: "Hearth (local Gemma)" },
    { capabilities: { logging: {} }, instructions: INSTRUCTIONS },
  );
  const roots = new RootSet(state.cliRoots);
  const ctx: ToolContext = { backend: state.backend, roots, opts: state.opts, jobs: state.jobs, log: state.log };

  // The client's roots join the --root folders once it says it has them, and again on every change.
  const fetchRoots = async () => (await server.server.listRoots()).roots;
  server.server.oninitialized = () => {
    if (server.server.getClientCapabilities()?.roots) void roots.refresh(fetchRoots, state.log);
  };
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    await roots.refresh(fetchRoots, state.log);
  });

  for (const t of [generateTool, embedTool, describeImageTool, loraTrainTool, loraStatusTool, loraCancelTool, modelsTool]) {
    // Each tool file types its own handler; registerTool's overloads cannot see through the array, hence the cast.
    (server.registerTool as (n: string, c: unknown, h: unknown) => void)(t.name, t.config, (t.handler as (c: ToolContext) => unknown)(ctx));
  }

  server.registerResource("adapters", "hearth://adapters", {
    title: "LoRA adapters",
    description: "Adapters usable as generate's adapter: trained in this server, loaded, or found in the roots.",
    mimeType: "application/json",
  }, async (uri) => {
    const all = await listAll(ctx);
    const list = [...all.adapters, ...all.inRoots.filter((r) => r.kind === "adapter").map((r) => ({ name: r.path, path: r.path, source: "roots" }))];
    return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(list, null, 2) }] };
  });
  server.registerResource("models", "hearth://models", {
    title: "Models",
    description: "Models this server can use, loaded or not: configured, in the roots, and in the Hugging Face cache.",
    mimeType: "application/json",
  }, async (uri) => {
    const all = await listAll(ctx);
    return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ models: all.models, inRoots: all.inRoots, inCache: all.inCache }, null, 2) }] };
  });

  // Which backend answers (local, remote, shared) and, for the shared host, its process id: faces that share one
  // host report the same pid.
  server.registerResource("status", "hearth://status", {
    title: "Backend status",
    description: "The backend serving the tools (local, remote or shared; the shared host's pid), running and queued requests, models.",
    mimeType: "application/json",
  }, async (uri) => {
    const st = await state.backend.status();
    return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(st, null, 2) }] };
  });

  server.registerPrompt("caption_polish", {
    title: "Caption polish",
    description: "Rewrite a rough caption (e.g. from describe_image) into a polished one for a given audience and length.",
    argsSchema: {
      caption: z.string().describe("The rough caption or image description."),
      style: z.string().optional().describe("Tone or audience, e.g. 'alt text', 'social post', 'product listing'."),
      maxWords: z.string().optional().describe("Word limit (default 25)."),
    },
  }, ({ caption, style, maxWords }) => ({
    messages: [{
      role: "user",
      content: {
        type: "text",
        text: `Rewrite this image caption${style ? ` as ${style}` : ""} in at most ${maxWords || "25"} words. Keep every fact, drop filler, present tense, no "image of". Reply with the caption only.\n\nCaption: ${caption}`,
      },
    }],
  }));
  return server;
}
