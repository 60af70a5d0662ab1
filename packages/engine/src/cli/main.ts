#!/usr/bin/env node
// `hearth <command> [options]`: the command-line entry. Each command lives in its own file and is loaded on demand.
const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  bench: async () => (await import("./bench.js")).runBench,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help" || !COMMANDS[cmd]) {
    const known = Object.keys(COMMANDS).join(" | ");
    (cmd && !["-h", "--help"].includes(cmd) ? console.error : console.log)(
      `${cmd && !["-h", "--help"].includes(cmd) ? `unknown command '${cmd}'\n` : ""}usage: hearth <${known}> [options]`);
    return cmd && !["-h", "--help"].includes(cmd) ? 2 : 0;
  }
  return (await COMMANDS[cmd]())(rest);
}

process.exitCode = await main(process.argv.slice(2));
