// Reading OpenAI request bodies: typed field getters that fail with a 400 naming the parameter, and the sampling
// settings shared by /v1/chat/completions and /v1/completions.
import type { ResponseFormat, SamplingParams, ToolChoice, ToolDefinition } from "@hearth/serving";
import { HttpError, badParam } from "./errors.js";
import type { ServerSettings } from "./options.js";

export type Body = Record<string, unknown>;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

export function optNumber(body: Body, name: string, rule: { min?: number; max?: number; int?: boolean; above?: number } = {}): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw badParam(name, `'${name}' must be a number, got ${describe(v)}`);
  if (rule.int && !Number.isInteger(v)) throw badParam(name, `'${name}' must be an integer, got ${v}`);
  if (rule.min !== undefined && v < rule.min) throw badParam(name, `'${name}' must be >= ${rule.min}, got ${v}`);
  if (rule.above !== undefined && !(v > rule.above)) throw badParam(name, `'${name}' must be > ${rule.above}, got ${v}`);
  if (rule.max !== undefined && v > rule.max) throw badParam(name, `'${name}' must be <= ${rule.max}, got ${v}`);
  return v;
}

export function optString(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badParam(name, `'${name}' must be a string, got ${describe(v)}`);
  return v;
}

export function optBool(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw badParam(name, `'${name}' must be true or false, got ${describe(v)}`);
  return v;
}

export interface CommonParams {
  sampling: SamplingParams;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  user?: string;
}

/** The sampling fields both generation endpoints take; `logprobs` is set by each endpoint (their shapes differ). */
export function commonParams(body: Body, s: ServerSettings): CommonParams {
  const maxTokens = optNumber(body, "max_completion_tokens", { int: true, min: 1 }) ?? optNumber(body, "max_tokens", { int: true, min: 1 });
  const which = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  if (maxTokens !== undefined && maxTokens > s.maxTokensCap)
    throw new HttpError(400, `'${which}' is ${maxTokens}, over this server's cap of ${s.maxTokensCap} (--max-tokens-cap)`, {
      param: which, code: "too_large",
    });
  const sampling: SamplingParams = { maxTokens: maxTokens ?? s.maxTokensCap };
  const set = <K extends keyof SamplingParams>(k: K, v: SamplingParams[K] | undefined) => {
    if (v !== undefined) sampling[k] = v;
  };
  set("temperature", optNumber(body, "temperature", { min: 0, max: 2 }));
  set("topP", optNumber(body, "top_p", { min: 0, max: 1 }));
  const topK = optNumber(body, "top_k", { int: true, min: -1 });
  set("topK", topK === -1 ? 0 : topK);
  set("minP", optNumber(body, "min_p", { min: 0, max: 1 }));
  set("seed", optNumber(body, "seed", { int: true }));
  set("frequencyPenalty", optNumber(body, "frequency_penalty", { min: -2, max: 2 }));
  set("presencePenalty", optNumber(body, "presence_penalty", { min: -2, max: 2 }));
  set("repetitionPenalty", optNumber(body, "repetition_penalty", { above: 0, max: 10 }));
  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === "string" ? [stop] : stop;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string" && x.length > 0))
      throw badParam("stop", "'stop' must be a non-empty string or an array of them");
    if (list.length > 16) throw badParam("stop", `'stop' has ${list.length} strings; at most 16`);
    if (list.length) sampling.stop = list as string[];
  }
  const bias = body.logit_bias;
  if (bias !== undefined && bias !== null) {
    if (!isObject(bias)) throw badParam("logit_bias", "'logit_bias' must be an object of token id → bias");
    const out: Record<number, number> = {};
    for (const [k, v] of Object.entries(bias)) {
      const id = Number(k);
      if (!/^\d+$/.test(k) || !Number.isSafeInteger(id)) throw badParam("logit_bias", `'logit_bias' key '${k}' is not a token id`);
      if (typeof v !== "number" || !Number.isFinite(v) || v < -100 || v > 100)
        throw badParam("logit_bias", `'logit_bias' value for token ${k} must be a number in [-100, 100]`);
      out[id] = v;
    }
    if (Object.keys(out).length > 1024) throw badParam("logit_bias", "'logit_bias' has more than 1024 entries");
    sampling.logitBias = out;
  }
  const n = optNumber(body, "n", { int: true, min: 1 }) ?? 1;
  if (n > s.maxN) throw new HttpError(400, `'n' is ${n}, over this server's cap of ${s.maxN}`, { param: "n", code: "too_large" });
  const stream = optBool(body, "stream") ?? false;
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (!isObject(so)) throw badParam("stream_options", "'stream_options' must be an object");
    if (!stream) throw badParam("stream_options", "'stream_options' is only allowed with 'stream': true");
    includeUsage = optBool(so, "include_usage") ?? false;
  }
  const user = optString(body, "user");
  return { sampling, n, stream, includeUsage, ...(user !== undefined ? { user } : {}) };
}

