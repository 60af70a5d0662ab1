// POST /v1/chat/completions: OpenAI chat messages (text, image_url data URLs, tool calls and results) to a backend
// generate request, answered as one JSON object or as server-sent chunks.
import type { ChatTurn, ContentPart, GenerateRequest, ToolCall } from "@hearth/serving";
import { badParam, HttpError } from "./errors.js";
import { collectRun, drain, startRuns, type Run } from "./generation.js";
import { chatLogprob, finishReason, newId, nowSeconds, usage } from "./format.js";
import { imageSource } from "./images.js";
import { SseWriter, sendJson } from "./http-io.js";
import { resolveModel } from "./models.js";
import { commonParams, isObject, optBool, optNumber, responseFormat, tools, type Body } from "./params.js";
import type { RequestContext } from "./context.js";
import type { ServerSettings } from "./options.js";

async function contentOf(content: unknown, p: string, s: ServerSettings, images: { n: number }, allowImages: boolean): Promise<string | ContentPart[]> {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw badParam(`${p}.content`, `'${p}.content' must be a string or an array of content parts`);
  const parts: ContentPart[] = [];
  for (let j = 0; j < content.length; j++) {
    const part = content[j];
    const pp = `${p}.content[${j}]`;
    if (!isObject(part)) throw badParam(pp, `'${pp}' must be an object`);
    if (part.type === "text" || part.type === "input_text") {
      if (typeof part.text !== "string") throw badParam(`${pp}.text`, `'${pp}.text' must be a string`);
      parts.push({ type: "text", text: part.text });
    } else if (part.type === "image_url") {
      if (!allowImages) throw badParam(pp, `images are only allowed in user messages ('${pp}')`);
      if (++images.n > s.maxImages)
        throw new HttpError(400, `more than ${s.maxImages} images in one request`, { param: pp, code: "too_large" });
      const iu = part.image_url;
      const url = typeof iu === "string" ? iu : isObject(iu) ? iu.url : undefined;
      parts.push({ type: "image", image: await imageSource(url, `${pp}.image_url.url`, s) });
    } else throw badParam(`${pp}.type`, `'${pp}.type' must be text or image_url, got '${String(part.type)}'`);
  }
  return parts;
}

/** OpenAI messages as chat turns (developer → system; tool results keep their call id). */
export async function chatTurns(raw: unknown, s: ServerSettings): Promise<ChatTurn[]> {
  if (!Array.isArray(raw) || raw.length === 0) throw badParam("messages", "'messages' must be a non-empty array");
  const images = { n: 0 };
  const turns: ChatTurn[] = [];
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i];
    const p = `messages[${i}]`;
    if (!isObject(m)) throw badParam(p, `'${p}' must be an object`);
    const role = m.role === "developer" ? "system" : m.role;
    if (role !== "system" && role !== "user" && role !== "assistant" && role !== "tool")
      throw badParam(`${p}.role`, `'${p}.role' must be system, developer, user, assistant or tool, got '${String(m.role)}'`);
    const hasCalls = role === "assistant" && Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
    const content = m.content === null || m.content === undefined
      ? (hasCalls ? "" : (() => { throw badParam(`${p}.content`, `'${p}.content' is missing`); })())
      : await contentOf(m.content, p, s, images, role === "user");
    const turn: ChatTurn = { role, content };
    if (typeof m.name === "string") turn.name = m.name;
    if (hasCalls) {
      turn.toolCalls = (m.tool_calls as unknown[]).map((c, k): ToolCall => {
        const cp = `${p}.tool_calls[${k}]`;
        if (!isObject(c) || !isObject(c.function) || typeof c.function.name !== "string")
          throw badParam(cp, `'${cp}' must be { id, type: "function", function: { name, arguments } }`);
        const args = c.function.arguments;
        return { id: typeof c.id === "string" ? c.id : `call_${k}`, name: c.function.name, arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}) };
      });
    }
    if (role === "tool") {
      if (typeof m.tool_call_id !== "string") throw badParam(`${p}.tool_call_id`, `'${p}.tool_call_id' is required for tool messages`);
      turn.toolCallId = m.tool_call_id;
    }
    turns.push(turn);
  }
  return turns;
}

