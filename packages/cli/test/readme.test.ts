// The README's TypeScript examples compile under `strict` against the built @hearth/engine. The examples are kept
// as a copy here (the README's "Use it from TypeScript" block verbatim, and "The engine in brief" with the `fn`
// it names defined): the test runs tsc on them, so a change of the public types that breaks them fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const EXAMPLES: Record<string, string> = {
  "library.ts": `import { mx, lm } from "@hearth/engine";
const { model, tokenizer } = await lm.load("google/gemma-3-4b-it");
const text = await lm.generate(model, tokenizer, { messages: [{ role: "user", content: "Hello" }], maxTokens: 128 });
for await (const chunk of lm.streamGenerate(model, tokenizer, { prompt: "Hello", maxTokens: 64 })) process.stdout.write(chunk.text);
// The prompt rule: a text prompt goes through the chat template unless rawPrompt is set.
const raw = await lm.generate(model, tokenizer, { prompt: "Once upon a time", rawPrompt: true, maxTokens: 32 });
console.log(text, raw, mx.getPeakMemory());
`,
  "engine.ts": `import { mx, nn, optim } from "@hearth/engine";
const x = mx.array([[1, 2], [3, 4]], mx.float32);
const z = mx.matmul(x, mx.ones([2, 2]));   // lazy: builds a graph node
mx.eval(z); z.tolist(); z.shape; z.dtype;
await mx.asyncEval(z);                     // evaluates on the engine thread; the event loop keeps running
const g = mx.grad((w: mx.MxArray) => mx.sum(mx.square(mx.matmul(x, w))))(mx.ones([2, 2]));
const fn = (a: mx.MxArray) => mx.exp(mx.negative(a));
const step = mx.compile(fn);               // trace once, replay with fused elementwise kernels
console.log(g, step, nn, optim);
`,
};

test("the README's TypeScript examples type-check under strict", { timeout: 240_000 }, async () => {
  // Inside the package so that "@hearth/engine" resolves through its node_modules.
  const here = dirname(fileURLToPath(import.meta.url));
  const root = join(here, "..", "..");
  mkdirSync(join(root, "dist"), { recursive: true });
  const dir = mkdtempSync(join(root, "dist", "readme-check-"));
  for (const [name, text] of Object.entries(EXAMPLES)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] },
    files: Object.keys(EXAMPLES),
  }));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [tsc, "-p", dir], { timeout: 230_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: stdout + stderr })));
  assert.equal(r.code, 0, r.out);
});
