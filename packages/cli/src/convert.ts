// `hearth convert`: mlx_lm.convert's flags. Converts a Hugging Face checkpoint into an MLX folder, optionally
// quantized (uniform or a mixed recipe), cast, or dequantized. Progress goes to stderr (a bar on a terminal).
import { lm } from "@hearth/engine";
import { flag, HELP, helpText, isNonEmptyDir, num, parse, str, UsageError, type CommandSpec } from "./args.js";

const { CONVERSION_DTYPES, QUANT_RECIPES, convert } = lm;
type ConvertOptions = lm.ConvertOptions;

export const spec: CommandSpec = {
  name: "convert",
  summary: "Convert a Hugging Face model to MLX format (as mlx_lm.convert).",
  usage: "hearth convert --hf-path <folder|hub-id> [--mlx-path <out>] [options]",
  options: {
    "hf-path": { type: "string", arg: "path|hub-id", aliases: ["model"], desc: "Source folder, or an org/name id in the Hugging Face cache (also --model)." },
    "mlx-path": { type: "string", arg: "path", default: "mlx_model", desc: "Output folder." },
    quantize: { type: "boolean", short: "q", desc: "Quantize the weights (MLX affine, per group)." },
    "q-bits": { type: "string", arg: "n", choices: ["2", "3", "4", "5", "6", "8"], default: 4, desc: "Bits per weight." },
    "q-group-size": { type: "string", arg: "n", choices: ["32", "64", "128"], default: 64, desc: "Quantization group size." },
    "q-mode": { type: "string", choices: ["affine"], default: "affine", desc: "Quantization mode." },
    "quant-predicate": { type: "string", arg: "recipe", choices: QUANT_RECIPES, desc: "Mixed-bit recipe." },
    dtype: { type: "string", choices: CONVERSION_DTYPES, desc: "Type of the unquantized parameters (default: the config's torch_dtype)." },
    dequantize: { type: "boolean", short: "d", desc: "Dequantize a quantized model." },
    force: { type: "boolean", desc: "Replace a non-empty output folder." },
    help: HELP,
  },
  notes: ["Converting a quantized folder with -q dequantizes it first and quantizes again (said on stderr)."],
};

const STAGES: Record<string, string> = { load: "Loading", quantize: "Quantizing", dequantize: "Dequantizing" };

/** A progress reporter: a redrawn bar on a terminal, one line per stage otherwise. */
function progress(stream: NodeJS.WriteStream): NonNullable<ConvertOptions["onProgress"]> {
  const tty = Boolean(stream.isTTY);
  let last = "", lastDraw = 0;
  return (stage, done, total) => {
    if (stage !== "write") {
      if (done === 0 && stage !== last) stream.write(`[INFO] ${STAGES[stage] ?? stage}\n`);
      last = stage;
      return;
    }
    if (!tty) {
      if (done === total) stream.write(`[INFO] Wrote ${total} tensors\n`);
      return;
    }
    const now = Date.now();
    if (done !== total && now - lastDraw < 50) return;
    lastDraw = now;
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 30));
    const fill = Math.round((done / Math.max(total, 1)) * width);
    stream.write(`\r[INFO] Writing [${"#".repeat(fill)}${".".repeat(width - fill)}] ${done}/${total}`);
    if (done === total) stream.write("\n");
  };
}

/** Runs `hearth convert` with these arguments (after the command name); resolves to the exit code. */
export async function runConvert(argv: string[]): Promise<number> {
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const hfPath = str(v, "hf-path");
  if (!hfPath) throw new UsageError("--hf-path is required (the model to convert)");
  const quantize = flag(v, "quantize"), dequantize = flag(v, "dequantize");
  if (quantize && dequantize) throw new UsageError("choose either --quantize or --dequantize, not both");
  const recipe = str(v, "quant-predicate") as lm.QuantRecipe | undefined;
  if (recipe !== undefined && !quantize) throw new UsageError("--quant-predicate needs --quantize");
  for (const f of ["q-bits", "q-group-size", "q-mode"])
    if (v[f] !== undefined && !quantize) throw new UsageError(`--${f} needs --quantize`);
  const mlxPath = str(v, "mlx-path") ?? "mlx_model";
  const force = flag(v, "force");
  if (!force && isNonEmptyDir(mlxPath))
    throw new UsageError(`the output folder ${mlxPath} exists and is not empty: pass --force to replace it, or choose another --mlx-path`);
  const r = await convert({
    hfPath, mlxPath, quantize, dequantize, force,
    qBits: num(v, "q-bits", { int: true }),
    qGroupSize: num(v, "q-group-size", { int: true }),
    quantPredicate: recipe,
    dtype: str(v, "dtype") as ConvertOptions["dtype"],
    onProgress: progress(process.stderr),
  });
  if (r.requantizedFrom) {
    const q = r.requantizedFrom;
    process.stderr.write(`[INFO] The source was already quantized (${q.bits}-bit, group size ${q.group_size}): it was dequantized and ` +
      `quantized again. The result cannot be more precise than the ${q.bits}-bit source.\n`);
  }
  if (r.bitsPerWeight !== undefined) process.stderr.write(`[INFO] Quantized model with ${r.bitsPerWeight.toFixed(3)} bits per weight.\n`);
  process.stderr.write(`[INFO] Saved to ${r.path}\n`);
  return 0;
}
