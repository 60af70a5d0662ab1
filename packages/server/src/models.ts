// Which model (and adapter) a request's `model` names. Served names only: a model or adapter the operator loaded, or
// an adapter listed under its base model (vLLM's convention: adapters appear as models). Paths are refused unless
// they lie under --allowed-path, and unknown names are a 404, so clients cannot make the server load arbitrary
// checkpoints.
import type { Backend, ModelInfo, ModelKind } from "@hearth/serving";
import { HttpError, badParam } from "./errors.js";
import { allowedPath, looksLikePath } from "./security.js";
import type { ServerSettings } from "./options.js";

export interface ResolvedModel {
  /** What the backend gets (undefined: its default model). */
  model?: string;
  adapter?: string;
  /** The name echoed in responses. */
  id: string;
}

function pick(models: ModelInfo[], kinds: ModelKind[]): ModelInfo | undefined {
  return models.find((m) => m.loaded && kinds.includes(m.kind));
}

export async function resolveModel(backend: Backend, body: Record<string, unknown>, s: ServerSettings,
  kinds: ModelKind[]): Promise<ResolvedModel> {
  const raw = body.model;
  const adapterRaw = body.adapter;
  if (raw !== undefined && raw !== null && typeof raw !== "string") throw badParam("model", "'model' must be a string");
  if (adapterRaw !== undefined && adapterRaw !== null && typeof adapterRaw !== "string") throw badParam("adapter", "'adapter' must be a string");
  const models = await backend.models();
  const out: ResolvedModel = { id: "" };
  const name = typeof raw === "string" ? raw.trim() : "";
  if (name === "" || name === "default") {
    const m = pick(models, kinds);
    if (!m) throw new HttpError(404, `no ${kinds.join(" or ")} model is loaded on this server`, { param: "model", code: "model_not_found" });
    out.model = m.id;
    out.id = m.id;
  } else {
    const exact = models.find((m) => m.id === name);
    const base = exact ? undefined : models.find((m) => m.adapters.includes(name));
    if (exact) {
      if (!kinds.includes(exact.kind))
        throw new HttpError(400, `model '${name}' is a ${exact.kind} model; this endpoint needs a ${kinds.join(" or ")} model`, {
          param: "model", code: "wrong_model_kind",
        });
      out.model = exact.id;
    } else if (base) {
      if (!kinds.includes(base.kind))
        throw new HttpError(400, `adapter '${name}' belongs to a ${base.kind} model; this endpoint needs a ${kinds.join(" or ")} model`, {
          param: "model", code: "wrong_model_kind",
        });
      out.model = base.id;
      out.adapter = name;
    } else if (looksLikePath(name)) {
      out.model = allowedPath(name, s.allowedPaths, "model");
    } else {
      const served = models.flatMap((m) => [m.id, ...m.adapters]);
      throw new HttpError(404, `model '${name}' is not served here; served: ${served.join(", ") || "none"} (GET /v1/models)`, {
        param: "model", code: "model_not_found",
      });
    }
    out.id = name;
  }
  if (typeof adapterRaw === "string" && adapterRaw.trim() !== "") {
    const a = adapterRaw.trim();
    const owner = models.find((m) => m.id === out.model);
    if (owner?.adapters.includes(a)) out.adapter = a;
    else if (looksLikePath(a)) out.adapter = allowedPath(a, s.allowedPaths, "adapter");
    else throw new HttpError(404, `adapter '${a}' is not served for model '${out.model}'`, { param: "adapter", code: "model_not_found" });
  }
  return out;
}

/** GET /v1/models: loaded models, then their adapters (with `parent`), in OpenAI's list shape. */
export function modelList(models: ModelInfo[], created: number): unknown {
  const data: unknown[] = [];
  for (const m of models) {
    if (!m.loaded) continue;
    data.push({ id: m.id, object: "model", created, owned_by: "hearth", kind: m.kind, root: m.id, parent: null });
    for (const a of m.adapters) data.push({ id: a, object: "model", created, owned_by: "hearth", kind: m.kind, root: m.id, parent: m.id });
  }
  return { object: "list", data };
}
