// POST /v1/completions: raw text (or token ids) continued without a chat template; one or several prompts, n choices
// each, as JSON or server-sent chunks.
import type { GenerateRequest } from "@hearth/serving";
import { badParam, HttpError } from "./errors.js";
import { collectRun, drain, startRuns, type Run } from "./generation.js";
import { completionLogprobs, finishReason, newId, nowSeconds, usage } from "./format.js";
import { SseWriter, sendJson } from "./http-io.js";
import { resolveModel } from "./models.js";
import { commonParams, optBool, optNumber, optString, responseFormat, type Body } from "./params.js";
import type { RequestContext } from "./context.js";

const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0);

/** `prompt` as a list of prompts: a string, token ids, or an array of either. */
export function prompts(raw: unknown, maxPromptTokens: number): Array<string | number[]> {
  let list: Array<string | number[]>;
  if (typeof raw === "string") list = [raw];
  else if (isTokens(raw)) list = [raw];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((p) => typeof p === "string" || isTokens(p))) list = raw as Array<string | number[]>;
  else throw badParam("prompt", "'prompt' must be a string, an array of strings, token ids, or an array of token id arrays");
  if (list.length > 64) throw badParam("prompt", `'prompt' has ${list.length} prompts; at most 64`);
  for (const p of list)
    if (Array.isArray(p) && p.length > maxPromptTokens)
      throw new HttpError(400, `a prompt is ${p.length} tokens, over this server's cap of ${maxPromptTokens} (--max-prompt-tokens)`, {
        param: "prompt", code: "too_large",
      });
  return list;
}

export async function completions(ctx: RequestContext, body: Body): Promise<void> {
  const s = ctx.settings;
  const common = commonParams(body, s);
  const top = optNumber(body, "logprobs", { int: true, min: 0, max: 20 });
  const echo = optBool(body, "echo") ?? false;
  if (optString(body, "suffix")) throw badParam("suffix", "'suffix' (fill in the middle) is not supported by /v1/completions here");
  const bestOf = optNumber(body, "best_of", { int: true, min: 1 });
  if (bestOf !== undefined && bestOf !== common.n) throw badParam("best_of", "'best_of' other than n is not supported");
  const list = prompts(body.prompt, s.maxPromptTokens);
  if (list.length * common.n > s.maxN)
    throw new HttpError(400, `${list.length} prompts x n=${common.n} is over this server's cap of ${s.maxN} choices`, { param: "n", code: "too_large" });
  if (echo && list.some((p) => typeof p !== "string")) throw badParam("echo", "'echo' works with text prompts only");
  const model = await resolveModel(ctx.backend, body, s, ["text", "vision"]);
  const rf = responseFormat(body);

  const groups: Run[][] = [];
  try {
    for (const prompt of list) {
      const req: GenerateRequest = { ...common.sampling, prompt, priority: "interactive" };
      if (model.model !== undefined) req.model = model.model;
      if (model.adapter !== undefined) req.adapter = model.adapter;
      if (top !== undefined) req.logprobs = top;
      if (rf) req.responseFormat = rf;
      if (common.user !== undefined) req.user = common.user;
      groups.push(await startRuns(ctx.backend, req, common.n, ctx.ac, ctx.stats, s.maxPromptTokens));
    }
  } catch (e) {
    ctx.ac.abort(e);
    await Promise.all(groups.flat().map((r) => drain(r.events)));
    throw e;
  }
  const runs = groups.flatMap((g, p) => g.map((r) => ({ run: r, index: p * common.n + r.index, prompt: list[p]! })));
  const starts = groups.map((g) => g[0]!.start);
  const id = newId("cmpl");
  const created = nowSeconds();

  if (!common.stream) {
    let results;
    try {
      results = await Promise.all(runs.map((r) => collectRun(r.run)));
    } catch (e) {
      ctx.ac.abort(e);
      await Promise.all(runs.map((r) => drain(r.run.events)));
      throw e;
    }
    const choices = results.map(({ tokens, done }, k) => {
      const prefix = echo ? (runs[k]!.prompt as string) : "";
      return {
        index: runs[k]!.index,
        text: prefix + done.text,
        logprobs: top !== undefined ? completionLogprobs(tokens, top, prefix.length) : null,
        finish_reason: finishReason(done.finishReason),
      };
    });
    sendJson(ctx.res, 200, {
      id, object: "text_completion", created, model: model.id, system_fingerprint: "hearth", choices,
      usage: usage(starts, results.map((r) => r.done.usage)),
    }, ctx.headers);
    return;
  }

  const sse = new SseWriter(ctx.res, ctx.ac.signal, ctx.headers);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id, object: "text_completion", created, model: model.id, system_fingerprint: "hearth", choices,
    ...(common.includeUsage ? { usage: null } : {}), ...extra,
  });
  const streamRun = async (r: (typeof runs)[number]) => {
    let offset = 0;
    if (echo) {
      const text = r.prompt as string;
      await sse.send(chunk([{ index: r.index, text, logprobs: null, finish_reason: null }]));
      offset = text.length;
    }
    for (;;) {
      const n = await r.run.events.next();
      if (n.done) throw new HttpError(500, "the backend ended a stream without a done event", { code: "internal" });
      const e = n.value;
      if (e.type === "token") {
        if (e.text === "" && top === undefined) continue;
        await sse.send(chunk([{ index: r.index, text: e.text, logprobs: top !== undefined ? completionLogprobs([e], top, offset) : null, finish_reason: null }]));
        offset += e.text.length;
      } else if (e.type === "done") {
        await sse.send(chunk([{ index: r.index, text: "", logprobs: null, finish_reason: finishReason(e.finishReason) }]));
        await drain(r.run.events);
        return e.usage;
      }
    }
  };
  try {
    const usages = await Promise.all(runs.map(streamRun));
    if (common.includeUsage) await sse.send(chunk([], { usage: usage(starts, usages) }));
    await sse.send("[DONE]");
  } catch (e) {
    await sse.error(e);
    ctx.ac.abort(e);
    await Promise.all(runs.map((r) => drain(r.run.events)));
  } finally {
    sse.end();
  }
}
