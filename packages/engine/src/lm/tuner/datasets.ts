// Fine-tuning data (mlx-lm's tuner/datasets.py formats): JSONL with one example a line, as
// {"messages": [...], "tools"?: [...]} (rendered by the chat template), {"prompt", "completion"} or {"text"}.
// Every line is checked up front: a malformed one is an error naming the file, the line and what was expected.
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { ChatMessage } from "../chat-template.js";
import type { Tokenizer } from "../tokenizer.js";

export type DataFormat = "chat" | "completions" | "text";

/** One tokenized example: its tokens, how many leading tokens are prompt (not trained on), where it came from. */
export interface Example {
  tokens: number[];
  offset: number;
  source: string;
}

/** A tokenized dataset. */
export interface TokenizedDataset {
  name: string;
  format: DataFormat;
  examples: Example[];
}

export class DatasetError extends Error {
  /** Stable code the faces map (e.g. HTTP 400). */
  readonly code = "bad_dataset";
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

export interface DatasetOptions {
  /** Train only on the completion / last assistant turn (the prompt's tokens get no loss). */
  maskPrompt?: boolean;
  /** Keys as mlx-lm's config: prompt_feature, completion_feature, text_feature, chat_feature. */
  promptFeature?: string;
  completionFeature?: string;
  textFeature?: string;
  chatFeature?: string;
}

export type RawRecord = Record<string, unknown>;

/** Parses JSONL text into records; `name` is used in errors ("train.jsonl line 3: …"). Blank lines are not examples. */
export function parseJsonl(text: string, name: string): { record: RawRecord; line: number }[] {
  const out: { record: RawRecord; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    if (raw.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      throw new DatasetError(`${name} line ${i + 1}: invalid JSON (${(e as Error).message}); expected one JSON object per line`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v))
      throw new DatasetError(`${name} line ${i + 1}: expected a JSON object such as {"messages": [...]}, {"prompt": ..., "completion": ...} or {"text": ...}, got ${Array.isArray(v) ? "an array" : v === null ? "null" : typeof v}`);
    out.push({ record: v as RawRecord, line: i + 1 });
  });
  return out;
}

function keysOf(opts: DatasetOptions) {
  return {
    prompt: opts.promptFeature ?? "prompt",
    completion: opts.completionFeature ?? "completion",
    text: opts.textFeature ?? "text",
    chat: opts.chatFeature ?? "messages",
  };
}

/** The format of a record, or undefined (mlx-lm decides from the first record; here every line must agree). */
export function detectFormat(r: RawRecord, opts: DatasetOptions = {}): DataFormat | undefined {
  const k = keysOf(opts);
  if (k.prompt in r && k.completion in r) return "completions";
  if (k.chat in r) return "chat";
  if (k.text in r) return "text";
  return undefined;
}

const FORMATS = `{"messages": [...]}, {"prompt": ..., "completion": ...} or {"text": ...}`;

