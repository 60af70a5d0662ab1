// No command may write over its own input. Outputs are compared with inputs by real path (through symlinks, also
// for an output that does not exist yet), and refused when one contains the other: replacing a folder that holds
// the source deletes it, and a file written into a model folder becomes part of that model's weights.
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { EngineError } from "../core/errors.js";

/** The real path of p: symlinks resolved in the longest existing prefix, the rest appended. */
export function realpathDeep(p: string): string {
  const abs = resolve(p);
  if (existsSync(abs)) return realpathSync(abs);
  const parent = dirname(abs);
  if (parent === abs) return abs;
  return join(realpathDeep(parent), basename(abs));
}

const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

/** Whether writing `output` could overwrite `input` or write into it (same path, or one inside the other). */
export function pathsOverlap(output: string, input: string): boolean {
  const o = realpathDeep(output), i = realpathDeep(input);
  return within(o, i) || within(i, o);
}

/**
 * Throws an EngineError when `output` overlaps one of the inputs. `what` names the output in the message
 * ("the output folder", "the prompt cache file"); each input comes with its role ("the source model").
 */
export function assertNotOverwritingInput(op: string, what: string, output: string, inputs: [role: string, path: string | undefined][]): void {
  for (const [role, input] of inputs) {
    if (input === undefined || !existsSync(input)) continue;
    if (pathsOverlap(output, input)) {
      const o = realpathDeep(output), i = realpathDeep(input);
      const how = o === i ? "is" : within(o, i) ? "is inside" : "contains";
      throw new EngineError(`[${op}] ${what} ${output} ${how} ${role} (${i}); writing there would destroy the input. Choose another path`);
    }
  }
}
