// Tool `embed`: EmbeddingGemma vectors for texts, or a query ranked against documents by cosine similarity (search
// without the agent writing vector code).
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ServingError } from "@hearth/serving";
import { confineModelArg, type ToolContext } from "../context.js";
import { toolError, toolResult } from "../errors.js";
import type { RequestExtra } from "./common.js";

export const embedInput = {
  texts: z.array(z.string()).min(1).max(512).optional().describe("Texts to embed. Give texts, or query + documents."),
  query: z.string().optional().describe("A search query: documents come back ranked by cosine similarity to it."),
  documents: z.array(z.string()).min(1).max(512).optional().describe("Documents to rank against query."),
  task: z.string().optional().describe("EmbeddingGemma task prompt for texts: query, document, classification, clustering, similarity, code retrieval, question answering, fact checking, none. Ranking uses query/document."),
  dimensions: z.number().int().min(1).optional().describe("Matryoshka size (e.g. 512, 256, 128): truncated and re-normalised."),
  topK: z.number().int().min(1).optional().describe("Ranking: return only the best topK documents."),
  model: z.string().optional().describe("An embedding model (default: the server's --embedding-model)."),
};

export const embedOutput = {
  embeddings: z.array(z.array(z.number())).optional().describe("One vector per text (texts mode)."),
  ranked: z.array(z.object({ index: z.number().int(), score: z.number(), document: z.string() })).optional()
    .describe("Ranking mode: documents by descending cosine similarity, index into documents."),
  dimensions: z.number().int(),
  model: z.string(),
};

type Args = z.infer<z.ZodObject<typeof embedInput>>;

export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! * a[i]!; nb += b[i]! * b[i]!; }
  return dot / (Math.sqrt(na * nb) || 1);
}

export const embedTool = {
  name: "embed",
  config: {
    title: "Embed texts / rank documents",
    description: "Embedding vectors from a local EmbeddingGemma model. With texts: one vector per text. With query + documents: the documents ranked by cosine similarity to the query (semantic search).",
    inputSchema: embedInput,
    outputSchema: embedOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  handler: (ctx: ToolContext) => async (args: Args, extra: RequestExtra): Promise<CallToolResult> => {
    try {
      const model = await confineModelArg(ctx, args.model, "model");
      if (model === undefined && ctx.opts.embeddingModel === undefined && ctx.backend.kind === "local")
        throw new ServingError("model_not_found", "no embedding model is configured: start hearth-mcp with --embedding-model <folder> or set HEARTH_EMBEDDING_MODEL (e.g. google/embeddinggemma-300m), or pass model", { param: "model" });
      const ranking = args.query !== undefined || args.documents !== undefined;
      if (ranking === (args.texts !== undefined))
        throw new ServingError("invalid_request", "give either texts, or query together with documents", { param: "texts" });
      if (!ranking) {
        const r = await ctx.backend.embed({ model, input: args.texts!, task: args.task, dimensions: args.dimensions, signal: extra.signal });
        const out = { embeddings: r.embeddings, dimensions: r.dimensions, model: r.model };
        return toolResult(out, JSON.stringify(out));
      }
      if (args.query === undefined || args.documents === undefined)
        throw new ServingError("invalid_request", "ranking needs both query and documents", { param: args.query === undefined ? "query" : "documents" });
      const q = await ctx.backend.embed({ model, input: [args.query], task: "query", dimensions: args.dimensions, signal: extra.signal });
      const d = await ctx.backend.embed({ model, input: args.documents, task: "document", dimensions: args.dimensions, signal: extra.signal });
      const ranked = d.embeddings.map((v, index) => ({ index, score: cosine(q.embeddings[0]!, v), document: args.documents![index]! }))
        .sort((a, b) => b.score - a.score)
        .slice(0, args.topK ?? args.documents.length);
      const text = ranked.map((r, i) => `${i + 1}. [${r.index}] ${r.score.toFixed(4)} ${r.document}`).join("\n");
      return toolResult({ ranked, dimensions: d.dimensions, model: d.model }, text);
    } catch (e) {
      return toolError(e);
    }
  },
};
