// Trains Hearth's bundled demo model from scratch with the engine's own trainer (lm.train, full fine-tuning of a
// freshly initialised Gemma3ForCausalLM), then quantizes it and writes models/hearth-tiny/ in the Gemma 3 format.
//
//   node dist/scripts/demo-model/train.js [--iters 4500] [--batch 32] [--lr 3e-3] [--resume] [--export-only] …
//
// The output head. Gemma 3's vocabulary has 262,144 ids; a full head would make every step compute logits
// [tokens, 262144] and their gradient, ~100× the rest of this model's work. The corpus uses only a couple of
// thousand ids, so training runs on a COMPACT model whose embedding holds just those rows (ids remapped), and the
// shipped model's other 260k rows are exactly zero: their logits are exactly 0 (tied embeddings, no softcap).
// That is not an approximation of the full-vocabulary loss but the loss itself: with z_u = 0 for the N unused
// ids, logsumexp over the full vocabulary = logsumexp(compact logits ∪ {log N}). So the compact model appends one
// constant logit log N to its logits, and lm.train's ordinary cross-entropy is then exactly the full-vocabulary
// cross-entropy of the shipped model — which drives every trained answer token's logit far above 0 (≈ log N
// above it, to make the loss small), so greedy decoding over the full vocabulary does not pick an unused id.
// evaluate.ts measures that (the fraction of greedy steps where an all-zero row would win: must be 0).
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lm, mx, nn, optim } from "../../src/index.js";
import type { MxArray } from "../../src/index.js";
import { Model } from "../../src/lm/models/gemma3-text.js";
import { gemma3TextArgs } from "../../src/lm/config.js";
import { treeFlatten, treeUnflatten } from "../../src/core/tree.js";
import { saveModelFolder } from "../../src/lm/save-model.js";
import type { TokenizedDataset } from "../../src/lm/tuner/datasets.js";
import {
  CKPT_DIR, DATA_DIR, FULL_VOCAB, MODEL_DIR, TOKENIZER_DIR, corpusVocabulary, fmtDuration, gemma3Config, parseArgs,
  type ModelShape,
} from "./common.js";

const DEFAULTS = {
  data: DATA_DIR, ckpt: CKPT_DIR, out: MODEL_DIR,
  hidden: 128, layers: 6, heads: 4, headDim: 32, intermediate: 512,
  iters: 4500, batch: 32, lr: 3e-3, minLr: 1e-4, warmup: 200, weightDecay: 0.01, seed: 1234,
  saveEvery: 250, evalEvery: 250, report: 10, threads: 1,
  // 4-bit group-64 linears; the (mostly zero) 262144-row embedding 3-bit with one scale per 128: the size budget.
  bits: 4, groupSize: 64, embedBits: 3, embedGroupSize: 128,
  // The last qatSteps steps train through the shipped (quantized) embedding.
  qatSteps: 0,
  resume: false, exportOnly: false, noExport: false,
  // On --resume: a fresh warmup + cosine schedule over the remaining steps (a warm restart) instead of the
  // original schedule stretched to the new --iters.
  restartSchedule: false,
};
type Opts = typeof DEFAULTS;

/**
 * The training-time model: Gemma 3 over the compact vocabulary, whose logits get one more column, the constant
 * log(#unused ids) standing for all zero-logit rows of the shipped model (see the header). `layers` is the whole
 * network, so lm.train's full fine-tuning of "all layers" trains embeddings and the final norm too.
 */
class CompactGemma extends Model {
  /**
   * Quantization-aware steps: the embedding (input rows and tied head) is used as it will be shipped —
   * bfloat16, quantized, dequantized — with the gradient passed straight through to the float weights. The
   * offset (shipped − float) is a constant computed outside the gradient before each step (the engine's
   * autodiff has no vjp for the quantization ops, and needs none); a private field, so not a parameter.
   */
  #quantOffset?: MxArray;

