// Tool `generate`: text from the local model (chat or raw), optionally constrained to a JSON Schema and through a
// LoRA adapter trained or loaded earlier.
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { collect, ServingError, type ChatTurn, type GenerateRequest } from "@hearth/serving";
import { confineModelArg, type ToolContext } from "../context.js";
import { toolError, toolResult } from "../errors.js";
import type { RequestExtra } from "./common.js";

export const generateInput = {
  prompt: z.string().optional().describe("The user's message (rendered with the model's chat template unless raw is true). Give prompt or messages."),
  messages: z.array(z.object({
    role: z.enum(["system", "user", "assistant"]),
    content: z.string(),
  })).min(1).optional().describe("A conversation instead of prompt."),
  system: z.string().optional().describe("A system instruction put before the conversation."),
  raw: z.boolean().optional().describe("Continue prompt as raw text, without the chat template (completion)."),
  maxTokens: z.number().int().min(1).max(8192).optional().describe("Most new tokens (default 256)."),
  temperature: z.number().min(0).max(2).optional().describe("0 is greedy (default 0)."),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).optional().describe("Makes sampling repeatable."),
  stop: z.array(z.string().min(1)).max(8).optional().describe("Generation ends before any of these strings."),
  jsonSchema: z.record(z.string(), z.unknown()).optional().describe("A JSON Schema: the answer is constrained to it and returned parsed as structuredContent.json."),
  adapter: z.string().optional().describe("A LoRA adapter by name (from lora_train or models)."),
  model: z.string().optional().describe("A loaded or available text model (default: the server's --model)."),
};

export const generateOutput = {
  text: z.string(),
  tokens: z.number().int().describe("Generated tokens."),
  finishReason: z.enum(["stop", "length", "abort", "tool_calls"]),
  model: z.string(),
  adapter: z.string().optional(),
  json: z.unknown().optional().describe("The answer parsed, when jsonSchema was given."),
};

type Args = z.infer<z.ZodObject<typeof generateInput>>;

export const generateTool = {
  name: "generate",
  config: {
    title: "Generate text with the local Gemma",
    description: "Generate text with a local Gemma model running inside this server (no network). Accepts a prompt or messages, sampling settings, stop strings, a JSON Schema the answer must follow, and a LoRA adapter trained with lora_train.",
    inputSchema: generateInput,
    outputSchema: generateOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: Args, extra: RequestExtra): Promise<CallToolResult> => {
    try {
      if ((args.prompt === undefined) === (args.messages === undefined))
        throw new ServingError("invalid_request", "give exactly one of prompt or messages", { param: "prompt" });
      const req: GenerateRequest = {
        model: await confineModelArg(ctx, args.model, "model"),
        adapter: args.adapter,
        maxTokens: args.maxTokens ?? 256,
        temperature: args.temperature ?? 0,
        topP: args.topP,
        seed: args.seed,
        stop: args.stop,
        signal: extra.signal,
      };
      if (args.jsonSchema) req.responseFormat = { type: "json_schema", schema: args.jsonSchema, strict: true };
      if (args.raw) {
        if (args.prompt === undefined) throw new ServingError("invalid_request", "raw needs prompt, not messages", { param: "raw" });
        req.prompt = (args.system ? `${args.system}\n\n` : "") + args.prompt;
      } else {
        const turns: ChatTurn[] = [];
        if (args.system) turns.push({ role: "system", content: args.system });
        if (args.prompt !== undefined) turns.push({ role: "user", content: args.prompt });
        else for (const m of args.messages!) turns.push({ role: m.role, content: m.content });
        req.messages = turns;
      }
      let model = "";
      let adapter: string | undefined;
      const done = await collect((async function* () {
        for await (const e of ctx.backend.generate(req)) {
          if (e.type === "start") { model = e.model; adapter = e.adapter; }
          yield e;
        }
      })());
      const out: Record<string, unknown> = {
        text: done.text, tokens: done.usage.completionTokens, finishReason: done.finishReason, model,
      };
      if (adapter ?? args.adapter) out.adapter = adapter ?? args.adapter;
      if (args.jsonSchema) {
        try {
          out.json = JSON.parse(done.text);
        } catch {
          // Only possible when generation stopped early (maxTokens): say so instead of failing silently.
          throw new ServingError("invalid_request", `the answer stopped (${done.finishReason}) before the JSON was complete; raise maxTokens (it was ${req.maxTokens}) and call again`, { param: "maxTokens" });
        }
      }
      return toolResult(out, done.text);
    } catch (e) {
      return toolError(e);
    }
  },
};
