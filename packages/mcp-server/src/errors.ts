// Tool failures become isError results whose text says what to do next. No stack traces reach the agent.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { isServingError, type ServingErrorCode } from "@hearth/serving";

const NEXT: Partial<Record<ServingErrorCode, string>> = {
  busy: "The server is busy; retry in a few seconds.",
  out_of_memory: "Unload a model with the models tool (action: unload) or use a smaller/quantized model.",
  upstream: "The remote backend failed; check that the --base-url server is running.",
  internal: "This is a bug in hearth-mcp; the server is still running, so other calls can go on.",
};

/** A message fit for the agent: the ServingError's own text (already phrased as advice) plus a hint by code. */
export function errorText(e: unknown): string {
  if (isServingError(e)) {
    const hint = NEXT[e.code];
    return `${e.code}: ${e.message}${hint && !e.message.includes(hint) ? ` ${hint}` : ""}`;
  }
  const msg = e instanceof Error ? e.message : String(e);
  // Only the first line: engine messages are one line, and a multi-line one is usually a dump.
  return `error: ${msg.split("\n")[0]}`;
}

export function toolError(e: unknown): CallToolResult {
  return { isError: true, content: [{ type: "text", text: errorText(e) }] };
}

/** A successful result: structured content plus a text rendering for clients that ignore structure. */
export function toolResult(structured: Record<string, unknown>, text?: string): CallToolResult {
  return { structuredContent: structured, content: [{ type: "text", text: text ?? JSON.stringify(structured) }] };
}
