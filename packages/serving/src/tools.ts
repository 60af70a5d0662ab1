// Tool calling for Gemma 3, which has no native tool format. The protocol (documented in the package README):
// - the tools are described in the system turn, with the reply format;
// - with tools on, the assistant's reply is one JSON object, decoded under a grammar so it always parses:
//     {"tool_calls": [{"name": "<tool>", "arguments": {...}}]}   to call tools, or
//     {"content": "<text>"}                                      to answer (tool_choice "auto" only);
// - earlier calls go back into the history as that JSON block in the assistant turn, and each tool result as a
//   user turn "Tool result for <name> (<id>):\n<result>" (Gemma's template only knows user and model turns).
import { randomBytes } from "node:crypto";
import type { ChatTurn, ContentPart, ToolCall, ToolChoice, ToolDefinition } from "./backend.js";
import { ServingError } from "./errors.js";

/** Calls one reply may make (a bound, so a small model cannot repeat calls until maxTokens). */
export const MAX_CALLS = 4;

export interface ToolPlan {
  tools: ToolDefinition[];
  choice: ToolChoice;
  /** Calls one reply may make: MAX_CALLS, or 1 with parallelToolCalls false. */
  maxCalls: number;
}

function checkTools(tools: ToolDefinition[]): void {
  const seen = new Set<string>();
  for (const [i, t] of tools.entries()) {
    if (!t || typeof t.name !== "string" || !/^[\w.-]{1,64}$/.test(t.name))
      throw new ServingError("invalid_request", `tools[${i}].name must be 1-64 letters, digits, '.', '-' or '_'`, { param: `tools[${i}].name` });
    if (seen.has(t.name)) throw new ServingError("invalid_request", `tool '${t.name}' is defined twice`, { param: "tools" });
    seen.add(t.name);
    if (t.parameters !== undefined && (typeof t.parameters !== "object" || t.parameters === null || Array.isArray(t.parameters)))
      throw new ServingError("invalid_request", `tools[${i}].parameters must be a JSON Schema object`, { param: `tools[${i}].parameters` });
  }
}

/** The system text that describes the tools and the reply format. */
export function toolSystemText(tools: ToolDefinition[], choice: ToolChoice, maxCalls = MAX_CALLS): string {
  const list = tools.map((t) => JSON.stringify({ name: t.name, description: t.description ?? "", parameters: t.parameters ?? { type: "object" } })).join("\n");
  const must = choice === "required" ? "You must call at least one tool."
    : typeof choice === "object" ? `You must call the tool "${choice.name}".`
    : "Call tools when they help; otherwise answer directly.";
  const one = maxCalls === 1 ? " Call at most one tool per reply." : "";
  return `You have access to these tools (JSON Schema parameters):\n${list}\n\n` +
    `Reply with one JSON object only. To call tools: {"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}.` +
    (choice === "auto" ? ` To answer without tools: {"content": "<your answer>"}.` : "") +
    ` ${must}${one} Tool results come back in a user turn starting with "Tool result for".`;
}

function textOf(content: string | ContentPart[]): string {
  return typeof content === "string" ? content : content.map((p) => (p.type === "text" ? p.text : "")).join("");
}

/** Turns with tool calls and results rewritten into plain turns, tool instructions in the system turn, same roles merged. */
export function renderToolPrompt(turns: ChatTurn[], tools: ToolDefinition[], choice: ToolChoice, maxCalls = MAX_CALLS): ChatTurn[] {
  checkTools(tools);
  if (typeof choice === "object" && !tools.some((t) => t.name === choice.name))
    throw new ServingError("invalid_request", `tool_choice names '${choice.name}', which is not in tools`, { param: "tool_choice" });
  const out: ChatTurn[] = [];
  const push = (t: ChatTurn) => {
    const prev = out[out.length - 1];
    if (prev && prev.role === t.role && typeof prev.content === "string" && typeof t.content === "string") prev.content = `${prev.content}\n\n${t.content}`;
    else out.push({ ...t });
  };
  const sys = tools.length && choice !== "none" ? toolSystemText(tools, choice, maxCalls) : "";
  let i = 0;
  if (turns[0]?.role === "system") {
    push({ role: "system", content: sys ? `${textOf(turns[0].content)}\n\n${sys}` : turns[0].content });
    i = 1;
  } else if (sys) push({ role: "system", content: sys });
  for (; i < turns.length; i++) {
    const t = turns[i];
    if (t.role === "tool") {
      const name = t.name ? `${t.name} ` : "";
      push({ role: "user", content: `Tool result for ${name}(${t.toolCallId ?? "call"}):\n${textOf(t.content)}` });
    } else if (t.role === "assistant" && t.toolCalls?.length) {
      const calls = t.toolCalls.map((c) => {
        let args: unknown;
        try {
          args = JSON.parse(c.arguments);
        } catch {
          throw new ServingError("invalid_request", `the arguments of tool call ${c.id} are not valid JSON`, { param: "messages" });
        }
        return { name: c.name, arguments: args };
      });
      push({ role: "assistant", content: JSON.stringify({ tool_calls: calls }) });
    } else if (t.role === "system") {
      push({ role: "user", content: textOf(t.content) });
    } else {
      push(t);
    }
  }
  return out;
}

/** The JSON Schema the reply is decoded under. */
export function toolCallSchema(tools: ToolDefinition[], choice: ToolChoice, maxCalls = MAX_CALLS): Record<string, unknown> {
  const allowed = typeof choice === "object" ? tools.filter((t) => t.name === choice.name) : tools;
  const call = (t: ToolDefinition) => ({
    type: "object",
    properties: { name: { const: t.name }, arguments: t.parameters ?? { type: "object" } },
    required: ["name", "arguments"],
    additionalProperties: false,
  });
  const calls = {
    type: "object",
    properties: { tool_calls: { type: "array", minItems: 1, maxItems: maxCalls, items: allowed.length === 1 ? call(allowed[0]) : { anyOf: allowed.map(call) } } },
    required: ["tool_calls"],
    additionalProperties: false,
  };
  if (choice !== "auto") return calls;
  return { anyOf: [calls, { type: "object", properties: { content: { type: "string" } }, required: ["content"], additionalProperties: false }] };
}

/** The calls (and answer text) in a reply decoded under toolCallSchema. */
export function parseToolReply(text: string, tools: ToolDefinition[]): { calls: ToolCall[]; content?: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { calls: [] };  // cut off by maxTokens: no complete call
  }
  const o = v as { tool_calls?: { name: string; arguments: unknown }[]; content?: unknown };
  if (Array.isArray(o.tool_calls)) {
    const names = new Set(tools.map((t) => t.name));
    const calls = o.tool_calls.filter((c) => names.has(c.name)).map((c) => ({
      id: `call_${randomBytes(9).toString("base64url")}`,
      name: c.name,
      arguments: JSON.stringify(c.arguments ?? {}),
    }));
    return { calls };
  }
  return typeof o.content === "string" ? { calls: [], content: o.content } : { calls: [] };
}

export function parseToolCalls(text: string, tools: ToolDefinition[]): ToolCall[] {
  return parseToolReply(text, tools).calls;
}
