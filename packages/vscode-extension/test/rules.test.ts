// The suggestion rules and the cache, case by case (the behaviour the issue asks for, written out as expectations).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { localTokenLookup } from "../src/server/backend.js";
import { readyPart } from "../src/server/completion.js";
import { CompletionCache } from "../src/server/completion-cache.js";
import { ContextRing } from "../src/server/context-ring.js";
import { buildPrompt, detectFim, FIM_FAMILIES } from "../src/server/prompt.js";
import { cutSuggestion, discardReason, dropTypedOverlap, isMultiLine } from "../src/server/suggestion.js";

describe("discard rules", () => {
  const cases: Array<[string, string, string, string | undefined]> = [
    ["", "", "", "empty"],
    ["   \n ", "", "", "whitespace"],
    ["return x", "", "\n    return x\n", "repeats the next lines"],
    ["a = 1\nb = 2", "", "\na = 1\nb = 2\nc = 3", "repeats the next lines"],
    [")", "", ")\n", "only closes what is already closed"],
    ["});", "", "  });\n", "only closes what is already closed"],
    ["foo)", "", "\n", undefined],
    [")", "", "\n", undefined],  // closes something not closed yet: kept
    ["x + y", "", " x + y", "repeats the rest of the line"],
    ["return x + y", "", "\n\ndef other():", undefined],
  ];
  for (const [text, prefix, suffix, want] of cases)
    it(`${JSON.stringify(text)} before ${JSON.stringify(suffix)} → ${want ?? "shown"}`, () => {
      assert.equal(discardReason(text, { prefix, suffix }), want);
    });
});

describe("single- and multi-line mode", () => {
  it("is multi-line after {, : or inside a docstring, single-line mid-line", () => {
    assert.equal(isMultiLine({ prefix: "function f() {", suffix: "" }), true);
    assert.equal(isMultiLine({ prefix: "def f():\n    ", suffix: "\n" }), true);
    assert.equal(isMultiLine({ prefix: 'def f():\n    """Adds', suffix: "" }), true);
    assert.equal(isMultiLine({ prefix: "x = foo(", suffix: ")" }), false);
    assert.equal(isMultiLine({ prefix: "let x = ", suffix: "\n" }), false);
  });
  it("cuts single-line at the line end and multi-line at the end of the block", () => {
    assert.deepEqual(cutSuggestion("1 + 2\nfoo()", { prefix: "x = ", suffix: "" }, false), { text: "1 + 2", complete: true });
    assert.deepEqual(cutSuggestion("1 + 2", { prefix: "x = ", suffix: "" }, false), { text: "1 + 2", complete: false });
    const ctx = { prefix: "def f(a):\n    ", suffix: "" };
    assert.deepEqual(cutSuggestion("b = a\n    return b\ndef g():\n    pass", ctx, true), { text: "b = a\n    return b", complete: true });
  });
  it("drops the part of the line the user already typed", () => {
    assert.equal(dropTypedOverlap("return x", "def f(x):\n    ret"), "urn x");
    assert.equal(dropTypedOverlap("\nreturn x", "def f(x):\n    "), "return x");
  });
});

describe("time budget", () => {
  it("keeps the complete lines in multi-line mode, the partial line when none is complete, the partial single line", () => {
    assert.equal(readyPart("a = 1\n    b = 2\n    c =", true), "a = 1\n    b = 2");
    assert.equal(readyPart("a = 1\n    b", true), "a = 1");
    assert.equal(readyPart("return x +", true), "return x +");
    assert.equal(readyPart("\n    b = ", true), "\n    b =");  // a leading newline is no complete line
    assert.equal(readyPart("return x + ", false), "return x +");
    assert.equal(readyPart("", true), "");
  });
});

describe("completion cache", () => {
  it("returns the rest of a suggestion while its characters are typed, and misses when they differ", () => {
    const c = new CompletionCache(4);
    c.set("def f(x):\n    ", "\n", "return x * 2");
    assert.equal(c.get("def f(x):\n    ", "\n"), "return x * 2");
    assert.equal(c.get("def f(x):\n    ret", "\n"), "urn x * 2");
    assert.equal(c.get("def f(x):\n    return x * 2", "\n"), undefined);  // typed to the end: nothing left
    assert.equal(c.get("def f(x):\n    rex", "\n"), undefined);
    assert.equal(c.get("def f(x):\n    ret", "\nother"), undefined);  // the suffix is part of the key
  });
  it("evicts the least recently used entry", () => {
    const c = new CompletionCache(2);
    c.set("a", "", "1");
    c.set("b", "", "2");
    c.get("a", "");
    c.set("c", "", "3");
    assert.equal(c.get("b", ""), undefined);
    assert.equal(c.get("a", ""), "1");
  });
});

describe("prompts", () => {
  it("detects FIM sentinels from the vocabulary, none for Gemma 3's", () => {
    const codegemma = new Set(["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]);
    assert.equal(detectFim((t) => (codegemma.has(t) ? 1 : undefined))?.name, "codegemma");
    assert.equal(detectFim(() => undefined), undefined);
    // Gemma 3's real tokenizer (shipped with hearth-tiny) has no FIM entries.
    const gemma = localTokenLookup("hearth-tiny");
    assert.ok(gemma);
    assert.equal(gemma("<start_of_turn>"), 105);
    assert.equal(detectFim(gemma), undefined);
  });
  it("puts context first and the cursor last in the FIM template", () => {
    const p = buildPrompt("fim", { prefix: "a = ", suffix: "\nb", languageId: "python", path: "x.py", chunks: [{ path: "y.py", text: "z = 1" }] }, FIM_FAMILIES[0]);
    assert.ok("prompt" in p);
    assert.equal(p.prompt, "<|fim_prefix|># y.py\nz = 1\n\n# x.py\na = <|fim_suffix|>\nb<|fim_middle|>");
  });
  it("marks the hole for instruct models", () => {
    const p = buildPrompt("hole-filler", { prefix: "a = ", suffix: "\nb", languageId: "python", path: "x.py", chunks: [] });
    assert.ok("messages" in p);
    assert.match(String(p.messages[0]!.content), /<QUERY>\na = \{\{FILL_HERE\}\}\nb\n<\/QUERY>/);
    assert.deepEqual(p.stop, ["</COMPLETION>"]);
  });
});

describe("context ring", () => {
  it("keeps the newest chunks of other files within its bounds", () => {
    const r = new ContextRing(2, 4);
    r.record("a", "a.py", "line1 of a\nline2\nline3\nline4\nline5", 0);
    r.record("b", "b.py", "line1 of b\nline2\nline3", 0);
    r.record("c", "c.py", "line1 of c\nline2\nline3", 0);
    assert.deepEqual(r.pick("c").map((x) => x.path), ["b.py"]);
    assert.deepEqual(r.pick("z").map((x) => x.path), ["b.py", "c.py"]);
  });
});
