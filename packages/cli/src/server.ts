// `hearth server`: a thin dispatch to @hearth/server, whose usage errors become this CLI's (exit code 2).
import { runServerCommand, UsageError as ServerUsageError } from "@hearth/server";
import { UsageError } from "./args.js";

export async function run(argv: string[]): Promise<number> {
  try {
    return await runServerCommand(argv);
  } catch (e) {
    if (e instanceof ServerUsageError) throw new UsageError(e.message);
    throw e;
  }
}
