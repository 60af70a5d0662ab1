// Test fixtures: the engine package's tiny checkpoints (vision, embedding) with a small tokenizer written next to
// them, and a few chat examples for training. Everything comes from the project tree, nothing from outside.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** packages/engine (this file is packages/serving/dist/test/helpers.js). */
export const enginePackage = resolve(here, "..", "..", "..", "engine");

interface TinyTokenizerHelpers {
  tinyVlmWithTokenizer(configFile?: string): string;
  tinyEmbedderWithTokenizer(configFile?: string): string;
}

/** The engine's test helpers (built with the engine: dist/test/helpers). */
export async function engineHelpers(): Promise<TinyTokenizerHelpers> {
  return (await import(join(enginePackage, "dist", "test", "helpers", "tiny-tokenizer.js"))) as TinyTokenizerHelpers;
}

export function fixture(name: string): string {
  return join(enginePackage, "test", "fixtures", name);
}

/** A folder with train.jsonl / valid.jsonl taken from the demo model's test set. */
export function chatDataset(trainLines = 8, validLines = 4): string {
  const lines = readFileSync(join(fixture("demo-model"), "test.jsonl"), "utf8").split("\n").filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), "hearth-serving-data-"));
  writeFileSync(join(dir, "train.jsonl"), lines.slice(0, trainLines).join("\n") + "\n");
  writeFileSync(join(dir, "valid.jsonl"), lines.slice(trainLines, trainLines + validLines).join("\n") + "\n");
  return dir;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A real PNG photo from the engine fixtures, as bytes. */
export function pngBytes(): Uint8Array {
  return readFileSync(join(fixture("image-preprocess"), "input.png"));
}
