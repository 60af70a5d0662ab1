// hearth chat: a conversation over stdin (a terminal or a pipe). The history is rendered with the chat template
// each turn and one prompt cache is kept across turns, so only the new message is prefilled.
import { createInterface } from "node:readline";
import { lm } from "@hearth/engine";

type ChatMessage = lm.ChatMessage;
import {
  cacheTrimmer, chatTemplateConfig, flag, formatStats, HELP, helpText, MODEL_OPTIONS, modelPath, parse, SAMPLING_OPTIONS,
  samplingOptions, str, VERBOSE, type CommandSpec,
} from "./args.js";

export const spec: CommandSpec = {
  name: "chat",
  summary: "Chat with a model: type a message, get the reply; the conversation is kept until /reset.",
  usage: "hearth chat --model <path|hub-id> [options]",
  options: {
    ...MODEL_OPTIONS,
    "system-prompt": { type: "string", arg: "text", desc: "A system prompt for the conversation." },
    ...SAMPLING_OPTIONS,
    "chat-template-config": { type: "string", arg: "json", desc: "Extra chat template variables, a JSON object or file." },
    verbose: VERBOSE,
    help: HELP,
  },
  notes: [
    "Commands: /reset clears the conversation, /exit (or end of input) quits. Ctrl-C stops a reply.",
    "Lines can also be piped in: each line is one user message.",
  ],
};

export async function run(argv: string[]): Promise<number> {
  const v = parse(spec, argv);
  if (flag(v, "help")) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const sampling = samplingOptions(v);
  const templateVars = chatTemplateConfig(v);
  const path = modelPath(v);
  const system = str(v, "system-prompt");
  const verbose = flag(v, "verbose");

  const adapterPath = str(v, "adapter-path");
  const { model, tokenizer } = await lm.load(path, adapterPath ? { adapterPath } : {});
  if (!tokenizer) throw new Error(`${path} has no tokenizer (tokenizer.json): 'hearth chat' needs one`);
  if (!tokenizer.hasChatTemplate) throw new Error(`${path}'s tokenizer has no chat template: use 'hearth generate' instead`);

  const interactive = Boolean(process.stdin.isTTY);
  const start = (): ChatMessage[] => (system ? [{ role: "system", content: system }] : []);
  let messages = start();
  const cacheOptions = {
    ...(sampling.maxKvSize !== undefined ? { maxKvSize: sampling.maxKvSize } : {}),
    ...(sampling.kvBits !== undefined ? { kvBits: sampling.kvBits, kvGroupSize: sampling.kvGroupSize ?? 64 } : {}),
  };
  let cache = lm.makePromptCache(model, cacheOptions);
  const trim = cacheTrimmer();
  const rl = createInterface({ input: process.stdin, ...(interactive ? { output: process.stdout, terminal: true } : { terminal: false }) });
  let current: AbortController | undefined;
  const onInterrupt = () => {
    if (current && !current.signal.aborted) current.abort();
    else {
      rl.close();
      process.exit(130);
    }
  };
  rl.on("SIGINT", onInterrupt);
  process.on("SIGINT", onInterrupt);
  if (interactive) {
    process.stdout.write(`[hearth] Chatting with ${path}. /reset clears the conversation, /exit quits.\n`);
    rl.setPrompt("> ");
    rl.prompt();
  }
  try {
    for await (const line of rl) {
      const msg = line.trim();
      if (msg === "/exit" || msg === "/quit") break;
      if (msg === "/reset") {
        messages = start();
        for (const a of cache.arrays) a.dispose();
        cache = lm.makePromptCache(model, cacheOptions);
        process.stdout.write("[conversation cleared]\n");
      } else if (msg) {
        messages.push({ role: "user", content: msg });
        const ids = tokenizer.applyChatTemplate(messages, { ...templateVars, addGenerationPrompt: true });
        current = new AbortController();
        let reply = "";
        let last: lm.GenerationResponse | undefined;
        for await (const r of lm.streamGenerate(model, tokenizer, { prompt: ids, ...sampling, promptCache: cache, signal: current.signal })) {
          process.stdout.write(r.text);
          reply += r.text;
          last = r;
          trim();
        }
        current = undefined;
        process.stdout.write("\n");
        messages.push({ role: "assistant", content: reply });
        if (verbose && last) process.stderr.write(formatStats(last) + "\n");
      }
      if (interactive) rl.prompt();
    }
  } finally {
    process.off("SIGINT", onInterrupt);
    rl.close();
  }
  return 0;
}
