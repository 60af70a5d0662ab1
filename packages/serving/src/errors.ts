// Errors with codes that each face maps to its protocol (HTTP status, MCP isError text, LSP error code).

export type ServingErrorCode =
  | "invalid_request"    // a bad parameter or body (HTTP 400)
  | "model_not_found"    // no such model or adapter (404)
  | "path_denied"        // a path outside the allowed roots, or paths not allowed at all (403)
  | "unauthorized"       // missing or wrong key (401)
  | "too_large"          // body, prompt, image or max_tokens over a cap (413 / 400)
  | "busy"               // the queue is full (503 + Retry-After)
  | "out_of_memory"      // loading would pass the memory limit (507)
  | "unsupported"        // the backend or model cannot do this (e.g. train on a remote backend, images on a text model)
  | "bad_image"          // an image that cannot be decoded
  | "bad_dataset"        // a JSONL line or dataset folder that cannot be used
  | "template"           // the chat template failed to render
  | "aborted"            // cancelled by the caller
  | "upstream"           // a remote backend failed
  | "internal";          // anything else (500)

export class ServingError extends Error {
  readonly code: ServingErrorCode;
  /** The request parameter at fault, when there is one (OpenAI's `param`). */
  readonly param?: string;
  /** For "busy": seconds after which a retry may succeed. */
  readonly retryAfter?: number;

  constructor(code: ServingErrorCode, message: string, opts: { param?: string; retryAfter?: number; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = "ServingError";
    this.code = code;
    if (opts.param !== undefined) this.param = opts.param;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }
}

export function isServingError(e: unknown): e is ServingError {
  return e instanceof ServingError;
}
