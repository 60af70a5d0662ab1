#!/usr/bin/env node
// Start-up figures for issue 17 item 11 (a measurement, not a test): `hearth generate` end to end on hearth-tiny
// and lm.loadTokenizer, with the tokenizer cache off (HEARTH_TOKENIZER_CACHE=0, the plain path) and on, runs
// alternating, median of N. "cold" = the cache is empty (this run builds and writes it); "warm" = it is there.
// Usage: node packages/cli/scripts/measure-startup.mjs [runs=5]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runs = Number(process.argv[2] ?? 5);
const main = fileURLToPath(new URL("../dist/src/main.js", import.meta.url));
const cacheDir = mkdtempSync(join(tmpdir(), "hearth-startup-"));
const loadScript = `import { lm } from "@hearth/engine"; const t = performance.now(); await lm.loadTokenizer(lm.bundledModelPath()); console.log(performance.now() - t);`;
const cwd = fileURLToPath(new URL("..", import.meta.url));

function run(args, env, measureInside) {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, HEARTH_CACHE_DIR: cacheDir, ...env }, encoding: "utf8" });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  return measureInside ? Number(r.stdout.trim()) : wall;
}
const generate = (env) => run([main, "generate", "-p", "What is 12 + 30?"], env, false);
const loadTok = (env) => run(["--input-type=module", "-e", loadScript], env, true);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(", ")})`;

const off = { HEARTH_TOKENIZER_CACHE: "0" }, on = {};
const res = { genOff: [], genWarm: [], tokOff: [], tokCold: [], tokWarm: [], genCold: [] };
const load = [loadavg()[0]];
for (let i = 0; i < runs; i++) {
  res.tokOff.push(loadTok(off));
  rmSync(cacheDir, { recursive: true, force: true });
  res.tokCold.push(loadTok(on));
  res.tokWarm.push(loadTok(on));
  res.genOff.push(generate(off));
  res.genWarm.push(generate(on));
  load.push(loadavg()[0]);
}
rmSync(cacheDir, { recursive: true, force: true });
res.genCold.push(generate(on));
rmSync(cacheDir, { recursive: true, force: true });
console.log(`node ${process.version}, ${runs} runs alternating, 1-min load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`);
console.log(`lm.loadTokenizer(hearth-tiny), cache off (plain): ${fmt(res.tokOff)}`);
console.log(`lm.loadTokenizer(hearth-tiny), cache cold (builds it): ${fmt(res.tokCold)}`);
console.log(`lm.loadTokenizer(hearth-tiny), cache warm: ${fmt(res.tokWarm)}`);
console.log(`hearth generate -p "What is 12 + 30?" end to end, cache off: ${fmt(res.genOff)}`);
console.log(`hearth generate -p "What is 12 + 30?" end to end, cache warm: ${fmt(res.genWarm)}`);
console.log(`hearth generate end to end, cache cold (one run): ${res.genCold[0].toFixed(0)} ms`);
