/**
 * The tokenizer layer of the LLM package, in the role of mlx-lm's TokenizerWrapper: encode/decode
 * through `@huggingface/tokenizers` (which reproduces the Rust `tokenizers` ids for Gemma 3
 * exactly), chat templates through `@huggingface/jinja` (see chat-template.ts), a streaming
 * detokenizer (see detokenizer.ts), and the set of ids that end generation.
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { gunzip } from "node:zlib";
import { promisify } from "node:util";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import {
  DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS,
  prewarmTemplateWorker,
  renderTemplate,
  truncateAfterFinalMessage,
  type ChatMessage,
} from "./chat-template.js";
import {
  buildPrebuilt,
  installPrebuilt,
  readTokenizerCache,
  sourceHash,
  tokenizerCacheEnabled,
  writeTokenizerCache,
  type PrebuiltVocab,
} from "./tokenizer-cache.js";
import {
  createStreamingDetokenizer,
  type DetokenizerOptions,
  type DetokenizerSource,
  type StreamingDetokenizer,
} from "./detokenizer.js";

export * from "./chat-template.js";
export * from "./detokenizer.js";

const gunzipAsync = promisify(gunzip);

type JsonObject = Record<string, unknown>;

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (Gemma: a leading `<bos>`); default true, as in HF. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens such as `<bos>` and `<end_of_turn>`; default false, as in HF. */
  skipSpecialTokens?: boolean;
  /** Override tokenizer_config's clean_up_tokenization_spaces (Gemma: false). */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ApplyChatTemplateOptions {
  /** Append the prompt that opens the assistant's turn (Gemma: `<start_of_turn>model\n`). */
  addGenerationPrompt?: boolean;
  /** Return token ids (default, as HF) or the rendered string (false). */
  tokenize?: boolean;
  /** Tool (function) JSON schemas, passed as `tools`; null when absent, as HF passes None. */
  tools?: unknown[] | null;
  /** RAG documents, passed as `documents`. */
  documents?: unknown[] | null;
  /** A template source, or the name of one of the tokenizer's named templates, to use instead. */
  chatTemplate?: string;
  /** End the render right after the last message's text so the model continues it. */
  continueFinalMessage?: boolean;
  /** Render budget in ms (default: the tokenizer's, 2000); 0 renders in-thread unguarded. */
  timeoutMs?: number;
  /** Anything else is passed to the template as a variable (e.g. `enable_thinking`). */
  [templateVariable: string]: unknown;
}

export interface SpecialTokens {
  bos?: string;
  eos?: string;
  unk?: string;
  pad?: string;
  /** additional_special_tokens from the config files. */
  additional: string[];
  /** Named extras from tokenizer_config.json, e.g. Gemma 3's boi_token, eoi_token, image_token. */
  extra: Record<string, string>;
  /** Every token `decode(..., { skipSpecialTokens: true })` drops, content → id. */
  all: ReadonlyMap<string, number>;
}

/** Parsed contents of a tokenizer folder; `loadTokenizer` builds it, tests may build it directly. */
export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizer: JsonObject;
  /** tokenizer_config.json */
  tokenizerConfig?: JsonObject;
  /** special_tokens_map.json */
  specialTokensMap?: JsonObject;
  /** generation_config.json */
  generationConfig?: JsonObject;
  /** config.json */
  modelConfig?: JsonObject;
  /** Chat templates by name ("default" is the unnamed one), with where each came from. */
  chatTemplates?: Map<string, { template: string; source: string }>;
  /**
   * The vocabulary and merges as tables (tokenizer-cache.ts); `tokenizer` then has an empty model.vocab and
   * model.merges.
   */
  prebuilt?: PrebuiltVocab;
}

