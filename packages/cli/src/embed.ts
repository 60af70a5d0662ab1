// `hearth embed --model <path|hub id> (--text … [--text …] | --file lines.txt) [--task query] [--dimensions 256]
//  [--batch-size 32]`: prints {"model", "task", "dimensions", "data": [{"index", "text", "embedding"}]} as JSON.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { lm } from "@hearth/engine";

const { loadEmbedder } = lm;

export const EMBED_USAGE = `Usage: hearth embed --model <path|org/name> (--text <text> [--text <text> …] | --file <lines.txt>)
                    [--task <task>] [--title <title>] [--dimensions N] [--batch-size N]
  Embeds texts with EmbeddingGemma (sentence-transformers layout); prints JSON.
  --task        query, document, classification, clustering, similarity, code retrieval,
                question answering, fact checking, none (default: none)
  --dimensions  Matryoshka size: 768 (full), 512, 256 or 128
  --file        one text per line (empty lines skipped)`;

class UsageError extends Error {}

/** Where the command writes raw text (describe-image streams partial lines); tests pass their own. */
export interface CliStreams {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: CliStreams = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

/** argv: the arguments after `embed`. Returns the exit code (0 ok, 1 failure, 2 usage). */
export async function runEmbed(argv: string[], io: CliStreams = STDIO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: "string", short: "m" },
        text: { type: "string", short: "t", multiple: true },
        file: { type: "string", short: "f" },
        task: { type: "string" },
        title: { type: "string" },
        dimensions: { type: "string", short: "d" },
        "batch-size": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.err(`${(e as Error).message}\n${EMBED_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(EMBED_USAGE + "\n");
    return 0;
  }
  try {
    if (!values.model) throw new UsageError("--model is required");
    if (!values.text?.length && !values.file) throw new UsageError("give --text (one or more) or --file");
    const texts = [...(values.text ?? [])];
    if (values.file) {
      let content: string;
      try {
        content = readFileSync(values.file, "utf8");
      } catch (e) {
        throw new Error(`Cannot read --file ${values.file}: ${(e as Error).message}`);
      }
      texts.push(...content.split(/\r?\n/).filter((l) => l.trim().length > 0));
    }
    if (!texts.length) throw new UsageError("no texts to embed (the file has no non-empty lines)");
    const dimensions = int(values.dimensions, "dimensions");
    const batchSize = int(values["batch-size"], "batch-size");
    const embedder = await loadEmbedder(values.model);
    const vectors = await embedder.embed(texts, { task: values.task, title: values.title, dimensions, batchSize });
    const out = {
      model: values.model,
      task: values.task ?? null,
      dimensions: vectors[0]?.length ?? 0,
      data: vectors.map((v, index) => ({ index, text: texts[index], embedding: Array.from(v) })),
    };
    io.out(JSON.stringify(out) + "\n");
    return 0;
  } catch (e) {
    io.err(`hearth embed: ${(e as Error).message}\n`);
    if (e instanceof UsageError) {
      io.err(EMBED_USAGE + "\n");
      return 2;
    }
    return 1;
  }
}
