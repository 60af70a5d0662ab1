// `hearth embed --model <path|hub id> (--text … [--text …] | --file lines.txt) [--task query] [--dimensions 256]
//  [--batch-size 32]`: prints {"model", "task", "dimensions", "data": [{"index", "text", "embedding"}]} as JSON.
import { readFileSync } from "node:fs";
import { lm } from "@hearth/engine";
import { flag, HELP, helpText, num, parse, str, UsageError, type CommandSpec } from "./args.js";

export const spec: CommandSpec = {
  name: "embed",
  summary: "Embed texts with EmbeddingGemma (sentence-transformers layout); prints JSON.",
  usage: "hearth embed --model <path|hub-id> (--text <text> [--text <text> …] | --file <lines.txt>) [options]",
  options: {
    model: { type: "string", short: "m", arg: "path|hub-id", desc: "An EmbeddingGemma folder or Hugging Face id (required)." },
    text: { type: "string", short: "t", arg: "text", multiple: true, desc: "A text to embed (repeatable)." },
    file: { type: "string", short: "f", arg: "path", desc: "One text per line (empty lines skipped)." },
    task: { type: "string", arg: "task", default: "none", desc: `Task prompt: ${Object.keys(lm.EMBEDDING_GEMMA_PROMPTS).join(", ")} (or the model's own).` },
    title: { type: "string", arg: "title", desc: "Document title (with --task document)." },
    dimensions: { type: "string", short: "d", arg: "n", desc: "Matryoshka size: 768 (full), 512, 256 or 128 (default: the model's full size)." },
    "batch-size": { type: "string", arg: "n", default: 32, desc: "Texts per forward pass." },
    help: HELP,
  },
};

/** argv: the arguments after `embed`. Resolves to the exit code; usage errors throw UsageError (exit 2). */
export async function runEmbed(argv: string[]): Promise<number> {
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const model = str(v, "model");
  if (!model) throw new UsageError("--model is required (an EmbeddingGemma folder or Hugging Face id)");
  const given = (v.text as string[] | undefined) ?? [];
  const file = str(v, "file");
  if (!given.length && !file) throw new UsageError("give --text (one or more) or --file");
  const dimensions = num(v, "dimensions", { int: true, min: 1 });
  const batchSize = num(v, "batch-size", { int: true, min: 1 });
  const task = str(v, "task");
  const texts = [...given];
  if (file) {
    let content: string;
    try {
      content = readFileSync(file, "utf8");
    } catch (e) {
      throw new Error(`Cannot read --file ${file}: ${(e as Error).message}`);
    }
    texts.push(...content.split(/\r?\n/).filter((l) => l.trim().length > 0));
  }
  if (!texts.length) throw new UsageError("no texts to embed (the file has no non-empty lines)");
  const embedder = await lm.loadEmbedder(model);
  let vectors: Float32Array[];
  try {
    vectors = await embedder.embed(texts, { task, title: str(v, "title"), dimensions, batchSize });
  } catch (e) {
    // The task and the Matryoshka size can only be checked against the loaded model: still the flag's fault.
    const msg = (e as Error).message;
    if (/^Unknown task/.test(msg)) throw new UsageError(`--task: ${msg}`);
    if (/dimensions/i.test(msg)) throw new UsageError(`--dimensions: ${msg}`);
    throw e;
  }
  const out = {
    model,
    task: task ?? null,
    dimensions: vectors[0]?.length ?? 0,
    data: vectors.map((e, index) => ({ index, text: texts[index], embedding: Array.from(e) })),
  };
  process.stdout.write(JSON.stringify(out) + "\n");
  return 0;
}
