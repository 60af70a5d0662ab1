// Tools `lora_status` and `lora_cancel`: follow and stop training jobs started with lora_train (wait: false, or
// another session's).
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ServingError } from "@hearth/serving";
import type { ToolContext } from "../context.js";
import { toolError, toolResult } from "../errors.js";
import { jobOutput, jobResult, jobText } from "./lora-train.js";

function find(ctx: ToolContext, jobId: string) {
  const job = ctx.jobs.get(jobId);
  if (!job) {
    const known = ctx.jobs.list().map((j) => `${j.id} (${j.req.name}, ${j.status})`);
    throw new ServingError("model_not_found", `no training job ${jobId}; ${known.length ? `known jobs: ${known.join(", ")}` : "no job was started in this server"}`, { param: "jobId" });
  }
  return job;
}

export const loraStatusTool = {
  name: "lora_status",
  config: {
    title: "Training job status",
    description: "Status of a LoRA training job started with lora_train: iteration, losses, and at the end the adapter's path.",
    inputSchema: { jobId: z.string().describe("The jobId lora_train returned.") },
    outputSchema: jobOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: { jobId: string }): Promise<CallToolResult> => {
    try {
      const s = find(ctx, args.jobId).snapshot();
      return toolResult(jobResult(s), jobText(s));
    } catch (e) {
      return toolError(e);
    }
  },
};

export const loraCancelTool = {
  name: "lora_cancel",
  config: {
    title: "Cancel a training job",
    description: "Stop a LoRA training job within one step. The last complete checkpoint is kept and usable as the adapter.",
    inputSchema: { jobId: z.string().describe("The jobId lora_train returned.") },
    outputSchema: jobOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: { jobId: string }): Promise<CallToolResult> => {
    try {
      const job = find(ctx, args.jobId);
      job.cancel();
      await job.finished;
      const s = job.snapshot();
      return toolResult(jobResult(s), jobText(s));
    } catch (e) {
      return toolError(e);
    }
  },
};