export interface TokenizerOptions {
  /** Default render budget for chat templates, in ms (default 2000; 0 disables the guard). */
  chatTemplateTimeoutMs?: number;
  /** Extra ids or token strings that end generation (mlx-lm's eos_token_ids override). */
  extraEosTokens?: Array<number | string>;
  /**
   * loadTokenizer: keep a pre-built form of a BPE tokenizer.json in the cache folder and start from it
   * (tokenizer-cache.ts; default true unless HEARTH_TOKENIZER_CACHE=0). The ids are the same either way.
   */
  cache?: boolean;
}

// Chat-tuned tokenizer_configs replace eos_token with the end-of-turn marker, while the model can
// still emit the base end-of-sequence token; generation_config.json (absent from bare tokenizer
// folders) lists both for Gemma ([1, 106]). These spellings, when present as special tokens, are
// therefore always stop tokens so that generation ends the same with or without that file.
const ALWAYS_EOS_SPELLINGS = ["<eos>", "</s>", "<end_of_turn>"];

/** A token entry in a config file: a plain string or a serialized AddedToken `{ content }`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

function idList(value: unknown): number[] {
  if (typeof value === "number" && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === "number" && Number.isInteger(v));
  return [];
}

function walkDecoderTypes(config: unknown, out: Set<string>): Set<string> {
  if (config && typeof config === "object") {
    const node = config as { type?: unknown; decoders?: unknown };
    if (typeof node.type === "string") out.add(node.type);
    if (Array.isArray(node.decoders)) for (const child of node.decoders) walkDecoderTypes(child, out);
  }
  return out;
}

function countVocab(model: unknown): number {
  const vocab = (model as { vocab?: unknown } | null)?.vocab;
  if (Array.isArray(vocab)) return vocab.length;
  if (vocab && typeof vocab === "object") {
    let n = 0;
    for (const _ in vocab) n++;
    return n;
  }
  return 0;
}

export class Tokenizer implements DetokenizerSource {
  /** Size of the base vocabulary, without added tokens (HF `tokenizer.vocab_size`; Gemma 3: 262144). */
  readonly vocabSize: number;
  /** Number of ids including added tokens (HF `len(tokenizer)`; Gemma 3: 262145). */
  readonly size: number;
  readonly bosTokenId: number | undefined;
  readonly specialTokens: SpecialTokens;
  /** Default render budget for chat templates, in ms. */
  chatTemplateTimeoutMs: number;
  readonly partialCharacters: DetokenizerSource["partialCharacters"];
  /** Whether the vocabulary and merges came from the pre-built cache (tokenizer-cache.ts), not tokenizer.json. */
  readonly prebuilt: boolean;

  private readonly inner: HfTokenizer;
  private readonly templates: Map<string, { template: string; source: string }>;
  private readonly specialIds: Set<number>;
  private readonly cleanUpSpaces: boolean;
  private eosIds: number[];
  private eosSet: Set<number>;

  constructor(files: TokenizerFiles, opts: TokenizerOptions = {}) {
    const config = files.tokenizerConfig ?? {};
    this.inner = new HfTokenizer(files.tokenizer, config);
    if (files.prebuilt && !installPrebuilt(this.inner, files.prebuilt))
      throw new Error("[tokenizer] a pre-built vocabulary was given but the tokenizers library's BPE model has another shape");
    this.templates = files.chatTemplates ?? new Map();
    this.chatTemplateTimeoutMs = opts.chatTemplateTimeoutMs ?? DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS;
    // Same default as the library's decode, so streamed text matches decode() exactly.
    this.cleanUpSpaces = (config.clean_up_tokenization_spaces as boolean | undefined) ?? true;

    this.prebuilt = !!files.prebuilt;
    this.vocabSize = files.prebuilt ? files.prebuilt.n : countVocab(files.tokenizer.model);
    const added = this.inner.get_added_tokens_decoder();
    let maxId = this.vocabSize - 1;
    for (const id of added.keys()) maxId = Math.max(maxId, id);
    this.size = maxId + 1;

    const stMap = files.specialTokensMap ?? {};
    const pick = (key: string): string | undefined => tokenContent(config[key]) ?? tokenContent(stMap[key]);

    const all = new Map<string, number>();
    for (const token of added.values()) if (token.special) all.set(token.content, token.id);
    const additional: string[] = [];
    for (const list of [config.additional_special_tokens, stMap.additional_special_tokens]) {
      if (!Array.isArray(list)) continue;
      for (const entry of list) {
        const content = tokenContent(entry);
        if (content === undefined || additional.includes(content)) continue;
        additional.push(content);
        const id = this.inner.token_to_id(content);
        if (id !== undefined) all.set(content, id);
      }
    }
    const extra: Record<string, string> = {};
    const extraSource = config.extra_special_tokens;
    if (extraSource && typeof extraSource === "object" && !Array.isArray(extraSource)) {
      for (const [key, value] of Object.entries(extraSource)) {
        const content = tokenContent(value);
        if (content !== undefined) extra[key] = content;
      }
    }
    this.specialTokens = { bos: pick("bos_token"), eos: pick("eos_token"), unk: pick("unk_token"), pad: pick("pad_token"), additional, extra, all };
    this.specialIds = new Set(all.values());

    const bos = this.specialTokens.bos;
    const bosFromConfig = idList(files.modelConfig?.bos_token_id)[0];
    this.bosTokenId = (bos !== undefined ? this.inner.token_to_id(bos) : undefined) ?? bosFromConfig;

    const eos = new Set<number>();
    for (const src of [config, stMap]) {
      const content = tokenContent(src.eos_token);
      const id = content !== undefined ? this.inner.token_to_id(content) : undefined;
      if (id !== undefined) eos.add(id);
    }
    for (const id of idList(files.generationConfig?.eos_token_id)) eos.add(id);
    const textConfig = files.modelConfig?.text_config as JsonObject | undefined;
    for (const id of idList(files.modelConfig?.eos_token_id)) eos.add(id);
    for (const id of idList(textConfig?.eos_token_id)) eos.add(id);
    for (const spelling of ALWAYS_EOS_SPELLINGS) {
      const id = all.get(spelling);
      if (id !== undefined) eos.add(id);
    }
    this.eosIds = [];
    this.eosSet = new Set();
    this.setEos(eos);
    for (const token of opts.extraEosTokens ?? []) this.addEosToken(token);

    const decoderTypes = walkDecoderTypes(files.tokenizer.decoder, new Set());
    this.partialCharacters = decoderTypes.has("ByteFallback")
      ? "byte-fallback"
      : decoderTypes.has("ByteLevel")
        ? "byte-level"
        : "none";
  }

  /** Ids that end generation, sorted and unique (Gemma 3: includes `<eos>`=1 and `<end_of_turn>`=106). */
  get eosTokenIds(): number[] {
    return this.eosIds;
  }

  isEosTokenId(id: number): boolean {
    return this.eosSet.has(id);
  }

  /** Make an id or token string end generation too (mlx-lm's `add_eos_token`). */
  addEosToken(token: number | string): void {
    const id = typeof token === "number" ? token : this.inner.token_to_id(token);
    if (id === undefined || !Number.isInteger(id)) throw new Error(`Cannot add EOS token ${JSON.stringify(token)}: not in the vocabulary`);
    this.setEos(new Set([...this.eosIds, id]));
  }

  private setEos(ids: Set<number>): void {
    this.eosIds = [...ids].sort((a, b) => a - b);
    this.eosSet = new Set(this.eosIds);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.inner.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return this.decodeWith(ids, opts.skipSpecialTokens ?? false, opts.cleanUpTokenizationSpaces ?? this.cleanUpSpaces);
  }

  /** DetokenizerSource: decode with this tokenizer's defaults. */
  decodeIds(ids: readonly number[], skipSpecialTokens: boolean): string {
    return this.decodeWith(ids, skipSpecialTokens, this.cleanUpSpaces);
  }

  private decodeWith(ids: readonly number[], skipSpecialTokens: boolean, cleanUp: boolean): string {
    // Filter here so "special" means exactly isSpecialId (which the streaming detokenizer relies
    // on), including additional_special_tokens from special_tokens_map.json that the library
    // doesn't see; it is also a Set lookup instead of the library's array scan per token.
    const kept = skipSpecialTokens ? ids.filter((id) => !this.specialIds.has(id)) : ids;
    // The library rejects an empty list; HF returns "".
    if (kept.length === 0) return "";
    return this.inner.decode(kept as number[], {
      skip_special_tokens: skipSpecialTokens,
      clean_up_tokenization_spaces: cleanUp,
    });
  }

  /** DetokenizerSource: the byte of a `<0xHH>` token, parsed the way the ByteFallback decoder does. */
  byteValue(id: number): number {
    const token = this.inner.id_to_token(id);
    if (token === undefined || token.length !== 6 || !token.startsWith("<0x") || !token.endsWith(">")) return -1;
    const byte = parseInt(token.slice(3, 5), 16);
    return Number.isNaN(byte) ? -1 : byte;
  }

  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  /** A streaming detokenizer whose output concatenates to `decode(allIds, opts)`. */
  createDetokenizer(opts: DetokenizerOptions = {}): StreamingDetokenizer {
    return createStreamingDetokenizer(this, opts);
  }

  /** The default chat template (the `tool_use`/`rag` variants, if any, are in `chatTemplateNames`). */
  get chatTemplate(): string | undefined {
    return this.defaultTemplate()?.template;
  }

  get hasChatTemplate(): boolean {
    return this.templates.size > 0;
  }

  get chatTemplateNames(): string[] {
    return [...this.templates.keys()];
  }

  private defaultTemplate(): { template: string; source: string } | undefined {
    return this.templates.get("default") ?? (this.templates.size === 1 ? this.templates.values().next().value : undefined);
  }

  /** Pick the template the way transformers does: explicit name/source, tool_use when tools are given, default. */
  private selectTemplate(override: string | undefined, hasTools: boolean): { template: string; source: string } {
    if (override !== undefined) {
      return this.templates.get(override) ?? { template: override, source: "the chatTemplate option" };
    }
    const chosen = (hasTools ? this.templates.get("tool_use") : undefined) ?? this.defaultTemplate();
    if (chosen) return chosen;
    if (this.templates.size > 1) {
      throw new Error(
        `This tokenizer has several chat templates (${this.chatTemplateNames.join(", ")}) and none is named "default"; pass chatTemplate with one of the names`,
      );
    }
    throw new Error(
      "Cannot apply a chat template: this tokenizer has none (no chat_template.jinja, chat_template.json or chat_template in tokenizer_config.json) and no chatTemplate option was given",
    );
  }

  /** Template variables for the special tokens, as transformers passes its special_tokens_map. */
  private specialTokenVariables(): JsonObject {
    const vars: JsonObject = { ...this.specialTokens.extra };
    const { bos, eos, unk, pad, additional } = this.specialTokens;
    if (bos !== undefined) vars.bos_token = bos;
    if (eos !== undefined) vars.eos_token = eos;
    if (unk !== undefined) vars.unk_token = unk;
    if (pad !== undefined) vars.pad_token = pad;
    if (additional.length > 0) vars.additional_special_tokens = additional;
    return vars;
  }

  /** Render a conversation with the chat template; ids by default (as HF), the string with `tokenize: false`. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ApplyChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ApplyChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ApplyChatTemplateOptions): string | number[];
  applyChatTemplate(messages: readonly ChatMessage[], opts: ApplyChatTemplateOptions = {}): string | number[] {
    if (!Array.isArray(messages)) throw new TypeError("applyChatTemplate expects an array of messages");
    const {
      addGenerationPrompt,
      tokenize = true,
      tools,
      documents,
      chatTemplate,
      continueFinalMessage = false,
      timeoutMs,
      ...extra
    } = opts;
    if (continueFinalMessage && addGenerationPrompt) {
      throw new Error("continueFinalMessage and addGenerationPrompt are mutually exclusive: one continues the last turn, the other opens a new one");
    }
    const hasTools = Array.isArray(tools) && tools.length > 0;
    const { template, source } = this.selectTemplate(chatTemplate, hasTools);
    const vars: JsonObject = {
      ...this.specialTokenVariables(),
      ...extra,
      messages,
      tools: tools ?? null,
      documents: documents ?? null,
      add_generation_prompt: addGenerationPrompt ?? extra.add_generation_prompt ?? false,
    };
    let rendered = renderTemplate(template, vars, { source, timeoutMs: timeoutMs ?? this.chatTemplateTimeoutMs });
    if (continueFinalMessage) rendered = truncateAfterFinalMessage(rendered, messages);
    if (!tokenize) return rendered;
    // The template writes <bos> itself, so the post-processor must not add a second one (HF does the same).
    return this.encode(rendered, { addSpecialTokens: false });
  }
}

/** Build a tokenizer from already-parsed files (what `loadTokenizer` does after reading the folder). */
export function createTokenizer(files: TokenizerFiles, opts: TokenizerOptions = {}): Tokenizer {
  return new Tokenizer(files, opts);
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** The bytes of `name`, or of `name.gz` when allowGz, as stored; undefined when neither exists. */
async function readRaw(folder: string, name: string, allowGz = true): Promise<{ path: string; bytes: Buffer } | undefined> {
  const candidates = allowGz ? [name, `${name}.gz`] : [name];
  for (const file of candidates) {
    const path = join(folder, file);
    try {
      return { path, bytes: await readFile(path) };
    } catch (err) {
      if (isMissing(err)) continue;
      throw new Error(`Cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return undefined;
}

async function rawText(raw: { path: string; bytes: Buffer }): Promise<{ path: string; text: string }> {
  let bytes = raw.bytes;
  if (raw.path.endsWith(".gz")) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (err) {
      throw new Error(`Cannot gunzip ${raw.path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { path: raw.path, text: bytes.toString("utf8") };
}

/** Read `name`, or `name.gz` gunzipped when allowGz; undefined when neither exists. */
async function readText(folder: string, name: string, allowGz: boolean): Promise<{ path: string; text: string } | undefined> {
  const raw = await readRaw(folder, name, allowGz);
  return raw && rawText(raw);
}

async function readJson(folder: string, name: string, allowGz = true): Promise<{ path: string; value: JsonObject } | undefined> {
  const raw = await readRaw(folder, name, allowGz);
  return raw && parseJson(raw);
}

async function parseJson(raw: { path: string; bytes: Buffer }): Promise<{ path: string; value: JsonObject }> {
  const file = await rawText(raw);
  let value: unknown;
  try {
    value = JSON.parse(file.text);
  } catch (err) {
    throw new Error(`Malformed JSON in ${file.path}: ${(err as Error).message}`, { cause: err });
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`Malformed ${file.path}: expected a JSON object at the top level`);
  }
  return { path: file.path, value: value as JsonObject };
}

/** tokenizer_config / chat_template.json `chat_template`: a string, or a list of `{ name, template }`. */
function addTemplates(into: Map<string, { template: string; source: string }>, value: unknown, source: string): void {
  if (typeof value === "string") {
    into.set("default", { template: value, source });
  } else if (Array.isArray(value)) {
    for (const entry of value) {
      const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
      if (typeof name !== "string" || typeof template !== "string") {
        throw new Error(`Malformed chat_template in ${source}: expected a string or a list of { name, template }`);
      }
      into.set(name, { template, source: `${source} (template "${name}")` });
    }
  } else if (value !== undefined && value !== null) {
    throw new Error(`Malformed chat_template in ${source}: expected a string or a list of { name, template }`);
  }
}

/**
 * Load a Hugging Face tokenizer folder: tokenizer.json and tokenizer_config.json (each optionally
 * gzipped), plus chat_template.jinja / chat_template.json, special_tokens_map.json,
 * generation_config.json and config.json when present.
 */
export async function loadTokenizer(folder: string, opts: TokenizerOptions = {}): Promise<Tokenizer> {
  const dir = resolve(folder);
  // The chat template renders in a worker thread (chat-template.ts): let it boot while the files are read and
  // the tokenizer is built (and, from lm.load, the model), instead of at the first render.
  if ((opts.chatTemplateTimeoutMs ?? DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS) > 0) prewarmTemplateWorker();
  const looked = "tokenizer.json or tokenizer.json.gz (with tokenizer_config.json or tokenizer_config.json.gz)";
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (err) {
    if (isMissing(err)) throw new Error(`No tokenizer found: folder ${dir} does not exist (looked for ${looked})`);
    throw err;
  }
  if (!info.isDirectory()) throw new Error(`No tokenizer found: ${dir} is not a folder (looked for ${looked} in it)`);

  const [source, tokenizerConfig, specialTokensMap, generationConfig, modelConfig, templateJson, templateJinja] =
    await Promise.all([
      readRaw(dir, "tokenizer.json"),
      readJson(dir, "tokenizer_config.json"),
      readJson(dir, "special_tokens_map.json"),
      readJson(dir, "generation_config.json"),
      readJson(dir, "config.json"),
      readJson(dir, "chat_template.json", false),
      readText(dir, "chat_template.jinja", false),
    ]);
  if (!source) {
    const hasSentencePiece = await stat(join(dir, "tokenizer.model")).then(() => true, () => false);
    throw new Error(
      `No tokenizer found in ${dir}: looked for ${looked}` +
        (hasSentencePiece ? "; there is a tokenizer.model (SentencePiece), which is not supported: convert it to tokenizer.json with transformers" : ""),
    );
  }

  // Precedence as in transformers: chat_template.jinja, then chat_template.json, then tokenizer_config.json.
  const chatTemplates = new Map<string, { template: string; source: string }>();
  if (tokenizerConfig) addTemplates(chatTemplates, tokenizerConfig.value.chat_template, `${tokenizerConfig.path} (chat_template)`);
  if (templateJson) addTemplates(chatTemplates, templateJson.value.chat_template, templateJson.path);
  if (templateJinja) chatTemplates.set("default", { template: templateJinja.text, source: templateJinja.path });

  const files: Omit<TokenizerFiles, "tokenizer"> = {
    tokenizerConfig: tokenizerConfig?.value,
    specialTokensMap: specialTokensMap?.value,
    generationConfig: generationConfig?.value,
    modelConfig: modelConfig?.value,
    chatTemplates,
  };
  // The pre-built form when the cache holds one for exactly these bytes; else the plain path, which then fills it.
  const useCache = (opts.cache ?? true) && tokenizerCacheEnabled();
  const hash = useCache ? sourceHash(source.bytes) : "";
  const cached = useCache ? readTokenizerCache(source.bytes, hash) : undefined;
  if (cached) {
    try {
      return new Tokenizer({ ...files, tokenizer: cached.lite, prebuilt: cached.prebuilt }, opts);
    } catch {
      // A cache this version can't use: the plain path below rewrites it.
    }
  }
  const tokenizer = await parseJson(source);
  let built: Tokenizer;
  try {
    built = new Tokenizer({ ...files, tokenizer: tokenizer.value }, opts);
  } catch (err) {
    throw new Error(`Cannot build a tokenizer from ${tokenizer.path}: ${(err as Error).message}`, { cause: err });
  }
  if (useCache) {
    const pre = buildPrebuilt(tokenizer.value);
    if (pre) writeTokenizerCache(source.bytes, source.path, pre, hash);
  }
  return built;
}
