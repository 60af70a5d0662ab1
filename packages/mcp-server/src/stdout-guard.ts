// Imported first by the bin: from here on, only the MCP transport writes to stdout. Anything else in this process
// (console.log/info/debug in the engine or a dependency, a stray process.stdout.write) goes to stderr, so a warning
// can never corrupt the JSON-RPC stream.
import { Writable } from "node:stream";

const stdout = process.stdout;
const realWrite = stdout.write.bind(stdout) as (chunk: unknown, cb?: (err?: Error | null) => void) => boolean;

/** The one stream the stdio transport writes protocol messages to. */
export const protocolOut = new Writable({
  write(chunk, _encoding, cb) {
    realWrite(chunk, (err) => cb(err ?? null));
  },
});

stdout.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) =>
  (process.stderr.write as (...a: unknown[]) => boolean)(chunk, encoding, cb)) as typeof stdout.write;
for (const k of ["log", "info", "debug"] as const) console[k] = (...args: unknown[]) => console.error(...args);