export function responseFormat(body: Body): ResponseFormat | undefined {
  const rf = body.response_format;
  if (rf === undefined || rf === null) return undefined;
  if (!isObject(rf)) throw badParam("response_format", "'response_format' must be an object");
  const type = rf.type;
  if (type === "text") return { type: "text" };
  if (type === "json_object") return { type: "json_object" };
  if (type === "json_schema") {
    const js = rf.json_schema;
    if (!isObject(js)) throw badParam("response_format.json_schema", "'response_format.json_schema' must be an object with a 'schema'");
    const schema = js.schema ?? {};
    if (!isObject(schema)) throw badParam("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON Schema object");
    const out: ResponseFormat = { type: "json_schema", schema };
    if (typeof js.name === "string") out.name = js.name;
    if (typeof js.strict === "boolean") out.strict = js.strict;
    return out;
  }
  throw badParam("response_format.type", `'response_format.type' must be text, json_object or json_schema, got '${String(type)}'`);
}

export function tools(body: Body): { tools?: ToolDefinition[]; toolChoice?: ToolChoice; parallelToolCalls?: boolean } {
  const raw = body.tools;
  const out: { tools?: ToolDefinition[]; toolChoice?: ToolChoice; parallelToolCalls?: boolean } = {};
  // OpenAI's parallel_tool_calls: false allows at most one call per reply (the grammar's maxItems: 1).
  const ptc = optBool(body, "parallel_tool_calls");
  if (ptc !== undefined) out.parallelToolCalls = ptc;
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw)) throw badParam("tools", "'tools' must be an array");
    if (raw.length > 128) throw badParam("tools", "'tools' has more than 128 entries");
    out.tools = raw.map((t, i) => {
      const p = `tools[${i}]`;
      if (!isObject(t) || t.type !== "function" || !isObject(t.function))
        throw badParam(p, `'${p}' must be { type: "function", function: { name, description?, parameters? } }`);
      const f = t.function;
      if (typeof f.name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(f.name))
        throw badParam(`${p}.function.name`, `'${p}.function.name' must be 1-64 letters, digits, _ . or -`);
      const def: ToolDefinition = { name: f.name };
      if (typeof f.description === "string") def.description = f.description;
      if (f.parameters !== undefined) {
        if (!isObject(f.parameters)) throw badParam(`${p}.function.parameters`, `'${p}.function.parameters' must be a JSON Schema object`);
        def.parameters = f.parameters;
      }
      return def;
    });
  }
  const tc = body.tool_choice;
  if (tc !== undefined && tc !== null) {
    if (tc === "auto" || tc === "none" || tc === "required") out.toolChoice = tc;
    else if (isObject(tc) && tc.type === "function" && isObject(tc.function) && typeof tc.function.name === "string") {
      const name = tc.function.name;
      if (!out.tools?.some((t) => t.name === name)) throw badParam("tool_choice", `'tool_choice' names '${name}', which is not in 'tools'`);
      out.toolChoice = { name };
    } else throw badParam("tool_choice", "'tool_choice' must be none, auto, required or { type: \"function\", function: { name } }");
    if (out.toolChoice !== "none" && !out.tools?.length) throw badParam("tool_choice", "'tool_choice' needs 'tools'");
  }
  return out;
}
