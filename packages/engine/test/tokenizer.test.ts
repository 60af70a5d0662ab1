import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ChatTemplateError,
  ChatTemplateSyntaxError,
  ChatTemplateTimeoutError,
  createStreamingDetokenizer,
  createTokenizer,
  loadTokenizer,
  renderTemplate,
  type ChatMessage,
  type DetokenizerSource,
  type Tokenizer,
} from "../src/lm/tokenizer.js";

interface EncodeCase {
  text: string;
  ids: number[];
  ids_with_bos: number[];
  decoded: string;
}
interface ChatCase {
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  rendered: string;
  ids: number[];
}
interface Reference {
  vocab_size: number;
  len: number;
  encode: EncodeCase[];
  chat: ChatCase[];
  non_alternating_roles_error: string;
}

/**
 * The compiled test runs from dist/test/ (inside the package) or from a scratch build folder, so
 * look upwards from both the module and the working directory for the package's test/fixtures.
 */
function findFixture(name: string): string {
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, "test", "fixtures", name);
      if (existsSync(join(candidate, "reference.json"))) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`fixture ${name} not found above ${starts.join(" or ")}`);
}

const FIXTURE = findFixture("tokenizer-gemma3");
const REF = JSON.parse(readFileSync(join(FIXTURE, "reference.json"), "utf8")) as Reference;

let loaded: Promise<Tokenizer> | undefined;
function gemma(): Promise<Tokenizer> {
  loaded ??= loadTokenizer(FIXTURE);
  return loaded;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Stream ids through a detokenizer, checking every chunk is well formed; returns the chunks. */
function stream(tok: Tokenizer, ids: readonly number[], skipSpecialTokens = false): string[] {
  const detok = tok.createDetokenizer({ skipSpecialTokens });
  const chunks: string[] = [];
  for (const id of ids) chunks.push(detok.add(id));
  chunks.push(detok.flush());
  for (const chunk of chunks) assert.doesNotMatch(chunk, LONE_SURROGATE, `lone surrogate in chunk ${JSON.stringify(chunk)}`);
  assert.equal(detok.text, chunks.join(""));
  assert.deepEqual(detok.tokens, ids);
  return chunks;
}

async function tempFolder(): Promise<string> {
  return mkdtemp(join(tmpdir(), "hearth-tokenizer-"));
}

test("loads the Gemma 3 tokenizer metadata", async () => {
  const tok = await gemma();
  assert.equal(tok.vocabSize, REF.vocab_size);
  assert.equal(tok.size, REF.len);
  assert.equal(tok.bosTokenId, 2);
  assert.ok(tok.eosTokenIds.includes(1), "<eos> ends generation");
  assert.ok(tok.eosTokenIds.includes(106), "<end_of_turn> ends generation");
  assert.deepEqual(tok.eosTokenIds, [...new Set(tok.eosTokenIds)].sort((a, b) => a - b));
  assert.equal(tok.specialTokens.bos, "<bos>");
  assert.equal(tok.specialTokens.eos, "<end_of_turn>");
  assert.equal(tok.specialTokens.extra.image_token, "<image_soft_token>");
  assert.equal(tok.specialTokens.all.get("<start_of_turn>"), 105);
  assert.equal(tok.tokenToId("<end_of_turn>"), 106);
  assert.equal(tok.idToToken(106), "<end_of_turn>");
  assert.equal(tok.idToToken(238), "<0x00>");
  assert.equal(tok.tokenToId("no such token, surely"), undefined);
  assert.ok(tok.hasChatTemplate);
  assert.match(tok.chatTemplate ?? "", /start_of_turn/);
});

test("encodes every reference string to the reference ids, with and without <bos>", async () => {
  const tok = await gemma();
  for (const c of REF.encode) {
    assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, `ids for ${JSON.stringify(c.text)}`);
    assert.deepEqual(tok.encode(c.text), c.ids_with_bos, `ids with <bos> for ${JSON.stringify(c.text)}`);
    assert.deepEqual(tok.encode(c.text, { addSpecialTokens: true }), c.ids_with_bos);
  }
});

