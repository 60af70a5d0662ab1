// `hearth fuse`: folds a LoRA/DoRA adapter into the base weights and writes a plain model folder (mlx_lm.fuse).
import { lm } from "@hearth/engine";
import { flag, HELP, helpText, isNonEmptyDir, modelPath, parse, str, UsageError, type CommandSpec } from "./args.js";
import type { CliIO } from "./lora.js";

export const spec: CommandSpec = {
  name: "fuse",
  summary: "Fuse fine-tuned adapters into the base model, as mlx_lm.fuse.",
  usage: "hearth fuse [--model <path|hub-id>] [--adapter-path <path>] [--save-path <path>] [options]",
  options: {
    model: { type: "string", arg: "path|hub-id", desc: "Model folder or Hugging Face id (default: $HEARTH_MODEL, else the bundled hearth-tiny)." },
    "save-path": { type: "string", arg: "path", default: "fused_model", desc: "Where to save the fused model." },
    "adapter-path": { type: "string", arg: "path", default: "adapters", desc: "The trained adapter weights and config." },
    dequantize: { type: "boolean", aliases: ["de-quantize"], desc: "Write a dequantized (float) model." },
    "export-peft": { type: "string", arg: "path", desc: "Also write the adapter as a PEFT adapter folder here." },
    force: { type: "boolean", desc: "Replace a non-empty --save-path folder." },
    help: HELP,
  },
};

/** Runs `hearth fuse` with argv (the arguments after "fuse"); resolves to the exit code. */
export async function runFuse(argv: string[], io: CliIO = {}): Promise<number> {
  const out = io.stdout ?? ((l: string) => void process.stdout.write(l + "\n"));
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    out(helpText(spec).trimEnd());
    return 0;
  }
  const adapterPath = str(v, "adapter-path") ?? "adapters";
  const savePath = str(v, "save-path") ?? "fused_model";
  const exportPeft = str(v, "export-peft");
  if (!flag(v, "force") && isNonEmptyDir(savePath))
    throw new UsageError(`the save folder ${savePath} exists and is not empty: pass --force to replace it, or choose another --save-path`);
  const name = modelPath(v);
  const source = lm.resolveModelPath(name);
  const inputs: [string, string][] = [["the base model", source], ["the adapter folder", adapterPath]];
  lm.assertNotOverwritingInput("fuse", "the save folder", savePath, inputs);
  if (exportPeft) lm.assertNotOverwritingInput("fuse", "the PEFT export folder", exportPeft, inputs);
  out("Loading pretrained model");
  const { model, config, path } = await lm.load(name, { adapterPath, noTokenizer: true });
  if (exportPeft) {
    lm.exportPeftAdapter(model, exportPeft, { baseModel: name });
    out(`Wrote the PEFT adapter to ${exportPeft}`);
  }
  lm.fuse(model, { dequantize: flag(v, "dequantize") });
  const cfg = { ...config };
  if (flag(v, "dequantize")) {
    out("Dequantizing model");
    delete cfg.quantization;
    delete cfg.quantization_config;
  }
  const files = lm.saveModelFolder(savePath, model, cfg, path);
  out(`Saved the fused model to ${savePath} (${files.join(", ")})`);
  return 0;
}
