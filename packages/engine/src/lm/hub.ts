// Resolving a model reference: a local folder, or a Hugging Face hub id found in the local HF cache
// (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). No network is touched when the files are there.
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { BUNDLED_MODEL_NAME, bundledModelPath } from "./bundled.js";

export class ModelNotFoundError extends Error {
  /** Stable code the faces map (e.g. HTTP 404). */
  readonly code = "model_not_found";
  constructor(message: string) {
    super(message);
    this.name = "ModelNotFoundError";
  }
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  const xdg = env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(xdg, "huggingface", "hub");
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/**
 * A folder for `ref`: an existing local path as is; otherwise `org/name[@revision]` looked up in the HF cache
 * (`models--org--name/snapshots/<rev>`, the revision from `refs/<revision or main>`).
 */
export function resolveModelPath(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  if (existsSync(ref)) {
    const p = resolve(ref);
    if (!statSync(p).isDirectory()) throw new ModelNotFoundError(`${p} is a file; a model is a folder with config.json`);
    return p;
  }
  if (ref === BUNDLED_MODEL_NAME) return bundledModelPath();  // a folder of that name in the cwd wins (above)
  const [id, revision] = ref.split("@");
  if (!HUB_ID.test(id))
    throw new ModelNotFoundError(`No folder '${ref}' exists, and it is not a Hugging Face model id (org/name)`);
  const cache = hubCacheDir(env);
  const repo = join(cache, `models--${id.replace("/", "--")}`);
  const snapshots = join(repo, "snapshots");
  let snapshot: string | undefined;
  const refFile = join(repo, "refs", revision ?? "main");
  if (existsSync(refFile)) snapshot = readFileSync(refFile, "utf8").trim();
  else if (revision && existsSync(join(snapshots, revision))) snapshot = revision;
  const folder = snapshot ? join(snapshots, snapshot) : undefined;
  if (!folder || !existsSync(folder))
    throw new ModelNotFoundError(
      `Model '${ref}' is not in the Hugging Face cache (${cache}). Download it first, e.g. ` +
        `\`huggingface-cli download ${id}\` (or set HF_HOME / HF_HUB_CACHE), or pass a local folder.`,
    );
  return folder;
}
