// Request checks shared by the local backend's entry points: a bad parameter is an invalid_request naming it.
import { lm } from "@hearth/engine";
import type { GenerateRequest, SamplingParams } from "./backend.js";
import { ServingError } from "./errors.js";

function bad(param: string, message: string): never {
  throw new ServingError("invalid_request", message, { param });
}

function num(param: string, v: unknown, lo: number, hi: number, int = false): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v)))
    bad(param, `${param} must be ${int ? "an integer" : "a number"} in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
}

export function checkSampling(p: SamplingParams, maxTokensCap: number): void {
  num("maxTokens", p.maxTokens, 0, Number.MAX_SAFE_INTEGER, true);
  if (p.maxTokens !== undefined && p.maxTokens > maxTokensCap)
    throw new ServingError("too_large", `maxTokens ${p.maxTokens} is over this server's cap of ${maxTokensCap}`, { param: "maxTokens" });
  num("temperature", p.temperature, 0, 100);
  num("topP", p.topP, 0, 1);
  num("topK", p.topK, 0, 1e9, true);
  num("minP", p.minP, 0, 1);
  num("seed", p.seed, 0, 2 ** 32 - 1, true);
  num("repetitionPenalty", p.repetitionPenalty, 0.01, 100);
  num("frequencyPenalty", p.frequencyPenalty, -2, 2);
  num("presencePenalty", p.presencePenalty, -2, 2);
  num("logprobs", p.logprobs, 0, 20, true);
  if (p.stop !== undefined) {
    if (!Array.isArray(p.stop) || p.stop.some((s) => typeof s !== "string")) bad("stop", "stop must be a list of strings");
    if (p.stop.length > 16) bad("stop", `at most 16 stop strings, got ${p.stop.length}`);
  }
  if (p.logitBias !== undefined) {
    if (typeof p.logitBias !== "object" || p.logitBias === null) bad("logitBias", "logitBias must map token ids to numbers");
    for (const [k, v] of Object.entries(p.logitBias)) {
      if (!/^\d+$/.test(k)) bad("logitBias", `logitBias keys must be token ids, got '${k}'`);
      num("logitBias", v, -100, 100);
    }
  }
}

export function checkGenerate(req: GenerateRequest, maxTokensCap: number): void {
  if (!req || typeof req !== "object") bad("request", "the request must be an object");
  const hasPrompt = req.prompt !== undefined, hasMessages = req.messages !== undefined;
  if (hasPrompt === hasMessages) bad(hasPrompt ? "messages" : "prompt", "give exactly one of prompt and messages");
  if (hasPrompt) {
    if (typeof req.prompt === "string") {
      if (!req.prompt.length) bad("prompt", "the prompt is empty");
    } else if (Array.isArray(req.prompt)) {
      if (!req.prompt.length) bad("prompt", "the prompt is empty");
      if (req.prompt.some((t) => !Number.isInteger(t) || t < 0)) bad("prompt", "prompt token ids must be integers >= 0");
    } else bad("prompt", "prompt must be a string or an array of token ids");
  }
  if (hasMessages) {
    if (!Array.isArray(req.messages) || !req.messages.length) bad("messages", "messages must be a non-empty list");
    for (const [i, m] of req.messages.entries()) {
      if (!m || !["system", "user", "assistant", "tool"].includes(m.role))
        bad(`messages[${i}].role`, `messages[${i}].role must be system, user, assistant or tool`);
      if (typeof m.content !== "string" && !Array.isArray(m.content) && !(m.role === "assistant" && m.toolCalls?.length))
        bad(`messages[${i}].content`, `messages[${i}].content must be a string or a list of parts`);
    }
  }
  if (req.parallelToolCalls !== undefined && typeof req.parallelToolCalls !== "boolean")
    bad("parallelToolCalls", "parallelToolCalls must be true or false");
  if (req.priority !== undefined && req.priority !== "interactive" && req.priority !== "background")
    bad("priority", "priority must be interactive or background");
  checkSampling(req, maxTokensCap);
}

/** Maps engine errors to ServingError codes the faces understand. */
export function toServingError(e: unknown): ServingError {
  if (e instanceof ServingError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  // Engine errors carry the code the faces map (model_not_found, bad_image, template, bad_dataset, busy).
  const code = (err as { code?: unknown }).code;
  if (code === "model_not_found" || code === "bad_image" || code === "bad_dataset" || code === "busy")
    return new ServingError(code, err.message, { cause: e, ...(code === "busy" ? { retryAfter: 1 } : {}) });
  if (code === "template") return new ServingError("template", `the chat template failed: ${err.message}`, { cause: e });
  if (e instanceof lm.ImageError) return new ServingError("bad_image", err.message, { cause: e });
  if (e instanceof lm.DatasetError) return new ServingError("bad_dataset", err.message, { cause: e });
  if (/Template/.test(err.name) || /^ChatTemplate/.test(err.constructor?.name ?? ""))
    return new ServingError("template", `the chat template failed: ${err.message}`, { cause: e });
  if (e instanceof lm.ModelNotFoundError) return new ServingError("model_not_found", err.message, { cause: e });
  if (err instanceof RangeError) return new ServingError("invalid_request", err.message, { cause: e });
  return new ServingError("internal", err.message, { cause: e });
}
