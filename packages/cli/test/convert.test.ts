// hearth convert and fuse through the built bin: every file and config key convert does not own survives (the
// vision fixture converts and then describes an image, in both config dialects, with and without -q); no command
// writes over its own input; re-quantizing says what it did; usage errors exit 2 with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, type MxArray } from "@hearth/engine";
import { findFixture } from "./helpers/fixtures.js";
import { tinyVlmWithTokenizer } from "./helpers/tiny-tokenizer.js";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { hearth, oneLine } from "./helpers/run.js";

const scratch = mkdtempSync(join(tmpdir(), "hearth-convert-cli-"));
let n = 0;
const out = (tag: string) => join(scratch, `${tag}-${n++}`);
const IMAGE = join(findFixture("image-preprocess"), "input.png");

/** The tiny VLM with a tokenizer plus the processor files a hub checkpoint carries. */
function vlmSource(dialect: string): string {
  const dir = tinyVlmWithTokenizer(dialect);
  writeFileSync(join(dir, "preprocessor_config.json"), JSON.stringify({ image_processor_type: "Gemma3ImageProcessor", image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], size: { height: 56, width: 56 } }));
  writeFileSync(join(dir, "processor_config.json"), JSON.stringify({ processor_class: "Gemma3Processor", image_seq_length: 4 }));
  writeFileSync(join(dir, "extra_settings.json"), JSON.stringify({ kept: true }));
  return dir;
}

for (const dialect of ["config.json", "config.legacy.json"]) {
  for (const quant of [false, true]) {
    test(`convert ${dialect}${quant ? " -q" : ""} → describe-image on the vision fixture`, async () => {
      const src = vlmSource(dialect);
      const dst = out("vlm");
      const c = await hearth(["convert", "--hf-path", src, "--mlx-path", dst, ...(quant ? ["-q", "--q-bits", "8", "--q-group-size", "32"] : [])]);
      assert.equal(c.code, 0, c.stderr);
      const before = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
      const after = JSON.parse(readFileSync(join(dst, "config.json"), "utf8"));
      // Every key convert does not own is kept, vision_config as it was.
      assert.deepEqual(after.vision_config, before.vision_config);
      for (const k of Object.keys(before)) if (k !== "_name_or_path") assert.ok(k in after, `config key ${k} kept`);
      if (quant) assert.deepEqual(after.quantization, { group_size: 32, bits: 8, mode: "affine" });
      for (const f of ["preprocessor_config.json", "processor_config.json", "extra_settings.json", "tokenizer.json", "generation_config.json"])
        assert.equal(readFileSync(join(dst, f), "utf8"), readFileSync(join(src, f), "utf8"), `${f} copied`);
      const a = await hearth(["describe-image", "--model", src, "--image", IMAGE, "--max-tokens", "4"]);
      const b = await hearth(["describe-image", "--model", dst, "--image", IMAGE, "--max-tokens", "4"]);
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /generation: 4 tokens|\(stop\)/);
      if (!quant) assert.equal(b.stdout, a.stdout, "the unquantized conversion describes the image as the source does");
    });
  }
}

