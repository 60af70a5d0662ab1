// One argument parser for every command: the same help layout with defaults, the same error prefix, exit code 2
// with a one-line message (no usage text, no stack) for every usage error, negative numbers parsed as values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { hearth, oneLine } from "./helpers/run.js";

const MODEL = tinyModelFolder();
const COMMANDS = ["generate", "chat", "cache-prompt", "convert", "lora", "fuse", "embed", "describe-image", "bench"];

test("--help: every command prints the same layout (Usage line, summary, Options with defaults) and exits 0", async () => {
  for (const cmd of COMMANDS) {
    const r = await hearth([cmd, "--help"]);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: hearth ${cmd}`), cmd);
    assert.match(r.stdout, /\nOptions:\n/, cmd);
    assert.match(r.stdout, /-h, --help\s+Show this help and exit\./, cmd);
    assert.match(r.stdout, /\(default:? /, `${cmd} shows defaults`);
  }
});

test("every usage error exits 2 with one line 'hearth <command>: …'", async () => {
  const m = ["--model", MODEL];
  const cases: [string[], RegExp][] = [
    // Negative numbers after a space reach the value check (node's parseArgs called them ambiguous).
    [["generate", ...m, "-p", "x", "--temp", "-1"], /--temp must be >= 0, got '-1'/],
    [["generate", ...m, "-p", "x", "-m", "-5"], /--max-tokens must be >= 0, got '-5'/],
    [["generate", ...m, "-p", "x", "--seed", "-1"], /--seed must be >= 0, got '-1'/],
    [["generate", ...m, "-p", "x", "--top-k", "-3"], /--top-k must be >= 0, got '-3'/],
    [["generate", ...m, "-p", "x", "--temp"], /Option '--temp' needs a value/],
    [["generate", ...m, "-p", "x", "--bogus"], /Unknown option '--bogus'/],
    [["generate", ...m, "-p", "x", "extra"], /Unexpected argument 'extra'/],
    [["generate", ...m, "-p", "x", "--kv-bits", "3"], /--kv-bits must be one of 4, 8/],
    [["generate", ...m], /no prompt/],
    [["chat", ...m, "--top-p", "-0.5"], /--top-p must be >= 0/],
    [["cache-prompt", ...m, "-p", "x"], /--prompt-cache-file is required/],
    [["lora", ...m, "--train", "--data", "x", "--iters", "0"], /--iters must be >= 1, got '0'/],
    [["lora", ...m, "--train", "--data", "x", "--learning-rate", "-1"], /--learning-rate must be > 0/],
    [["lora", ...m, "--iters", "ten"], /--iters must be an integer, got 'ten'/],
    [["lora", ...m, "--fine-tune-type", "qlora"], /--fine-tune-type must be one of lora, dora, full/],
    [["lora", ...m], /at least one of --train or --test/],
    [["fuse", "--save-path"], /Option '--save-path' needs a value/],
    [["embed", "--model", "x"], /give --text \(one or more\) or --file/],
    [["embed", "--text", "x"], /--model is required/],
    [["embed", "--model", "x", "--text", "y", "--dimensions", "abc"], /--dimensions must be an integer/],
    [["convert", "--hf-path", MODEL, "-q", "--q-bits", "7"], /--q-bits must be one of/],
    [["describe-image", "--model", "x", "--image", "y", "--temp=-1"], /--temp must be >= 0, got '-1'/],
    [["describe-image", "--model", "x"], /at least one --image is required/],
    [["bench", "--threads", "0"], /--threads must be >= 1/],
    [["bench", "--models", "7b"], /--models: unknown model '7b'/],
    [["frobnicate"], /unknown command 'frobnicate'/],
  ];
  for (const [args, re] of cases) {
    const r = await hearth(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^hearth( ${args[0]})?: `), r.stderr);
    assert.match(r.stderr, re, args.join(" "));
    assert.ok(oneLine(r.stderr), `${args.join(" ")}: ${r.stderr}`);
  }
});

test("embed --task bogus is a usage error found once the model is loaded", async () => {
  const { tinyEmbedderWithTokenizer } = await import("./helpers/tiny-tokenizer.js");
  const r = await hearth(["embed", "--model", tinyEmbedderWithTokenizer(), "--text", "x", "--task", "bogus"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^hearth embed: --task: Unknown task 'bogus'/);
  assert.ok(oneLine(r.stderr), r.stderr);
});
