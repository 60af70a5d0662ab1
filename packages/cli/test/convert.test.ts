// hearth convert: flags, exit codes and help.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, type MxArray } from "@hearth/engine";
import { runConvert } from "../src/convert.js";
import { findFixture } from "./helpers/fixtures.js";

const scratch = mkdtempSync(join(tmpdir(), "hearth-convert-cli-"));
let n = 0;
const out = (tag: string) => join(scratch, `${tag}-${n++}`);

test("hearth convert CLI: flags, exit codes, help", async () => {
  const dst = out("cli");
  const folder = findFixture("gemma3-tiny-b");
  assert.equal(await runConvert(["--hf-path", folder, "--mlx-path", dst, "-q", "--q-bits", "8", "--q-group-size", "32", "--dtype", "float16"]), 0);
  const cfg = JSON.parse(readFileSync(join(dst, "config.json"), "utf8"));
  assert.deepEqual(cfg.quantization, { group_size: 32, bits: 8, mode: "affine" });
  assert.equal((mx.load(dst) as Record<string, MxArray>)["model.norm.weight"].dtype, mx.float16);
  const writes: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  (process.stderr as { write: unknown }).write = (s: string) => (writes.push(String(s)), true);
  try {
    assert.equal(await runConvert(["--hf-path", folder, "--mlx-path", dst]), 1);  // exists
    assert.equal(await runConvert(["--mlx-path", dst]), 2);
    assert.equal(await runConvert(["--hf-path", folder, "--q-bits", "four"]), 2);
    assert.equal(await runConvert(["--hf-path", folder, "--quant-predicate", "mixed_9_9", "-q"]), 2);
    assert.equal(await runConvert(["--hf-path", folder, "--dtype", "int8"]), 2);
    assert.equal(await runConvert(["--hf-path", folder, "--bogus"]), 2);
  } finally {
    (process.stderr as { write: unknown }).write = orig;
  }
  const text = writes.join("");
  assert.match(text, /--hf-path is required/);
  assert.match(text, /--q-bits must be an integer/);
  assert.match(text, /--quant-predicate must be one of mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6/);
  assert.match(text, /not empty/);
  assert.equal(await runConvert(["--help"]), 0);
});
