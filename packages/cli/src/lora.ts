// `hearth lora`: LoRA / DoRA / full fine-tuning and test-set evaluation with mlx_lm.lora's flags and config files.
import { existsSync, readFileSync } from "node:fs";
import { lm } from "@hearth/engine";

const { load, loadAdapters, loadDataset, evaluate, train, TRAIN_DEFAULTS, DEFAULT_LORA_PARAMETERS } = lm;
type TrainArgs = lm.TrainArgs;
type TrainReport = lm.TrainReport;
type ScheduleConfig = lm.ScheduleConfig;
import { parseFlags, usage, UsageError, type FlagSpec } from "./lora-args.js";
import { parseYaml } from "./mini-yaml.js";

const FLAGS: Record<string, FlagSpec> = {
  "--model": { dest: "model", type: "string", help: "The path to the local model directory or Hugging Face repo." },
  "--train": { dest: "train", type: "bool", help: "Do training." },
  "--data": { dest: "data", type: "string", help: "Directory with {train, valid, test}.jsonl files, or one .jsonl file." },
  "--fine-tune-type": { dest: "fine_tune_type", type: "string", choices: ["lora", "dora", "full"], help: "Type of fine-tuning: lora, dora or full." },
  "--optimizer": { dest: "optimizer", type: "string", choices: ["adam", "adamw", "sgd", "adafactor"], help: "Optimizer: adam, adamw, sgd or adafactor." },
  "--mask-prompt": { dest: "mask_prompt", type: "bool", help: "Mask the prompt in the loss when training." },
  "--num-layers": { dest: "num_layers", type: "int", help: "Number of layers to fine-tune (default 16, -1 for all)." },
  "--batch-size": { dest: "batch_size", type: "int", help: "Minibatch size." },
  "--iters": { dest: "iters", type: "int", help: "Iterations to train for." },
  "--val-batches": { dest: "val_batches", type: "int", help: "Validation batches, -1 uses the entire validation set." },
  "--learning-rate": { dest: "learning_rate", type: "float", help: "Learning rate." },
  "--lr-schedule": { dest: "lr_schedule", type: "string", help: "cosine_decay / linear_schedule over the run, or a JSON {name, arguments, warmup}." },
  "--warmup": { dest: "warmup", type: "int", help: "Linear warmup steps in front of --lr-schedule." },
  "--warmup-init": { dest: "warmup_init", type: "float", help: "Learning rate the warmup starts from (default 0)." },
  "--steps-per-report": { dest: "steps_per_report", type: "int", help: "Training steps between loss reports." },
  "--steps-per-eval": { dest: "steps_per_eval", type: "int", help: "Training steps between validations." },
  "--resume-adapter-file": { dest: "resume_adapter_file", type: "string", help: "Resume training from these adapter weights." },
  "--adapter-path": { dest: "adapter_path", type: "string", help: "Save/load path for the fine-tuned weights." },
  "--save-every": { dest: "save_every", type: "int", help: "Save the model every N iterations." },
  "--test": { dest: "test", type: "bool", help: "Evaluate on the test set after training." },
  "--test-batches": { dest: "test_batches", type: "int", help: "Test batches, -1 uses the entire test set." },
  "--max-seq-length": { dest: "max_seq_length", type: "int", help: "Maximum sequence length." },
  "--config": { dest: "config", type: "string", aliases: ["-c"], help: "A YAML (or JSON) configuration file with the training options." },
  "--grad-checkpoint": { dest: "grad_checkpoint", type: "bool", help: "Use gradient checkpointing to reduce memory use." },
  "--seed": { dest: "seed", type: "int", help: "The PRNG seed." },
  "--compile": { dest: "compile", type: "bool", help: "Compile the training step (mx.compile; not with --grad-checkpoint)." },
};