test("decodes every reference id list back as the reference says", async () => {
  const tok = await gemma();
  for (const c of REF.encode) {
    assert.equal(tok.decode(c.ids), c.decoded);
    assert.equal(tok.decode(c.ids_with_bos), `<bos>${c.decoded}`);
    const plain = c.ids_with_bos.filter((id) => !tok.isSpecialId(id));
    assert.equal(tok.decode(c.ids_with_bos, { skipSpecialTokens: true }), tok.decode(plain));
    if (!/<[a-z_]+>/.test(c.text)) assert.equal(tok.decode(c.ids_with_bos, { skipSpecialTokens: true }), c.decoded);
  }
  assert.equal(tok.decode([]), "");
  assert.equal(tok.decode([2, 105, 2364, 107, 10979, 106, 107], { skipSpecialTokens: true }), "user\nHi\n");
});

test("renders every reference chat character for character, and tokenizes it to the reference ids", async () => {
  const tok = await gemma();
  for (const c of REF.chat) {
    const text = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt, tokenize: false });
    assert.equal(text, c.rendered);
    // tokenize defaults to true, and the template's own <bos> must not be doubled.
    assert.deepEqual(tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt }), c.ids);
    // The same through the unguarded in-thread path.
    assert.equal(tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt, tokenize: false, timeoutMs: 0 }), c.rendered);
  }
});

test("non-alternating roles raise the template's own error", async () => {
  const tok = await gemma();
  const messages: ChatMessage[] = [
    { role: "user", content: "one" },
    { role: "user", content: "two" },
  ];
  for (const timeoutMs of [undefined, 0]) {
    assert.throws(
      () => tok.applyChatTemplate(messages, { tokenize: false, timeoutMs }),
      (err: unknown) => {
        assert.ok(err instanceof ChatTemplateError);
        assert.equal(String(err), REF.non_alternating_roles_error);
        assert.equal(err.message, "Conversation roles must alternate user/assistant/user/assistant/...");
        assert.match(err.templateSource, /tokenizer_config\.json/);
        return true;
      },
    );
  }
});

test("content given as a list of parts renders like a string and passes images through", async () => {
  const tok = await gemma();
  const asParts = tok.applyChatTemplate(
    [
      { role: "system", content: [{ type: "text", text: "You are a precise assistant." }] },
      { role: "user", content: [{ type: "text", text: "Why is bf16 a good default?" }] },
    ],
    { addGenerationPrompt: true, tokenize: false },
  );
  assert.equal(asParts, REF.chat[2]?.rendered);
  const withImage = tok.applyChatTemplate(
    [{ role: "user", content: [{ type: "image" }, { type: "text", text: " What is this? " }] }],
    { addGenerationPrompt: true, tokenize: false },
  );
  assert.equal(withImage, "<bos><start_of_turn>user\n<start_of_image>What is this?<end_of_turn>\n<start_of_turn>model\n");
});

test("template variables: tools, extra kwargs, special tokens, continueFinalMessage", async () => {
  const tok = await gemma();
  const messages: ChatMessage[] = [{ role: "user", content: "Hi" }];
  const probe = "{{ tools is none }}|{{ bos_token }}|{{ eos_token }}|{{ image_token }}|{{ enable_thinking }}|{{ add_generation_prompt }}";
  assert.equal(
    tok.applyChatTemplate(messages, { chatTemplate: probe, tokenize: false, enable_thinking: false }),
    "true|<bos>|<end_of_turn>|<image_soft_token>|false|false",
  );
  // Our raise_exception replaces the library's; an attribute of that name is left alone.
  for (const timeoutMs of [undefined, 0]) {
    assert.equal(
      tok.applyChatTemplate(messages, { chatTemplate: "{{ cfg.raise_exception }}", cfg: { raise_exception: "attr" }, tokenize: false, timeoutMs }),
      "attr",
    );
    assert.throws(
      () => tok.applyChatTemplate(messages, { chatTemplate: "{% if true %}{{ raise_exception('boom: ' + messages[0].content) }}{% endif %}", timeoutMs }),
      (err: unknown) => err instanceof ChatTemplateError && String(err) === "TemplateError: boom: Hi",
    );
  }
  const tools = [{ type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } }];
  assert.equal(tok.applyChatTemplate(messages, { chatTemplate: "{{ tools[0].function.name }}", tools, tokenize: false }), "get_time");
  const continued = tok.applyChatTemplate(
    [
      { role: "user", content: "Count to three" },
      { role: "assistant", content: "One, two," },
    ],
    { continueFinalMessage: true, tokenize: false },
  );
  assert.equal(continued, "<bos><start_of_turn>user\nCount to three<end_of_turn>\n<start_of_turn>model\nOne, two,");
});

