// Tool `describe_image`: a Gemma 3 vision model looks at one image (path in a root, data: URL or base64) and answers
// a prompt, optionally as JSON that follows a schema (e.g. scoring video frames).
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { collect, isServingError, ServingError, type DescribeRequest } from "@hearth/serving";
import { confineModelArg, type ToolContext } from "../context.js";
import { toolError, toolResult } from "../errors.js";
import { readImageArg } from "../images.js";
import type { RequestExtra } from "./common.js";

export const describeImageInput = {
  image: z.string().min(1).describe("A path inside an allowed root, a data: URL (data:image/png;base64,…), or base64 together with mimeType."),
  mimeType: z.string().optional().describe("The image's type when image is bare base64 (image/png, image/jpeg, …)."),
  prompt: z.string().optional().describe("What to ask about the image (default: describe it)."),
  system: z.string().optional(),
  maxTokens: z.number().int().min(1).max(4096).optional().describe("Most new tokens (default 256)."),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().min(0).optional(),
  jsonSchema: z.record(z.string(), z.unknown()).optional().describe("A JSON Schema: the answer follows it and comes back parsed as structured."),
  model: z.string().optional().describe("A vision model (default: the server's --vision-model)."),
};

export const describeImageOutput = {
  text: z.string(),
  structured: z.unknown().optional().describe("The answer parsed, when jsonSchema was given."),
  model: z.string(),
  tokens: z.number().int(),
  finishReason: z.enum(["stop", "length", "abort", "tool_calls"]),
};

type Args = z.infer<z.ZodObject<typeof describeImageInput>>;

export const describeImageTool = {
  name: "describe_image",
  config: {
    title: "Describe an image with local Gemma vision",
    description: "Look at an image with a local Gemma 3 vision model and answer a prompt about it, as text or as JSON following a schema. The image is a file path inside an allowed root, a data: URL, or base64 with mimeType.",
    inputSchema: describeImageInput,
    outputSchema: describeImageOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: Args, extra: RequestExtra): Promise<CallToolResult> => {
    try {
      const img = await readImageArg(args.image, args.mimeType, ctx.roots, ctx.opts);
      const req: DescribeRequest = {
        model: await confineModelArg(ctx, args.model, "model"),
        images: [{ kind: "bytes", ...img }],
        prompt: args.prompt ?? "Describe this image.",
        system: args.system,
        maxTokens: args.maxTokens ?? 256,
        temperature: args.temperature ?? 0,
        seed: args.seed,
        signal: extra.signal,
      };
      if (args.jsonSchema) req.responseFormat = { type: "json_schema", schema: args.jsonSchema, strict: true };
      let model = "";
      const done = await collect((async function* () {
        for await (const e of ctx.backend.describeImage(req)) {
          if (e.type === "start") model = e.model;
          yield e;
        }
      })());
      const out: Record<string, unknown> = { text: done.text, model, tokens: done.usage.completionTokens, finishReason: done.finishReason };
      if (args.jsonSchema) {
        try {
          out.structured = JSON.parse(done.text);
        } catch {
          throw new ServingError("invalid_request", `the answer stopped (${done.finishReason}) before the JSON was complete; raise maxTokens (it was ${req.maxTokens}) and call again`, { param: "maxTokens" });
        }
      }
      return toolResult(out, done.text);
    } catch (e) {
      if (isServingError(e) && (e.code === "unsupported" || e.code === "model_not_found") && args.model === undefined && ctx.opts.visionModel === undefined)
        return toolError(new ServingError(e.code, `${e.message}. No vision model is configured: start hearth-mcp with --vision-model <folder> or set HEARTH_VISION_MODEL (e.g. a Gemma 3 4B checkpoint), or pass model`, { param: "model" }));
      return toolError(e);
    }
  },
};
