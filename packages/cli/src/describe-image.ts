// `hearth describe-image --model <path|hub id> --image <path> [--image …] [--prompt …] [--max-tokens N]
//  [--temp T] [--top-p P] [--top-k K] [--seed S] [--system …]`: streams the model's answer to stdout, statistics to
//  stderr. SIGINT, SIGTERM and SIGHUP stop it after the current token (exit 128 + signal).
import { lm } from "@hearth/engine";
import {
  cacheTrimmer, flag, HELP, helpText, num, parse, peakRssBytes, SAMPLING_OPTIONS, str, UsageError, VERBOSE, type CommandSpec,
} from "./args.js";
import { abortOnSignals } from "./signals.js";

export const spec: CommandSpec = {
  name: "describe-image",
  summary: "Describe one or more images with a Gemma 3 vision model (PNG, JPEG, WebP, GIF, AVIF, TIFF).",
  usage: "hearth describe-image --model <path|hub-id> --image <path> [--image <path> …] [options]",
  options: {
    model: { type: "string", short: "m", arg: "path|hub-id", desc: "A Gemma 3 vision model folder or Hugging Face id (required)." },
    image: { type: "string", short: "i", arg: "path", multiple: true, desc: "An image file (repeatable; at least one)." },
    prompt: { type: "string", short: "p", arg: "text", default: "Describe this image.", desc: "The question or instruction." },
    system: { type: "string", arg: "text", desc: "A system prompt." },
    "max-tokens": { type: "string", arg: "n", default: 256, desc: "Most tokens to generate." },
    temp: { type: "string", arg: "t", default: 0, desc: "Sampling temperature; 0 is greedy." },
    "top-p": SAMPLING_OPTIONS["top-p"],
    "top-k": SAMPLING_OPTIONS["top-k"],
    seed: { type: "string", arg: "n", desc: "Random seed for reproducible sampling." },
    verbose: VERBOSE,
    help: HELP,
  },
};

/** argv: the arguments after `describe-image`. Resolves to the exit code; usage errors throw UsageError. */
export async function runDescribeImage(argv: string[]): Promise<number> {
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const model = str(v, "model");
  if (!model) throw new UsageError("--model is required (a Gemma 3 vision model)");
  const images = (v.image as string[] | undefined) ?? [];
  if (!images.length) throw new UsageError("at least one --image is required");
  const maxTokens = num(v, "max-tokens", { int: true, min: 1 });
  const temp = num(v, "temp", { min: 0 });
  const seed = num(v, "seed", { int: true, min: 0 });
  const topP = num(v, "top-p", { min: 0, max: 1 });
  const topK = num(v, "top-k", { int: true, min: 0 });
  const { model: m, config } = await lm.load(model, { noTokenizer: true });
  if (config.model_type !== "gemma3" || !config.vision_config)
    throw new Error(`${model} is not a Gemma 3 vision model (model_type '${config.model_type}', no vision_config): ` +
      "use 'hearth generate' for text models; describe-image needs a Gemma 3 vision model such as google/gemma-3-4b-it");
  const processor = await lm.loadProcessor(model);
  const trim = cacheTrimmer();
  const stopper = abortOnSignals();
  let r: lm.DescribeImageResult;
  try {
    r = await lm.describeImage(m, processor, {
      image: images, prompt: str(v, "prompt"), system: str(v, "system"), maxTokens, temp, seed, signal: stopper.signal,
      ...(topP !== undefined ? { topP } : {}), ...(topK !== undefined ? { topK } : {}),
      onText: (t) => {
        process.stdout.write(t);
        trim();
      },
    });
  } finally {
    stopper.done();
  }
  process.stdout.write("\n");
  process.stderr.write(`prompt: ${r.promptTokens} tokens, ${r.prefillSeconds.toFixed(2)} s (images included); ` +
    `generation: ${r.tokens.length} tokens, ${r.generationTps.toFixed(1)} tokens/s (${r.finishReason})\n`);
  if (flag(v, "verbose")) process.stderr.write(`Peak memory: ${(peakRssBytes() / 1e9).toFixed(3)} GB\n`);
  return r.finishReason === "abort" ? stopper.exitCode() ?? 130 : 0;
}