test("a template that never ends times out instead of hanging, and rendering recovers", async () => {
  const tok = await gemma();
  const forever = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done";
  const started = performance.now();
  assert.throws(
    () => tok.applyChatTemplate([{ role: "user", content: "Hi" }], { chatTemplate: forever, tokenize: false, timeoutMs: 250 }),
    (err: unknown) => {
      assert.ok(err instanceof ChatTemplateTimeoutError);
      assert.match(err.message, /did not finish rendering within 250 ms/);
      assert.match(err.message, /chatTemplate option/);
      return true;
    },
  );
  // Generous bound: only checks that the guard fired rather than the loop finishing (hours).
  assert.ok(performance.now() - started < 30_000);
  // The default budget (2 s) applies without any option.
  assert.throws(() => renderTemplate(forever, {}, { source: "forever.jinja" }), /forever\.jinja did not finish rendering within 2000 ms/);
  // A fresh worker takes over after a timeout.
  assert.equal(tok.applyChatTemplate(REF.chat[0]!.messages, { addGenerationPrompt: true, tokenize: false }), REF.chat[0]!.rendered);
});

test("a template syntax error names the template source", async () => {
  const tok = await gemma();
  for (const timeoutMs of [undefined, 0]) {
    assert.throws(
      () => tok.applyChatTemplate([{ role: "user", content: "Hi" }], { chatTemplate: "{% for x in %}", tokenize: false, timeoutMs }),
      (err: unknown) => err instanceof ChatTemplateSyntaxError && /the chatTemplate option has a syntax error/.test(err.message),
    );
  }
});

test("streamed chunks reassemble to decode() for every reference string", async () => {
  const tok = await gemma();
  for (const c of REF.encode) {
    for (const ids of [c.ids, c.ids_with_bos]) {
      for (const skip of [false, true]) {
        const expected = tok.decode(ids, { skipSpecialTokens: skip });
        const chunks = stream(tok, ids, skip);
        assert.equal(chunks.join(""), expected, `stream of ${JSON.stringify(c.text)} (skip=${skip})`);
        if (!expected.includes("\uFFFD")) assert.ok(!chunks.some((s) => s.includes("\uFFFD")));
      }
    }
  }
  for (const c of REF.chat) assert.equal(stream(tok, c.ids).join(""), c.rendered);
});

test("characters split across byte-fallback tokens are emitted only once complete", async () => {
  const tok = await gemma();
  // Characters missing from the Gemma vocabulary, spelled as <0xHH> byte tokens.
  for (const ch of ["🧌", "𓀀", "𝔘", "\u{10FFFD}"]) {
    const ids = tok.encode(ch, { addSpecialTokens: false });
    assert.equal(ids.length, 4, `${ch} is four byte tokens`);
    assert.ok(ids.every((id) => tok.byteValue(id) >= 0));
    const detok = tok.createDetokenizer();
    assert.equal(detok.add(ids[0]!), "");
    assert.equal(detok.add(ids[1]!), "");
    assert.equal(detok.add(ids[2]!), "");
    assert.equal(detok.add(ids[3]!), ch);
    assert.equal(detok.flush(), "");
  }
  const text = "Leading ▁ café 🧌 then CJK 中文字符 and 𓀀𝔘 mixed 👨‍👩‍👧 € end";
  const ids = tok.encode(text);
  const chunks = stream(tok, ids);
  assert.equal(chunks.join(""), tok.decode(ids));
  assert.ok(!chunks.some((s) => s.includes("\uFFFD")));
  // € = E2 82 AC, from explicit byte tokens.
  const euro = [0xe2, 0x82, 0xac].map((b) => tok.tokenToId(`<0x${b.toString(16).toUpperCase()}>`)!);
  assert.deepEqual(stream(tok, [tok.tokenToId("▁price")!, ...euro]), [" price", "", "", "€", ""]);
});

