// Evaluates the demo model folder: lm.load, greedy decoding of every held-out test prompt over the FULL 262,144-id
// vocabulary (KV caches), exact-match accuracy per task family as a markdown table, and the check that an id
// outside the trained vocabulary (an all-zero embedding row, logit exactly 0) never wins a greedy step.
//
//   node dist/scripts/demo-model/evaluate.js [--model models/hearth-tiny] [--data .cache/demo-model/data/test.jsonl]
import { readFileSync, writeFileSync } from "node:fs";
import { lm, mx } from "../../src/index.js";
import type { MxArray } from "../../src/index.js";
import { DATA_DIR, MODEL_DIR, fmtDuration, parseArgs } from "./common.js";

// --full-head: every step runs the model's own (quantized) head over all 262,144 rows and takes the argmax of
// that. Default: the head over the trained rows only, plus the fact, checked once on the loaded table, that every
// other row dequantizes to exactly 0 — so every other logit is exactly 0 and the full argmax is the trained rows'
// argmax when it is > 0 (an untrained id wins otherwise). Same decisions, without the 3-bit head's 0.25 s/token.
const DEFAULTS = { model: MODEL_DIR, data: `${DATA_DIR}/test.jsonl`, maxNew: 24, threads: 1, limit: 0, md: "", failures: 3, fullHead: false };

interface Rec { messages: { role: string; content: string }[]; family: string; task: string }

/** The dense embedding table (dequantized when the embedding is quantized). */
function embeddingTable(model: any): MxArray {
  const e = model.model.embed_tokens;
  return typeof e.dequantizedWeight === "function" ? e.dequantizedWeight() : e.weight;
}

