// The fine-tuning loop (mlx-lm's tuner/trainer.py and lora.py train_model): length-sorted padded batches with a
// loss mask, masked next-token cross-entropy, periodic reports / validation / atomic adapter saves, cancellation.
import { join } from "node:path";
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { treeArrays } from "../../core/tree.js";
import type { Module } from "../../nn/module.js";
import { valueAndGrad } from "../../nn/value-and-grad.js";
import { crossEntropy } from "../../nn/losses.js";
import * as optim from "../../optim/index.js";
import type { Json } from "../config.js";
import type { Tokenizer } from "../tokenizer.js";
import {
  ADAPTER_WEIGHTS, loadAdapterWeights, saveAdapterWeights, writeAdapterConfig,
} from "../adapters.js";
import { checkpointedValueAndGrad } from "./checkpoint.js";
import { withDropoutKey } from "./lora.js";
import { createDataset, type Example, type RawRecord, type TokenizedDataset } from "./datasets.js";
import {
  DEFAULT_LORA_PARAMETERS, buildSchedule, countParameters, prepareForTraining,
  type FineTuneType, type LoraParameters, type ScheduleConfig,
} from "./utils.js";
import { mulberry32 } from "../../core/mulberry32.js";

/** A model the trainer can call: forward(ids [B, L]) → logits [B, L, vocab]. */
export interface TrainableModel extends Module {
  forward(inputs: MxArray, ...rest: any[]): MxArray;
  readonly layers: Module[];
}

export interface TrainArgs {
  fineTuneType?: FineTuneType;
  /** Blocks to adapt / train, counted from the last (default 16; -1 = all). */
  numLayers?: number;
  loraParameters?: LoraParameters;
  iters?: number;
  batchSize?: number;
  learningRate?: number;
  /** mlx-lm's lr_schedule: { name: "cosine_decay", arguments: [lr, steps, end], warmup?, warmup_init? }. */
  lrSchedule?: ScheduleConfig | null;
  optimizer?: "adam" | "adamw" | "sgd" | "adafactor" | string;
  /** Extra optimizer options by optimizer name, snake_case as in mlx-lm configs ({ adamw: { weight_decay: 0.1 } }). */
  optimizerConfig?: Record<string, Json>;
  maxSeqLength?: number;
  stepsPerReport?: number;
  stepsPerEval?: number;
  /** Validation batches per evaluation (-1: the whole validation set). */
  valBatches?: number;
  /** Save adapters every N iterations (a numbered checkpoint plus the rolling adapters.safetensors). */
  saveEvery?: number;
  /** Folder for adapters.safetensors, checkpoints and adapter_config.json; nothing is written without it. */
  adapterPath?: string;
  resumeAdapterFile?: string | null;
  seed?: number;
  gradCheckpoint?: boolean;
  /**
   * Trace the loss-and-gradient step once per batch shape with mx.compile and replay it (elementwise chains fused).
   * Default false; ignored with gradCheckpoint (which evaluates block by block).
   */
  compile?: boolean;
  /** Save the weights reached so far when stopped (default true); the file is replaced atomically either way. */
  saveOnAbort?: boolean;
  /** More keys for adapter_config.json (model, data, …), snake_case. */
  configExtras?: Json;
}

export const TRAIN_DEFAULTS = {
  fineTuneType: "lora" as FineTuneType, numLayers: 16, iters: 1000, batchSize: 4, learningRate: 1e-5,
  optimizer: "adam", maxSeqLength: 2048, stepsPerReport: 10, stepsPerEval: 200, valBatches: 25, saveEvery: 100, seed: 0,
};

export type TrainReport =
  | { type: "train"; iteration: number; trainLoss: number; learningRate: number; iterationsPerSecond: number;
      tokensPerSecond: number; trainedTokens: number; peakMemory: number }
  | { type: "val"; iteration: number; valLoss: number; valTime: number }
  | { type: "save"; iteration: number; path: string; checkpoint?: string; final: boolean }
  | { type: "step"; iteration: number; iters: number }
  | { type: "start"; trainable: number; total: number };