test("unfinished or invalid byte sequences become U+FFFD exactly as decode() does", async () => {
  const tok = await gemma();
  const byte = (b: number): number => tok.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)!;
  const hello = tok.encode("Hello", { addSpecialTokens: false });
  const cases: number[][] = [
    [...hello, byte(0xe2), byte(0x82)], // cut off at the end of the stream
    [byte(0xe2), ...hello], // lead byte followed by a normal token
    [byte(0x80), byte(0xff), byte(0xc0), byte(0xaf)], // never valid
    [byte(0xe0), byte(0x80), byte(0x80)], // overlong
    [byte(0xed), byte(0xa0), byte(0x80)], // surrogate code point
    [byte(0xf0), byte(0x9f), byte(0x98), byte(0xe2), byte(0x82), byte(0xac)], // truncated 4-byte char then €
    [byte(0xe2), 106, byte(0x82), byte(0xac)], // a special token inside a byte run
  ];
  for (const ids of cases) {
    for (const skip of [false, true]) {
      assert.equal(stream(tok, ids, skip).join(""), tok.decode(ids, { skipSpecialTokens: skip }), `ids ${ids} skip=${skip}`);
    }
  }
  const detok = tok.createDetokenizer();
  detok.add(byte(0xe2));
  assert.equal(detok.add(byte(0x82)), "");
  assert.equal(detok.flush(), "\uFFFD");
});

test("random token streams reassemble exactly (byte tokens, specials, words)", async () => {
  const tok = await gemma();
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const words = tok.encode(" the ▁ quick\n\tbrown 中文 café 😀 fox", { addSpecialTokens: false });
  const pool = [...words, 1, 2, 105, 106, 236743, 107];
  for (let b = 0; b < 256; b++) pool.push(238 + b);
  for (let trial = 0; trial < 300; trial++) {
    const ids = Array.from({ length: 1 + rand(24) }, () => pool[rand(pool.length)]!);
    const skip = trial % 2 === 1;
    const expected = tok.decode(ids, { skipSpecialTokens: skip });
    const chunks = stream(tok, ids, skip);
    assert.equal(chunks.join(""), expected, `ids ${JSON.stringify(ids)} skip=${skip}`);
  }
});

/** A tiny tokenizer.json around a given decoder, to exercise decoders Gemma doesn't use. */
function tinyTokenizer(decoder: unknown, vocab: Record<string, number>, special: string): Tokenizer {
  const added = [{ id: 0, content: special, special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }];
  const model = { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] };
  return createTokenizer({
    tokenizer: { version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null, pre_tokenizer: null, post_processor: null, decoder, model },
    tokenizerConfig: { eos_token: special, clean_up_tokenization_spaces: false },
  });
}

