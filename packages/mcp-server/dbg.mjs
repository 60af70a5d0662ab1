import { stdioClient, workspace, text } from "./dist/test/helpers.js";
const w = await workspace();
const s = await stdioClient(["--root", w.root, "--embedding-model", w.embedder, "--adapter-dir", "/tmp/mcp-dbg-ad-" + Date.now()]);
const t0 = performance.now();
const log = (...a) => console.log(((performance.now() - t0) / 1000).toFixed(1), ...a);
const g = await s.client.callTool({ name: "generate", arguments: { prompt: "What is 2 + 2?", maxTokens: 8 } });
log("gen", text(g));
const r = await s.client.callTool({ name: "lora_train", arguments: { data: w.dataset, name: "zebra", iters: 12, batchSize: 4, learningRate: 0.02, rank: 8, numLayers: 4 } }, undefined,
  { timeout: 300000, resetTimeoutOnProgress: true, onprogress: (p) => log("progress", JSON.stringify(p)) });
log("train", text(r));
console.log(s.stderr());
await s.close();
