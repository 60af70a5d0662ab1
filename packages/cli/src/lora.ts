// `hearth lora`: LoRA / DoRA / full fine-tuning and test-set evaluation with mlx_lm.lora's flags and config files.
import { existsSync, readFileSync } from "node:fs";
import { lm } from "@hearth/engine";

const { load, loadAdapters, loadDataset, evaluate, train, TRAIN_DEFAULTS, DEFAULT_LORA_PARAMETERS } = lm;
type TrainArgs = lm.TrainArgs;
type TrainReport = lm.TrainReport;
type ScheduleConfig = lm.ScheduleConfig;
import { flag, HELP, helpText, modelPath, num, parse, str, UsageError, type CommandSpec, type NumberRule } from "./args.js";
import { abortOnSignals } from "./signals.js";
import { parseYaml } from "./mini-yaml.js";

export const spec: CommandSpec = {
  name: "lora",
  summary: "LoRA, DoRA or full fine-tuning (QLoRA on quantized models), as mlx_lm.lora.",
  usage: "hearth lora [--model <path|hub-id>] --train --data <folder|file.jsonl> [options]",
  options: {
    model: { type: "string", arg: "path|hub-id", desc: "Model folder or Hugging Face id (default: $HEARTH_MODEL, else the bundled hearth-tiny)." },
    train: { type: "boolean", desc: "Do training." },
    data: { type: "string", arg: "path", desc: "Directory with {train, valid, test}.jsonl files, or one .jsonl file." },
    "fine-tune-type": { type: "string", choices: ["lora", "dora", "full"], default: "lora", desc: "Type of fine-tuning." },
    optimizer: { type: "string", choices: ["adam", "adamw", "sgd", "adafactor"], default: "adam", desc: "Optimizer." },
    "mask-prompt": { type: "boolean", desc: "Mask the prompt in the loss when training." },
    "num-layers": { type: "string", arg: "n", default: 16, desc: "Number of layers to fine-tune (-1 for all)." },
    "batch-size": { type: "string", arg: "n", default: 4, desc: "Minibatch size." },
    iters: { type: "string", arg: "n", default: 1000, desc: "Iterations to train for." },
    "val-batches": { type: "string", arg: "n", default: 25, desc: "Validation batches (-1 uses the entire validation set)." },
    "learning-rate": { type: "string", arg: "x", default: 1e-5, desc: "Learning rate." },
    "lr-schedule": { type: "string", arg: "name|json", desc: "cosine_decay / linear_schedule over the run, or a JSON {name, arguments, warmup}." },
    warmup: { type: "string", arg: "n", desc: "Linear warmup steps in front of --lr-schedule." },
    "warmup-init": { type: "string", arg: "x", default: 0, desc: "Learning rate the warmup starts from." },
    "steps-per-report": { type: "string", arg: "n", default: 10, desc: "Training steps between loss reports." },
    "steps-per-eval": { type: "string", arg: "n", default: 200, desc: "Training steps between validations." },
    "resume-adapter-file": { type: "string", arg: "file", desc: "Resume training from these adapter weights." },
    "adapter-path": { type: "string", arg: "path", default: "adapters", desc: "Save/load path for the fine-tuned weights." },
    "save-every": { type: "string", arg: "n", default: 100, desc: "Save the adapter every n iterations." },
    test: { type: "boolean", desc: "Evaluate on the test set after training." },
    "test-batches": { type: "string", arg: "n", default: 500, desc: "Test batches (-1 uses the entire test set)." },
    "max-seq-length": { type: "string", arg: "n", default: 2048, desc: "Maximum sequence length." },
    config: { type: "string", short: "c", arg: "file", desc: "A YAML (or JSON) file with the training options." },
    "grad-checkpoint": { type: "boolean", desc: "Use gradient checkpointing to reduce memory use." },
    seed: { type: "string", arg: "n", default: 0, desc: "The PRNG seed." },
    compile: { type: "boolean", desc: "Compile the training step (mx.compile; not with --grad-checkpoint)." },
    help: HELP,
  },
  notes: [
    "SIGINT (Ctrl-C), SIGTERM and SIGHUP stop training after the current step and save the adapter; a second one quits at once.",
  ],
};

/** Numeric options (snake_case, as in config files) and their rules: checked after the config file is merged. */
const NUMERIC: Record<string, NumberRule> = {
  num_layers: { int: true, min: -1 }, batch_size: { int: true, min: 1 }, iters: { int: true, min: 1 },
  val_batches: { int: true, min: -1 }, learning_rate: { above: 0 }, warmup: { int: true, min: 0 }, warmup_init: { min: 0 },
  steps_per_report: { int: true, min: 1 }, steps_per_eval: { int: true, min: 1 }, save_every: { int: true, min: 1 },
  test_batches: { int: true, min: -1 }, max_seq_length: { int: true, min: 1 }, seed: { int: true, min: 0 },
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
  const out = io.stdout ?? ((l: string) => void process.stdout.write(l + "\n"));
  const err = io.stderr ?? ((l: string) => void process.stderr.write(l + "\n"));
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    out(helpText(spec).trimEnd());
    return 0;
  }
  const a: Record<string, any> = {};
  for (const [k, val] of Object.entries(v)) a[k.replace(/-/g, "_")] = val;
  if (a.config) {
    const cfg = readConfigFile(a.config);
    for (const [k, val] of Object.entries(cfg)) {
      if (!(k in DEFAULTS) && !CONFIG_ONLY.has(k) && !["model", "data", "warmup", "warmup_init"].includes(k))
        err(`[WARNING] ${a.config}: unknown option '${k}' is ignored`);
      if (a[k] === undefined || a[k] === null) a[k] = val;
    }
  }
  for (const [k, rule] of Object.entries(NUMERIC)) {
    if (a[k] === undefined || a[k] === null) continue;
    const flagName = k.replace(/_/g, "-");
    a[k] = num({ [flagName]: String(a[k]) }, flagName, rule);
  }
  for (const [k, val] of Object.entries(DEFAULTS)) if (a[k] === undefined || a[k] === null) a[k] = val;
  if (!a.train && !a.test) throw new UsageError("must provide at least one of --train or --test");
  if (a.train && !a.data) throw new UsageError("--data is required with --train (a folder with train.jsonl and valid.jsonl, or one .jsonl file)");
  a.model = modelPath({ model: a.model });
  if (a.train) {
    lm.assertNotOverwritingInput("lora", "the adapter path", a.adapter_path, [["the model folder", lm.resolveModelPath(a.model)]]);
  }
  const lp = { ...DEFAULT_LORA_PARAMETERS, ...(a.lora_parameters ?? {}) };

  out("Loading pretrained model");
  const { model, tokenizer } = await load(a.model);
  if (!tokenizer) throw new Error(`${a.model} has no tokenizer (tokenizer.json); the training data can't be tokenized`);
  out("Loading datasets");
  const features = { promptFeature: a.prompt_feature, completionFeature: a.completion_feature, textFeature: a.text_feature, chatFeature: a.chat_feature };
  const data = loadDataset(a.data ?? "", tokenizer, { maskPrompt: a.mask_prompt, train: a.train, test: a.test, ...features });
  data.warnings.forEach((w) => err(`[WARNING] ${w}`));

  const stop = io.signal ? undefined : abortOnSignals(() => err("\nStopping after the current step (again to quit at once)…"));
  const signal = io.signal ?? stop!.signal;
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
        return stop?.exitCode() ?? 130;
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
    stop?.done();
  }
}

export { TRAIN_DEFAULTS };
