// POST /v1/embeddings: strings or token arrays to vectors, as float arrays or base64 (little-endian float32, the
// encoding OpenAI's SDKs decode), with Matryoshka `dimensions`.
import type { EmbedRequest } from "@hearth/serving";
import { badParam, HttpError } from "./errors.js";
import { sendJson } from "./http-io.js";
import { resolveModel } from "./models.js";
import { optNumber, optString, type Body } from "./params.js";
import type { RequestContext } from "./context.js";

const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0);

export function embeddingInputs(raw: unknown, max: number, maxTokens: number): Array<string | number[]> {
  let list: Array<string | number[]>;
  if (typeof raw === "string") list = [raw];
  else if (isTokens(raw)) list = [raw];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((p) => typeof p === "string" || isTokens(p))) list = raw as Array<string | number[]>;
  else throw badParam("input", "'input' must be a string, an array of strings, token ids, or an array of token id arrays");
  if (list.length > max) throw new HttpError(400, `'input' has ${list.length} items, over this server's cap of ${max}`, { param: "input", code: "too_large" });
  list.forEach((p, i) => {
    if (typeof p === "string" && p === "") throw badParam(`input[${i}]`, `'input[${i}]' is an empty string`);
    if (Array.isArray(p) && p.length > maxTokens)
      throw new HttpError(400, `'input[${i}]' is ${p.length} tokens, over this server's cap of ${maxTokens}`, { param: "input", code: "too_large" });
  });
  return list;
}

/** A vector as OpenAI's base64: the float32 little-endian bytes. */
export function base64Floats(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString("base64");
}

export async function embeddings(ctx: RequestContext, body: Body): Promise<void> {
  const s = ctx.settings;
  const input = embeddingInputs(body.input, s.maxEmbeddingInputs, s.maxPromptTokens);
  const format = optString(body, "encoding_format") ?? "float";
  if (format !== "float" && format !== "base64") throw badParam("encoding_format", `'encoding_format' must be float or base64, got '${format}'`);
  const dimensions = optNumber(body, "dimensions", { int: true, min: 1 });
  const task = optString(body, "task");
  const model = await resolveModel(ctx.backend, body, s, ["embedding"]);
  const req: EmbedRequest = { input, signal: ctx.ac.signal };
  if (model.model !== undefined) req.model = model.model;
  if (dimensions !== undefined) req.dimensions = dimensions;
  if (task !== undefined) req.task = task;
  const r = await ctx.backend.embed(req);
  sendJson(ctx.res, 200, {
    object: "list",
    data: r.embeddings.map((v, index) => ({ object: "embedding", index, embedding: format === "base64" ? base64Floats(v) : v })),
    model: model.id,
    usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
  }, ctx.headers);
}
