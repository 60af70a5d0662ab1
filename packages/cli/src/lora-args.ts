// A small argv parser for the tuner commands (lora, fuse): mlx_lm's kebab-case flags, `--flag value` or
// `--flag=value`, booleans without a value, unknown flags and bad values as errors that name the flag (the
// dispatcher's UsageError: exit code 2, printed as "hearth <command>: <message>").
import { UsageError } from "./args.js";

export { UsageError };

export type FlagType = "string" | "int" | "float" | "bool";

export interface FlagSpec {
  /** snake_case destination (as mlx-lm's argparse `dest`). */
  dest: string;
  type: FlagType;
  help: string;
  /** Other spellings ("-c", "--de-quantize"). */
  aliases?: string[];
  choices?: string[];
}


/** Parses argv against the specs: flag → value (only flags that were given). `--help` sets help: true. */
export function parseFlags(argv: string[], specs: Record<string, FlagSpec>, command: string): Record<string, unknown> {
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [flag, spec] of Object.entries(specs)) {
    byName.set(flag, [flag, spec]);
    for (const a of spec.aliases ?? []) byName.set(a, [flag, spec]);
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "--help" || arg === "-h") { out.help = true; continue; }
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) { inline = arg.slice(eq + 1); arg = arg.slice(0, eq); }
    const hit = byName.get(arg);
    if (!hit) {
      const close = [...byName.keys()].filter((k) => k.startsWith(arg.slice(0, 6)));
      throw new UsageError(`unknown argument '${arg}'${close.length ? ` (did you mean ${close.slice(0, 3).join(", ")}?)` : ""}; see hearth ${command} --help`);
    }
    const [flag, spec] = hit;
    if (spec.type === "bool") {
      if (inline !== undefined) {
        if (!/^(true|false|1|0)$/i.test(inline)) throw new UsageError(`${flag} takes no value (or true/false), got '${inline}'`);
        out[spec.dest] = /^(true|1)$/i.test(inline);
      } else out[spec.dest] = true;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined || (inline === undefined && raw.startsWith("--")))
      throw new UsageError(`${flag} needs a value`);
    let v: unknown = raw;
    if (spec.type === "int") {
      if (!/^-?\d+$/.test(raw)) throw new UsageError(`${flag} must be an integer, got '${raw}'`);
      v = Number(raw);
    } else if (spec.type === "float") {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got '${raw}'`);
      v = n;
    }
    if (spec.choices && !spec.choices.includes(String(v)))
      throw new UsageError(`${flag} must be one of ${spec.choices.join(", ")}, got '${raw}'`);
    out[spec.dest] = v;
  }
  return out;
}

/** The --help text. */
export function usage(command: string, summary: string, specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([flag, s]) => {
    const names = [...(s.aliases ?? []).filter((a) => a.length === 2), flag].join(", ");
    const val = s.type === "bool" ? "" : s.choices ? ` {${s.choices.join(",")}}` : ` ${s.dest.toUpperCase()}`;
    return `  ${(names + val).padEnd(40)} ${s.help}`;
  });
  return `usage: hearth ${command} [options]\n\n${summary}\n\noptions:\n${rows.join("\n")}\n`;
}