async function main() {
  const o = parseArgs(DEFAULTS);
  mx.setNumThreads(o.threads);
  const t0 = performance.now();
  const { model, tokenizer } = await lm.load(o.model);
  if (!tokenizer) throw new Error(`${o.model} has no tokenizer`);
  const m = model as any;
  // Trained ids = non-zero embedding rows; the rest must give logits of exactly 0.
  const rowMag = mx.sum(mx.abs(mx.astype(embeddingTable(m), mx.float32)), -1);
  const mags = rowMag.toTypedArray() as Float32Array;
  const used: number[] = [];
  mags.forEach((v, i) => { if (v !== 0) used.push(i); });
  const usedIdx = mx.array(Int32Array.from(used), mx.int32);
  const unusedMask = mx.equal(rowMag, 0);
  // The head restricted to the trained rows, computed exactly as the model's head computes those rows (the same
  // quantized kernel on the same packed rows, logits in the model's dtype), so decisions match --full-head.
  const e = m.model.embed_tokens;
  const rows = (a: MxArray) => mx.take(a, usedIdx, 0);
  const usedTable = e.scales ? [rows(e.weight), rows(e.scales), rows(e.biases)] : [rows(e.weight)];
  mx.eval(...usedTable, unusedMask);
  const usedHead = (x: MxArray) => e.scales
    ? mx.quantizedMatmul(x, usedTable[0], usedTable[1], usedTable[2], { transpose: true, groupSize: e.groupSize, bits: e.bits })
    : mx.matmul(x, mx.transpose(usedTable[0]));
  const eos = new Set(tokenizer.eosTokenIds);

  let records: Rec[] = readFileSync(o.data, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (o.limit > 0) {
    const per: Record<string, number> = {};
    records = records.filter((r) => (per[r.task] = (per[r.task] ?? 0) + 1) <= o.limit);
  }
  const stats = new Map<string, { family: string; n: number; ok: number; fails: string[] }>();
  let steps = 0, unusedWins = 0, maxAbsUnused = 0, minMargin = Infinity;
  for (const rec of records) {
    const prompt = tokenizer.applyChatTemplate(rec.messages.slice(0, -1) as any, { addGenerationPrompt: true, timeoutMs: 0 });
    const expected = rec.messages[rec.messages.length - 1].content;
    const cache = m.makeCache();
    let input = mx.array(Int32Array.from(prompt), mx.int32, [1, prompt.length]);
    const out: number[] = [];
    for (let k = 0; k < o.maxNew; k++) {
      // The cache's new keys/values are created in the scope too: returned (kept), not disposed.
      const [r, kept] = mx.tidy(() => {
        const h = m.model.forward(input, { cache });
        const last = mx.slice(h, [0, h.shape[1] - 1, 0], [1, h.shape[1], h.shape[2]]);
        if (o.fullHead) {
          const logits = mx.reshape(m.model.embed_tokens.asLinear(last), [-1]);
          const next = mx.argmax(logits);
          const usedMax = mx.max(mx.take(logits, usedIdx));
          const unusedAbs = mx.max(mx.abs(mx.where(unusedMask, logits, 0)));
          return [[next, usedMax, unusedAbs], cache.flatMap((c: any) => [c.keys, c.values])];
        }
        const logits = mx.reshape(usedHead(last), [-1]);
        const best = mx.argmax(logits), usedMax = mx.max(logits);
        // An untrained winner (usedMax ≤ 0) is reported as id -1 (counted below, and it ends nothing).
        const next = mx.where(mx.greater(usedMax, 0), mx.take(usedIdx, best), -1);
        const unusedAbs = mx.array(0);
        return [[next, usedMax, unusedAbs], cache.flatMap((c: any) => [c.keys, c.values])];
      }) as [MxArray[], MxArray[]];
      await mx.asyncEval(...r, ...kept);
      const [next, usedMax, unusedAbs] = r.map((a) => a.item() as number);
      r.forEach((a) => a.dispose());
      input.dispose();
      steps++;
      // An unused id wins when no trained id beats the unused ids' common logit (0).
      if (usedMax <= 0 || next < 0 || mags[next] === 0) unusedWins++;
      maxAbsUnused = Math.max(maxAbsUnused, unusedAbs);
      minMargin = Math.min(minMargin, usedMax);
      if (eos.has(next) || next < 0) break;
      out.push(next);
      input = mx.array(Int32Array.from([next]), mx.int32, [1, 1]);
    }
    // Exact match; only trailing whitespace is ignored (a code answer starts with its indentation).
    const got = tokenizer.decode(out, { skipSpecialTokens: true }).trimEnd();
    const s = stats.get(rec.task) ?? { family: rec.family, n: 0, ok: 0, fails: [] };
    s.n++;
    if (got === expected) s.ok++;
    else if (s.fails.length < o.failures) s.fails.push(`${JSON.stringify(rec.messages[0].content)} → ${JSON.stringify(got)} (expected ${JSON.stringify(expected)})`);
    stats.set(rec.task, s);
  }
  const seconds = (performance.now() - t0) / 1000;

  // Markdown: one row per family (with its tasks), then per task.
  const fams = new Map<string, { n: number; ok: number; tasks: string[] }>();
  for (const [task, s] of stats) {
    const f = fams.get(s.family) ?? { n: 0, ok: 0, tasks: [] };
    f.n += s.n; f.ok += s.ok; f.tasks.push(task);
    fams.set(s.family, f);
  }
  const pct = (ok: number, n: number) => `${((100 * ok) / n).toFixed(1)}%`;
  const lines = [
    "| family | tasks | items | correct | accuracy |", "| --- | --- | ---: | ---: | ---: |",
    ...[...fams].map(([f, s]) => `| ${f} | ${s.tasks.join(", ")} | ${s.n} | ${s.ok} | ${pct(s.ok, s.n)} |`),
    `| **all** | | ${records.length} | ${[...fams.values()].reduce((a, s) => a + s.ok, 0)} | ${pct([...fams.values()].reduce((a, s) => a + s.ok, 0), records.length)} |`,
    "", "| task | items | accuracy |", "| --- | ---: | ---: |",
    ...[...stats].map(([t, s]) => `| ${t} | ${s.n} | ${pct(s.ok, s.n)} |`),
    "",
    `Greedy steps: ${steps} (${o.fullHead ? "full 262,144-row head" : "trained rows' logits; the other rows are exactly zero"}); steps where an untrained id (zero row, logit ${maxAbsUnused === 0 ? "exactly 0" : `up to |${maxAbsUnused}|`}) ` +
      `would win: ${unusedWins} (${pct(unusedWins, steps)}); smallest winning trained logit: ${minMargin.toFixed(2)}. ` +
      `Trained ids: ${used.length} of ${mags.length}.`,
  ];
  const table = lines.join("\n");
  console.log(table);
  console.log(`\nevaluated ${records.length} items in ${fmtDuration(seconds)}`);
  for (const [t, s] of stats) if (s.fails.length) console.log(`  ${t} failures: ${s.fails.join("; ")}`);
  if (o.md) writeFileSync(o.md, table + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
