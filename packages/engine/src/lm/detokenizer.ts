/**
 * Streaming detokenizer: turns generated token ids into text as they arrive, so a client sees
 * words while the model is still producing them.
 *
 * The invariant that matters: the concatenation of every chunk returned by `add` plus `flush()`
 * equals `decode(allIds)` exactly. It follows from decoding a small window (the previously
 * emitted chunk as context plus the new tokens) and emitting only what the window adds beyond its
 * context. The context token(s) absorb decoder effects tied to the first token of a sequence
 * (Metaspace/Strip removing a leading space, WordPiece joining), so each step behaves like the same
 * position inside `decode(allIds)`. Each step decodes O(chunk) tokens, never the whole history.
 *
 * Partial characters: a byte-fallback tokenizer (Gemma, Llama 2) spells characters missing from
 * the vocabulary as `<0xE2><0x82><0xAC>`; decoding only the first two would give U+FFFD. For those
 * we run the WHATWG UTF-8 decoder's state machine over the byte tokens and hold output while a
 * character is incomplete, which is exact: a genuine U+FFFD in the text is never held back and an
 * invalid sequence is emitted (as U+FFFD) as soon as the decoder itself would give up on it.
 * Byte-level BPE (GPT-2 style) tokens can end mid-character too, but mapping them back to bytes
 * needs the decoder's tables, so there we hold while the text ends in U+FFFD, for at most a few
 * tokens (a character is at most 4 bytes) so a real U+FFFD can't stall the stream.
 */

/** What the detokenizer needs from a tokenizer; `Tokenizer` implements it. */
export interface DetokenizerSource {
  /** Decode exactly as `Tokenizer.decode` does (must accept an empty list). */
  decodeIds(ids: readonly number[], skipSpecialTokens: boolean): string;
  /** The byte a byte-fallback token (`<0xHH>`) stands for, or -1 for any other token. */
  byteValue(id: number): number;
  /** Whether `decode(..., skipSpecialTokens: true)` drops this id. */
  isSpecialId(id: number): boolean;
  /** How a token can end in the middle of a character (see the module comment). */
  readonly partialCharacters: "byte-fallback" | "byte-level" | "none";
}

export interface DetokenizerOptions {
  /** Drop special tokens (`<end_of_turn>`, ...) from the text, as `decode` does with the same flag. */
  skipSpecialTokens?: boolean;
}

export interface StreamingDetokenizer {
  /** Add one generated token; returns the text it completed (often "", e.g. mid-character). */
  add(tokenId: number): string;
  /** End of stream: returns whatever is still held (an unfinished character decodes to U+FFFD). */
  flush(): string;
  /** All text returned so far by `add` and `flush`. */
  readonly text: string;
  /** All token ids added so far. */
  readonly tokens: readonly number[];
  /** Forget everything and start a new stream. */
  reset(): void;
}

// In byte-level mode a character can straddle at most 4 tokens, one byte each.
const MAX_BYTE_LEVEL_HOLD = 4;

/**
 * Incremental mirror of the WHATWG UTF-8 decoder (the one TextDecoder and the ByteFallback decoder
 * use): `pending` is how many continuation bytes the current character still needs.
 */
class Utf8State {
  pending = 0;
  private lower = 0x80;
  private upper = 0xbf;

  reset(): void {
    this.pending = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  push(byte: number): void {
    if (this.pending > 0) {
      if (byte >= this.lower && byte <= this.upper) {
        this.pending--;
        this.lower = 0x80;
        this.upper = 0xbf;
        return;
      }
      // Invalid continuation: the decoder emits U+FFFD for what it had and re-reads this byte as
      // the start of a new character.
      this.reset();
    }
    if (byte >= 0xc2 && byte <= 0xdf) {
      this.pending = 1;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      this.pending = 2;
      // Overlong (E0) and surrogate (ED) forms are rejected at the second byte.
      if (byte === 0xe0) this.lower = 0xa0;
      if (byte === 0xed) this.upper = 0x9f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      this.pending = 3;
      if (byte === 0xf0) this.lower = 0x90;
      if (byte === 0xf4) this.upper = 0x8f;
    }
    // ASCII, a stray continuation byte or an impossible lead (C0, C1, F5..FF) finishes at once.
  }
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // Never cut between the halves of a surrogate pair.
  if (i > 0 && i < a.length && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800) i--;
  return i;
}

class WindowDetokenizer implements StreamingDetokenizer {
  private ids: number[] = [];
  /** First id of the decode window (start of the previously emitted chunk, kept as context). */
  private windowStart = 0;
  /** Ids before this index have been turned into emitted text. */
  private emittedUpTo = 0;
  /** decode(ids[windowStart, emittedUpTo)): the part of the window's text already emitted. */
  private contextText = "";
  private emitted = "";
  private readonly utf8 = new Utf8State();
  private readonly skipSpecial: boolean;

  constructor(
    private readonly source: DetokenizerSource,
    opts: DetokenizerOptions,
  ) {
    this.skipSpecial = opts.skipSpecialTokens ?? false;
  }

  get text(): string {
    return this.emitted;
  }

  get tokens(): readonly number[] {
    return this.ids;
  }

  add(tokenId: number): string {
    this.ids.push(tokenId);
    const mode = this.source.partialCharacters;
    if (mode === "byte-fallback") {
      const byte = this.source.byteValue(tokenId);
      if (byte >= 0) this.utf8.push(byte);
      // A skipped special token is filtered out before the byte decoder runs, so it does not
      // end a byte run; any other token does.
      else if (!(this.skipSpecial && this.source.isSpecialId(tokenId))) this.utf8.reset();
      if (this.utf8.pending > 0) return "";
    }
    const windowText = this.decodeWindow();
    if (
      mode === "byte-level" &&
      windowText.endsWith("\uFFFD") &&
      this.ids.length - this.emittedUpTo < MAX_BYTE_LEVEL_HOLD
    ) {
      return "";
    }
    return this.emit(windowText);
  }

  flush(): string {
    this.utf8.reset();
    if (this.emittedUpTo === this.ids.length) return "";
    return this.emit(this.decodeWindow());
  }

  reset(): void {
    this.ids = [];
    this.windowStart = 0;
    this.emittedUpTo = 0;
    this.contextText = "";
    this.emitted = "";
    this.utf8.reset();
  }

  private decodeWindow(): string {
    return this.source.decodeIds(this.ids.slice(this.windowStart), this.skipSpecial);
  }

  private emit(windowText: string): string {
    // The context is a prefix of the window for every prefix-stable decoder; one that rewrites
    // already-emitted text (e.g. clean_up_tokenization_spaces) can't be undone, so emit from
    // where the two agree rather than duplicating or dropping text.
    const cut = windowText.startsWith(this.contextText)
      ? this.contextText.length
      : commonPrefixLength(windowText, this.contextText);
    const chunk = windowText.slice(cut);
    this.windowStart = this.emittedUpTo;
    this.emittedUpTo = this.ids.length;
    this.contextText = this.source.decodeIds(this.ids.slice(this.windowStart, this.emittedUpTo), this.skipSpecial);
    this.emitted += chunk;
    return chunk;
  }
}

/** A streaming detokenizer over any {@link DetokenizerSource} (usually `tokenizer.createDetokenizer()`). */
export function createStreamingDetokenizer(
  source: DetokenizerSource,
  opts: DetokenizerOptions = {},
): StreamingDetokenizer {
  return new WindowDetokenizer(source, opts);
}
