// The hearth command line, run as a child process on the tiny model folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lm } from "@hearth/engine";
import { tinyModelFolder } from "./helpers/tiny-model.js";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "main.js");
const MODEL = tinyModelFolder();
const loaded = lm.load(MODEL);

interface Result { code: number; stdout: string; stderr: string }

function hearth(args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const env = { ...process.env, HEARTH_MODEL: undefined, ...opts.env } as NodeJS.ProcessEnv;
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = execFile(process.execPath, [MAIN, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) ?? 1 : 0;
      resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? "");
  });
}

const noStack = (s: string) => !/\n\s+at /.test(s);

test("hearth generate prints the generated text (chat template applied)", async () => {
  const { model, tokenizer } = await loaded;
  const want = await lm.generate(model, tokenizer!, { messages: [{ role: "user", content: "hello there" }], maxTokens: 12 });
  const r = await hearth(["generate", "--model", MODEL, "--prompt", "hello there", "--max-tokens", "12"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want + "\n");
  assert.equal(r.stderr, "");
  // --ignore-chat-template uses the raw text; sampling flags reach the sampler.
  // The one prompt rule: the library's text prompt is the CLI's --prompt (chat template), rawPrompt its --ignore-chat-template.
  assert.equal(await lm.generate(model, tokenizer, { prompt: "hello there", maxTokens: 12 }) + "\n", r.stdout);
  const raw = await lm.generate(model, tokenizer, { prompt: "hello there", rawPrompt: true, maxTokens: 8, temp: 25, seed: 5 });
  const r2 = await hearth(["generate", "--model", MODEL, "-p", "hello there", "-m", "8", "--temp", "25", "--seed", "5", "--ignore-chat-template"]);
  assert.equal(r2.stdout, raw + "\n");
});

test("hearth generate --verbose prints statistics to stderr", async () => {
  const r = await hearth(["generate", "--model", MODEL, "--prompt", "hi", "-m", "4", "--verbose"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Prompt: \d+ tokens, [\d.]+ tokens-per-sec/);
  assert.match(r.stderr, /Generation: 4 tokens, [\d.]+ tokens-per-sec/);
  assert.match(r.stderr, /Peak memory: [\d.]+ GB/);
});

test("hearth generate --prompt - reads the prompt from stdin", async () => {
  const a = await hearth(["generate", "--model", MODEL, "--prompt", "-", "-m", "6"], { input: "the cat sat" });
  const b = await hearth(["generate", "--model", MODEL, "--prompt", "the cat sat", "-m", "6"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test("--help for every command; usage errors exit 2 without a stack trace", async () => {
  for (const cmd of ["generate", "chat", "cache-prompt"]) {
    const r = await hearth([cmd, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: hearth ${cmd}`));
    assert.match(r.stdout, /--model/);
  }
  assert.match((await hearth(["generate", "-h"])).stdout, /--max-tokens/);
  const top = await hearth(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /generate[\s\S]*chat[\s\S]*cache-prompt/);
  const cases: [string[], RegExp][] = [
    [["generate", "--model", MODEL, "--prompt", "x", "--bogus"], /Unknown option '--bogus'/],
    [["generate", "--model", MODEL, "--prompt", "x", "--temp", "hot"], /--temp must be a number/],
    [["generate", "--model", MODEL, "--prompt", "x", "--max-tokens", "-3"], /--max-tokens/],
    [["generate", "--model", MODEL, "--prompt", "x", "--kv-bits", "3"], /--kv-bits must be one of 4, 8/],
    [["generate", "--model", MODEL, "--prompt", "x", "--top-p", "1.5"], /--top-p must be <= 1/],
    [["generate", "--model", MODEL, "--prompt", "x", "extra"], /Unexpected argument 'extra'/],
    [["generate", "--model", MODEL], /no prompt/],
    [["generate", "--model", MODEL, "--prompt", "x", "--chat-template-config", "{bad"], /chat-template-config/],
    [["cache-prompt", "--model", MODEL, "--prompt", "x"], /--prompt-cache-file is required/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [[], /Usage: hearth <command>/],
  ];
  for (const [args, re] of cases) {
    const r = await hearth(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(noStack(r.stderr), r.stderr);
  }
});

test("runtime errors exit 1 with one line; --verbose adds the stack trace", async () => {
  const r = await hearth(["generate", "--model", "/no/such/model", "--prompt", "x"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^hearth generate: error: .*\/no\/such\/model/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  const v = await hearth(["generate", "--model", "/no/such/model", "--prompt", "x", "--verbose"]);
  assert.equal(v.code, 1);
  assert.match(v.stderr, /\n\s+at /);
});

test("HEARTH_MODEL is the default model", async () => {
  const a = await hearth(["generate", "--prompt", "hi", "-m", "3"], { env: { HEARTH_MODEL: MODEL } });
  const b = await hearth(["generate", "--model", MODEL, "--prompt", "hi", "-m", "3"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test("hearth chat keeps the conversation over piped stdin, with /reset and /exit", async () => {
  const { model, tokenizer } = await loaded;
  const tk = tokenizer!;
  const opts = { maxTokens: 5, temp: 25, seed: 3 };
  const r = await hearth(["chat", "--model", MODEL, "-m", "5", "--temp", "25", "--seed", "3"], { input: "hello\nhow are you\n/reset\nhello\n/exit\nignored\n" });
  assert.equal(r.code, 0, r.stderr);
  // The same conversation in-process: turn 2 sees turn 1; after /reset turn 3 starts over like turn 1.
  const m1 = [{ role: "user", content: "hello" }];
  const a1 = await lm.generate(model, tk, { messages: m1, ...opts });
  const m2 = [...m1, { role: "assistant", content: a1 }, { role: "user", content: "how are you" }];
  const a2 = await lm.generate(model, tk, { messages: m2, ...opts });
  assert.equal(r.stdout, `${a1}\n${a2}\n[conversation cleared]\n${a1}\n`);
});

test("hearth cache-prompt then generate --prompt-cache-file continues the cached prompt", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-cli-pc-"));
  const file = join(dir, "ctx");
  const ctx = "Context: the sky is blue and the grass is green. ";
  const c = await hearth(["cache-prompt", "--model", MODEL, "--prompt", ctx, "--prompt-cache-file", file]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /Saved a prompt cache of \d+ tokens to .*ctx\.safetensors/);
  const [pc, meta] = lm.loadPromptCache(`${file}.safetensors`);
  assert.equal(meta.model, MODEL);
  assert.equal(meta.prompt, ctx);
  assert.ok(pc.offset > 10);
  // The model comes from the cache; only the question is prefilled.
  const g = await hearth(["generate", "--prompt-cache-file", `${file}.safetensors`, "--prompt", "What color is the sky?", "-m", "8", "--verbose"]);
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stderr, new RegExp(`Prompt: \\d+ tokens \\(${pc.offset} from the prompt cache\\)`));
  const direct = await hearth(["generate", "--model", MODEL, "--prompt", ctx + "What color is the sky?", "-m", "8"]);
  assert.equal(g.stdout, direct.stdout);
});

test("the compiled entry point is a node script", () => {
  assert.match(readFileSync(MAIN, "utf8"), /^#!\/usr\/bin\/env node\n/);
});
