// The YAML subset of lora configs, and `hearth lora` / `hearth fuse` end to end on gemma3-tiny-a with a small
// word-level tokenizer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { MAIN } from "./helpers/run.js";
import { mx, lm } from "@hearth/engine";
import { runLora } from "../src/lora.js";
import { runFuse } from "../src/fuse.js";
import { parseYaml } from "../src/mini-yaml.js";
import { findFixture } from "./helpers/fixtures.js";

const modelDir = findFixture("gemma3-tiny-a");

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hearth-${prefix}-`));
}

// ---- a word-level tokenizer for the tiny model's 512-token vocabulary ----

const SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"];
const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }} " +
  "{{ m['content'] }} <end_of_turn> {% endfor %}{% if add_generation_prompt %}<start_of_turn>model {% endif %}";

/** tokenizer.json (the tokenizers library's WordLevel model) + tokenizer_config.json with a Gemma-like template. */
function tokenizerFiles(template = CHAT_TEMPLATE) {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((t, i) => (vocab[t] = i));
  vocab.user = 6;
  vocab.model = 7;
  for (let i = 8; i < 512; i++) vocab[`w${i}`] = i;
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: { type: "WordPiece", prefix: "##", cleanup: false },
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  };
  const config = { bos_token: "<bos>", eos_token: "<eos>", pad_token: "<pad>", unk_token: "<unk>", chat_template: template, clean_up_tokenization_spaces: false };
  return { tokenizer, config };
}

/** gemma3-tiny-a plus the word-level tokenizer, as a model folder. */
function modelWithTokenizer(): string {
  const dir = tmp("model");
  for (const f of ["config.json", "model.safetensors", "generation_config.json"]) copyFileSync(join(modelDir, f), join(dir, f));
  const { tokenizer, config } = tokenizerFiles();
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  return dir;
}

function writeJsonl(path: string, records: unknown[]): void {
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

/** A fixed mapping the tiny model can memorise: user "w(100+k)" → assistant "w(200+k) w(300+k)". */
function chatRecords(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) => ({
    messages: [
      { role: "user", content: `w${100 + from + i}` },
      { role: "assistant", content: `w${200 + from + i} w${300 + from + i}` },
    ],
  }));
}

test("config files: the YAML subset mlx-lm's lora configs use", () => {
  const cfg = parseYaml(`# The model
model: "mlx-community/gemma-3-1b-it"
train: true
fine_tune_type: lora   # comment
learning_rate: 1e-5
num_layers: -1
lr_schedule:
  name: cosine_decay
  warmup: 100
  arguments: [1e-5, 1000, 1e-7]
lora_parameters:
  keys: ["self_attn.q_proj", 'self_attn.v_proj']
  rank: 8
  scale: 20.0
  dropout: 0.0
optimizer_config:
  adamw:
    weight_decay: 0.01
    betas:
      - 0.9
      - 0.98
