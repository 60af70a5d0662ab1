// Completion prompts. Gemma 3 has no fill-in-the-middle tokens, so an instruct model gets a hole-filler chat prompt;
// a model whose tokenizer has FIM sentinels gets its FIM template. Everything that changes less often (context
// chunks, instructions) comes first, so that consecutive keystrokes share the longest prompt prefix and the backend
// prefills only the new characters.
import type { ChatTurn } from "@hearth/serving";

export type PromptStyle = "fim" | "hole-filler" | "complete";

/** FIM sentinels of the known families, as [prefix, suffix, middle, extra stop strings]. */
export const FIM_FAMILIES: Array<{ name: string; prefix: string; suffix: string; middle: string; stop: string[] }> = [
  // CodeGemma, Qwen2.5-Coder, DeepSeek-style names with |
  { name: "codegemma", prefix: "<|fim_prefix|>", suffix: "<|fim_suffix|>", middle: "<|fim_middle|>", stop: ["<|file_separator|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>"] },
  // StarCoder / SantaCoder
  { name: "starcoder", prefix: "<fim_prefix>", suffix: "<fim_suffix>", middle: "<fim_middle>", stop: ["<|endoftext|>", "<file_sep>", "<fim_prefix>"] },
];

export type FimTemplate = (typeof FIM_FAMILIES)[number];

/** The FIM family whose three sentinels are all single tokens of this vocabulary. */
export function detectFim(tokenToId: (t: string) => number | undefined): FimTemplate | undefined {
  return FIM_FAMILIES.find((f) => [f.prefix, f.suffix, f.middle].every((t) => tokenToId(t) !== undefined));
}

export interface ContextChunk {
  path: string;
  text: string;
}

export interface PromptInput {
  prefix: string;
  suffix: string;
  languageId: string;
  path: string;
  chunks: ContextChunk[];
}

export type BuiltPrompt = { prompt: string; stop: string[] } | { messages: ChatTurn[]; stop: string[] };

/** The last `maxChars` of the prefix, cut at a line start; the first `maxChars` of the suffix, cut at a line end. */
export function windowed(prefix: string, suffix: string, maxPrefix = 3000, maxSuffix = 1000): { prefix: string; suffix: string } {
  let p = prefix;
  if (p.length > maxPrefix) {
    p = p.slice(p.length - maxPrefix);
    const nl = p.indexOf("\n");
    if (nl >= 0) p = p.slice(nl + 1);
  }
  let s = suffix;
  if (s.length > maxSuffix) {
    s = s.slice(0, maxSuffix);
    const nl = s.lastIndexOf("\n");
    if (nl >= 0) s = s.slice(0, nl);
  }
  return { prefix: p, suffix: s };
}

const chunkText = (chunks: ContextChunk[], comment: string): string =>
  chunks.map((c) => `${comment} ${c.path}\n${c.text}\n`).join("\n");

const lineComment = (languageId: string): string =>
  ["python", "ruby", "shellscript", "perl", "r", "yaml", "toml", "makefile", "dockerfile", "julia", "elixir"].includes(languageId)
    ? "#"
    : ["lua", "sql", "haskell"].includes(languageId) ? "--" : "//";

export function buildPrompt(style: PromptStyle, input: PromptInput, fim?: FimTemplate): BuiltPrompt {
  const { prefix, suffix } = windowed(input.prefix, input.suffix);
  const comment = lineComment(input.languageId);
  if (style === "fim") {
    if (!fim) throw new Error("[hearth-lsp] the FIM prompt style needs a model whose tokenizer has FIM sentinels");
    const ctx = input.chunks.length ? chunkText(input.chunks, comment) + "\n" : "";
    return {
      prompt: `${fim.prefix}${ctx}${comment} ${input.path}\n${prefix}${fim.suffix}${suffix}${fim.middle}`,
      stop: fim.stop,
    };
  }
  if (style === "complete") {
    // The bundled demo model was trained on exactly this request shape (docs/DEMO_MODEL.md, the "code" family).
    return { messages: [{ role: "user", content: `Complete the code:\n${prefix.trimEnd()}` }], stop: [] };
  }
  const ctx = input.chunks.length
    ? `Other files of the project, for reference:\n${chunkText(input.chunks, comment)}\n`
    : "";
  const content =
    "You are a code completion engine. The code below has a hole marked {{FILL_HERE}}. Reply with only the text " +
    "that replaces the hole, inside <COMPLETION></COMPLETION>, without repeating the code around it and without " +
    "explanations. Keep the indentation of the surrounding code.\n\n" +
    ctx +
    `Language: ${input.languageId}\nFile: ${input.path}\n<QUERY>\n${prefix}{{FILL_HERE}}${suffix}\n</QUERY>`;
  return { messages: [{ role: "user", content }], stop: ["</COMPLETION>"] };
}

/** Removes the answer wrapper of the hole-filler prompt (and a code fence some models add). */
export function unwrapAnswer(style: PromptStyle, text: string): string {
  if (style !== "hole-filler") return text;
  let t = text.replace(/^\s*<COMPLETION>/, "");
  const fence = /^\s*```[\w-]*\n([\s\S]*?)(```\s*)?$/.exec(t);
  if (fence) t = fence[1]!;
  return t;
}
