// `hearth describe-image --model <path|hub id> --image <path> [--image …] [--prompt …] [--max-tokens N]
//  [--temp T] [--seed S] [--system …]`: streams the model's answer to stdout, statistics to stderr.
import { parseArgs } from "node:util";
import { lm } from "@hearth/engine";

const { load, loadProcessor, describeImage } = lm;
import type { CliStreams } from "./embed.js";

export const DESCRIBE_IMAGE_USAGE = `Usage: hearth describe-image --model <path|org/name> --image <path> [--image <path> …]
                             [--prompt <text>] [--max-tokens N] [--temp T] [--seed S] [--system <text>]
  Describes one or more images with a Gemma 3 vision model (PNG, JPEG, WebP, GIF, AVIF, TIFF).
  --prompt      the question or instruction (default "Describe this image.")
  --max-tokens  most new tokens (default 256)
  --temp        sampling temperature, 0 = greedy (default 0)`;

function num(v: string | undefined, name: string, int: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${int ? "an integer" : "a number"}, got '${v}'`);
  return n;
}

class UsageError extends Error {}

/** Where a CLI command writes (tests pass their own). */
const STDIO: CliStreams = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** argv: the arguments after `describe-image`. Returns the exit code (0 ok, 1 failure, 2 usage). */
export async function runDescribeImage(argv: string[], io: CliStreams = STDIO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: "string", short: "m" },
        image: { type: "string", short: "i", multiple: true },
        prompt: { type: "string", short: "p" },
        "max-tokens": { type: "string" },
        temp: { type: "string" },
        seed: { type: "string" },
        system: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.err(`${(e as Error).message}\n${DESCRIBE_IMAGE_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(DESCRIBE_IMAGE_USAGE + "\n");
    return 0;
  }
  try {
    if (!values.model) throw new UsageError("--model is required");
    if (!values.image?.length) throw new UsageError("at least one --image is required");
    const maxTokens = num(values["max-tokens"], "max-tokens", true);
    const temp = num(values.temp, "temp", false);
    const seed = num(values.seed, "seed", true);
    const { model, config } = await load(values.model, { noTokenizer: true });
    if (config.model_type !== "gemma3" || !config.vision_config)
      throw new Error(`${values.model} is not a Gemma 3 vision model (model_type '${config.model_type}'; describe-image needs "gemma3" with a vision_config)`);
    const processor = await loadProcessor(values.model);
    const r = await describeImage(model, processor, {
      image: values.image, prompt: values.prompt, system: values.system, maxTokens, temp, seed,
      onText: (t) => io.out(t),
    });
    io.out("\n");
    io.err(`prompt: ${r.promptTokens} tokens, ${r.prefillSeconds.toFixed(2)} s (images included); ` +
      `generation: ${r.tokens.length} tokens, ${r.generationTps.toFixed(1)} tokens/s (${r.finishReason})\n`);
    return 0;
  } catch (e) {
    io.err(`hearth describe-image: ${(e as Error).message}\n`);
    if (e instanceof UsageError) {
      io.err(DESCRIBE_IMAGE_USAGE + "\n");
      return 2;
    }
    return 1;
  }
}
