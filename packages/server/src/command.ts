// `hearth server`: parses the flags, starts a local backend with the models loaded, serves until SIGINT / SIGTERM.
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { lm } from "@hearth/engine";
import { createLocalBackend, type LocalBackendOptions } from "@hearth/serving";
import { HearthServer } from "./server.js";
import { parseServerArgs, serverHelp, UsageError } from "./options.js";

/** The name a model is served under: a folder's name, or the hub id / configured name as given. */
function servedName(ref: string): string {
  return existsSync(ref) ? basename(resolve(ref)) : ref;
}

function uniqueName(name: string, taken: Set<string>): string {
  let n = name;
  for (let i = 2; taken.has(n); i++) n = `${name}-${i}`;
  taken.add(n);
  return n;
}

/** Runs `hearth server <argv>`; resolves with the exit code once the server has been stopped by a signal. */
export async function runServerCommand(argv: string[]): Promise<number> {
  const a = parseServerArgs(argv);
  if (a.help) {
    process.stdout.write(serverHelp());
    return 0;
  }
  const taken = new Set<string>();
  const models: Record<string, string> = {};
  let model = lm.BUNDLED_MODEL_NAME;
  if (a.model === undefined) {
    process.stderr.write(`[hearth] no --model given: serving the bundled demo model ${lm.BUNDLED_MODEL_NAME}, which knows only ` +
      "small arithmetic, word, sorting, unit and code tasks (pass --model <folder or Hugging Face id> for a real one)\n");
    taken.add(model);
  } else {
    model = uniqueName(servedName(a.model), taken);
    if (model !== a.model) models[model] = a.model;
  }
  let embeddingModel: string | undefined;
  if (a.embeddingModel !== undefined) {
    embeddingModel = uniqueName(servedName(a.embeddingModel), taken);
    if (embeddingModel !== a.embeddingModel) models[embeddingModel] = a.embeddingModel;
  }
  const adapters: Record<string, string> = {};
  for (const p of a.adapterPaths) {
    if (!existsSync(p)) throw new UsageError(`--adapter-path '${p}' does not exist`);
    adapters[uniqueName(basename(resolve(p)), taken)] = resolve(p);
  }
  const s = a.settings;
  const opts: LocalBackendOptions = {
    model, models, adapters,
    maxQueue: s.maxQueue, maxTokensCap: s.maxTokensCap, maxPromptTokens: s.maxPromptTokens,
    // Paths from requests reach the backend only after the server checked them against --allowed-path.
    allowPaths: s.allowedPaths.length > 0,
  };
  if (embeddingModel !== undefined) opts.embeddingModel = embeddingModel;
  if (a.maxBatch !== undefined) opts.maxBatch = a.maxBatch;
  const backend = createLocalBackend(opts);
  let server: HearthServer | undefined;
  // The handlers are in place before anything loads and stay until the process ends: a signal during startup, or a
  // second one while closing, still ends in a clean exit 0 instead of Node's default (killed by the signal).
  let stop!: () => void;
  let signalled = false;
  const stopped = new Promise<void>((done) => { stop = done; });
  const onSignal = () => { signalled = true; stop(); };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const loaded = (async () => {
      await backend.load(model);
      if (embeddingModel !== undefined) await backend.load(embeddingModel, "embedding");
      return true;
    })();
    // A signal while the models load ends the command (exit 0) without listening.
    if (!(await Promise.race([loaded, stopped.then(() => false)])) || signalled) {
      await loaded.catch(() => undefined);
      return 0;
    }
    server = new HearthServer(backend, s);
    const url = await server.listen().catch((e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE") throw new UsageError(`port ${s.port} on ${s.host} is in use; pass --port 0 for a free one`);
      if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND") throw new UsageError(`cannot bind --host ${s.host}: no such local address`);
      throw e;
    });
    process.stderr.write(`hearth server listening on ${url}\n`);
    await stopped;
    return 0;
  } finally {
    await server?.close();
    await backend.close();
  }
}
