// Tool `lora_train`: fine-tune a LoRA adapter on a JSONL dataset inside a root; the adapter is then usable by name in
// generate. Progress notifications (progress/total = iterations, message with loss and tokens/s) go to clients that
// send a progress token; notifications/cancelled stops within one step and keeps the last complete checkpoint.
// wait: false returns a job id at once (follow with lora_status / lora_cancel).
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ServingError, type TrainRequest } from "@hearth/serving";
import { confineModelArg, type ToolContext } from "../context.js";
import { toolError, toolResult } from "../errors.js";
import type { RequestExtra } from "./common.js";
import type { JobSnapshot } from "../jobs.js";

export const ADAPTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const loraTrainInput = {
  data: z.string().min(1).describe("A folder with train.jsonl (and valid.jsonl), or one .jsonl file, inside an allowed root. Lines: {\"text\"}, {\"prompt\",\"completion\"} or {\"messages\"} (as hearth lora / mlx_lm.lora read)."),
  name: z.string().regex(ADAPTER_NAME, "letters, digits, '.', '_' or '-', at most 64").describe("The adapter's name; generate accepts it as adapter once training ends."),
  model: z.string().optional().describe("Base model (default: the server's --model)."),
  iters: z.number().int().min(1).max(100_000).optional().describe("Training iterations (default 100)."),
  batchSize: z.number().int().min(1).max(256).optional(),
  learningRate: z.number().gt(0).max(1).optional(),
  numLayers: z.number().int().min(-1).optional().describe("Layers to adapt from the top (-1: all)."),
  rank: z.number().int().min(1).max(512).optional(),
  maskPrompt: z.boolean().optional().describe("Train only on completions (prompt/completion and chat data)."),
  validationSplit: z.number().min(0).max(0.9).optional().describe("Fraction of a single JSONL file held out for validation."),
  wait: z.boolean().optional().describe("true (default): return when training ends, with progress notifications. false: return a jobId at once; follow it with lora_status and lora_cancel."),
};

export const jobOutput = {
  adapter: z.string(),
  status: z.enum(["running", "done", "cancelled", "failed"]),
  jobId: z.string(),
  path: z.string().optional(),
  iters: z.number().int().describe("Iterations completed (the target while running)."),
  iteration: z.number().int().optional(),
  trainLoss: z.number().nullable().optional(),
  validLoss: z.number().nullable().optional(),
  seconds: z.number().optional(),
  message: z.string().optional(),
  error: z.string().optional(),
};

/** The backend's message plus tokens/s when the report has it (the agent sees speed as well as loss). */
function progressMessage(p: { message: string; tokensPerSecond?: number }): string {
  return p.tokensPerSecond !== undefined && !/tok/.test(p.message) ? `${p.message}, ${p.tokensPerSecond.toFixed(0)} tokens/s` : p.message;
}

type Args = z.infer<z.ZodObject<typeof loraTrainInput>>;

/** The result shape shared by lora_train, lora_status and lora_cancel. */
export function jobResult(s: JobSnapshot): Record<string, unknown> {
  const out: Record<string, unknown> = { adapter: s.adapter, status: s.status, jobId: s.jobId, iters: s.status === "running" ? s.iters : s.iteration, iteration: s.iteration };
  for (const k of ["path", "trainLoss", "validLoss", "seconds", "message", "error"] as const) if (s[k] !== undefined) out[k] = s[k];
  return out;
}

export function jobText(s: JobSnapshot): string {
  const loss = (v: number | null | undefined) => (typeof v === "number" ? v.toFixed(4) : "n/a");
  switch (s.status) {
    case "running": return `adapter ${s.adapter}: training, iteration ${s.iteration}/${s.iters}${s.message ? ` (${s.message})` : ""}; job ${s.jobId}`;
    case "done": return `adapter ${s.adapter} trained: ${s.iteration} iterations in ${s.seconds?.toFixed(1)} s, train loss ${loss(s.trainLoss)}, valid loss ${loss(s.validLoss)}, saved at ${s.path}. Use it with generate {"adapter": "${s.adapter}"}.`;
    case "cancelled": return `adapter ${s.adapter}: cancelled after ${s.iteration} iterations; the last checkpoint is kept at ${s.path} and usable with generate {"adapter": "${s.adapter}"}.`;
    case "failed": return `adapter ${s.adapter}: training failed: ${s.error}`;
  }
}

export const loraTrainTool = {
  name: "lora_train",
  config: {
    title: "Fine-tune a LoRA adapter",
    description: "Fine-tune a LoRA adapter of the local model on a JSONL dataset inside an allowed root, in this server process. Sends progress notifications; cancelling keeps the last checkpoint. With wait: false it returns a jobId at once (see lora_status, lora_cancel). The adapter is then usable by name in generate.",
    inputSchema: loraTrainInput,
    outputSchema: jobOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: Args, extra: RequestExtra): Promise<CallToolResult> => {
    try {
      const data = await ctx.roots.resolve(args.data, "data");
      if (ctx.jobs.running(args.name))
        throw new ServingError("invalid_request", `an adapter named ${args.name} is already training; pick another name or cancel it with lora_cancel`, { param: "name" });
      const req: TrainRequest = {
        model: await confineModelArg(ctx, args.model, "model"),
        data, name: args.name,
        iters: args.iters ?? 100,
        batchSize: args.batchSize, learningRate: args.learningRate, numLayers: args.numLayers, rank: args.rank,
        maskPrompt: args.maskPrompt, validationSplit: args.validationSplit,
      };
      const job = ctx.jobs.start(req);
      if (args.wait === false) {
        // A bad dataset or a missing model fails this call rather than a status call later.
        await job.accepted;
        if (job.status === "failed") return toolError(job.error);
        const s = job.snapshot();
        return toolResult(jobResult(s), `started: ${jobText(s)}. Poll lora_status {"jobId": "${job.id}"}.`);
      }
      const token = extra._meta?.progressToken;
      // The backend reports each iteration once, with its loss and tokens/s. MCP requires progress to increase with
      // every notification: the guard only matters if a backend ever repeats an iteration.
      let lastSent = 0;
      // Sends are awaited before the result goes out: the last iteration's notification is queued just before the
      // job finishes, and the result must not overtake it.
      const sending: Promise<void>[] = [];
      const off = token === undefined ? () => {} : job.onProgress((p) => {
        if (p.iteration <= lastSent) return;
        lastSent = p.iteration;
        sending.push(extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: p.iteration, total: p.iters, message: progressMessage(p) },
        }).catch(() => {}));
      });
      const onAbort = () => job.cancel();
      extra.signal.addEventListener("abort", onAbort, { once: true });
      if (extra.signal.aborted) job.cancel(); // cancelled while the job was being set up
      try {
        await job.finished;
      } finally {
        off();
        extra.signal.removeEventListener("abort", onAbort);
        await Promise.all(sending);
        // The SDK's client handles a notification a microtask after reading it but a response at once, dropping that
        // request's progress handler: a last notification read in the same chunk as the result is lost. A macrotask
        // between the two writes lets the client read them apart (not a guarantee on a client that lags this much).
        if (sending.length) await new Promise((r) => setTimeout(r, 25));
      }
      if (job.status === "failed") return toolError(job.error);
      const s = job.snapshot();
      return toolResult(jobResult(s), jobText(s));
    } catch (e) {
      return toolError(e);
    }
  },
};
