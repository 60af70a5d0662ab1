// Locating the engine package's test fixtures (the CLI's tests use the same tiny models).
import { existsSync, mkdtempSync, copyFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** @hearth/engine's package folder (dist/src/index.js three levels down). */
export const ENGINE_DIR = resolve(dirname(fileURLToPath(import.meta.resolve("@hearth/engine"))), "..", "..");

export function findFixture(name: string): string {
  const direct = join(ENGINE_DIR, "test", "fixtures", name);
  if (existsSync(direct)) return direct;
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, "test", "fixtures", name);
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`fixture ${name} not found above ${starts.join(" or ")}`);
}

/** A temp copy of a fixture folder where `config.legacy.json` becomes `config.json` (the hub's dialect). */
export function legacyConfigCopy(folder: string): string {
  const out = mkdtempSync(join(tmpdir(), "hearth-legacy-"));
  for (const f of readdirSync(folder)) {
    if (f === "config.json" || f.startsWith("reference")) continue;
    copyFileSync(join(folder, f), join(out, f === "config.legacy.json" ? "config.json" : f));
  }
  return out;
}