function checkRecord(r: RawRecord, format: DataFormat, where: string, opts: DatasetOptions): void {
  const k = keysOf(opts);
  const str = (key: string) => {
    if (typeof r[key] !== "string") throw new DatasetError(`${where}: expected "${key}" to be a string, got ${describe(r[key])}`);
  };
  if (format === "text") return str(k.text);
  if (format === "completions") {
    str(k.prompt);
    str(k.completion);
  } else {
    const msgs = r[k.chat];
    if (!Array.isArray(msgs) || msgs.length === 0)
      throw new DatasetError(`${where}: expected "${k.chat}" to be a non-empty list of {"role", "content"} messages, got ${describe(msgs)}`);
    msgs.forEach((m, j) => {
      if (m === null || typeof m !== "object" || Array.isArray(m) || typeof (m as RawRecord).role !== "string")
        throw new DatasetError(`${where}: message ${j} must be an object with a string "role", got ${describe(m)}`);
      const c = (m as RawRecord).content;
      if (!(typeof c === "string" || Array.isArray(c) || (c == null && Array.isArray((m as RawRecord).tool_calls))))
        throw new DatasetError(`${where}: message ${j} ("${(m as RawRecord).role}") needs a "content" string (or list of parts), got ${describe(c)}`);
    });
  }
  if ("tools" in r && r.tools != null && !Array.isArray(r.tools))
    throw new DatasetError(`${where}: "tools" must be a list of tool schemas, got ${describe(r.tools)}`);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing (the key is missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}

function isPrefix(prefix: number[], full: number[]): boolean {
  if (prefix.length > full.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== full[i]) return false;
  return true;
}

function eosId(tok: Tokenizer): number | undefined {
  const eos = tok.specialTokens.eos;
  return (eos !== undefined ? tok.tokenToId(eos) : undefined) ?? tok.eosTokenIds[0];
}

/** Tokenizes one record (already checked) into tokens + prompt offset. */
function tokenize(r: RawRecord, format: DataFormat, tok: Tokenizer, where: string, opts: DatasetOptions): { tokens: number[]; offset: number } {
  const k = keysOf(opts);
  const tools = Array.isArray(r.tools) ? r.tools : undefined;
  const render = (messages: ChatMessage[], addGenerationPrompt: boolean): number[] => {
    try {
      return tok.applyChatTemplate(messages, { tools, addGenerationPrompt });
    } catch (e) {
      throw new DatasetError(`${where}: the chat template failed on this example: ${(e as Error).message}`);
    }
  };
  if (format === "text") {
    const ids = tok.encode(r[k.text] as string);
    const eos = eosId(tok);
    if (eos !== undefined && ids[ids.length - 1] !== eos) ids.push(eos);
    return { tokens: ids, offset: 0 };
  }
  let messages: ChatMessage[];
  if (format === "completions") {
    messages = [{ role: "user", content: r[k.prompt] as string }, { role: "assistant", content: r[k.completion] as string }];
    if (!tok.hasChatTemplate) {
      // Without a template, a completion is the prompt text followed by the completion text.
      const prompt = tok.encode(r[k.prompt] as string);
      const ids = [...prompt, ...tok.encode(r[k.completion] as string, { addSpecialTokens: false })];
      const eos = eosId(tok);
      if (eos !== undefined && ids[ids.length - 1] !== eos) ids.push(eos);
      return { tokens: ids, offset: opts.maskPrompt ? prompt.length : 0 };
    }
  } else messages = r[k.chat] as ChatMessage[];
  const tokens = render(messages, false);
  if (!opts.maskPrompt) return { tokens, offset: 0 };
  const last = messages[messages.length - 1];
  if (last.role !== "assistant")
    throw new DatasetError(`${where}: --mask-prompt trains on the final assistant message, but the last message's role is "${last.role}"`);
  const prompt = render(messages.slice(0, -1), true);
  if (!isPrefix(prompt, tokens))
    throw new DatasetError(`${where}: with --mask-prompt the conversation without its last turn (rendered with the generation prompt, ${prompt.length} tokens) must be a token prefix of the whole conversation, and it is not; this chat template renders earlier turns differently when a reply follows`);
  return { tokens, offset: prompt.length };
}

/** Checks and tokenizes in-memory records (record i is "line i+1" in errors); `name` names the source. */
export function createDataset(records: RawRecord[], tokenizer: Tokenizer, name: string, opts: DatasetOptions = {}): TokenizedDataset {
  return datasetFromLines(records.map((record, i) => ({ record, line: i + 1 })), tokenizer, name, opts);
}

/** Checks and tokenizes parsed JSONL lines. */
export function datasetFromLines(items: { record: RawRecord; line: number }[], tokenizer: Tokenizer,
                                 name: string, opts: DatasetOptions = {}): TokenizedDataset {
  if (!items.length) return { name, format: "text", examples: [] };
  const first = items[0];
  const format = detectFormat(first.record, opts);
  if (!format)
    throw new DatasetError(`${name} line ${first.line}: unsupported record with keys ${JSON.stringify(Object.keys(first.record))}; expected ${FORMATS}`);
  if (format === "text" && opts.maskPrompt)
    throw new DatasetError(`${name}: --mask-prompt needs a prompt to mask, but the data is {"text"} (use {"prompt", "completion"} or {"messages"})`);
  const examples: Example[] = [];
  for (const { record, line } of items) {
    const where = `${name} line ${line}`;
    const f = detectFormat(record, opts);
    if (f !== format)
      throw new DatasetError(`${where}: expected a ${format} record like line ${first.line} (${formatKeys(format, opts)}), got keys ${JSON.stringify(Object.keys(record))}`);
    checkRecord(record, format, where, opts);
    const { tokens, offset } = tokenize(record, format, tokenizer, where, opts);
    if (tokens.length < 2) throw new DatasetError(`${where}: the example is ${tokens.length} token(s) long; it needs at least 2 to train on`);
    examples.push({ tokens, offset, source: where });
  }
  return { name, format, examples };
}

function formatKeys(f: DataFormat, opts: DatasetOptions): string {
  const k = keysOf(opts);
  return f === "chat" ? `"${k.chat}"` : f === "completions" ? `"${k.prompt}" and "${k.completion}"` : `"${k.text}"`;
}

/** Reads and tokenizes one JSONL file. */
export function loadJsonlDataset(file: string, tokenizer: Tokenizer, opts: DatasetOptions = {}): TokenizedDataset {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new DatasetError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  return datasetFromLines(parseJsonl(text, file), tokenizer, file, opts);
}

export interface LoadedData {
  train?: TokenizedDataset;
  valid?: TokenizedDataset;
  test?: TokenizedDataset;
  warnings: string[];
}

/**
 * `--data`: a folder with train.jsonl, valid.jsonl and optionally test.jsonl, or a single .jsonl file (the training
 * set, or the test set when only testing). Training needs a non-empty train set; a missing valid.jsonl is a
 * warning (training runs without validation); a file that exists but has no examples is an error.
 */
export function loadDataset(data: string, tokenizer: Tokenizer,
                            opts: DatasetOptions & { train?: boolean; test?: boolean } = {}): LoadedData {
  if (!data) throw new DatasetError("No data given: pass --data with a folder of train.jsonl / valid.jsonl (or one .jsonl file)");
  if (!existsSync(data)) throw new DatasetError(`The data path does not exist: ${data} (expected a folder with train.jsonl and valid.jsonl, or a .jsonl file)`);
  const out: LoadedData = { warnings: [] };
  const nonEmpty = (d: TokenizedDataset) => {
    if (!d.examples.length) throw new DatasetError(`${d.name} has no examples (it is empty); add one JSON object per line`);
    return d;
  };
  if (!statSync(data).isDirectory()) {
    const d = nonEmpty(loadJsonlDataset(data, tokenizer, opts));
    if (opts.train === false && opts.test) out.test = d;
    else out.train = d;
    if (opts.train !== false) out.warnings.push(`${basename(data)} is used as the training set; there is no validation set, so training proceeds without validation`);
    return out;
  }
  const file = (n: string) => join(data, `${n}.jsonl`);
  if (opts.train !== false) {
    if (!existsSync(file("train")))
      throw new DatasetError(`Training set not found: ${file("train")} does not exist (a --data folder needs train.jsonl, and valid.jsonl for validation)`);
    out.train = nonEmpty(loadJsonlDataset(file("train"), tokenizer, opts));
    if (existsSync(file("valid"))) out.valid = nonEmpty(loadJsonlDataset(file("valid"), tokenizer, opts));
    else out.warnings.push(`${file("valid")} not found; training proceeds without validation`);
  }
  if (opts.test) {
    if (!existsSync(file("test"))) throw new DatasetError(`Test set not found: ${file("test")} does not exist (needed for --test)`);
    out.test = nonEmpty(loadJsonlDataset(file("test"), tokenizer, opts));
  }
  return out;
}
