// hearth generate: one completion for a prompt (mlx_lm.generate's flags), streamed to stdout.
import { lm } from "@hearth/engine";

type Json = lm.Json;
type Tokenizer = lm.Tokenizer;
import {
  cacheTrimmer, chatTemplateConfig, flag, formatStats, HELP, helpText, MODEL_OPTIONS, modelPath, parse, promptText,
  SAMPLING_OPTIONS, samplingOptions, str, UsageError, VERBOSE, type CommandSpec, type Values,
} from "./args.js";
import { abortOnSignals } from "./signals.js";

export const spec: CommandSpec = {
  name: "generate",
  summary: "Generate text from a prompt, streamed to stdout.",
  usage: "hearth generate --model <path|hub-id> --prompt <text|-> [options]",
  options: {
    ...MODEL_OPTIONS,
    prompt: { type: "string", short: "p", arg: "text|-", desc: "The prompt; '-' reads it from stdin." },
    "system-prompt": { type: "string", arg: "text", desc: "A system prompt (with the chat template)." },
    ...SAMPLING_OPTIONS,
    stop: { type: "string", arg: "text", multiple: true, desc: "Stop before this string (repeatable)." },
    "extra-eos-token": { type: "string", arg: "token", multiple: true, desc: "Another token that ends generation (repeatable)." },
    "prompt-cache-file": { type: "string", arg: "file", desc: "A prompt cache from 'hearth cache-prompt': its prompt is the start of this one." },
    "chat-template-config": { type: "string", arg: "json", desc: "Extra chat template variables, a JSON object or file." },
    "ignore-chat-template": { type: "boolean", desc: "Use the prompt as raw text, without the chat template." },
    verbose: VERBOSE,
    help: HELP,
  },
  notes: ["The model can also come from $HEARTH_MODEL or from the prompt cache file."],
};

export interface PromptParts {
  user: string;
  system?: string;
  useChat: boolean;
  templateVars: Json;
}

/**
 * The prompt as text: the chat template over [system, user] opening the model's turn ("generate"), or leaving
 * the user's turn open for more text ("prefix", what a prompt cache holds); raw text without a template.
 */
export function renderPrompt(tokenizer: Tokenizer, p: PromptParts, mode: "generate" | "prefix"): string {
  if (!p.useChat) return p.system ? `${p.system}\n\n${p.user}` : p.user;
  const messages = [...(p.system ? [{ role: "system", content: p.system }] : []), { role: "user", content: p.user }];
  return tokenizer.applyChatTemplate(messages, {
    ...p.templateVars,
    tokenize: false,
    ...(mode === "generate" ? { addGenerationPrompt: true } : { continueFinalMessage: true }),
  });
}

export const useChatTemplate = (tokenizer: Tokenizer, v: Values) => tokenizer.hasChatTemplate && !flag(v, "ignore-chat-template");


/** A prompt cache made by another model would fail deep in attention: name the model that made it instead. */
export function checkCacheFits(cache: lm.PromptCache, model: lm.LanguageModel, config: Json, file: string, madeBy: string | undefined, path: string): void {
  const c = config.text_config ?? config;
  const layers = model.makeCache().length;
  const k = cache.arrays[0];
  const heads = c.num_key_value_heads ?? c.num_attention_heads, headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const shapeOk = !k || k.ndim !== 4 || (k.shape[1] === heads && (k.shape[3] === headDim || k.dtype.kind !== "float"));
  if (cache.layers.length !== layers || !shapeOk)
    throw new Error(`the prompt cache ${file} was made by ${madeBy ?? "another model"} (${cache.layers.length} layers` +
      `${k && k.ndim === 4 ? `, ${k.shape[1]} KV heads` : ""}), which does not fit ${path} (${layers} layers, ${heads} KV heads): ` +
      "make the cache again with 'hearth cache-prompt --model' this model");
}

export async function run(argv: string[]): Promise<number> {
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const sampling = samplingOptions(v);
  const templateVars = chatTemplateConfig(v);
  const cacheFile = str(v, "prompt-cache-file");
  let cache: lm.PromptCache | undefined;
  let meta: Record<string, string> = {};
  if (cacheFile) [cache, meta] = lm.loadPromptCache(cacheFile);
  const path = modelPath(v, meta.model);
  const text = await promptText(v);
  if (text === undefined) throw new UsageError("no prompt: pass --prompt <text>, or --prompt - to read it from stdin");
  const system = str(v, "system-prompt");
  if (cache && system !== undefined && meta.system_prompt !== undefined && system !== meta.system_prompt)
    throw new UsageError("--system-prompt differs from the one the prompt cache was made with");

  const adapterPath = str(v, "adapter-path");
  const { model, tokenizer, config } = await lm.load(path, adapterPath ? { adapterPath } : {});
  if (cache) checkCacheFits(cache, model, config, cacheFile!, meta.model, path);
  if (!tokenizer) throw new Error(`${path} has no tokenizer (tokenizer.json): 'hearth generate' needs one`);
  for (const t of (v["extra-eos-token"] as string[] | undefined) ?? [])
    tokenizer.addEosToken(/^\d+$/.test(t) ? Number(t) : t);

  const useChat = useChatTemplate(tokenizer, v);
  let ids: number[];
  if (cache && meta.prompt !== undefined) {
    // The cache holds the start of the user's message (mlx-lm's cache_prompt): continue it with this prompt.
    const parts = { system: meta.system_prompt ?? system, useChat: meta.chat_template === "1", templateVars };
    const prefix = renderPrompt(tokenizer, { ...parts, user: meta.prompt }, "prefix");
    const full = renderPrompt(tokenizer, { ...parts, user: meta.prompt + text }, "generate");
    ids = full.startsWith(prefix) && cache.tokens
      ? [...cache.tokens, ...tokenizer.encode(full.slice(prefix.length), { addSpecialTokens: false })]
      : lm.promptTokens(tokenizer, { prompt: full, rawPrompt: true });
  } else {
    ids = lm.promptTokens(tokenizer, { prompt: renderPrompt(tokenizer, { user: text, system, useChat, templateVars }, "generate"), rawPrompt: true });
  }

  const verbose = flag(v, "verbose");
  if (verbose) process.stderr.write(`==========\n`);
  const stop = v.stop as string[] | undefined;
  const trim = cacheTrimmer();
  const stopper = abortOnSignals();
  const { signal, done } = stopper;
  let last: lm.GenerationResponse | undefined;
  try {
    for await (const r of lm.streamGenerate(model, tokenizer, { prompt: ids, ...sampling, promptCache: cache, signal, ...(stop ? { stop } : {}) })) {
      process.stdout.write(r.text);
      last = r;
      trim();
    }
  } finally {
    done();
  }
  process.stdout.write("\n");
  if (verbose && last) process.stderr.write(`==========\n${formatStats(last)}\n`);
  return last?.finishReason === "abort" ? stopper.exitCode() ?? 130 : 0;
}
