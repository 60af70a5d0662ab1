// OpenAI's error shape ({ error: { message, type, param, code } }) and the HTTP status of each ServingError code.
import { isServingError, type ServingErrorCode } from "@hearth/serving";

/** An error the server answers with directly: a status, OpenAI's error object and extra headers. */
export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, opts: { type?: string; code?: string; param?: string | null; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.type = opts.type ?? typeForStatus(status);
    this.code = opts.code ?? this.type;
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
  }
}

/** OpenAI's `type` for a status, the strings its SDKs and clients expect. */
function typeForStatus(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "invalid_request_error";
  if (status === 429 || status === 503) return "server_busy";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

const STATUS: Record<ServingErrorCode, number> = {
  invalid_request: 400,
  model_not_found: 404,
  path_denied: 403,
  unauthorized: 401,
  too_large: 400,
  busy: 503,
  out_of_memory: 507,
  unsupported: 400,
  bad_image: 400,
  bad_dataset: 400,
  template: 400,
  aborted: 499,
  upstream: 502,
  internal: 500,
};

/** Any thrown value as an HttpError: ServingErrors keep their code and param, anything else is a 500. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (isServingError(e)) {
    const status = STATUS[e.code] ?? 500;
    const headers: Record<string, string> = {};
    if (e.code === "busy") headers["retry-after"] = String(Math.max(1, Math.ceil(e.retryAfter ?? 1)));
    return new HttpError(status, e.message, { code: e.code, param: e.param ?? null, headers });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new HttpError(500, `internal error: ${msg}`, { code: "internal" });
}

export function errorBody(e: HttpError): { error: { message: string; type: string; param: string | null; code: string } } {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

/** A 400 for a bad request parameter. */
export function badParam(param: string, message: string): HttpError {
  return new HttpError(400, message, { param, code: "invalid_request" });
}
