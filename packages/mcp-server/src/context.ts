// What every tool handler gets: the backend, this session's roots, the options and the training jobs.
import type { Backend } from "@hearth/serving";
import type { McpOptions } from "./args.js";
import type { RootSet } from "./roots.js";
import type { TrainingJobs } from "./jobs.js";

export interface ToolContext {
  backend: Backend;
  roots: RootSet;
  opts: McpOptions;
  jobs: TrainingJobs;
  log: (msg: string) => void;
}

/** Logs go to stderr only: stdout carries the protocol. */
export function stderrLog(msg: string): void {
  process.stderr.write(`hearth-mcp: ${msg}\n`);
}

/** A model argument that names a path (absolute, ./ or ~/) must sit inside a root; names and hub ids pass as is. */
export async function confineModelArg(ctx: ToolContext, model: string | undefined, param: string): Promise<string | undefined> {
  if (model === undefined) return undefined;
  if (model.startsWith("/") || model.startsWith(".") || model.startsWith("~") || /^[A-Za-z]:[\\/]/.test(model))
    return ctx.roots.resolve(model, param);
  return model;
}