/** mlx-lm's CONFIG_DEFAULTS (less the hub-only ones). */
const DEFAULTS: Record<string, unknown> = {
  train: false, fine_tune_type: "lora", optimizer: "adam", optimizer_config: { adam: {}, adamw: {}, sgd: {}, adafactor: {} },
  seed: 0, num_layers: 16, batch_size: 4, iters: 1000, val_batches: 25, learning_rate: 1e-5, steps_per_report: 10,
  steps_per_eval: 200, resume_adapter_file: null, adapter_path: "adapters", save_every: 100, test: false, test_batches: 500,
  max_seq_length: 2048, config: null, grad_checkpoint: false, lr_schedule: null, compile: false,
  lora_parameters: { ...DEFAULT_LORA_PARAMETERS }, mask_prompt: false,
};

const CONFIG_ONLY = new Set(["optimizer_config", "lora_parameters", "prompt_feature", "completion_feature", "text_feature",
  "chat_feature", "report_to", "project_name", "trust_remote_code", "grad_accumulation_steps", "clear_cache_threshold", "hf_dataset", "wandb"]);

export interface CliIO {
  /** Where report lines go (default process.stdout). */
  stdout?: (line: string) => void;
  /** Warnings and progress (default process.stderr). */
  stderr?: (line: string) => void;
  /** Stops training (default: Ctrl-C / SIGINT). */
  signal?: AbortSignal;
}

function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new UsageError(`the config file ${path} does not exist`);
  const text = readFileSync(path, "utf8");
  const v = path.endsWith(".json") || text.trimStart().startsWith("{") ? JSON.parse(text) : parseYaml(text, path);
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new UsageError(`${path} must hold a map of options`);
  return v as Record<string, unknown>;
}

