// Typing replay benchmark (not a test): types a real source file that no one here wrote (@huggingface/jinja's
// src/parser.ts, MIT, from node_modules) into hearth-lsp at 10 characters a second, as an editor would: a
// didChange and an inlineCompletion request per keystroke, the previous request cancelled. Reports keystroke →
// suggestion p50/p95 (single- and multi-line), model calls saved by the cache, and prompt tokens prefilled per
// model call, with the serving prefix cache on and off (HEARTH_LSP_PREFIX_CACHE=0).
//
//   node dist/bench/typing.js --model <folder> [--chars 600] [--cps 10] [--max-tokens 8] [--debounce 50] [--pause-every N]
import { readFileSync, realpathSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CancellationTokenSource } from "vscode-languageserver-protocol/node";
import { isMultiLine } from "../src/server/suggestion.js";
import { itemsOf, LspClient, textOf } from "../test/lsp-client.js";

interface Run {
  label: string;
  single: number[];
  multi: number[];
  requests: number;
  suggestions: number;
  modelCalls: number;
  cacheHits: number;
  promptTokens: number;
  cachedTokens: number;
  promptCalls: number;
  budgetHits: number;
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function sourceFile(): { path: string; text: string; license: string } {
  // @huggingface/jinja ships its TypeScript sources; the engine depends on it.
  const engine = realpathSync(fileURLToPath(new URL("../../node_modules/@hearth/engine", import.meta.url)));
  const pkg = realpathSync(join(engine, "node_modules", "@huggingface", "jinja"));
  const path = join(pkg, "src", "parser.ts");
  return { path, text: readFileSync(path, "utf8"), license: `MIT, ${join(pkg, "LICENSE")}` };
}

async function replay(label: string, model: string, text: string, o: { cps: number; maxTokens: number; debounce: number; pauseEvery: number }, env: NodeJS.ProcessEnv): Promise<Run> {
  const c = new LspClient(["--stdio"], env);
  const ws = dirname(new URL(import.meta.url).pathname);
  await c.initialize(ws, { model, maxTokens: o.maxTokens, debounceMs: o.debounce, maxTimeMs: 2000 });
  await c.ready(600_000);
  const uri = pathToFileURL(join(ws, "replay.ts")).href;
  await c.open(uri, "typescript", "");
  const run: Run = { label, single: [], multi: [], requests: 0, suggestions: 0, modelCalls: 0, cacheHits: 0, promptTokens: 0, cachedTokens: 0, promptCalls: 0, budgetHits: 0 };
  let pending: CancellationTokenSource | undefined;
  const inflight: Promise<void>[] = [];
  let typed = "";
  const interval = 1000 / o.cps;
  const t0 = performance.now();
  let shift = 0;
  for (let i = 0; i < text.length; i++) {
    // Keep the schedule: keystroke i is due at t0 + i * interval (plus the pauses so far).
    if (o.pauseEvery > 0 && i > 0 && i % o.pauseEvery === 0) {
      // A typist's pause: the last request can finish (and show its suggestion) before the next keystroke.
      await Promise.all(inflight);
      shift = performance.now() - (t0 + i * interval);
    }
    const wait = t0 + shift + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending?.cancel();
    typed += text[i];
    await c.type(uri, text[i]!);
    const cts = new CancellationTokenSource();
    pending = cts;
    const multi = isMultiLine({ prefix: typed, suffix: "" });
    const start = performance.now();
    run.requests++;
    inflight.push(c.inline(uri, c.endPosition(uri), cts).then((r) => {
      const items = itemsOf(r);
      if (items.length && textOf(items[0]!).length) {
        run.suggestions++;
        (multi ? run.multi : run.single).push(performance.now() - start);
      }
    }, () => undefined));
  }
  await Promise.all(inflight);
  const s = await c.status();
  Object.assign(run, { modelCalls: s.modelCalls, cacheHits: s.cacheHits, promptTokens: s.promptTokens, cachedTokens: s.cachedTokens, promptCalls: s.promptCalls, budgetHits: s.budgetHits });
  await c.close();
  return run;
}

const args = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1]! : d;
};
const models = args.flatMap((a, i) => (a === "--model" ? [args[i + 1]!] : []));
if (!models.length) {
  console.error("usage: node dist/bench/typing.js --model <folder> [--model <folder2>] [--chars 600] [--cps 10] [--max-tokens 8] [--debounce 50]");
  process.exit(2);
}
const src = sourceFile();
const chars = Number(opt("--chars", "600"));
const text = src.text.slice(0, chars);
const o = { cps: Number(opt("--cps", "10")), maxTokens: Number(opt("--max-tokens", "8")), debounce: Number(opt("--debounce", "50")), pauseEvery: Number(opt("--pause-every", "0")) };
console.log(`replaying ${text.length} chars of ${src.path} (${src.license}) at ${o.cps} chars/s; maxTokens ${o.maxTokens}, debounce ${o.debounce} ms${o.pauseEvery ? `, a pause (until the suggestion) every ${o.pauseEvery} chars` : ""}`);
const rows: string[] = ["| model | prefix reuse | requests | suggestions | single-line p50 / p95 ms | multi-line p50 / p95 ms | model calls (decoded) | cache hits | budget hits | prefilled tokens / call | reused tokens / call |", "|---|---|---|---|---|---|---|---|---|---|---|"];
for (const m of models) {
  for (const reuse of [true, false]) {
    const env = { ...process.env, HEARTH_LSP_PREFIX_CACHE: reuse ? "1" : "0" };
    const load0 = loadavg()[0]!;
    const r = await replay(`${m}`, m, text, o, env);
    console.log(`load average (1 min) ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
    const f = (x: number) => (Number.isNaN(x) ? "–" : x.toFixed(0));
    const row = `| ${m.split("/").slice(-2).join("/")} | ${reuse ? "on" : "off"} | ${r.requests} | ${r.suggestions} | ${f(pct(r.single, 50))} / ${f(pct(r.single, 95))} (n=${r.single.length}) | ${f(pct(r.multi, 50))} / ${f(pct(r.multi, 95))} (n=${r.multi.length}) | ${r.modelCalls} (${r.promptCalls}) | ${r.cacheHits} | ${r.budgetHits} | ${(r.promptTokens / Math.max(1, r.promptCalls)).toFixed(1)} | ${(r.cachedTokens / Math.max(1, r.promptCalls)).toFixed(1)} |`;
    console.log(row);
    rows.push(row);
  }
}
console.log("\n" + rows.join("\n"));