export async function chatCompletions(ctx: RequestContext, body: Body): Promise<void> {
  const s = ctx.settings;
  const common = commonParams(body, s);
  const wantLogprobs = optBool(body, "logprobs") ?? false;
  const top = optNumber(body, "top_logprobs", { int: true, min: 0, max: 20 });
  if (top !== undefined && !wantLogprobs) throw badParam("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  const t = tools(body);
  const messages = await chatTurns(body.messages, s);
  const hasImages = messages.some((m) => Array.isArray(m.content) && m.content.some((c) => c.type === "image"));
  const model = await resolveModel(ctx.backend, body, s, hasImages ? ["vision"] : ["text", "vision"]);
  const req: GenerateRequest = { ...common.sampling, messages, priority: "interactive" };
  if (model.model !== undefined) req.model = model.model;
  if (model.adapter !== undefined) req.adapter = model.adapter;
  if (wantLogprobs) req.logprobs = top ?? 0;
  const rf = responseFormat(body);
  if (rf) req.responseFormat = rf;
  if (t.tools) req.tools = t.tools;
  if (t.toolChoice) req.toolChoice = t.toolChoice;
  if (t.parallelToolCalls !== undefined) req.parallelToolCalls = t.parallelToolCalls;
  if (common.user !== undefined) req.user = common.user;
  const toolsActive = !!t.tools?.length && t.toolChoice !== "none";

  const runs = await startRuns(ctx.backend, req, common.n, ctx.ac, ctx.stats, s.maxPromptTokens);
  const id = newId("chatcmpl");
  const created = nowSeconds();
  if (!common.stream) {
    let results;
    try {
      results = await Promise.all(runs.map(collectRun));
    } catch (e) {
      ctx.ac.abort(e);
      await Promise.all(runs.map((r) => drain(r.events)));
      throw e;
    }
    const choices = results.map(({ tokens, done }, i) => {
      const calls = done.toolCalls?.length ? done.toolCalls : undefined;
      return {
        index: i,
        message: {
          role: "assistant",
          content: calls ? null : done.text,
          refusal: null,
          ...(calls ? { tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) } : {}),
        },
        logprobs: wantLogprobs ? { content: tokens.map((e) => chatLogprob(e, top ?? 0)), refusal: null } : null,
        finish_reason: calls ? "tool_calls" : finishReason(done.finishReason),
      };
    });
    sendJson(ctx.res, 200, {
      id, object: "chat.completion", created, model: model.id, system_fingerprint: "hearth", choices,
      usage: usage([runs[0]!.start], results.map((r) => r.done.usage)),
    }, ctx.headers);
    return;
  }

  const sse = new SseWriter(ctx.res, ctx.ac.signal, ctx.headers);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id, object: "chat.completion.chunk", created, model: model.id, system_fingerprint: "hearth", choices,
    ...(common.includeUsage ? { usage: null } : {}), ...extra,
  });
  const streamRun = async (run: Run) => {
    const i = run.index;
    await sse.send(chunk([{ index: i, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]));
    for (;;) {
      const r = await run.events.next();
      if (r.done) throw new HttpError(500, "the backend ended a stream without a done event", { code: "internal" });
      const e = r.value;
      if (e.type === "token") {
        // With tools the text may turn out to be a call block: it is sent once the run is done.
        if (toolsActive || (e.text === "" && !wantLogprobs)) continue;
        await sse.send(chunk([{
          index: i, delta: { content: e.text },
          logprobs: wantLogprobs ? { content: [chatLogprob(e, top ?? 0)], refusal: null } : null, finish_reason: null,
        }]));
      } else if (e.type === "done") {
        const calls = e.toolCalls?.length ? e.toolCalls : undefined;
        if (calls) {
          await sse.send(chunk([{
            index: i, logprobs: null, finish_reason: null,
            delta: { tool_calls: calls.map((c, k) => ({ index: k, id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) },
          }]));
        } else if (toolsActive && e.text !== "") {
          await sse.send(chunk([{ index: i, delta: { content: e.text }, logprobs: null, finish_reason: null }]));
        }
        await sse.send(chunk([{ index: i, delta: {}, logprobs: null, finish_reason: calls ? "tool_calls" : finishReason(e.finishReason) }]));
        await drain(run.events);
        return e.usage;
      }
    }
  };
  try {
    const usages = await Promise.all(runs.map(streamRun));
    if (common.includeUsage) await sse.send(chunk([], { usage: usage([runs[0]!.start], usages) }));
    await sse.send("[DONE]");
  } catch (e) {
    await sse.error(e);
    ctx.ac.abort(e);
    await Promise.all(runs.map((r) => drain(r.events)));
  } finally {
    sse.end();
  }
}
