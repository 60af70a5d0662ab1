// A character-level tokenizer sized for the tiny fixture models (their vocabularies are 300 and 512), with
// Gemma 3's special tokens and its real chat template, so processors and embed() can run end to end.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { findFixture } from "./fixtures.js";

const CHARS = [..." \n", ..."abcdefghijklmnopqrstuvwxyz", ..."ABCDEFGHIJKLMNOPQRSTUVWXYZ", ..."0123456789", ...".,:;!?'\"()-|/_"];

/** Writes tokenizer.json + tokenizer_config.json for `vocab` ids into folder; specials may pin ids at the top. */
export function writeTinyTokenizer(folder: string, vocab: number, pinned: Record<string, number> = {}): void {
  const specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"];
  const tokens = new Map<string, number>();
  specials.forEach((t, i) => tokens.set(t, i));
  for (const c of CHARS) tokens.set(c === " " ? "▁" : c, tokens.size);
  for (const [t, id] of Object.entries(pinned)) tokens.set(t, id);
  const used = new Set(tokens.values());
  for (let id = 0, k = 0; id < vocab; id++) if (!used.has(id)) tokens.set(`<unused${k++}>`, id);
  const specialSet = new Set([...specials, ...Object.keys(pinned)]);
  const added = [...tokens].filter(([t]) => specialSet.has(t)).map(([content, id]) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<bos>": { id: "<bos>", ids: [2], tokens: ["<bos>"] } },
    },
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "Fuse" }] },
    model: {
      type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(tokens), merges: [],
    },
  };
  const realConfig = JSON.parse(gunzipSync(readFileSync(join(findFixture("tokenizer-gemma3"), "tokenizer_config.json.gz"))).toString("utf8"));
  const extra: Record<string, string> = {};
  if ("<start_of_image>" in pinned) Object.assign(extra, { boi_token: "<start_of_image>", eoi_token: "<end_of_image>", image_token: "<image_soft_token>" });
  const config = {
    bos_token: "<bos>", eos_token: "<end_of_turn>", pad_token: "<pad>", unk_token: "<unk>",
    clean_up_tokenization_spaces: false, extra_special_tokens: extra, chat_template: realConfig.chat_template,
  };
  writeFileSync(join(folder, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(join(folder, "tokenizer_config.json"), JSON.stringify(config));
}

/** A temp copy of gemma3-vlm-tiny (config dialect of choice) with a tokenizer whose image ids match its config. */
export function tinyVlmWithTokenizer(configFile = "config.json"): string {
  const src = findFixture("gemma3-vlm-tiny");
  const out = mkdtempSync(join(tmpdir(), "hearth-vlm-"));
  for (const f of ["model.safetensors", "generation_config.json"]) cpSync(join(src, f), join(out, f));
  cpSync(join(src, configFile), join(out, "config.json"));
  writeTinyTokenizer(out, 300, { "<start_of_image>": 297, "<end_of_image>": 298, "<image_soft_token>": 299 });
  return out;
}

/** A temp copy of embeddinggemma-tiny with a 512-id tokenizer (embed() needs one). */
export function tinyEmbedderWithTokenizer(configFile = "config.json"): string {
  const src = findFixture("embeddinggemma-tiny");
  const out = mkdtempSync(join(tmpdir(), "hearth-emb-"));
  cpSync(src, out, { recursive: true });
  cpSync(join(src, configFile), join(out, "config.json"));
  writeTinyTokenizer(out, 512);
  return out;
}
