// The loss curve of a training run (loss.csv from train.ts) as an SVG drawn by hand, converted to PNG with
// rsvg-convert (Debian's librsvg2-bin) when it is installed.
//
//   node dist/scripts/demo-model/plot-loss.js [--csv .cache/demo-model/ckpt/loss.csv] [--out ../../docs/demo-model-loss]
//                                             [--marks "8000:more arithmetic,13000:restart"]  (labelled vertical lines)
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CKPT_DIR, ROOT, parseArgs } from "./common.js";

const o = parseArgs({ csv: join(CKPT_DIR, "loss.csv"), out: join(ROOT, "../../docs/demo-model-loss"), title: "hearth-tiny: training loss", marks: "" });
const rows = readFileSync(o.csv, "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
const series = (split: string) => rows.filter((r) => r[1] === split).map((r) => [Number(r[0]), Number(r[2])] as [number, number]);
const train = series("train"), valid = series("valid");
if (!train.length) throw new Error(`${o.csv} has no training rows`);

/** Moving mean over n points (the reports are 10-step means of single batches, and batches differ a lot). */
function smooth(pts: [number, number][], n: number): [number, number][] {
  return pts.map(([x], i) => {
    const w = pts.slice(Math.max(0, i - n + 1), i + 1);
    return [x, w.reduce((a, [, y]) => a + y, 0) / w.length];
  });
}

const W = 800, H = 480, L = 70, R = 20, T = 40, B = 55;
const xMax = Math.max(...rows.map((r) => Number(r[0])));
// Log scale: the loss falls from ln(262144) ≈ 12.5 to well under 0.1.
const all = [...train, ...valid].map(([, y]) => y).filter((y) => y > 0);
const yLo = Math.pow(10, Math.floor(Math.log10(Math.min(...all)))), yHi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
const px = (x: number) => L + ((W - L - R) * x) / xMax;
const py = (y: number) => T + ((H - T - B) * (Math.log10(yHi) - Math.log10(Math.max(y, yLo)))) / (Math.log10(yHi) - Math.log10(yLo));
const path = (pts: [number, number][]) => pts.map(([x, y], i) => `${i ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");

const parts: string[] = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="13">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${o.title}</text>`,
];
for (let e = Math.log10(yLo); e <= Math.log10(yHi); e++) {
  const y = py(Math.pow(10, e));
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
    `<text x="${L - 8}" y="${y + 4}" text-anchor="end">${Number(Math.pow(10, e).toPrecision(1))}</text>`);
}
const step = Math.pow(10, Math.floor(Math.log10(xMax))) / (xMax / Math.pow(10, Math.floor(Math.log10(xMax))) < 3 ? 2 : 1);
for (let x = 0; x <= xMax; x += step) {
  parts.push(`<line x1="${px(x)}" x2="${px(x)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`,
    `<text x="${px(x)}" y="${H - B + 18}" text-anchor="middle">${x}</text>`);
}
parts.push(
  `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#444"/>`,
  `<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle">step</text>`,
  `<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">cross-entropy (full 262,144-id vocabulary), log scale</text>`,
  `<path d="${path(train)}" fill="none" stroke="#aec7e8" stroke-width="1"/>`,
  `<path d="${path(smooth(train, 25))}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
);
// Phase boundaries (a resumed run on another corpus, a restarted schedule): dashed lines with their labels.
o.marks.split(",").filter(Boolean).forEach((m, i) => {
  const [at, label = ""] = m.split(":");
  const x = px(Number(at));
  parts.push(`<line x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="#2ca02c" stroke-dasharray="5,4"/>`,
    `<text x="${x + 4}" y="${H - B - 10 - 16 * i}" fill="#2ca02c">${label}</text>`);
});
if (valid.length) parts.push(`<path d="${path(valid)}" fill="none" stroke="#d62728" stroke-width="2"/>`,
  ...valid.map(([x, y]) => `<circle cx="${px(x)}" cy="${py(y)}" r="3" fill="#d62728"/>`));
parts.push(`<line x1="${W - R - 230}" x2="${W - R - 200}" y1="${T + 20}" y2="${T + 20}" stroke="#1f77b4" stroke-width="2"/>`,
  `<text x="${W - R - 192}" y="${T + 24}">train (mean of 250 steps)</text>`,
  `<line x1="${W - R - 230}" x2="${W - R - 200}" y1="${T + 40}" y2="${T + 40}" stroke="#d62728" stroke-width="2"/>`,
  `<text x="${W - R - 192}" y="${T + 44}">validation</text>`, "</svg>");
writeFileSync(`${o.out}.svg`, parts.join("\n") + "\n");
try {
  execFileSync("rsvg-convert", ["-o", `${o.out}.png`, `${o.out}.svg`]);
  console.log(`wrote ${o.out}.svg and ${o.out}.png`);
} catch {
  console.log(`wrote ${o.out}.svg (install librsvg2-bin for rsvg-convert to make the PNG)`);
}