function scheduleFrom(a: Record<string, any>): ScheduleConfig | null {
  let s = a.lr_schedule;
  if (s == null) return null;
  if (typeof s === "string") {
    if (s.trim().startsWith("{")) s = JSON.parse(s);
    else {
      const name = { cosine: "cosine_decay", linear: "linear_schedule" }[s as "cosine" | "linear"] ?? s;
      const warm = a.warmup ?? 0;
      const steps = Math.max(1, a.iters - warm);
      const args = name === "cosine_decay" ? [a.learning_rate, steps, 0] : name === "linear_schedule" ? [a.learning_rate, 0, steps] : null;
      if (!args) throw new UsageError(`--lr-schedule must be cosine_decay, linear_schedule or a JSON object, got '${s}'`);
      s = { name, arguments: args };
    }
  }
  if (a.warmup != null) s.warmup = a.warmup;
  if (a.warmup_init != null) s.warmup_init = a.warmup_init;
  return s as ScheduleConfig;
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** Runs `hearth lora` with argv (the arguments after "lora"); resolves to the exit code. */
export async function runLora(argv: string[], io: CliIO = {}): Promise<number> {
  const out = io.stdout ?? ((l: string) => process.stdout.write(l + "\n"));
  const err = io.stderr ?? ((l: string) => process.stderr.write(l + "\n"));
  const flags = parseFlags(argv, FLAGS, "lora");
  if (flags.help) {
    out(usage("lora", "LoRA, DoRA or full fine-tuning (QLoRA on quantized models), as mlx_lm.lora.", FLAGS));
    return 0;
  }
  const a: Record<string, any> = { ...flags };
  if (a.config) {
    const cfg = readConfigFile(a.config);
    for (const [k, v] of Object.entries(cfg)) {
      if (!(k in DEFAULTS) && !CONFIG_ONLY.has(k) && !["model", "data", "warmup", "warmup_init"].includes(k))
        err(`[WARNING] ${a.config}: unknown option '${k}' is ignored`);
      if (a[k] === undefined || a[k] === null) a[k] = v;
    }
  }
  for (const [k, v] of Object.entries(DEFAULTS)) if (a[k] === undefined || a[k] === null) a[k] = v;
  if (!a.model) throw new UsageError("--model is required (a local model folder or a Hugging Face id in the cache)");
  if (!a.train && !a.test) throw new UsageError("must provide at least one of --train or --test");
  const lp = { ...DEFAULT_LORA_PARAMETERS, ...(a.lora_parameters ?? {}) };

  out("Loading pretrained model");
  const { model, tokenizer } = await load(a.model);
  if (!tokenizer) throw new UsageError(`${a.model} has no tokenizer (tokenizer.json); the training data can't be tokenized`);
  out("Loading datasets");
  const features = { promptFeature: a.prompt_feature, completionFeature: a.completion_feature, textFeature: a.text_feature, chatFeature: a.chat_feature };
  const data = loadDataset(a.data ?? "", tokenizer, { maskPrompt: a.mask_prompt, train: a.train, test: a.test, ...features });
  data.warnings.forEach((w) => err(`[WARNING] ${w}`));

  const controller = new AbortController();
  const onSigint = () => {
    err("\nStopping after the current step (Ctrl-C again to quit at once)…");
    controller.abort();
  };
  if (!io.signal) process.once("SIGINT", onSigint);
  const signal = io.signal ?? controller.signal;
  try {
    if (a.train) {
      out("Training");
      const args: TrainArgs = {
        fineTuneType: a.fine_tune_type, numLayers: a.num_layers, loraParameters: lp, iters: a.iters, batchSize: a.batch_size,
        learningRate: a.learning_rate, lrSchedule: scheduleFrom(a), optimizer: a.optimizer, optimizerConfig: a.optimizer_config,
        maxSeqLength: a.max_seq_length, stepsPerReport: a.steps_per_report, stepsPerEval: a.steps_per_eval,
        valBatches: a.val_batches, saveEvery: a.save_every, adapterPath: a.adapter_path, resumeAdapterFile: a.resume_adapter_file,
        seed: a.seed, gradCheckpoint: a.grad_checkpoint, compile: Boolean(a.compile),
        configExtras: {
          model: a.model, data: a.data, train: a.train, test: a.test, test_batches: a.test_batches, mask_prompt: a.mask_prompt,
          config: a.config,
        },
      };
      const tty = !io.stderr && process.stderr.isTTY;
      const bar = (it: number, n: number) => {
        const w = 30, done = Math.round((w * it) / n);
        process.stderr.write(`\r[${"#".repeat(done)}${".".repeat(w - done)}] ${it}/${n}`);
      };
      const clearBar = () => { if (tty) process.stderr.write("\r\x1b[K"); };
      const report = (r: TrainReport) => {
        if (r.type === "step") { if (tty) bar(r.iteration, r.iters); return; }
        clearBar();
        if (r.type === "start")
          out(`Trainable parameters: ${fmt((100 * r.trainable) / r.total)}% (${fmt(r.trainable / 1e6)}M/${fmt(r.total / 1e6)}M)`);
        if (r.type === "val") out(`Iter ${r.iteration}: Val loss ${fmt(r.valLoss)}, Val took ${fmt(r.valTime)}s`);
        else if (r.type === "train")
          out(`Iter ${r.iteration}: Train loss ${fmt(r.trainLoss)}, Learning Rate ${r.learningRate?.toExponential(3)}, ` +
              `It/sec ${fmt(r.iterationsPerSecond)}, Tokens/sec ${fmt(r.tokensPerSecond)}, ` +
              `Trained Tokens ${r.trainedTokens}, Peak mem ${fmt(r.peakMemory)} GB`);
        else if (r.type === "save")
          out(r.final ? `Saved final weights to ${r.path}.` : `Iter ${r.iteration}: Saved adapter weights to ${r.path} and ${r.checkpoint}.`);
      };
      const res = await train({
        model, tokenizer, trainSet: data.train!, validSet: data.valid, args, signal, onReport: report,
        onWarning: (m) => { clearBar(); err(m); },
      });
      clearBar();
      if (res.aborted) {
        out(`Stopped at iteration ${res.iterations}.`);
        return 130;
      }
    } else if (a.adapter_path !== "") {
      loadAdapters(model, a.adapter_path);
    }
    if (a.test) {
      out("Testing");
      const loss = await evaluate({ model, dataset: data.test!, batchSize: a.batch_size, numBatches: a.test_batches, maxSeqLength: a.max_seq_length });
      out(`Test loss ${fmt(loss)}, Test ppl ${fmt(Math.exp(loss))}.`);
    }
    return 0;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

export { TRAIN_DEFAULTS };