resume_adapter_file: null
`, "lora_config.yaml");
  assert.deepEqual(cfg, {
    model: "mlx-community/gemma-3-1b-it", train: true, fine_tune_type: "lora", learning_rate: 1e-5, num_layers: -1,
    lr_schedule: { name: "cosine_decay", warmup: 100, arguments: [1e-5, 1000, 1e-7] },
    lora_parameters: { keys: ["self_attn.q_proj", "self_attn.v_proj"], rank: 8, scale: 20, dropout: 0 },
    optimizer_config: { adamw: { weight_decay: 0.01, betas: [0.9, 0.98] } },
    resume_adapter_file: null,
  });
  assert.throws(() => parseYaml("a: 1\n  b: 2\n", "c.yaml"), /c\.yaml line 2: unexpected indentation/);
  assert.throws(() => parseYaml("a: &x 1\n", "c.yaml"), /line 1: '&'/);
  assert.throws(() => parseYaml("a: 1\na: 2\n", "c.yaml"), /line 2: duplicate key 'a'/);
});

// ---- `hearth lora` / `hearth fuse` end to end ----

function chatData(nTrain = 16): string {
  const dir = tmp("chat");
  writeJsonl(join(dir, "train.jsonl"), chatRecords(nTrain));
  writeJsonl(join(dir, "valid.jsonl"), chatRecords(nTrain));
  writeJsonl(join(dir, "test.jsonl"), chatRecords(8));
  return dir;
}

async function cli(run: typeof runLora, argv: string[], signal?: AbortSignal, onLine?: (l: string) => void) {
  const lines: string[] = [], errs: string[] = [];
  const code = await run(argv, { stdout: (l) => { lines.push(l); onLine?.(l); }, stderr: (l) => errs.push(l), signal: signal ?? new AbortController().signal });
  return { code, lines, errs };
}

/** Greedy continuation through model.forward (no cache: the model is tiny). */
function greedy(model: lm.LanguageModel, prompt: number[], n: number): number[] {
  const ids = prompt.slice();
  for (let i = 0; i < n; i++) {
    const logits = model.forward(mx.array([ids], mx.int32));
    const last = mx.slice(logits, [0, ids.length - 1, 0], [1, ids.length, logits.shape[2]]);
    ids.push(mx.argmax(last).item() as number);
  }
  return ids.slice(prompt.length);
}

const valLosses = (lines: string[]) => lines.filter((l) => /Val loss/.test(l)).map((l) => Number(/Val loss ([\d.]+)/.exec(l)![1]));
const trainLosses = (lines: string[]) => lines.filter((l) => /Train loss/.test(l)).map((l) => Number(/Train loss ([\d.]+)/.exec(l)![1]));

test("hearth lora --train on a chat dataset: validation loss halves, files in mlx-lm's layout, adapter generation equals the fused model's", async () => {
  const model = modelWithTokenizer();
  const data = chatData();
  const adapters = join(tmp("run"), "adapters");
  const r = await cli(runLora, ["--model", model, "--train", "--data", data, "--adapter-path", adapters, "--mask-prompt",
    "--iters", "100", "--batch-size", "4", "--num-layers", "4", "--learning-rate", "1e-3", "--steps-per-report", "10",
    "--steps-per-eval", "50", "--val-batches", "-1", "--save-every", "50", "--test"]);
  assert.equal(r.code, 0);
  const val = valLosses(r.lines);
  assert.equal(val.length, 3);
  assert.ok(val[2] <= val[0] / 2, `validation loss ${val[0]} → ${val[2]}`);
  assert.match(r.lines.join("\n"), /Trainable parameters: [\d.]+% \([\d.]+M\/[\d.]+M\)/);
  assert.match(r.lines.join("\n"), /Iter 10: Train loss [\d.]+, Learning Rate 1\.000e-3, It\/sec [\d.]+, Tokens\/sec [\d.]+, Trained Tokens 120, Peak mem [\d.]+ GB/);
  assert.match(r.lines.join("\n"), /Test loss [\d.]+, Test ppl [\d.]+\./);
  for (const f of ["adapters.safetensors", "adapter_config.json", "0000050_adapters.safetensors", "0000100_adapters.safetensors"])
    assert.ok(existsSync(join(adapters, f)), f);
  const cfg = JSON.parse(readFileSync(join(adapters, "adapter_config.json"), "utf8"));
  assert.equal(cfg.fine_tune_type, "lora");
  assert.equal(cfg.num_layers, 4);
  assert.deepEqual(cfg.lora_parameters, { rank: 8, scale: 20, dropout: 0 });
  assert.equal(cfg.mask_prompt, true);
  const names = Object.keys(mx.load(join(adapters, "adapters.safetensors")));
  assert.equal(names.length, 4 * 7 * 2);
  assert.ok(names.includes("model.layers.0.mlp.up_proj.lora_b"));

  // Generation with --adapter-path vs the fused folder: the same greedy tokens.
  const withAdapter = await lm.load(model, { adapterPath: adapters });
  const tok = withAdapter.tokenizer!;
  const fusedDir = join(tmp("fused"), "model");
  const f = await cli(runFuse as typeof runLora, ["--model", model, "--adapter-path", adapters, "--save-path", fusedDir]);
  assert.equal(f.code, 0);
  for (const name of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) assert.ok(existsSync(join(fusedDir, name)), name);
  const fused = await lm.load(fusedDir);
  assert.ok(fused.tokenizer);
  assert.equal(lm.adapterLayers(fused.model).length, 0);
  let right = 0;
  for (let k = 0; k < 16; k++) {
    const prompt = tok.applyChatTemplate([{ role: "user", content: `w${100 + k}` }], { addGenerationPrompt: true });
    const a = greedy(withAdapter.model, prompt, 3), b = greedy(fused.model, prompt, 3);
    assert.deepEqual(a, b, `prompt w${100 + k}`);
    if (a[0] === 200 + k && a[1] === 300 + k) right++;
  }
  assert.ok(right >= 12, `memorised ${right}/16 pairs`);
  // The base model without the adapter answers differently.
  const base = await lm.load(model);
  const p0 = tok.applyChatTemplate([{ role: "user", content: "w100" }], { addGenerationPrompt: true });
  assert.notDeepEqual(greedy(base.model, p0, 2), greedy(fused.model, p0, 2));

  // --test alone evaluates the saved adapter.
  const t = await cli(runLora, ["--model", model, "--test", "--data", data, "--adapter-path", adapters, "--mask-prompt"]);
  assert.equal(t.code, 0);
  assert.equal(t.lines.find((l) => l.startsWith("Test loss")), r.lines.find((l) => l.startsWith("Test loss")));
});

test("hearth lora: stopping leaves a complete adapter file; --resume-adapter-file continues from it", async () => {
  const model = modelWithTokenizer();
  const data = chatData();
  const adapters = join(tmp("stop"), "adapters");
  const ctrl = new AbortController();
  const common = ["--model", model, "--train", "--data", data, "--adapter-path", adapters, "--mask-prompt", "--batch-size", "4",
    "--num-layers", "2", "--learning-rate", "1e-3", "--steps-per-report", "5", "--steps-per-eval", "1000", "--val-batches", "-1", "--save-every", "5"];
  const r = await cli(runLora, [...common, "--iters", "1000"], ctrl.signal, (l) => { if (l.startsWith("Iter 10: Train")) ctrl.abort(); });
  assert.equal(r.code, 130);
  assert.match(r.lines.join("\n"), /Stopped at iteration 10\./);
  const saved = mx.load(join(adapters, "adapters.safetensors"));
  assert.equal(Object.keys(saved).length, 2 * 7 * 2);
  const withAdapter = await lm.load(model, { adapterPath: adapters });
  const logits = withAdapter.model.forward(mx.array([[2, 4, 6, 100, 5, 4, 7]], mx.int32));
  assert.ok(Number.isFinite(mx.sum(logits).item() as number));
  // Resume: the first validation loss is the stopped adapter's, below a fresh start's.
  const stoppedLoss = await lm.evaluate({ model: withAdapter.model as any, dataset: lm.loadJsonlDataset(join(data, "valid.jsonl"), withAdapter.tokenizer!, { maskPrompt: true }), batchSize: 4 });
  const resumed = join(tmp("resume"), "adapters");
  const r2 = await cli(runLora, [...common.map((v) => (v === adapters ? resumed : v)), "--iters", "5", "--resume-adapter-file", join(adapters, "adapters.safetensors")]);
  assert.equal(r2.code, 0);
  assert.ok(Math.abs(valLosses(r2.lines)[0] - stoppedLoss) < 2e-3, `resumed at ${valLosses(r2.lines)[0]}, the stopped adapter gives ${stoppedLoss}`);
  const fresh = await cli(runLora, [...common.map((v) => (v === adapters ? join(tmp("fresh"), "a") : v)), "--iters", "5"]);
  assert.ok(valLosses(r2.lines)[0] < valLosses(fresh.lines)[0], `resumed ${valLosses(r2.lines)[0]} vs fresh ${valLosses(fresh.lines)[0]}`);
});

test("hearth lora: DoRA from a YAML config, full fine-tuning, and --grad-checkpoint giving the same losses", async () => {
  const model = modelWithTokenizer();
  const data = chatData(8);
  const base = ["--model", model, "--train", "--data", data, "--mask-prompt", "--batch-size", "4", "--iters", "6",
    "--steps-per-report", "2", "--steps-per-eval", "1000", "--val-batches", "-1", "--save-every", "100"];
  const dir = tmp("cfg");
  writeFileSync(join(dir, "dora.yaml"), `fine_tune_type: dora\nnum_layers: 2\nlearning_rate: 1e-3\nlora_parameters:\n  keys: ["self_attn.q_proj", "self_attn.v_proj"]\n  rank: 4\n  scale: 10.0\n  dropout: 0.0\n`);
  const dora = join(dir, "dora");
  const d = await cli(runLora, [...base, "-c", join(dir, "dora.yaml"), "--adapter-path", dora]);
  assert.equal(d.code, 0);
  const dn = Object.keys(mx.load(join(dora, "adapters.safetensors"))).sort();
  assert.deepEqual(dn.filter((k) => k.startsWith("model.layers.3.")), [
    "model.layers.3.self_attn.q_proj.lora_a", "model.layers.3.self_attn.q_proj.lora_b", "model.layers.3.self_attn.q_proj.m",
    "model.layers.3.self_attn.v_proj.lora_a", "model.layers.3.self_attn.v_proj.lora_b", "model.layers.3.self_attn.v_proj.m"]);
  const dcfg = JSON.parse(readFileSync(join(dora, "adapter_config.json"), "utf8"));
  assert.equal(dcfg.fine_tune_type, "dora");
  assert.deepEqual(dcfg.lora_parameters.keys, ["self_attn.q_proj", "self_attn.v_proj"]);
  assert.ok((await lm.load(model, { adapterPath: dora })).model.layers[3] !== undefined);

  const full = join(dir, "full");
  const fr = await cli(runLora, [...base, "--fine-tune-type", "full", "--num-layers", "1", "--learning-rate", "1e-4", "--optimizer", "adamw", "--adapter-path", full]);
  assert.equal(fr.code, 0);
  const fn = Object.keys(mx.load(join(full, "adapters.safetensors")));
  assert.ok(fn.every((k) => k.startsWith("model.layers.3.")) && fn.includes("model.layers.3.mlp.down_proj.weight"));
  assert.equal(JSON.parse(readFileSync(join(full, "adapter_config.json"), "utf8")).lora_parameters, null);
  const tuned = (await lm.load(model, { adapterPath: full })).model;
  const plain = (await lm.load(model)).model;
  const ids = mx.array([[2, 4, 6, 100, 5]], mx.int32);
  assert.ok((mx.max(mx.abs(mx.subtract(tuned.forward(ids), plain.forward(ids)))).item() as number) > 1e-4);

  const a = await cli(runLora, [...base, "--num-layers", "3", "--learning-rate", "1e-3", "--adapter-path", join(dir, "a")]);
  const b = await cli(runLora, [...base, "--num-layers", "3", "--learning-rate", "1e-3", "--adapter-path", join(dir, "b"), "--grad-checkpoint"]);
  const la = trainLosses(a.lines), lb = trainLosses(b.lines);
  assert.equal(la.length, 3);
  la.forEach((v, i) => assert.ok(Math.abs(v - lb[i]) <= 2e-3 * Math.max(1, v), `step ${i}: ${v} vs ${lb[i]}`));
  const wa = mx.load(join(dir, "a", "adapters.safetensors")), wb = mx.load(join(dir, "b", "adapters.safetensors"));
  for (const k of Object.keys(wa)) assert.ok((mx.max(mx.abs(mx.subtract(wa[k], wb[k]))).item() as number) < 1e-4, k);
});

test("hearth lora / fuse: usage errors name the flag", async () => {
  await assert.rejects(runLora(["--model"]), /Option '--model' needs a value/);
  await assert.rejects(runLora(["--bogus"]), /Unknown option '--bogus'/);
  await assert.rejects(runLora(["--iters", "ten"]), /--iters must be an integer, got 'ten'/);
  await assert.rejects(runLora(["--fine-tune-type", "qlora"]), /--fine-tune-type must be one of lora, dora, full/);
  await assert.rejects(runLora(["--model", modelWithTokenizer()]), /at least one of --train or --test/);
  await assert.rejects(runLora(["--model", modelDir, "--train", "--data", "x"]), /has no tokenizer/);
  await assert.rejects(runFuse(["--model", modelDir, "--adapter-path", "/nonexistent", "--save-path", join(tmp("f"), "out")]), /the adapter path does not exist/);
  const help: string[] = [];
  assert.equal(await runLora(["--help"], { stdout: (l) => help.push(l) }), 0);
  assert.match(help[0], /--grad-checkpoint/);
  assert.match(help[0], /--iters <n>\s+Iterations to train for\. \(default: 1000\)/);
});

// SIGTERM (kill, timeouts, service managers) and SIGHUP (a closed terminal) stop training like Ctrl-C: the last
// complete step is saved and the adapter loads. The bin runs as a child; the signal comes after a few reports.
for (const sig of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
  test(`hearth lora: ${sig} saves the last complete step; the adapter loads`, async () => {
    const model = modelWithTokenizer();
    const data = chatData(8);
    const adapters = join(tmp(`sig-${sig}`), "adapters");
    const child = spawn(process.execPath, [MAIN, "lora", "--model", model, "--train", "--data", data, "--adapter-path", adapters,
      "--iters", "100000", "--batch-size", "2", "--num-layers", "2", "--steps-per-report", "2", "--steps-per-eval", "100000",
      "--save-every", "100000", "--learning-rate", "1e-3"], { stdio: ["ignore", "pipe", "pipe"] });
    let outText = "", errText = "";
    let sent = false;
    child.stdout.on("data", (d) => {
      outText += d;
      if (!sent && /Iter 4: Train loss/.test(outText)) {
        sent = true;
        child.kill(sig);
      }
    });
    child.stderr.on("data", (d) => (errText += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    assert.ok(sent, `no report to react to: ${outText}\n${errText}`);
    assert.equal(code, 128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[sig], errText);
    assert.match(outText, /Stopped at iteration \d+\./);
    assert.match(outText, /Saved final weights to/);
    const names = Object.keys(mx.load(join(adapters, "adapters.safetensors")));
    assert.ok(names.length > 0 && names.every((k) => /\.lora_[ab]$/.test(k)));
    const withAdapter = await lm.load(model, { adapterPath: adapters });
    assert.ok(lm.adapterLayers(withAdapter.model).length > 0);
    assert.deepEqual(readdirSync(adapters).filter((f) => f.includes(".tmp")), [], "no temporary files left");
  });
}

test("QLoRA end to end: hearth lora on a quantized model (base stays quantized), fuse --dequantize / re-quantized fuse",
  { skip: !(lm as any).convert && "needs lm.convert (quantization)" }, async () => {
    const src = modelWithTokenizer();
    const qdir = join(tmp("q"), "model");
    await (lm as any).convert({ hfPath: src, mlxPath: qdir, quantize: true, qBits: 8, qGroupSize: 32 });
    const data = chatData(8);
    const adapters = join(tmp("qlora"), "adapters");
    const r = await cli(runLora, ["--model", qdir, "--train", "--data", data, "--adapter-path", adapters, "--mask-prompt",
      "--iters", "30", "--batch-size", "4", "--num-layers", "2", "--learning-rate", "1e-3", "--steps-per-report", "10",
      "--steps-per-eval", "30", "--val-batches", "-1"]);
    assert.equal(r.code, 0);
    const val = valLosses(r.lines);
    assert.ok(val[val.length - 1] < val[0] / 2, `QLoRA validation loss ${val[0]} → ${val[val.length - 1]}`);
    const names = Object.keys(mx.load(join(adapters, "adapters.safetensors")));
    assert.ok(names.every((k) => /\.lora_[ab]$/.test(k)), "only adapter weights are saved");
    const withAdapter = await lm.load(qdir, { adapterPath: adapters });
    const q = (withAdapter.model.layers[3] as any).self_attn.q_proj;
    assert.ok(q instanceof lm.LoRALinear && lm.isQuantizedLinear(q.linear), "the base stays quantized");

    const deq = join(tmp("fq"), "model");
    assert.equal((await cli(runFuse as typeof runLora, ["--model", qdir, "--adapter-path", adapters, "--save-path", deq, "--de-quantize"])).code, 0);
    const cfg = JSON.parse(readFileSync(join(deq, "config.json"), "utf8"));
    assert.equal(cfg.quantization, undefined);
    const fused = await lm.load(deq);
    assert.ok(!lm.isQuantizedLinear((fused.model.layers[0] as any).mlp.up_proj));
    const tok = withAdapter.tokenizer!;
    for (let k = 0; k < 4; k++) {
      const prompt = tok.applyChatTemplate([{ role: "user", content: `w${100 + k}` }], { addGenerationPrompt: true });
      assert.deepEqual(greedy(fused.model, prompt, 3), greedy(withAdapter.model, prompt, 3));
    }
    const requant = join(tmp("fq2"), "model");
    assert.equal((await cli(runFuse as typeof runLora, ["--model", qdir, "--adapter-path", adapters, "--save-path", requant])).code, 0);
    const rq = await lm.load(requant);
    assert.ok(lm.isQuantizedLinear((rq.model.layers[3] as any).self_attn.q_proj), "fused layers are quantized again");
    assert.equal(lm.adapterLayers(rq.model).length, 0);
  });