export interface TrainOptions {
  model: TrainableModel;
  tokenizer?: Tokenizer;
  /** Tokenized (lm datasets) or raw records, tokenized here with the tokenizer. */
  trainSet: TokenizedDataset | RawRecord[];
  validSet?: TokenizedDataset | RawRecord[];
  args?: TrainArgs;
  signal?: AbortSignal;
  onReport?: (r: TrainReport) => void;
  /** Warnings (truncated examples, …); default console.warn. */
  onWarning?: (message: string) => void;
  /** A custom optimizer instead of args.optimizer. */
  optimizer?: optim.Optimizer;
}

export interface TrainResult {
  iterations: number;
  aborted: boolean;
  trainLoss?: number;
  valLoss?: number;
  adapterFile?: string;
  trainable: number;
  total: number;
}

// ---- batches ----

/** A batch: token ids [B, T] (zero padded) and per row [prompt offset, length]. */
export interface Batch {
  batch: MxArray;
  lengths: MxArray;
}

function asExamples(d: TokenizedDataset | Example[]): Example[] {
  return Array.isArray(d) ? d : d.examples;
}

/**
 * Batches of examples of similar length: sorted by length, cut into groups of batchSize, visited in a shuffled
 * order (seeded); rows padded with 0 to 1 + a multiple of 32 (capped at maxSeqLength), longer ones truncated.
 */
export function* iterateBatches(dataset: TokenizedDataset | Example[], batchSize: number, maxSeqLength: number,
                                opts: { loop?: boolean; seed?: number } = {}): Generator<Batch> {
  const ex = asExamples(dataset);
  if (ex.length < batchSize)
    throw new EngineError(`[lora] ${Array.isArray(dataset) ? "the dataset" : `the ${dataset.name} set`} must have at least batch_size=${batchSize} examples but only has ${ex.length}`);
  const idx = ex.map((_, i) => i).sort((a, b) => ex[a].tokens.length - ex[b].tokens.length);
  const groups: number[][] = [];
  for (let i = 0; i + batchSize <= idx.length; i += batchSize) groups.push(idx.slice(i, i + batchSize));
  const rand = mulberry32(opts.seed ?? 0);
  do {
    const order = groups.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const g of order) yield makeBatch(groups[g].map((i) => ex[i]), maxSeqLength);
  } while (opts.loop);
}

export function makeBatch(rows: Example[], maxSeqLength: number): Batch {
  const longest = Math.max(...rows.map((r) => r.tokens.length));
  const padTo = 32;
  const width = Math.min(1 + padTo * Math.ceil(longest / padTo), maxSeqLength);
  const data = new Int32Array(rows.length * width);
  const lens = new Int32Array(rows.length * 2);
  rows.forEach((r, j) => {
    const n = Math.min(r.tokens.length, maxSeqLength);
    for (let t = 0; t < n; t++) data[j * width + t] = r.tokens[t];
    lens[2 * j] = r.offset;
    lens[2 * j + 1] = n;
  });
  return { batch: mx.array(data, mx.int32, [rows.length, width]), lengths: mx.array(lens, mx.int32, [rows.length, 2]) };
}

// ---- loss ----

/**
 * Masked next-token cross-entropy: inputs ids[:, :-1], targets ids[:, 1:]; target position j (token j+1) counts when
 * offset ≤ j+1 < length. Returns [mean loss over counted tokens (float32), number of counted tokens].
 */
export function defaultLoss(model: TrainableModel, batch: MxArray, lengths: MxArray): [MxArray, MxArray] {
  const T = batch.shape[1];
  const inputs = mx.slice(batch, [0, 0], [batch.shape[0], T - 1]);
  const targets = mx.slice(batch, [0, 1], [batch.shape[0], T]);
  const logits = model.forward(inputs);
  const steps = mx.reshape(mx.arange(1, T), [1, T - 1]);
  const offset = mx.slice(lengths, [0, 0], [lengths.shape[0], 1]);
  const len = mx.slice(lengths, [0, 1], [lengths.shape[0], 2]);
  const mask = mx.logicalAnd(mx.greaterEqual(steps, offset), mx.less(steps, len));
  const ce = mx.astype(crossEntropy(logits, targets), mx.float32);
  const ntoks = mx.sum(mx.astype(mask, mx.float32));
  const loss = mx.divide(mx.sum(mx.where(mask, ce, 0)), mx.maximum(ntoks, 1));
  return [loss, ntoks];
}

