#!/usr/bin/env node
// hearth-mcp: the MCP server's entry. The stdout guard is the first import, before the engine loads.
import { protocolOut } from "./stdout-guard.js";
import { homedir } from "node:os";
import { join } from "node:path";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { parseCli, USAGE, UsageError } from "./args.js";
import { createBackend } from "./backend.js";
import { stderrLog } from "./context.js";
import { errorText } from "./errors.js";
import { startHttp } from "./http.js";
import { TrainingJobs } from "./jobs.js";
import { resolveCliRoots } from "./roots.js";
import { createSessionServer, type SharedState } from "./server.js";

async function main(): Promise<number> {
  let opts;
  try {
    const parsed = parseCli(process.argv.slice(2));
    if (parsed === "help") {
      process.stderr.write(USAGE + "\n");
      return 0;
    }
    opts = parsed;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`hearth-mcp: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const cliRoots = resolveCliRoots(opts.roots);
  const adapterDir = opts.adapterDir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "hearth", "adapters");
  // Signals are handled from here on, also while starting: what exists so far is closed, and the exit code is 0.
  let state: SharedState | undefined;
  let closeTransport: (() => Promise<void>) | undefined;
  let closing = false;
  async function shutdown(why: string): Promise<void> {
    if (closing) return;
    closing = true;
    stderrLog(`shutting down (${why})`);
    // Cancelled jobs keep their last checkpoint; a job that does not stop within 10 s does not keep the process.
    await Promise.race([state?.jobs.cancelAll().catch(() => {}), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await closeTransport?.().catch(() => {});
    await state?.backend.close().catch(() => {});
    process.exit(0);
  }
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  const backend = await createBackend(opts, adapterDir);
  state = { backend, opts, jobs: new TrainingJobs(backend, stderrLog), cliRoots, log: stderrLog };
  // A tool failure is an isError result; anything that escapes is logged and the server keeps running.
  process.on("unhandledRejection", (e) => stderrLog(`unhandled: ${errorText(e)}`));

  if (opts.http) {
    const h = await startHttp(state);
    // The contract line (tests and scripts read it).
    process.stderr.write(`hearth-mcp listening on ${h.url}\n`);
    closeTransport = h.close;
  } else {
    const server = createSessionServer(state);
    const transport = new StdioServerTransport(process.stdin, protocolOut);
    await server.connect(transport);
    process.stdin.on("end", () => void shutdown("stdin closed"));
    closeTransport = () => server.close();
  }
  stderrLog(`ready (${backend.kind} backend${opts.baseUrl ? ` at ${opts.baseUrl}` : ""}; model ${opts.model ?? "hearth-tiny"}${opts.embeddingModel ? `, embedding ${opts.embeddingModel}` : ""}${opts.visionModel ? `, vision ${opts.visionModel}` : ""}; roots: ${cliRoots.length ? cliRoots.join(", ") : "none (client roots only)"})`);

  return -1;
}

main().then((code) => {
  if (code >= 0) process.exit(code);
}, (e) => {
  process.stderr.write(`hearth-mcp: ${errorText(e).replace(/^error: /, "")}\n`);
  process.exit(1);
});
