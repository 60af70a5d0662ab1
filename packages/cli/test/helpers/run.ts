// Runs the built `hearth` bin as a child process (the way users and acceptance scripts run it).
import { execFile, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "main.js");

export interface Result { code: number; stdout: string; stderr: string }

export function hearth(args: string[], opts: { input?: string; env?: Record<string, string | undefined>; timeout?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const env = { ...process.env, HEARTH_MODEL: undefined, ...opts.env } as NodeJS.ProcessEnv;
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = execFile(process.execPath, [MAIN, ...args], { env, timeout: opts.timeout ?? 120_000, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) ?? 1 : 0;
      resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? "");
  });
}

/** `hearth <args> | head -c <bytes>` in bash: the bin's own exit status (PIPESTATUS[0]), its stderr, head's output. */
export function hearthIntoHead(args: string[], bytes: number, input = ""): Promise<{ code: number; stderr: string; head: string }> {
  return new Promise((resolve) => {
    const script = `"$0" "$@" 2>&3 | head -c ${bytes}; exit \${PIPESTATUS[0]}`;
    const env = { ...process.env };
    delete env.HEARTH_MODEL;
    const child = spawn("bash", ["-c", script, process.execPath, MAIN, ...args], { stdio: ["pipe", "pipe", "pipe", "pipe"], env });
    let stderr = "", head = "";
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (d) => (stderr += d));
    child.stdout!.on("data", (d) => (head += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.stdin!.end(input);
    child.on("close", (code) => resolve({ code: code ?? 1, stderr, head }));
  });
}

/** A one-line message on stderr, no usage text and no stack trace. */
export function oneLine(stderr: string): boolean {
  return stderr.trim().split("\n").length === 1 && !/Usage:/.test(stderr) && !/\n\s+at /.test(stderr);
}