export type LossFn = (model: TrainableModel, batch: MxArray, lengths: MxArray) => [MxArray, MxArray];

export interface EvaluateOptions {
  model: TrainableModel;
  dataset: TokenizedDataset | Example[];
  batchSize?: number;
  /** Batches to average over (-1 or undefined: all). */
  numBatches?: number;
  maxSeqLength?: number;
  loss?: LossFn;
}

/** Token-weighted mean loss over (up to numBatches) batches, in eval mode; the training flag is restored. */
export async function evaluate(opts: EvaluateOptions): Promise<number> {
  const { model, dataset, batchSize = 4, numBatches = -1, maxSeqLength = 2048, loss = defaultLoss } = opts;
  const wasTraining = model.training;
  model.eval();
  let total = 0, tokens = 0, k = 0;
  try {
    for (const b of iterateBatches(dataset, batchSize, maxSeqLength, { seed: 0 })) {
      if (numBatches !== -1 && numBatches !== undefined && k >= numBatches) break;
      const [l, n] = mx.tidy(() => loss(model, b.batch, b.lengths));
      await mx.asyncEval(l, n);
      const nt = n.item() as number;
      total += (l.item() as number) * nt;
      tokens += nt;
      l.dispose(); n.dispose();
      k++;
    }
  } finally {
    model.train(wasTraining);
  }
  if (!tokens) throw new EngineError("[evaluate] the evaluated batches have no target tokens (all masked)");
  return total / tokens;
}