test("other decoders stream exactly like decode(): Llama-style leading-space Strip, byte-level BPE", () => {
  const llama = tinyTokenizer(
    {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    { "<s>": 0, "▁Hello": 1, "▁world": 2, "▁": 3, "<0xE2>": 4, "<0x82>": 5, "<0xAC>": 6, "!": 7 },
    "<s>",
  );
  assert.equal(llama.partialCharacters, "byte-fallback");
  // decode() drops the first token's leading space and so must the stream, but only that one.
  assert.deepEqual(stream(llama, [1, 2, 3, 4, 5, 6, 7]), ["Hello", " world", " ", "", "", "€", "!", ""]);
  // GPT-2 byte-level: "â" "Ĥ" "¬" are the bytes of "€"; "ï¿½" is a genuine U+FFFD.
  const gpt = tinyTokenizer(
    { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    { "<|endoftext|>": 0, Hello: 1, "Ġworld": 2, "Ġ": 3, "â": 4, "Ĥ": 5, "¬": 6, "!": 7, "ï¿½": 8 },
    "<|endoftext|>",
  );
  assert.equal(gpt.partialCharacters, "byte-level");
  assert.deepEqual(gpt.eosTokenIds, [0]);
  assert.deepEqual(stream(gpt, [1, 2, 3, 4, 5, 6, 7]), ["Hello", " world", " ", "", "", "€", "!", ""]);
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let trial = 0; trial < 200; trial++) {
    const tok = trial % 2 === 0 ? llama : gpt;
    const ids = Array.from({ length: 1 + rand(16) }, () => rand(tok === gpt ? 9 : 8));
    const skip = rand(2) === 1;
    assert.equal(stream(tok, ids, skip).join(""), tok.decode(ids, { skipSpecialTokens: skip }), `ids ${ids}`);
  }
});

test("the streaming detokenizer decodes a bounded window per token, not the history", async () => {
  const tok = await gemma();
  let largestWindow = 0;
  const counting: DetokenizerSource = {
    partialCharacters: tok.partialCharacters,
    byteValue: (id) => tok.byteValue(id),
    isSpecialId: (id) => tok.isSpecialId(id),
    decodeIds: (ids, skip) => {
      largestWindow = Math.max(largestWindow, ids.length);
      return tok.decodeIds(ids, skip);
    },
  };
  const ids = tok.encode("Some streamed text with 🧌 and 𓀀 inside. ".repeat(200));
  const detok = createStreamingDetokenizer(counting);
  let text = "";
  for (const id of ids) text += detok.add(id);
  text += detok.flush();
  assert.equal(text, tok.decode(ids));
  assert.ok(ids.length > 2000);
  assert.ok(largestWindow <= 8, `window grew to ${largestWindow} tokens`);
});

test("a missing folder or a folder without tokenizer files says what was looked for where", async () => {
  const missing = join(tmpdir(), "hearth-no-such-folder-xyz");
  await assert.rejects(loadTokenizer(missing), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.ok(err.message.includes(missing), err.message);
    assert.match(err.message, /tokenizer\.json/);
    return true;
  });
  const empty = await tempFolder();
  try {
    await assert.rejects(loadTokenizer(empty), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.includes(empty), err.message);
      assert.match(err.message, /tokenizer\.json or tokenizer\.json\.gz/);
      return true;
    });
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test("malformed JSON is reported with the file's name", async () => {
  const folder = await tempFolder();
  try {
    await writeFile(join(folder, "tokenizer.json"), "{ not json");
    await assert.rejects(loadTokenizer(folder), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.includes(join(folder, "tokenizer.json")), err.message);
      assert.match(err.message, /Malformed JSON/);
      return true;
    });
    await rm(join(folder, "tokenizer.json"));
    await copyFile(join(FIXTURE, "tokenizer.json.gz"), join(folder, "tokenizer.json.gz"));
    await writeFile(join(folder, "tokenizer_config.json"), '{"chat_template": ');
    await assert.rejects(loadTokenizer(folder), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.includes(join(folder, "tokenizer_config.json")), err.message);
      return true;
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test("chat_template.jinja takes precedence, generation_config adds EOS ids, syntax errors name the file", async () => {
  const folder = await tempFolder();
  try {
    await copyFile(join(FIXTURE, "tokenizer.json.gz"), join(folder, "tokenizer.json.gz"));
    await copyFile(join(FIXTURE, "tokenizer_config.json.gz"), join(folder, "tokenizer_config.json.gz"));
    const broken = "{{ bos_token }}{% for message in messages %}{{ message['content'] }";
    await writeFile(join(folder, "chat_template.jinja"), broken);
    await writeFile(join(folder, "generation_config.json"), JSON.stringify({ eos_token_id: [1, 106, 50] }));
    await writeFile(join(folder, "config.json"), JSON.stringify({ eos_token_id: 7 }));
    const tok = await loadTokenizer(folder);
    assert.equal(tok.chatTemplate, broken);
    assert.deepEqual(tok.eosTokenIds, [1, 7, 50, 106]);
    assert.throws(
      () => tok.applyChatTemplate([{ role: "user", content: "Hi" }], { tokenize: false }),
      (err: unknown) => err instanceof ChatTemplateSyntaxError && err.message.includes(join(folder, "chat_template.jinja")),
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test("encoding speed on 100,000 characters of source code (measured, not asserted)", async () => {
  const tok = await gemma();
  const lines = [
    "export function scale(values: Float32Array, factor = 2.5): Float32Array {",
    "  const out = new Float32Array(values.length); // allocate once",
    "  for (let i = 0; i < values.length; i++) out[i] = values[i] * factor;",
    "  if (out.length !== values.length) throw new Error(`bad length ${out.length}`);",
    "  return out;",
    "}",
    "",
    "def parse(line):\n    key, _, value = line.partition('=')\n    return {key.strip(): value.strip()}  # naïve",
  ];
  let source = "";
  for (let i = 0; source.length < 100_000; i++) source += lines[i % lines.length]!.replace("scale", `scale${i}`) + "\n";
  source = source.slice(0, 100_000);
  const rate = (ms: number): string => `${Math.round(source.length / (ms / 1000)).toLocaleString("en-US")} chars/s`;
  let started = performance.now();
  const ids = tok.encode(source);
  const firstMs = performance.now() - started;
  let bestMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    started = performance.now();
    tok.encode(source);
    bestMs = Math.min(bestMs, performance.now() - started);
  }
  console.log(
    `encode: ${source.length} chars -> ${ids.length} tokens; first call ${firstMs.toFixed(1)} ms (${rate(firstMs)}), ` +
      `best of 3 warm ${bestMs.toFixed(1)} ms (${rate(bestMs)})`,
  );
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), source);
});
