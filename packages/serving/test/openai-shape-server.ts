// A small OpenAI-shaped HTTP server (node:http) over a real LocalBackend, for the remote backend's test: `hearth
// server` lives on another branch, so this speaks just enough of the API (SSE chat / completions with usage,
// embeddings, models, bearer key, 503 + Retry-After) for RemoteBackend to be exercised over real HTTP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isServingError, type Backend, type ChatTurn, type GenerateRequest } from "../src/index.js";

export interface ShapeServer {
  url: string;
  server: Server;
  /** Requests seen (path, authorization header). */
  seen: { path: string; auth: string | undefined; body: any }[];
  busy: boolean;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
}

function turn(m: any): ChatTurn {
  const content = typeof m.content === "string" ? m.content
    : (m.content ?? []).map((p: any) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image", image: { kind: "dataUrl", url: p.image_url.url } }));
  const t: ChatTurn = { role: m.role, content };
  if (m.tool_calls) t.toolCalls = m.tool_calls.map((c: any) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
  if (m.tool_call_id) t.toolCallId = m.tool_call_id;
  return t;
}

export async function startShapeServer(backend: Backend, apiKey?: string): Promise<ShapeServer> {
  const s: ShapeServer = { url: "", server: undefined as unknown as Server, seen: [], busy: false, close: async () => undefined };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  s.server = createServer(async (req, res) => {
    const body = req.method === "POST" ? await readBody(req) : undefined;
    s.seen.push({ path: req.url ?? "", auth: req.headers.authorization, body });
    if (apiKey && req.headers.authorization !== `Bearer ${apiKey}`)
      return send(res, 401, { error: { message: "bad key", type: "invalid_request_error", param: null, code: "unauthorized" } });
    if (s.busy) return send(res, 503, { error: { message: "queue full", type: "server_error", param: null, code: "busy" } }, { "retry-after": "7" });
    try {
      if (req.url === "/v1/models") return send(res, 200, { object: "list", data: (await backend.models()).map((m) => ({ id: m.id, object: "model" })) });
      if (req.url === "/v1/embeddings") {
        const r = await backend.embed({ model: body.model, input: Array.isArray(body.input) ? body.input : [body.input], ...(body.dimensions ? { dimensions: body.dimensions } : {}) });
        return send(res, 200, { object: "list", model: r.model, data: r.embeddings.map((e, index) => ({ object: "embedding", index, embedding: e })), usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens } });
      }
      const chat = req.url === "/v1/chat/completions";
      if (!chat && req.url !== "/v1/completions") return send(res, 404, { error: { message: "no route", type: "invalid_request_error", param: null, code: null } });
      const ac = new AbortController();
      res.on("close", () => ac.abort());
      const g: GenerateRequest = {
        model: body.model, maxTokens: body.max_tokens, temperature: body.temperature, seed: body.seed, stop: body.stop, signal: ac.signal,
        ...(chat ? { messages: body.messages.map(turn) } : { prompt: body.prompt }),
      };
      if (body.response_format?.type === "json_schema") g.responseFormat = { type: "json_schema", schema: body.response_format.json_schema.schema };
      if (body.tools) g.tools = body.tools.map((t: any) => ({ name: t.function.name, parameters: t.function.parameters }));
      if (body.tool_choice) g.toolChoice = typeof body.tool_choice === "object" ? { name: body.tool_choice.function.name } : body.tool_choice;
      if (chat && body.logprobs) g.logprobs = body.top_logprobs ?? 0;
      const it = backend.generate(g)[Symbol.asyncIterator]();
      let first = await it.next();  // errors before the stream starts get a status
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
      try {
        for (; !first.done; first = await it.next()) {
          const e = first.value;
          if (e.type === "token" && chat) {
            const lp = e.logprob !== undefined ? { content: [{ token: e.text, logprob: e.logprob, top_logprobs: (e.topLogprobs ?? []).map((t) => ({ token: t.text, logprob: t.logprob })) }] } : null;
            chunk({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: e.text }, logprobs: lp, finish_reason: null }] });
          } else if (e.type === "token") chunk({ object: "text_completion", choices: [{ index: 0, text: e.text, finish_reason: null }] });
          else if (e.type === "done") {
            if (e.toolCalls) chunk({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { tool_calls: e.toolCalls.map((c, index) => ({ index, id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) }, finish_reason: null }] });
            chunk({ choices: [{ index: 0, ...(chat ? { delta: {} } : { text: "" }), finish_reason: e.finishReason }] });
            chunk({ choices: [], usage: { prompt_tokens: e.usage.promptTokens, completion_tokens: e.usage.completionTokens, total_tokens: e.usage.promptTokens + e.usage.completionTokens } });
          }
        }
      } catch (err) {
        chunk({ error: { message: (err as Error).message, code: isServingError(err) ? err.code : "internal" } });
      }
      res.end("data: [DONE]\n\n");
    } catch (err) {
      const code = isServingError(err) ? err.code : "internal";
      const status = code === "invalid_request" ? 400 : code === "model_not_found" ? 404 : code === "busy" ? 503 : 500;
      if (!res.headersSent) send(res, status, { error: { message: (err as Error).message, type: "invalid_request_error", param: isServingError(err) ? err.param ?? null : null, code } });
      else res.end();
    }
  });
  await new Promise<void>((r) => s.server.listen(0, "127.0.0.1", r));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}/v1`;
  s.close = () => new Promise((r) => s.server.close(() => r()));
  return s;
}
