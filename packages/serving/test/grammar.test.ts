// Structured output through XGrammar on hearth-tiny (Gemma 3's 262,144-token vocabulary): every sampled output at
// temperature 1 parses and validates against the schema (checked with Python's jsonschema when it is installed).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { collect, createLocalBackend, ServingError } from "../src/index.js";
import { engineHelpers } from "./helpers.js";

const backend = createLocalBackend({});
after(() => backend.close());

const schema = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    pet: { enum: ["cat", "dog", "none"] },
    tags: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 3 },
    adult: { type: "boolean" },
  },
  required: ["name", "age", "pet", "tags", "adult"],
  additionalProperties: false,
};

/** Python's jsonschema (an outside validator) when present, else a check of the keywords used here. */
function validate(values: unknown[]): string[] {
  const py = spawnSync("python3", ["-c", `
import json, sys
try:
    import jsonschema
except ImportError:
    print("NO_JSONSCHEMA"); sys.exit(0)
d = json.load(sys.stdin)
for i, v in enumerate(d["values"]):
    try:
        jsonschema.validate(v, d["schema"])
    except jsonschema.ValidationError as e:
        print(f"{i}: {e.message}")
`], { input: JSON.stringify({ schema, values }), encoding: "utf8" });
  if (py.status === 0 && !py.stdout.includes("NO_JSONSCHEMA")) return py.stdout.split("\n").filter(Boolean);
  const errs: string[] = [];
  values.forEach((v, i) => {
    const o = v as Record<string, unknown>;
    const ok = o && typeof o === "object" && !Array.isArray(o) && Object.keys(o).every((k) => k in schema.properties) &&
      schema.required.every((k) => k in o) && typeof o.name === "string" && o.name.length >= 1 && o.name.length <= 12 &&
      Number.isInteger(o.age) && (o.age as number) >= 0 && (o.age as number) <= 120 && ["cat", "dog", "none"].includes(o.pet as string) &&
      Array.isArray(o.tags) && o.tags.length <= 3 && o.tags.every((t) => typeof t === "string" && t.length <= 8) && typeof o.adult === "boolean";
    if (!ok) errs.push(`${i}: ${JSON.stringify(v)}`);
  });
  return errs;
}

// 8 runs here keep the package suite lean; hearth server's test (packages/server) runs the 20 through HTTP.
test("json_schema: 8 sampled runs at temperature 1 all parse and validate", async () => {
  const values: unknown[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await collect(backend.generate({
      messages: [{ role: "user", content: "Describe a person as JSON." }], temperature: 1, seed: 100 + i, maxTokens: 200,
      responseFormat: { type: "json_schema", schema },
    }));
    assert.equal(r.finishReason, "stop", `run ${i} ended with ${r.finishReason}: ${r.text}`);
    values.push(JSON.parse(r.text));
  }
  assert.deepEqual(validate(values), []);
  // Not all the same: sampling really happened.
  assert.ok(new Set(values.map((v) => JSON.stringify(v))).size > 1);
});

test("a schema the model's vocabulary cannot write: a clear unsupported error, before any event or where it gets stuck", async () => {
  // The tiny vision model's character tokenizer has no "{", "}", "[" or "]".
  const vlm = createLocalBackend({ model: (await engineHelpers()).tinyVlmWithTokenizer() });
  const cannot = (param: string) => (e: ServingError) =>
    e.code === "unsupported" && e.param === param && e.message.startsWith("the model's vocabulary cannot write this schema");
  try {
    const seen: string[] = [];
    const run = async (req: Parameters<typeof vlm.generate>[0]) => {
      seen.length = 0;
      for await (const e of vlm.generate(req)) seen.push(e.type);
    };
    await assert.rejects(run({ prompt: "x", responseFormat: { type: "json_schema", schema: { type: "object", properties: { a: { type: "string" } }, required: ["a"] } } }), cannot("response_format"));
    assert.equal(seen.length, 0, "refused before the stream starts");
    await assert.rejects(run({ messages: [{ role: "user", content: "x" }], tools: [{ name: "f" }], toolChoice: "required" }), cannot("tools"));
    // A string that needs "{" after two letters: the stream starts, then fails where the grammar has no token left.
    await assert.rejects(run({ prompt: "x", maxTokens: 20, responseFormat: { type: "json_schema", schema: { const: "ab{" } } }), cannot("response_format"));
    assert.equal(seen[0], "start");
    assert.equal(seen.filter((t) => t === "token").length, 4, '"ab then the stop token');
    assert.ok(!seen.includes("done"));
  } finally {
    await vlm.close();
  }
});

test("json_object gives a JSON object; a bad schema is an invalid_request", async () => {
  for (let i = 0; i < 2; i++) {
    const r = await collect(backend.generate({ prompt: "JSON:", temperature: 1, seed: i, maxTokens: 40, responseFormat: { type: "json_object" } }));
    assert.match(r.text, /^\{/);
    if (r.finishReason !== "stop") continue;  // json_object has no size bound: a long object may reach maxTokens
    const v = JSON.parse(r.text);
    assert.ok(typeof v === "object" && !Array.isArray(v) && v !== null);
  }
  await assert.rejects(collect(backend.generate({ prompt: "x", responseFormat: { type: "json_schema", schema: { type: "no-such-type" } } })),
    (e: ServingError) => e.code === "invalid_request" && e.param === "response_format");
});