test("convert never writes over its source: the same folder, a symlink to it, or a folder holding it; the source stays intact", async () => {
  const src = out("src");
  cpSync(tinyModelFolder(), src, { recursive: true });
  const files = () => Object.fromEntries(readdirSync(src).map((f) => [f, statSync(join(src, f)).size]));
  const want = files();
  const link = out("link");
  symlinkSync(src, link);
  for (const dest of [src, link, scratch]) {
    const r = await hearth(["convert", "--hf-path", src, "--mlx-path", dest, "--force"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /would destroy the input/);
    assert.ok(oneLine(r.stderr), r.stderr);
  }
  // Also when the source is named through the symlink.
  const r = await hearth(["convert", "--hf-path", link, "--mlx-path", src, "--force"]);
  assert.equal(r.code, 1);
  assert.deepEqual(files(), want);
  const g = await hearth(["generate", "--model", src, "-p", "hi", "-m", "2"]);
  assert.equal(g.code, 0, g.stderr);
});

test("convert -q on a quantized folder dequantizes and quantizes again, and says so", async () => {
  const q4 = out("q4"), q8 = out("q8");
  assert.equal((await hearth(["convert", "--hf-path", findFixture("gemma3-tiny-b"), "--mlx-path", q4, "-q", "--q-bits", "4", "--q-group-size", "32"])).code, 0);
  const r = await hearth(["convert", "--hf-path", q4, "--mlx-path", q8, "-q", "--q-bits", "8", "--q-group-size", "32"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /already quantized \(4-bit, group size 32\): it was dequantized and quantized again/);
  assert.match(r.stderr, /Quantized model with [\d.]+ bits per weight/);
  const cfg = JSON.parse(readFileSync(join(q8, "config.json"), "utf8"));
  assert.equal(cfg.quantization.bits, 8);
  // 8-bit packing: a uint32 holds 4 values (4-bit holds 8), so the packed rows are twice as wide as the 4-bit ones.
  const a4 = mx.load(q4) as Record<string, MxArray>, a8 = mx.load(q8) as Record<string, MxArray>;
  const quantized = Object.keys(a4).filter((k) => k.endsWith(".scales")).map((k) => k.replace(/\.scales$/, ".weight"));
  assert.ok(quantized.length > 0);
  for (const k of quantized) assert.equal(a8[k].shape[1], 2 * a4[k].shape[1], k);
  // --dequantize on that folder gives float weights again.
  const f = out("float");
  assert.equal((await hearth(["convert", "--hf-path", q8, "--mlx-path", f, "-d"])).code, 0);
  assert.equal(JSON.parse(readFileSync(join(f, "config.json"), "utf8")).quantization, undefined);
});

test("convert: output flags, dtype, help; usage errors exit 2 with one line and no usage text", async () => {
  const dst = out("cli");
  const folder = findFixture("gemma3-tiny-b");
  const ok = await hearth(["convert", "--hf-path", folder, "--mlx-path", dst, "-q", "--q-bits", "8", "--q-group-size", "32", "--dtype", "float16"]);
  assert.equal(ok.code, 0, ok.stderr);
  const cfg = JSON.parse(readFileSync(join(dst, "config.json"), "utf8"));
  assert.deepEqual(cfg.quantization, { group_size: 32, bits: 8, mode: "affine" });
  assert.equal((mx.load(dst) as Record<string, MxArray>)["model.norm.weight"].dtype, mx.float16);
  const cases: [string[], RegExp][] = [
    [["--hf-path", folder, "--mlx-path", dst], /exists and is not empty: pass --force/],
    [["--mlx-path", out("x")], /--hf-path is required/],
    [["--hf-path", folder, "-q", "--q-bits", "7"], /--q-bits must be one of 2, 3, 4, 5, 6, 8, got '7'/],
    [["--hf-path", folder, "-q", "--q-bits", "four"], /--q-bits must be one of/],
    [["--hf-path", folder, "--quant-predicate", "mixed_9_9", "-q"], /--quant-predicate must be one of mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6/],
    [["--hf-path", folder, "--dtype", "int8"], /--dtype must be one of float16, bfloat16, float32/],
    [["--hf-path", folder, "--bogus"], /Unknown option '--bogus'/],
    [["--hf-path", folder, "-q", "-d"], /either --quantize or --dequantize/],
  ];
  for (const [args, re] of cases) {
    const r = await hearth(["convert", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^hearth convert: /);
    assert.match(r.stderr, re);
    assert.ok(oneLine(r.stderr), r.stderr);
  }
  const help = await hearth(["convert", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: hearth convert/);
  assert.match(help.stdout, /--mlx-path <path>\s+Output folder\. \(default: mlx_model\)/);
});

test("fuse: never over the model or the adapter; --force for a non-empty folder", async () => {
  const model = out("m");
  cpSync(tinyModelFolder(), model, { recursive: true });
  const nonEmpty = out("full");
  mkdirSync(nonEmpty);
  writeFileSync(join(nonEmpty, "keep.txt"), "x");
  const r1 = await hearth(["fuse", "--model", model, "--adapter-path", model, "--save-path", nonEmpty]);
  assert.equal(r1.code, 2, r1.stderr);
  assert.match(r1.stderr, /not empty: pass --force/);
  assert.ok(oneLine(r1.stderr));
  assert.ok(existsSync(join(nonEmpty, "keep.txt")));
  const r2 = await hearth(["fuse", "--model", model, "--save-path", model, "--force"]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /the save folder .* is the base model .*would destroy the input/);
  assert.ok(existsSync(join(model, "model.safetensors")));
});
