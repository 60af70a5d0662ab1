#!/usr/bin/env node
// A direct entry for `hearth server` (the `hearth` bin dispatches to the same runServerCommand).
import { runServerCommand } from "./command.js";
import { UsageError } from "./options.js";

runServerCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`hearth server: ${err instanceof UsageError ? "" : "error: "}${err.message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
