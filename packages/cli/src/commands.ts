// The command table of `hearth`: one entry per subcommand, loaded on demand (so `hearth generate` never loads the
// trainer or the bench). To add a command, add an entry whose load() resolves to { run(argv) }: run gets the
// arguments after the command name and resolves to the exit code; a thrown UsageError (./args.ts) prints
// "hearth <command>: <message>" and exits 2, any other error prints "hearth <command>: error: <message>" and exits 1.
// Commands that parse with ./args.ts get the shared help layout, error prefix and exit codes.

export interface Command {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

export const COMMANDS: Record<string, Command> = {
  generate: { summary: "Generate text from a prompt", load: () => import("./generate.js") },
  chat: { summary: "Chat with a model in the terminal (or over a pipe)", load: () => import("./chat.js") },
  "cache-prompt": { summary: "Prefill a prompt once and save its KV cache", load: () => import("./cache-prompt.js") },
  convert: { summary: "Convert a Hugging Face checkpoint to an MLX-style folder, optionally quantized", load: async () => ({ run: (await import("./convert.js")).runConvert }) },
  lora: { summary: "Fine-tune with LoRA, DoRA or full training from JSONL data", load: async () => ({ run: (await import("./lora.js")).runLora }) },
  fuse: { summary: "Fold adapters into the base weights and save a plain model folder", load: async () => ({ run: (await import("./fuse.js")).runFuse }) },
  embed: { summary: "Embed texts with EmbeddingGemma (or any Gemma 3 text model)", load: async () => ({ run: (await import("./embed.js")).runEmbed }) },
  bench: { summary: "Benchmark Gemma 3 prefill/decode against llama.cpp (node-llama-cpp) on this machine", load: async () => ({ run: (await import("./bench.js")).runBench }) },
  "describe-image": { summary: "Describe an image with a Gemma 3 vision model", load: async () => ({ run: (await import("./describe-image.js")).runDescribeImage }) },
  server: { summary: "Serve an OpenAI-compatible HTTP API (chat, completions, embeddings), safe by default", load: () => import("./server.js") },
};
