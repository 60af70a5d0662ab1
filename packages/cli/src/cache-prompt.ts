// hearth cache-prompt: prefill a prompt (a long system prompt, a document) once and save the KV cache, so
// 'hearth generate --prompt-cache-file' only runs what comes after it (mlx_lm.cache_prompt).
import { performance } from "node:perf_hooks";
import { mx, lm } from "@hearth/engine";
import {
  chatTemplateConfig, flag, HELP, helpText, MODEL_OPTIONS, modelPath, num, parse, promptText, str, UsageError,
  VERBOSE, type CommandSpec,
} from "./args.js";
import { renderPrompt, useChatTemplate } from "./generate.js";
import { abortOnSignals } from "./signals.js";

export const spec: CommandSpec = {
  name: "cache-prompt",
  summary: "Run a prompt through the model once and save its KV cache for 'hearth generate --prompt-cache-file'.",
  usage: "hearth cache-prompt --model <path|hub-id> --prompt <text|-> --prompt-cache-file <file> [options]",
  options: {
    ...MODEL_OPTIONS,
    prompt: { type: "string", short: "p", arg: "text|-", desc: "The text to cache; '-' reads it from stdin." },
    "system-prompt": { type: "string", arg: "text", desc: "A system prompt (with the chat template)." },
    "prompt-cache-file": { type: "string", arg: "file", desc: "Where to write the cache (safetensors)." },
    "max-kv-size": { type: "string", arg: "n", desc: "Keep at most n tokens in the KV cache (rotating)." },
    "kv-bits": { type: "string", arg: "4|8", desc: "Quantize the KV cache to this many bits." },
    "kv-group-size": { type: "string", arg: "n", desc: "Group size of the KV cache quantization (default 64)." },
    "prefill-step-size": { type: "string", arg: "n", desc: "Prompt tokens per prefill step (default 2048)." },
    "chat-template-config": { type: "string", arg: "json", desc: "Extra chat template variables, a JSON object or file." },
    "ignore-chat-template": { type: "boolean", desc: "Cache the prompt as raw text, without the chat template." },
    verbose: VERBOSE,
    help: HELP,
  },
};

export async function run(argv: string[]): Promise<number> {
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const file = str(v, "prompt-cache-file");
  if (!file) throw new UsageError("--prompt-cache-file is required (where to write the cache)");
  const maxKvSize = num(v, "max-kv-size", { int: true, above: 4 });
  const kvBits = num(v, "kv-bits", { int: true, choices: [4, 8] });
  const kvGroupSize = num(v, "kv-group-size", { int: true, min: 1 });
  const prefillStepSize = num(v, "prefill-step-size", { int: true, min: 1 });
  const templateVars = chatTemplateConfig(v);
  const path = modelPath(v);
  const text = await promptText(v);
  if (text === undefined) throw new UsageError("no prompt: pass --prompt <text>, or --prompt - to read it from stdin");
  const system = str(v, "system-prompt");

  const adapterPath = str(v, "adapter-path");
  const target = file.endsWith(".safetensors") ? file : `${file}.safetensors`;
  lm.assertNotOverwritingInput("cache-prompt", "the prompt cache file", target,
    [["the model folder", lm.resolveModelPath(path)], ["the adapter folder", adapterPath]]);
  const { model, tokenizer } = await lm.load(path, adapterPath ? { adapterPath } : {});
  if (!tokenizer) throw new Error(`${path} has no tokenizer (tokenizer.json): 'hearth cache-prompt' needs one`);
  const useChat = useChatTemplate(tokenizer, v);
  const ids = lm.promptTokens(tokenizer, { prompt: renderPrompt(tokenizer, { user: text, system, useChat, templateVars }, "prefix"), rawPrompt: true });

  const cache = lm.makePromptCache(model, {
    ...(maxKvSize !== undefined ? { maxKvSize } : {}),
    ...(kvBits !== undefined ? { kvBits, kvGroupSize: kvGroupSize ?? 64 } : {}),
  });
  const verbose = flag(v, "verbose");
  const t0 = performance.now();
  const stopper = abortOnSignals();
  const { signal, done } = stopper;
  const info: lm.StepInfo = { promptTokens: 0, cachedTokens: 0, promptTime: 0, aborted: false };
  try {
    const steps = lm.generateStep(model, ids, {
      maxTokens: 0, promptCache: cache, signal, ...(prefillStepSize ? { prefillStepSize } : {}),
      onPromptProgress: verbose ? (n, total) => process.stderr.write(`\rProcessed ${n}/${total} tokens`) : undefined,
    }, info);
    for await (const _ of steps) { /* maxTokens 0: prefill only */ }
  } finally {
    done();
  }
  if (info.aborted) {
    process.stderr.write("\nAborted; nothing saved.\n");
    return stopper.exitCode() ?? 130;
  }
  const secs = (performance.now() - t0) / 1000;
  const written = lm.savePromptCache(file, cache, {
    model: path,
    prompt: text,
    ...(system !== undefined ? { system_prompt: system } : {}),
    chat_template: useChat ? "1" : "0",
  });
  if (verbose) process.stderr.write("\n");
  process.stderr.write(
    `Saved a prompt cache of ${cache.offset} tokens to ${written}` +
      (verbose ? ` (${(ids.length / secs).toFixed(3)} tokens-per-sec, peak memory ${(mx.getPeakMemory() / 1e9).toFixed(3)} GB)` : "") + "\n",
  );
  return 0;
}
