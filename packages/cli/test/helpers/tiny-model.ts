// A complete model folder for text-level tests: the gemma3-tiny-a weights (vocab 512, random) plus a small
// Gemma-style tokenizer over exactly 512 tokens (byte-fallback BPE with ▁ for spaces) and a chat template.
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFixture } from "./fixtures.js";

export const SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"];
export const VOCAB_SIZE = 512;

/** The vocabulary (id → token) and BPE merges of the tiny tokenizer. */
export function tinyVocab(): { tokens: string[]; merges: [string, string][] } {
  const tokens = [...SPECIALS];
  for (let b = 0; b < 256; b++) tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  tokens.push("▁", "\n");
  for (let c = 33; c <= 126; c++) tokens.push(String.fromCharCode(c));
  const merges: [string, string][] = [];
  const have = new Set(tokens);
  const merge = (a: string, b: string) => {
    if (tokens.length >= VOCAB_SIZE || have.has(a + b) || !have.has(a) || !have.has(b)) return;
    merges.push([a, b]);
    tokens.push(a + b);
    have.add(a + b);
  };
  const lower = "abcdefghijklmnopqrstuvwxyz";
  for (const c of lower) merge("▁", c);
  const bigrams = "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce".split(" ");
  for (const bg of bigrams) merge(bg[0], bg[1]);
  for (const bg of bigrams) merge("▁" + bg[0], bg[1]);
  for (const c of lower.toUpperCase()) merge("▁", c);
  for (const c of "0123456789") merge("▁", c);
  for (const [a, b] of [["th", "e"], ["in", "g"], ["io", "n"], ["en", "t"], ["an", "d"], ["he", "r"], ["te", "r"], ["ti", "o"], ["es", "t"], ["er", "s"], ["at", "i"]]) merge(a, b);
  for (const a of lower) for (const b of lower) merge(a, b);
  if (tokens.length !== VOCAB_SIZE) throw new Error(`tiny vocab has ${tokens.length} tokens`);
  return { tokens, merges };
}

export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\\n' + (message['content'] | trim) + '<end_of_turn>\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

export function tinyTokenizerJson(): Record<string, unknown> {
  const { tokens, merges } = tinyVocab();
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
    pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious", invert: false },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<bos>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<bos>": { id: "<bos>", ids: [2], tokens: ["<bos>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }],
    },
    model: {
      type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      merges,
    },
  };
}

let folder: string | undefined;

/** A temp folder with gemma3-tiny-a's weights and config and the tiny tokenizer (made once per process). */
export function tinyModelFolder(): string {
  if (folder) return folder;
  const src = findFixture("gemma3-tiny-a");
  const out = mkdtempSync(join(tmpdir(), "hearth-tiny-model-"));
  for (const f of ["config.json", "generation_config.json", "model.safetensors"]) copyFileSync(join(src, f), join(out, f));
  writeFileSync(join(out, "tokenizer.json"), JSON.stringify(tinyTokenizerJson()));
  writeFileSync(join(out, "tokenizer_config.json"), JSON.stringify({
    add_bos_token: true,
    add_eos_token: false,
    bos_token: "<bos>",
    eos_token: "<end_of_turn>",
    pad_token: "<pad>",
    unk_token: "<unk>",
    clean_up_tokenization_spaces: false,
    chat_template: CHAT_TEMPLATE,
  }));
  folder = out;
  return out;
}
