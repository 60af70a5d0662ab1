// config.json is validated at load, in both dialects: a wrong value is an error naming the file, the key, what
// was expected and what was given — through the bin (generate, convert) and the library. Bad values never reach
// a converted folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import { findFixture } from "./helpers/fixtures.js";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { hearth, oneLine } from "./helpers/run.js";

const BAD: [key: string, value: unknown, expected: RegExp][] = [
  ["hidden_size", "64", /a positive integer/],
  ["vocab_size", -5, /a positive integer/],
  ["rms_norm_eps", "x", /a positive number/],
  ["num_attention_heads", null, /a positive integer/],
  ["layer_types", "sliding", /a list of "sliding_attention" \/ "full_attention"/],
  ["rope_parameters", 7, /an object/],
  ["eos_token_id", "abc", /a token id/],
  ["torch_dtype", "float128", /one of float32, float16, bfloat16/],
];

/** A copy of the tiny text model with config.json from `dialect`, one key set to a bad value. */
function broken(dialect: string, key: string, value: unknown, nested = false): string {
  const dir = mkdtempSync(join(tmpdir(), "hearth-badcfg-"));
  cpSync(tinyModelFolder(), dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(findFixture("gemma3-tiny-a"), dialect), "utf8"));
  if (nested) cfg.text_config = { ...cfg, [key]: value };
  else cfg[key] = value;
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  return dir;
}

for (const dialect of ["config.json", "config.legacy.json"]) {
  test(`hearth generate names the file, key, expected and given value of a bad ${dialect}`, async () => {
    for (const [key, value, expected] of BAD) {
      const dir = broken(dialect, key, value);
      const r = await hearth(["generate", "--model", dir, "-p", "hi", "-m", "2"]);
      assert.equal(r.code, 1, `${key}: ${r.stderr}`);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.ok(r.stderr.includes(join(dir, "config.json")), `${key}: names the file: ${r.stderr}`);
      assert.ok(r.stderr.includes(`'${key}'`), `${key}: names the key: ${r.stderr}`);
      assert.match(r.stderr, expected, key);
      assert.ok(r.stderr.includes(`got ${JSON.stringify(value)}`), `${key}: shows the value: ${r.stderr}`);
    }
  });
}

test("nested text_config keys are named with their path; the library throws a ConfigError", async () => {
  const dir = broken("config.json", "hidden_size", "64", true);
  await assert.rejects(lm.load(dir), (e: Error) => e instanceof lm.ConfigError && /'text_config\.hidden_size' must be a positive integer, got "64"/.test(e.message));
});

test("convert refuses a bad torch_dtype and writes nothing", async () => {
  const dir = broken("config.json", "torch_dtype", "float128");
  const dst = join(mkdtempSync(join(tmpdir(), "hearth-badcfg-out-")), "out");
  const r = await hearth(["convert", "--hf-path", dir, "--mlx-path", dst]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /'torch_dtype' must be one of float32, float16, bfloat16, float64, got "float128"/);
  assert.equal(existsSync(dst), false);
});
