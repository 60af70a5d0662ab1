#!/usr/bin/env node
// The shared host process (started detached by the first face that asks for `--shared`): one LocalBackend for all
// of this user's faces, on a Unix socket in a private directory. Exits after an idle time with no clients.
import { parseArgs } from "node:util";
import { createLocalBackend } from "./local-backend.js";
import { defaultSocketDir, startSharedHost } from "./shared-host.js";
import { isServingError } from "./errors.js";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    model: { type: "string" },
    "embedding-model": { type: "string" },
    "vision-model": { type: "string" },
    "adapter-dir": { type: "string" },
    "memory-limit-mb": { type: "string" },
    "max-queue": { type: "string" },
    "idle-exit-ms": { type: "string" },
  },
  strict: true,
});

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const backend = createLocalBackend({
  ...(values.model ? { model: values.model } : {}),
  ...(values["embedding-model"] ? { embeddingModel: values["embedding-model"] } : {}),
  ...(values["vision-model"] ? { visionModel: values["vision-model"] } : {}),
  ...(values["adapter-dir"] ? { adapterDir: values["adapter-dir"] } : {}),
  ...(values["memory-limit-mb"] ? { memoryLimitBytes: num(values["memory-limit-mb"])! * 1024 * 1024 } : {}),
  ...(values["max-queue"] ? { maxQueue: num(values["max-queue"])! } : {}),
});

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await host?.close();
  await backend.close();
  process.exit(code);
}

let host: Awaited<ReturnType<typeof startSharedHost>> | undefined;
try {
  host = await startSharedHost(backend, values.dir ?? defaultSocketDir(), {
    idleMs: num(values["idle-exit-ms"]) ?? 15 * 60_000,
    onIdle: () => void stop(0),
    log: (l) => process.stderr.write(l + "\n"),
  });
} catch (e) {
  // Another host won the race: nothing to do.
  process.stderr.write(`hearth shared host: ${(e as Error).message}\n`);
  await backend.close();
  process.exit(isServingError(e) && e.code === "busy" ? 0 : 1);
}
process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
