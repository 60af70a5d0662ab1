// Structured output through XGrammar (WebAssembly): a JSON Schema or json_object becomes a grammar compiled against
// the model's vocabulary; a matcher per request gives the allowed-token bitmask for each step. Tokenizer info
// (~0.5 s for Gemma 3's 262,144 tokens) is built once per model, compiled grammars are cached by schema.
import { createRequire } from "node:module";
import type { ResponseFormat } from "./backend.js";
import { ServingError } from "./errors.js";
import type { TextModel } from "./model-host.js";
import type { TokenConstraint } from "./row-loop.js";

/* The parts of @mlc-ai/web-xgrammar used here (its .d.ts can't be imported from the .cjs copy). */
interface XgCompiled { dispose(): void }
interface XgInfo { dispose(): void; getVocabSize(): number }
interface XgCompiler {
  dispose(): void;
  compileJSONSchema(schema: string, anyWhitespace?: boolean, indent?: number, separators?: [string, string], strictMode?: boolean, maxWhitespaceCnt?: number): Promise<XgCompiled>;
  compileBuiltinJSONGrammar(): Promise<XgCompiled>;
}
interface XgMatcherHandle {
  GetNextTokenBitmask(vocab: number): { size(): number; get(i: number): number; delete(): void };
}
interface XgMatcher {
  handle: XgMatcherHandle;
  dispose(): void;
  acceptToken(token: number): boolean;
  isTerminated(): boolean;
}
interface Xg {
  TokenizerInfo: { createTokenizerInfo(vocab: string[], vocabType?: string, prependSpace?: boolean, vocabSize?: number, stop?: number[]): Promise<XgInfo> };
  GrammarCompiler: { createGrammarCompiler(info: XgInfo, cache?: boolean): Promise<XgCompiler> };
  GrammarMatcher: { createGrammarMatcher(g: XgCompiled, stop?: number[], terminateWithoutStop?: boolean): Promise<XgMatcher> };
}

let xg: Xg | undefined;
function xgrammar(): Xg {
  if (!xg) {
    // dist/src/grammar.js → dist/vendor/xgrammar.cjs (copied there by the build, see scripts/vendor-xgrammar.mjs).
    const require = createRequire(import.meta.url);
    xg = require("../vendor/xgrammar.cjs") as Xg;
  }
  return xg;
}

/** The message of the error a request gets when its grammar allows no token (see GrammarConstraint.stuck). */
export const CANNOT_WRITE = "the model's vocabulary cannot write this schema";

/** A request's grammar: masks each next token and says when the JSON is complete. */
export class GrammarConstraint implements TokenConstraint {
  private done = false;
  /**
   * The grammar allowed no token at all: the vocabulary has no token for a character the schema needs (e.g. a
   * character-level tokenizer without "{"). The row is then ended on an end-of-sequence token instead of sampling
   * from nothing, and the request fails with CANNOT_WRITE.
   */
  stuck = false;
  constructor(private readonly matcher: XgMatcher, private readonly vocab: number, private readonly stop: number[]) {}

  nextTokenMask(): Int32Array {
    // The package's getNextTokenBitmask is async only to await its init, which is done by now: read the vector here.
    const v = this.matcher.handle.GetNextTokenBitmask(this.vocab);
    const n = v.size();
    const out = new Int32Array(n);
    let any = 0;
    for (let i = 0; i < n; i++) any |= out[i] = v.get(i);
    v.delete();
    if (!any && !this.done) {
      this.stuck = true;
      for (const t of this.stop) if (t < n * 32) out[t >> 5] |= 1 << (t & 31);
      this.release();  // ends the row ("terminated"), whatever is sampled
    }
    return out;
  }

  accept(token: number): void {
    if (this.done) return;  // stuck (see above): the row ends on this token
    if (!this.matcher.acceptToken(token)) throw new ServingError("internal", `the grammar rejected token ${token} it had allowed`);
    if (this.matcher.isTerminated()) this.release();
  }

  isTerminated(): boolean {
    return this.done;
  }

