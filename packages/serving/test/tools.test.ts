// Tool calling for Gemma 3 through the documented prompt protocol and a grammar: calls always parse and match the
// tool's parameters; tool results go back in the history.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { lm } from "@hearth/engine";
import { collect, createLocalBackend, renderToolPrompt, ServingError, toolCallSchema, type ChatTurn, type ToolDefinition } from "../src/index.js";

const backend = createLocalBackend({});
after(() => backend.close());

const tools: ToolDefinition[] = [
  { name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { enum: ["Paris", "London", "Tokyo"] }, days: { type: "integer", minimum: 1, maximum: 7 } }, required: ["city", "days"], additionalProperties: false } },
  { name: "add", description: "Adds two numbers", parameters: { type: "object", properties: { a: { type: "integer", minimum: 0, maximum: 999 }, b: { type: "integer", minimum: 0, maximum: 999 } }, required: ["a", "b"], additionalProperties: false } },
];

test("a required tool call parses, names a tool and matches its parameters (sampled runs)", async () => {
  for (let i = 0; i < 4; i++) {
    const r = await collect(backend.generate({
      messages: [{ role: "user", content: "What is the weather in Paris for 3 days?" }], tools, toolChoice: "required",
      temperature: 1, seed: i, maxTokens: 200,
    }));
    assert.equal(r.finishReason, "tool_calls", r.text);
    assert.ok(r.toolCalls!.length >= 1);
    for (const c of r.toolCalls!) {
      const args = JSON.parse(c.arguments);
      if (c.name === "get_weather") {
        assert.ok(["Paris", "London", "Tokyo"].includes(args.city));
        assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7);
      } else {
        assert.equal(c.name, "add");
        assert.ok(Number.isInteger(args.a) && Number.isInteger(args.b));
      }
      assert.match(c.id, /^call_/);
    }
  }
});

test("parallelToolCalls false: at most one call per reply (the grammar allows one)", async () => {
  for (let i = 0; i < 2; i++) {
    const r = await collect(backend.generate({
      messages: [{ role: "user", content: "Weather in Paris, London and Tokyo for 2 days?" }], tools, toolChoice: "required",
      parallelToolCalls: false, temperature: 1, seed: 40 + i, maxTokens: 200,
    }));
    assert.equal(r.finishReason, "tool_calls", r.text);
    assert.equal(r.toolCalls!.length, 1, r.text);
    assert.equal(JSON.parse(r.text).tool_calls.length, 1);
  }
  assert.equal((toolCallSchema(tools, "required", 1).properties as { tool_calls: { maxItems: number } }).tool_calls.maxItems, 1);
  await assert.rejects(collect(backend.generate({ messages: [{ role: "user", content: "x" }], tools, parallelToolCalls: "no" as never })),
    (e: ServingError) => e.code === "invalid_request" && e.param === "parallelToolCalls");
});

test("tool_choice by name forces that tool; a round trip with the result in the history", async () => {
  const first = await collect(backend.generate({
    messages: [{ role: "user", content: "Add 4 and 75." }], tools, toolChoice: { name: "add" }, maxTokens: 200,
  }));
  assert.equal(first.finishReason, "tool_calls");
  const call = first.toolCalls![0];
  assert.equal(call.name, "add");
  const { a, b } = JSON.parse(call.arguments);
  const history: ChatTurn[] = [
    { role: "user", content: "Add 4 and 75." },
    { role: "assistant", content: "", toolCalls: [call] },
    { role: "tool", toolCallId: call.id, name: "add", content: String(a + b) },
  ];
  // The rendered prompt carries the call and its result (the model sees them).
  const turns = renderToolPrompt(history, tools, "auto");
  const tok = await lm.loadTokenizer(lm.bundledModelPath());
  const text = tok.applyChatTemplate(turns.map((t) => ({ role: t.role, content: t.content as string })), { addGenerationPrompt: true, tokenize: false }) as string;
  assert.ok(text.includes(`"name":"add"`) && text.includes(`Tool result for add (${call.id}):\n${a + b}`));
  // With "auto" the reply is either calls or an answer; both come out parsed.
  const second = await collect(backend.generate({ messages: history, tools, toolChoice: "auto", maxTokens: 150, temperature: 1, seed: 3 }));
  if (second.finishReason === "tool_calls") assert.ok(second.toolCalls!.every((c) => ["add", "get_weather"].includes(c.name)));
  else assert.equal(typeof second.text, "string");
  // tool_choice none: plain text, no calls.
  const none = await collect(backend.generate({ messages: history, tools, toolChoice: "none", maxTokens: 5 }));
  assert.equal(none.toolCalls, undefined);
  assert.notEqual(none.finishReason, "tool_calls");
});

test("bad tool definitions are invalid_request", async () => {
  await assert.rejects(collect(backend.generate({ messages: [{ role: "user", content: "x" }], tools: [{ name: "bad name!" }] })),
    (e: ServingError) => e.code === "invalid_request");
  await assert.rejects(collect(backend.generate({ messages: [{ role: "user", content: "x" }], tools, toolChoice: { name: "nope" } })),
    (e: ServingError) => e.code === "invalid_request" && e.param === "tool_choice");
});