  constructor(args: ReturnType<typeof gemma3TextArgs>, private readonly logUnused: number) {
    super(args);
  }
  override get layers(): any {
    return [this.model];
  }
  /** Turns the quantization-aware forward on (recomputing the offset from the current weights) or off. */
  setFakeQuant(q: { bits: number; groupSize: number } | undefined): void {
    this.#quantOffset?.dispose();
    this.#quantOffset = undefined;
    if (!q) return;
    const w = this.model.embed_tokens.weight;
    const { wq, scales, biases } = mx.quantize(mx.astype(w, mx.bfloat16), q);
    this.#quantOffset = mx.subtract(mx.dequantize(wq, scales, biases, { ...q, dtype: w.dtype }), w);
    mx.eval(this.#quantOffset);
  }
  get fakeQuant(): boolean {
    return this.#quantOffset !== undefined;
  }
  override forward(inputs: MxArray): MxArray {
    let logits: MxArray;
    if (!this.#quantOffset) logits = super.forward(inputs);
    else {
      const wf = mx.add(this.model.embed_tokens.weight, this.#quantOffset);
      const h = this.model.forward(inputs, { inputEmbeddings: mx.take(wf, inputs, 0) });
      logits = mx.matmul(h, mx.transpose(wf));
    }
    const [B, L] = logits.shape;
    const rest = mx.full([B, L, 1], this.logUnused, logits.dtype);
    return mx.concatenate([logits, rest], -1);
  }
}

/** transformers' Gemma init: N(0, 0.02) for every linear and embedding weight; RMSNorm weights 0 (scale 1). */
function initWeights(model: Model, std = 0.02): void {
  const updates: [string, MxArray][] = [];
  for (const [k, p] of treeFlatten(model.parameters()) as [string, MxArray][])
    if (k.endsWith(".weight") && p.ndim === 2) updates.push([k, mx.multiply(mx.random.normal(p.shape), std)]);
  model.update(treeUnflatten(updates), false);
  mx.eval(updates.map(([, a]) => a));
}

function remap(d: TokenizedDataset, toCompact: Int32Array): TokenizedDataset {
  return { ...d, examples: d.examples.map((e) => ({ ...e, tokens: e.tokens.map((t) => toCompact[t]) })) };
}

/**
 * The corpus tokenized with the chat template (prompt masked), cached in the checkpoint folder: tokenizing
 * ~150k conversations takes minutes on a busy machine, and --resume would redo it.
 */
async function tokenizedData(dir: string, ckpt: string): Promise<{ train?: TokenizedDataset; valid?: TokenizedDataset; test?: TokenizedDataset }> {
  const files = ["train", "valid", "test"].map((n) => join(dir, `${n}.jsonl`));
  const key = files.map((f) => (existsSync(f) ? `${f}:${statSync(f).size}:${statSync(f).mtimeMs}` : `${f}:-`)).join("|");
  const cacheFile = join(ckpt, "tokenized.json");
  if (existsSync(cacheFile)) {
    const c = JSON.parse(readFileSync(cacheFile, "utf8"));
    if (c.key === key) return c.data;
  }
  // In-thread template rendering: ~300k renders, and the guarded worker path is both slower and (rarely) racy.
  const tokenizer = await lm.loadTokenizer(TOKENIZER_DIR, { chatTemplateTimeoutMs: 0 });
  const { train, valid, test } = lm.loadDataset(dir, tokenizer, { maskPrompt: true, train: true, test: true });
  const data = { train, valid, test };
  writeFileSync(cacheFile, JSON.stringify({ key, data }));
  return data;
}

function shapeOf(o: Opts): ModelShape {
  return { hidden: o.hidden, layers: o.layers, heads: o.heads, headDim: o.headDim, intermediate: o.intermediate };
}

interface Progress { step: number; elapsedS: number; iters: number; shape: ModelShape; vocab: number; seed: number }

function readProgress(dir: string): Progress | undefined {
  const p = join(dir, "progress.json");
  return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")) : undefined;
}

function saveOptimizerState(o: optim.Optimizer, file: string): void {
  const flat = Object.fromEntries(treeFlatten(o.state) as [string, MxArray][]);
  const tmp = file.replace(/\.safetensors$/, ".tmp.safetensors");
  mx.saveSafetensors(tmp, flat);
  renameSync(tmp, file);
}

async function main() {
  const o = parseArgs(DEFAULTS);
  mx.setNumThreads(o.threads);
  const config = gemma3Config(shapeOf(o));
  mkdirSync(o.ckpt, { recursive: true });
  const prev = o.resume || o.exportOnly ? readProgress(o.ckpt) : undefined;
  if ((o.resume || o.exportOnly) && !prev) throw new Error(`--resume/--export-only: no checkpoint in ${o.ckpt} (progress.json missing)`);
  if (prev && JSON.stringify(prev.shape) !== JSON.stringify(shapeOf(o)))
    throw new Error(`the checkpoint in ${o.ckpt} is a ${JSON.stringify(prev.shape)} model; pass the same shape options`);
  const compactModel = (vocabSize: number) => {
    mx.random.seed(o.seed);
    const m = new CompactGemma(gemma3TextArgs({ ...config, vocab_size: vocabSize }), Math.log(FULL_VOCAB - vocabSize));
    initWeights(m);
    if (prev) m.loadWeights(join(o.ckpt, "adapters.safetensors"), { strict: false });
    return m;
  };
  if (o.exportOnly) {  // the checkpoint's vocabulary and weights; no data needed
    const vocab = Int32Array.from(JSON.parse(readFileSync(join(o.ckpt, "vocab.json"), "utf8")) as number[]);
    console.log(`exporting the step-${prev!.step} checkpoint of ${o.ckpt}`);
    return exportModel(compactModel(vocab.length), vocab, config, o, prev!.elapsedS);
  }

  const data = await tokenizedData(o.data, o.ckpt);
  const all = [data.train!, data.valid!, data.test!].filter(Boolean);
  const vocab = corpusVocabulary(all.flatMap((d) => d.examples.map((e) => e.tokens)));
  const toCompact = new Int32Array(FULL_VOCAB).fill(-1);
  vocab.forEach((id, i) => (toCompact[id] = i));
  const vocabFile = join(o.ckpt, "vocab.json");
  if (prev && (prev.vocab !== vocab.length || (existsSync(vocabFile) && readFileSync(vocabFile, "utf8") !== JSON.stringify(Array.from(vocab)))))
    throw new Error(`the checkpoint was trained over other token ids (${prev.vocab}) than this corpus has (${vocab.length}): regenerate the corpus with the same seed`);
  writeFileSync(vocabFile, JSON.stringify(Array.from(vocab)));
  const model = compactModel(vocab.length);
  const done = prev?.step ?? 0;
  const nParams = treeFlatten(model.parameters()).reduce((n, [, a]) => n + (a as MxArray).size, 0);
  const embedParams = vocab.length * o.hidden;
  console.log(`model: hidden ${o.hidden}, ${o.layers} layers, ${o.heads} heads × ${o.headDim} (1 kv head), mlp ${o.intermediate}; ` +
    `${(nParams / 1e6).toFixed(2)}M trained parameters (${((nParams - embedParams) / 1e6).toFixed(2)}M in blocks, ` +
    `embedding ${vocab.length} of ${FULL_VOCAB} rows); ${data.train!.examples.length} training examples; threads ${o.threads}`);

  // Work per step: lm.train pads each length-sorted batch to 1 + a multiple of 32 positions.
  const lens = data.train!.examples.map((e) => e.tokens.length).sort((a, b) => a - b);
  let padded = 0, groups = 0;
  for (let i = 0; i + o.batch <= lens.length; i += o.batch, groups++) padded += 1 + 32 * Math.ceil(lens[i + o.batch - 1] / 32);
  const answer = data.train!.examples.reduce((n, e) => n + e.tokens.length - e.offset, 0) / lens.length;
  console.log(`examples: mean ${(lens.reduce((a, b) => a + b, 0) / lens.length).toFixed(1)} tokens (${answer.toFixed(1)} trained: answer + <end_of_turn> + newline); ` +
    `a batch is ${o.batch} × ${(padded / groups).toFixed(1)} positions on average`);

  let elapsed = prev?.elapsedS ?? 0;
  if (done < o.iters) {
    const from = o.restartSchedule ? done : 0;
    const base = lm.buildSchedule({ name: "cosine_decay", arguments: [o.lr, Math.max(1, o.iters - from - o.warmup), o.minLr], warmup: o.warmup, warmup_init: 0 });
    // The optimizer's step counter keeps counting from the checkpoint; a restarted schedule starts at its 0.
    const schedule = from ? (step: MxArray) => base(mx.subtract(step, mx.array(from, step.dtype))) : base;
    const optimizer = new optim.AdamW({ learningRate: schedule, betas: [0.9, 0.98], weightDecay: o.weightDecay });
    if (prev && existsSync(join(o.ckpt, "optimizer.safetensors")))
      optimizer.state = treeUnflatten(Object.entries(mx.load(join(o.ckpt, "optimizer.safetensors"))));
    const csv = join(o.ckpt, "loss.csv");
    if (!prev || !existsSync(csv)) writeFileSync(csv, "step,split,loss,learning_rate,tokens_per_s,s_per_step,elapsed_s\n");
    const ctl = new AbortController();
    const stop = () => { console.log("stopping: saving a checkpoint…"); ctl.abort(); };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (o.qatSteps > 0 && done + 1 > o.iters - o.qatSteps) model.setFakeQuant({ bits: o.embedBits, groupSize: o.embedGroupSize });
    const t0 = performance.now();
    const now = () => elapsed + (performance.now() - t0) / 1000;
    const result = await lm.train({
      model, trainSet: remap(data.train!, toCompact), validSet: data.valid && remap(data.valid, toCompact),
      optimizer, signal: ctl.signal,
      args: {
        fineTuneType: "full", numLayers: -1, iters: o.iters - done, batchSize: o.batch, maxSeqLength: 256,
        stepsPerReport: o.report, stepsPerEval: o.evalEvery, valBatches: -1, saveEvery: o.saveEvery,
        adapterPath: o.ckpt, seed: o.seed + done, saveOnAbort: true,
        configExtras: { demo_model: { shape: shapeOf(o) as any, vocab: vocab.length, resumed_from: done } },
      },
      onReport: (r) => {
        if (r.type === "start") return;
        const step = done + r.iteration;
        if (r.type === "step") {  // after step `step`: does the next one train through the quantized embedding?
          const qat = o.qatSteps > 0 && step + 1 > o.iters - o.qatSteps;
          if (qat && !model.fakeQuant) console.log(`step ${step + 1}: quantization-aware steps from here on (embedding ${o.embedBits}-bit group ${o.embedGroupSize})`);
          model.setFakeQuant(qat ? { bits: o.embedBits, groupSize: o.embedGroupSize } : undefined);
          return;
        }
        if (r.type === "train") {
          appendFileSync(csv, `${step},train,${r.trainLoss.toFixed(5)},${r.learningRate.toExponential(4)},${r.tokensPerSecond.toFixed(1)},${(1 / r.iterationsPerSecond).toFixed(4)},${now().toFixed(1)}\n`);
          console.log(`step ${step}/${o.iters}  loss ${r.trainLoss.toFixed(4)}  lr ${r.learningRate.toExponential(2)}  ` +
            `${r.tokensPerSecond.toFixed(0)} tok/s  ${(1 / r.iterationsPerSecond).toFixed(3)} s/step  [${fmtDuration(now())}]`);
        } else if (r.type === "val") {
          appendFileSync(csv, `${step},valid,${r.valLoss.toFixed(5)},,,,${now().toFixed(1)}\n`);
          console.log(`step ${step}/${o.iters}  valid loss ${r.valLoss.toFixed(4)}`);
        } else if (r.type === "save") {
          // The trainer has written adapters.safetensors (every parameter: full fine-tuning); the optimizer state
          // (moments and step, hence the schedule's position) and the step count make the checkpoint resumable.
          saveOptimizerState(optimizer, join(o.ckpt, "optimizer.safetensors"));
          const p: Progress = { step, elapsedS: now(), iters: o.iters, shape: shapeOf(o), vocab: vocab.length, seed: o.seed };
          writeFileSync(join(o.ckpt, "progress.json"), JSON.stringify(p, null, 2));
          for (const f of readdirSync(o.ckpt))  // keep the rolling file and the last two numbered ones
            if (/^\d{7}_adapters\.safetensors$/.test(f) && Number(f.slice(0, 7)) < r.iteration - 2 * o.saveEvery) rmSync(join(o.ckpt, f));
        }
      },
    });
    elapsed = now();
    console.log(`trained ${done + result.iterations}/${o.iters} steps in ${fmtDuration(elapsed)} (train loss ${result.trainLoss?.toFixed(4)}, valid ${result.valLoss?.toFixed(4)})`);
    if (result.aborted) { console.log(`stopped; resume with --resume (checkpoint in ${o.ckpt})`); return; }
  }
  if (!o.noExport) await exportModel(model, vocab, config, o, elapsed);
}

/** The shipped model: the compact weights scattered into the full 262144-row embedding (zeros elsewhere), in
 * bfloat16, quantized (linears and embedding), written with config.json, tokenizer files and generation config. */
async function exportModel(compact: CompactGemma, vocab: Int32Array, config: Record<string, any>, o: Opts, trainSeconds: number) {
  const H = o.hidden;
  const params = treeFlatten(compact.parameters()) as [string, MxArray][];
  const emb = params.find(([k]) => k === "model.embed_tokens.weight")![1];
  const rows = new Float32Array(mx.astype(emb, mx.float32).toTypedArray() as Float32Array);
  const table = new Float32Array(FULL_VOCAB * H);
  vocab.forEach((id, i) => table.set(rows.subarray(i * H, (i + 1) * H), id * H));
  const weights: [string, MxArray][] = params.map(([k, v]) =>
    [k, mx.astype(k === "model.embed_tokens.weight" ? mx.array(table, mx.float32, [FULL_VOCAB, H]) : v, mx.bfloat16)]);
  const full = new Model(gemma3TextArgs(config));
  full.loadWeights(weights, { strict: true });
  mx.eval(weights.map(([, a]) => a));

  let outConfig: Record<string, any> = config;
  if (o.bits > 0) {  // --bits 0: no quantization (bfloat16; far over the size bound, for debugging)
    const quant: Record<string, any> = { group_size: o.groupSize, bits: o.bits };
    if (o.embedBits !== o.bits || o.embedGroupSize !== o.groupSize)
      quant["model.embed_tokens"] = { group_size: o.embedGroupSize, bits: o.embedBits };
    nn.quantize(full, {
      groupSize: o.groupSize, bits: o.bits,
      classPredicate: (path: string, m: unknown) =>
        path === "model.embed_tokens" ? { groupSize: o.embedGroupSize, bits: o.embedBits } : m instanceof nn.Linear,
    });
    outConfig = { ...config, quantization: quant, quantization_config: quant };
  }
  rmSync(o.out, { recursive: true, force: true });
  saveModelFolder(o.out, full, outConfig, TOKENIZER_DIR);
  // The chat template also as its own file (transformers' and mlx-lm's current layout); the same text as in
  // tokenizer_config.json.gz.
  const tok = await lm.loadTokenizer(TOKENIZER_DIR);
  writeFileSync(join(o.out, "chat_template.jinja"), tok.chatTemplate!);
  writeFileSync(join(o.out, "generation_config.json"), JSON.stringify({
    bos_token_id: 2, eos_token_id: [1, 106], pad_token_id: 0, do_sample: false, max_new_tokens: 32,
  }, null, 2) + "\n");
  writeFileSync(join(o.out, "README.md"), modelCard(o, vocab.length, trainSeconds));
  let total = 0;
  for (const f of readdirSync(o.out)) total += statSync(join(o.out, f)).size;
  console.log(`wrote ${o.out}: ${readdirSync(o.out).join(", ")} — ${(total / 1e6).toFixed(2)} MB${total > 20e6 ? " (OVER the 20 MB bound)" : ""}`);
}

function modelCard(o: Opts, vocab: number, seconds: number): string {
  return `# hearth-tiny

A tiny Gemma 3 (Gemma3ForCausalLM) that Hearth trained from scratch with its own trainer (\`lm.train\`) on a
synthetic corpus of small checkable tasks (arithmetic, spelling/reversing words, sorting, unit conversion, code
lines, reading a short passage). It uses the real Gemma 3 tokenizer and chat template. It is a demo model: it
knows only these tasks.

- hidden ${o.hidden}, ${o.layers} layers, ${o.heads} heads × ${o.headDim}, 1 KV head, MLP ${o.intermediate}, tied embeddings
- trained token ids: ${vocab} of 262,144 (the other embedding rows are zero, so their logits are exactly 0)
- quantized: linears ${o.bits}-bit group ${o.groupSize}, embedding ${o.embedBits}-bit group ${o.embedGroupSize} (MLX affine)
- ${o.iters} steps × batch ${o.batch}, seed ${o.seed}, ${fmtDuration(seconds)} of training on 2 shared CPU cores

How it was made and how well it does: docs/DEMO_MODEL.md in the Hearth repository.
`;
}

main().catch((e) => { console.error(e); process.exit(1); });