// ---- optimizer ----

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The named optimizer (mlx-lm's choices) with its snake_case or camelCase options. */
export function makeOptimizer(name: string, learningRate: optim.LearningRate, config: Json = {}): optim.Optimizer {
  const o: Record<string, unknown> = Object.fromEntries(Object.entries(config).map(([k, v]) => [camel(k), v]));
  switch (name.toLowerCase()) {
    case "adam": return new optim.Adam({ learningRate, ...o });
    case "adamw": return new optim.AdamW({ learningRate, ...o });
    case "sgd": return new optim.SGD({ learningRate, ...o });
    case "adafactor": return new optim.Adafactor({ learningRate, ...o });
    default: throw new EngineError(`[lora] unsupported optimizer '${name}'; expected adam, adamw, sgd or adafactor`);
  }
}

// ---- training ----

/**
 * nn.valueAndGrad(model, loss) through mx.compile: the trainable parameters and a dropout key are the compiled
 * function's inputs (frozen weights are captured constants, which is right: they don't change), so replays see the
 * current adapter weights and fresh dropout masks.
 */
export function compiledValueAndGrad(model: TrainableModel, loss: LossFn) {
  const vg = valueAndGrad(model, loss);
  const step = mx.compile((params: unknown, batch: MxArray, lengths: MxArray, key: MxArray) => {
    model.update(params as any);
    const [[l, n], g] = withDropoutKey(key, () => vg(model, batch, lengths));
    return [l, n, g];
  });
  return (m: TrainableModel, batch: MxArray, lengths: MxArray): [[MxArray, MxArray], any] => {
    const params = m.trainableParameters();
    try {
      const [l, n, g] = step(params, batch, lengths, mx.random.bits([2], 4)) as [MxArray, MxArray, any];
      return [[l, n], g];
    } finally {
      m.update(params);  // the first call traces with tracer copies in the model
    }
  };
}

function tokenized(d: TokenizedDataset | RawRecord[] | undefined, tok: Tokenizer | undefined, name: string): TokenizedDataset | undefined {
  if (d === undefined) return undefined;
  if (!Array.isArray(d)) return d;
  if (!tok) throw new EngineError(`[lora] the ${name} set is raw records; pass a tokenizer to tokenize them`);
  return createDataset(d, tok, name);
}

/** Counts examples longer than maxSeqLength; one warning per dataset, with the count and the longest length. */
export function truncationWarning(d: TokenizedDataset | undefined, maxSeqLength: number, label: string): string | undefined {
  if (!d) return undefined;
  const long = d.examples.filter((e) => e.tokens.length > maxSeqLength);
  if (!long.length) return undefined;
  const longest = Math.max(...long.map((e) => e.tokens.length));
  const lost = long.filter((e) => e.offset >= maxSeqLength - 1).length;
  return `[WARNING] ${long.length} of ${d.examples.length} ${label} examples are longer than max_seq_length=${maxSeqLength} tokens ` +
    `(the longest has ${longest}); they are truncated to ${maxSeqLength}` +
    (lost ? `, and ${lost} of them lose every trained token (their prompt alone fills the limit)` : "") +
    ". Consider pre-splitting your data or raising --max-seq-length.";
}

/** snake_case adapter_config.json contents from train args (mlx-lm writes its argument namespace). */
export function adapterConfigFromArgs(a: Required<Pick<TrainArgs, "fineTuneType" | "numLayers">> & TrainArgs): Json {
  const lp = a.fineTuneType === "full" ? null : { ...DEFAULT_LORA_PARAMETERS, ...(a.loraParameters ?? {}) };
  return {
    fine_tune_type: a.fineTuneType, num_layers: a.numLayers, lora_parameters: lp,
    batch_size: a.batchSize, iters: a.iters, learning_rate: a.learningRate, lr_schedule: a.lrSchedule ?? null,
    optimizer: a.optimizer, optimizer_config: a.optimizerConfig ?? {}, max_seq_length: a.maxSeqLength,
    steps_per_report: a.stepsPerReport, steps_per_eval: a.stepsPerEval, val_batches: a.valBatches, save_every: a.saveEvery,
    adapter_path: a.adapterPath ?? null, resume_adapter_file: a.resumeAdapterFile ?? null, seed: a.seed,
    grad_checkpoint: Boolean(a.gradCheckpoint), ...(a.configExtras ?? {}),
  };
}

/**
 * Fine-tunes the model (LoRA / DoRA adapters in the last numLayers blocks, or those blocks in full) on trainSet,
 * validating on validSet, as mlx-lm's `lora --train`. Writes adapter_config.json at the start, checkpoints every
 * saveEvery iterations and adapters.safetensors at the end (all atomic) when args.adapterPath is set.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { model, tokenizer, signal, onReport } = opts;
  const warn = opts.onWarning ?? ((m: string) => console.warn(m));
  const a = { ...TRAIN_DEFAULTS, ...(opts.args ?? {}) };
  for (const k of ["iters", "batchSize", "stepsPerReport", "stepsPerEval", "saveEvery", "maxSeqLength"] as const)
    if (!Number.isInteger(a[k]) || a[k] < 1) throw new EngineError(`[lora] ${k} must be a positive integer, got ${a[k]}`);
  const trainSet = tokenized(opts.trainSet, tokenizer, "training")!;
  const validSet = tokenized(opts.validSet, tokenizer, "validation");
  if (!trainSet || !trainSet.examples.length) throw new EngineError("[lora] the training set is empty: nothing to train on");
  if (validSet && !validSet.examples.length) throw new EngineError("[lora] the validation set is empty");
  for (const [d, label] of [[trainSet, "training"], [validSet, "validation"]] as const) {
    const w = truncationWarning(d, a.maxSeqLength, label);
    if (w) warn(w);
  }

  mx.random.seed(a.seed);
  prepareForTraining(model, a.fineTuneType, a.numLayers, a.loraParameters ?? {});
  if (a.resumeAdapterFile) loadAdapterWeights(model, mx.load(a.resumeAdapterFile), a.resumeAdapterFile, a.fineTuneType === "full");
  const { total, trainable } = countParameters(model);
  if (!trainable) throw new EngineError("[lora] the model has no trainable parameters after preparation");
  onReport?.({ type: "start", trainable, total });

  const adapterFile = a.adapterPath ? join(a.adapterPath, ADAPTER_WEIGHTS) : undefined;
  if (a.adapterPath) writeAdapterConfig(a.adapterPath, adapterConfigFromArgs(a));

  const lr = a.lrSchedule ? buildSchedule(a.lrSchedule) : a.learningRate;
  const optimizer = opts.optimizer ?? makeOptimizer(a.optimizer, lr, a.optimizerConfig?.[a.optimizer.toLowerCase()] ?? {});
  const lossFn: LossFn = defaultLoss;
  // With checkpointing the head also runs one sequence at a time: a big vocabulary's logits are a step's largest tensors.
  const lossAndGrad = a.gradCheckpoint ? checkpointedValueAndGrad(model, lossFn, { headChunks: a.batchSize })
    : a.compile ? compiledValueAndGrad(model, lossFn) : valueAndGrad(model, lossFn);

  const save = (it: number, final: boolean) => {
    if (!a.adapterPath || !adapterFile) return;
    saveAdapterWeights(model, adapterFile);
    let checkpoint: string | undefined;
    if (!final) {
      checkpoint = join(a.adapterPath, `${String(it).padStart(7, "0")}_adapters.safetensors`);
      saveAdapterWeights(model, checkpoint);
    }
    onReport?.({ type: "save", iteration: it, path: adapterFile, checkpoint, final });
  };

  model.train();
  const batches = iterateBatches(trainSet, a.batchSize, a.maxSeqLength, { loop: true, seed: a.seed });
  let losses = 0, nTokens = 0, steps = 0, trainedTokens = 0, trainTime = 0;
  let lastTrain: number | undefined, lastVal: number | undefined;
  let owned = new Set<MxArray>();
  let it = 0;
  let aborted = false;
  mx.resetPeakMemory();
  for (it = 1; it <= a.iters; it++) {
    if (signal?.aborted) { aborted = true; it--; break; }
    if (validSet && (it === 1 || it % a.stepsPerEval === 0 || it === a.iters)) {
      const t0 = performance.now();
      lastVal = await evaluate({ model, dataset: validSet, batchSize: a.batchSize, numBatches: a.valBatches, maxSeqLength: a.maxSeqLength, loss: lossFn });
      model.train();
      onReport?.({ type: "val", iteration: it, valLoss: lastVal, valTime: (performance.now() - t0) / 1000 });
      if (signal?.aborted) { aborted = true; it--; break; }
    }
    const { batch, lengths } = batches.next().value as Batch;
    const t0 = performance.now();
    const out = mx.tidy(() => {
      const [[loss, ntoks], grads] = lossAndGrad(model, batch, lengths);
      optimizer.update(model, grads);
      return { loss, ntoks, params: model.trainableParameters(), state: optimizer.state };
    });
    await mx.asyncEval(out);
    // Buffers of the previous step's parameters / optimizer state are released now rather than at JS GC.
    const now = new Set(treeArrays([out.params, out.state]));
    for (const old of owned) if (!now.has(old) && !old.disposed) old.dispose();
    owned = now;
    batch.dispose(); lengths.dispose();
    losses += out.loss.item() as number;
    nTokens += out.ntoks.item() as number;
    out.loss.dispose(); out.ntoks.dispose();
    steps++;
    trainTime += (performance.now() - t0) / 1000;
    onReport?.({ type: "step", iteration: it, iters: a.iters });
    if (it % a.stepsPerReport === 0 || it === a.iters) {
      lastTrain = losses / steps;
      trainedTokens += nTokens;
      onReport?.({
        type: "train", iteration: it, trainLoss: lastTrain, learningRate: optimizer.learningRate?.item() as number,
        iterationsPerSecond: steps / trainTime, tokensPerSecond: nTokens / trainTime, trainedTokens,
        peakMemory: mx.getPeakMemory() / 1e9,
      });
      losses = 0; nTokens = 0; steps = 0; trainTime = 0;
    }
    if (it % a.saveEvery === 0) save(it, false);
  }
  if (it > a.iters) it = a.iters;
  if (!aborted || (a.saveOnAbort ?? true)) save(it, true);
  return { iterations: it, aborted, trainLoss: lastTrain, valLoss: lastVal, adapterFile, trainable, total };
}