  dispose(): void {
    this.release();
  }

  private release(): void {
    if (this.done) return;
    this.done = true;
    this.matcher.dispose();
  }
}

interface PerModel {
  info: Promise<{ info: XgInfo; compiler: XgCompiler; vocab: number; stop: number[] }>;
  grammars: Map<string, Promise<XgCompiled>>;
}

const MAX_GRAMMARS = 64;

export class GrammarService {
  private readonly models = new Map<string, PerModel>();

  private perModel(tm: TextModel): PerModel {
    let pm = this.models.get(tm.id);
    if (!pm) {
      const build = async () => {
        const x = xgrammar();
        const tok = tm.tokenizer;
        const cfg = (tm.config.text_config ?? tm.config) as { vocab_size?: number };
        const vocab = cfg.vocab_size ?? tok.vocabSize;
        const encoded: string[] = new Array(vocab);
        for (let i = 0; i < vocab; i++) encoded[i] = tok.idToToken(i) ?? `<unused_pad_${i}>`;
        // Gemma's vocabulary is SentencePiece-style: "▁" for spaces and <0xNN> byte tokens.
        const stop = [...new Set([...tok.eosTokenIds, ...tm.eosTokenIds])];
        const info = await x.TokenizerInfo.createTokenizerInfo(encoded, "byte_fallback", false, vocab, stop);
        const compiler = await x.GrammarCompiler.createGrammarCompiler(info, true);
        return { info, compiler, vocab, stop };
      };
      pm = { info: build(), grammars: new Map() };
      this.models.set(tm.id, pm);
    }
    return pm;
  }

  /** The compiled grammar of a response format (cached by schema text). */
  private async compiled(tm: TextModel, format: ResponseFormat): Promise<{ grammar: XgCompiled; vocab: number }> {
    const pm = this.perModel(tm);
    const { compiler, vocab } = await pm.info;
    let key: string;
    if (format.type === "json_object") key = "json_object";
    else if (format.type === "json_schema") {
      if (!format.schema || typeof format.schema !== "object" || Array.isArray(format.schema))
        throw new ServingError("invalid_request", "json_schema needs a schema object", { param: "response_format" });
      key = JSON.stringify(format.schema);
    } else throw new ServingError("invalid_request", `unknown response format '${(format as { type: string }).type}'`, { param: "response_format" });
    let g = pm.grammars.get(key);
    if (!g) {
      // Compact JSON (no free whitespace): the model can't wander into endless spaces at temperature 1.
      g = key === "json_object"
        ? compiler.compileBuiltinJSONGrammar()
        : compiler.compileJSONSchema(key, false, -1, [",", ":"], true);
      g.catch(() => pm.grammars.delete(key));
      pm.grammars.set(key, g);
      if (pm.grammars.size > MAX_GRAMMARS) {
        const oldest = pm.grammars.keys().next().value as string;
        const old = pm.grammars.get(oldest)!;
        pm.grammars.delete(oldest);
        old.then((c) => c.dispose(), () => undefined);
      }
    }
    try {
      return { grammar: await g, vocab };
    } catch (e) {
      throw new ServingError("invalid_request", `the JSON schema cannot be used: ${(e as Error).message}`, { param: "response_format", cause: e });
    }
  }

  /** A fresh constraint (one matcher) for one request. */
  async constraint(tm: TextModel, format: ResponseFormat): Promise<GrammarConstraint> {
    const { grammar, vocab } = await this.compiled(tm, format);
    const { stop } = await this.perModel(tm).info;
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(grammar, stop, false);
    return new GrammarConstraint(matcher, vocab, stop);
  }

  forget(modelId: string): void {
    const pm = this.models.get(modelId);
    if (!pm) return;
    this.models.delete(modelId);
    pm.info.then(({ info, compiler }) => {
      for (const g of pm.grammars.values()) g.then((c) => c.dispose(), () => undefined);
      compiler.dispose();
      info.dispose();
    }, () => undefined);
  }

  close(): void {
    for (const id of [...this.models.keys()]) this.forget(id);
  }
}
