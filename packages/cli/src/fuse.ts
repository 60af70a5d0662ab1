// `hearth fuse`: folds a LoRA/DoRA adapter into the base weights and writes a plain model folder (mlx_lm.fuse).
import { lm } from "@hearth/engine";

const { load, fuse, exportPeftAdapter, saveModelFolder } = lm;
import { parseFlags, usage, UsageError, type FlagSpec } from "./lora-args.js";
import type { CliIO } from "./lora.js";

const FLAGS: Record<string, FlagSpec> = {
  "--model": { dest: "model", type: "string", help: "The path to the local model directory or Hugging Face repo." },
  "--save-path": { dest: "save_path", type: "string", help: "The path to save the fused model (default fused_model)." },
  "--adapter-path": { dest: "adapter_path", type: "string", help: "Path to the trained adapter weights and config (default adapters)." },
  "--dequantize": { dest: "dequantize", type: "bool", aliases: ["--de-quantize"], help: "Generate a dequantized (float) model." },
  "--export-peft": { dest: "export_peft", type: "string", help: "Also write the adapter as a PEFT adapter folder here." },
};

/** Runs `hearth fuse` with argv (the arguments after "fuse"); resolves to the exit code. */
export async function runFuse(argv: string[], io: CliIO = {}): Promise<number> {
  const out = io.stdout ?? ((l: string) => process.stdout.write(l + "\n"));
  const a = parseFlags(argv, FLAGS, "fuse") as Record<string, any>;
  if (a.help) {
    out(usage("fuse", "Fuse fine-tuned adapters into the base model, as mlx_lm.fuse.", FLAGS));
    return 0;
  }
  if (!a.model) throw new UsageError("--model is required");
  const adapterPath = a.adapter_path ?? "adapters";
  const savePath = a.save_path ?? "fused_model";
  out("Loading pretrained model");
  const { model, config, path } = await load(a.model, { adapterPath, noTokenizer: true });
  if (a.export_peft) {
    exportPeftAdapter(model, a.export_peft, { baseModel: a.model });
    out(`Wrote the PEFT adapter to ${a.export_peft}`);
  }
  fuse(model, { dequantize: Boolean(a.dequantize) });
  const cfg = { ...config };
  if (a.dequantize) {
    out("Dequantizing model");
    delete cfg.quantization;
    delete cfg.quantization_config;
  }
  const files = saveModelFolder(savePath, model, cfg, path);
  out(`Saved the fused model to ${savePath} (${files.join(", ")})`);
  return 0;
}
