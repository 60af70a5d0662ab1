// `hearth convert`: mlx_lm.convert's flags. Converts a Hugging Face checkpoint into an MLX folder, optionally
// quantized (uniform or a mixed recipe), cast, or dequantized. Progress goes to stderr (a bar on a terminal).
import { parseArgs } from "node:util";
import { lm } from "@hearth/engine";

const { CONVERSION_DTYPES, QUANT_RECIPES, convert } = lm;
type ConvertOptions = lm.ConvertOptions;

const USAGE = `Usage: hearth convert --hf-path <folder or hub id> [--mlx-path <out>] [options]

Convert a Hugging Face model to MLX format (as mlx_lm.convert).

Options:
  --hf-path, --model <path>   source folder, or an org/name id in the Hugging Face cache
  --mlx-path <path>           output folder (default: mlx_model)
  -q, --quantize              quantize the weights (MLX affine, per group)
  --q-bits <n>                bits per weight: 2, 3, 4, 5, 6 or 8 (default 4)
  --q-group-size <n>          group size: 32, 64 or 128 (default 64)
  --q-mode <mode>             quantization mode (only "affine")
  --quant-predicate <recipe>  mixed-bit recipe: ${QUANT_RECIPES.join(", ")}
  --dtype <type>              type of the unquantized parameters: ${CONVERSION_DTYPES.join(", ")}
                              (default: the config's torch_dtype)
  -d, --dequantize            dequantize a quantized model
  --force                     replace a non-empty output folder
  -h, --help                  show this help
`;

function intFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got '${v}'`);
  return n;
}

class UsageError extends Error {}

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
  let opts: ConvertOptions;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        "hf-path": { type: "string" },
        model: { type: "string" },
        "mlx-path": { type: "string" },
        quantize: { type: "boolean", short: "q" },
        "q-bits": { type: "string" },
        "q-group-size": { type: "string" },
        "q-mode": { type: "string" },
        "quant-predicate": { type: "string" },
        dtype: { type: "string" },
        dequantize: { type: "boolean", short: "d" },
        force: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const hfPath = values["hf-path"] ?? values.model;
    if (!hfPath) throw new UsageError("--hf-path is required");
    if (values["q-mode"] !== undefined && values["q-mode"] !== "affine")
      throw new UsageError(`--q-mode '${values["q-mode"]}' is not supported; only 'affine' is`);
    const recipe = values["quant-predicate"];
    if (recipe !== undefined && !(QUANT_RECIPES as readonly string[]).includes(recipe))
      throw new UsageError(`--quant-predicate must be one of ${QUANT_RECIPES.join(", ")}, got '${recipe}'`);
    const dtype = values.dtype;
    if (dtype !== undefined && !(CONVERSION_DTYPES as readonly string[]).includes(dtype))
      throw new UsageError(`--dtype must be one of ${CONVERSION_DTYPES.join(", ")}, got '${dtype}'`);
    if (values.quantize && values.dequantize) throw new UsageError("choose either --quantize or --dequantize, not both");
    if (recipe !== undefined && !values.quantize) throw new UsageError("--quant-predicate needs --quantize");
    opts = {
      hfPath,
      mlxPath: values["mlx-path"] ?? "mlx_model",
      quantize: values.quantize ?? false,
      qBits: intFlag(values["q-bits"], "q-bits"),
      qGroupSize: intFlag(values["q-group-size"], "q-group-size"),
      quantPredicate: recipe as ConvertOptions["quantPredicate"],
      dtype: dtype as ConvertOptions["dtype"],
      dequantize: values.dequantize ?? false,
      force: values.force ?? false,
      onProgress: progress(process.stderr),
    };
  } catch (e) {
    process.stderr.write(`hearth convert: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const r = await convert(opts);
    if (r.bitsPerWeight !== undefined) process.stderr.write(`[INFO] Quantized model with ${r.bitsPerWeight.toFixed(3)} bits per weight.\n`);
    process.stderr.write(`[INFO] Saved to ${r.path}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`hearth convert: ${(e as Error).message}\n`);
    return 1;
  }
}
