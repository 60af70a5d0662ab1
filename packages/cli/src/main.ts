#!/usr/bin/env node
// hearth: the command line. One file per subcommand, loaded on demand; wrong usage exits 2, other errors exit 1
// with a one-line message (the stack trace only with --verbose).
import { readFileSync } from "node:fs";
import { UsageError } from "./args.js";
import { COMMANDS } from "./commands.js";

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return String(pkg.version);
  } catch {
    return "unknown";
  }
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    "Usage: hearth <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    "",
    "Run 'hearth <command> --help' for a command's options.",
    "",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(usage());
    return 0;
  }
  if (cmd === "--version" || cmd === "-v") {
    process.stdout.write(`hearth ${version()}\n`);
    return 0;
  }
  if (cmd === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  const command = COMMANDS[cmd];
  if (!command) throw new UsageError(`unknown command '${cmd}'. Commands: ${Object.keys(COMMANDS).join(", ")}`);
  const mod = await command.load();
  return mod.run(rest);
}

// A closed stdout (`hearth generate … | head -c 1`) ends the command quietly with status 0, as Unix tools do;
// every command writes through process.stdout, so this one handler covers them all.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });

const argv = process.argv.slice(2);
const verbose = argv.includes("--verbose");
const name = argv[0] && COMMANDS[argv[0]] ? `hearth ${argv[0]}` : "hearth";
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e instanceof UsageError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${name}: error: ${e.message}\n`);
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  },
);
