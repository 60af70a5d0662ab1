// Measurements for the note (not a test): time from spawning the built hearth-mcp to the first tool result on the
// bundled hearth-tiny, and the generate tool's latency against the same generation through @hearth/serving in
// process and through lm.generate directly (the MCP overhead). Usage: node dist/scripts/measure.js [runs]
import { performance } from "node:perf_hooks";
import { lm } from "@hearth/engine";
import { collect, createLocalBackend } from "@hearth/serving";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BIN } from "../test/helpers.js";

const runs = Number(process.argv[2] ?? 10);
const PROMPT = "What is 71 - 53?";
// A different prompt per run, the same list on every path, so the serving layer's prefix cache cannot skip a prefill
// that lm.generate has to do.
const prompt = (i: number) => `What is ${10 + i} + ${53 - i}?`;
const MAX = 16;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function spawnToFirstResult(): Promise<number> {
  const t0 = performance.now();
  const client = new Client({ name: "measure", version: "0" });
  await client.connect(new StdioClientTransport({ command: BIN, args: [], stderr: "ignore" }));
  await client.callTool({ name: "generate", arguments: { prompt: PROMPT, maxTokens: 1 } });
  const t = performance.now() - t0;
  await client.close();
  return t;
}

const spawnTimes: number[] = [];
for (let i = 0; i < 3; i++) spawnTimes.push(await spawnToFirstResult());
console.log(`spawn → first generate result (maxTokens 1), 3 runs: median ${fmt(median(spawnTimes))} [${spawnTimes.map(fmt).join(", ")}]`);

const client = new Client({ name: "measure", version: "0" });
await client.connect(new StdioClientTransport({ command: BIN, args: [], stderr: "ignore" }));
const tool: number[] = [];
let toolText = "";
for (let i = 0; i <= runs; i++) {
  const t0 = performance.now();
  const r = (await client.callTool({ name: "generate", arguments: { prompt: prompt(i), maxTokens: MAX } })) as CallToolResult;
  if (i > 0) tool.push(performance.now() - t0); // the first call loads the model
  toolText = (r.structuredContent as { text: string }).text;
}
// A tool that does no model work (an unknown job id): the round trip of the protocol itself.
const trivial: number[] = [];
for (let i = 0; i < 50; i++) {
  const t0 = performance.now();
  await client.callTool({ name: "lora_status", arguments: { jobId: "none" } });
  trivial.push(performance.now() - t0);
}
await client.close();

const backend = createLocalBackend({});
const served: number[] = [];
for (let i = 0; i <= runs; i++) {
  const t0 = performance.now();
  await collect(backend.generate({ messages: [{ role: "user", content: prompt(i) }], maxTokens: MAX, temperature: 0 }));
  if (i > 0) served.push(performance.now() - t0);
}
await backend.close();

const { model, tokenizer } = await lm.load("hearth-tiny");
const direct: number[] = [];
let directText = "";
for (let i = 0; i <= runs; i++) {
  const t0 = performance.now();
  directText = await lm.generate(model, tokenizer!, { messages: [{ role: "user", content: prompt(i) }], maxTokens: MAX });
  if (i > 0) direct.push(performance.now() - t0);
}
console.log(`generate "${prompt(runs)}"-style prompts (a new one each run), maxTokens ${MAX}, ${runs} warm runs each (last texts equal: ${toolText === directText}, ${JSON.stringify(toolText)}):`);
console.log(`  MCP tool over stdio     median ${fmt(median(tool))}`);
console.log(`  @hearth/serving local   median ${fmt(median(served))}`);
console.log(`  lm.generate directly    median ${fmt(median(direct))}`);
console.log(`  a tool call without model work (lora_status, 50 runs) median ${fmt(median(trivial))}: the stdio JSON-RPC round trip`);
console.log(`  MCP overhead vs lm.generate: ${fmt(median(tool) - median(direct))}; vs the serving layer: ${fmt(median(tool) - median(served))}`);
