// The engine in a Web Worker: instantiates the WebAssembly build (the pthread one when the page is
// cross-origin isolated, else one thread), copies the model's files from the same origin into the wasm file
// system, then answers prompts. Messages in: init, generate; out: ready, token, done, error.
import { getDefaultContext } from "@emnapi/runtime";
import type { WasmHost } from "./wasm-host.js";

interface InitMsg {
  type: "init";
  base: string; // URL of the engine package root (wasm/prebuilt and models/ below it)
  model: string; // folder under models/
  files: string[];
  threads: number;
}
interface GenerateMsg {
  type: "generate";
  prompt: string;
  maxTokens: number;
}
declare function importScripts(...urls: string[]): void;
const scope = self as unknown as {
  crossOriginIsolated?: boolean;
  createHearthWasm?: (opts: object) => Promise<any>;
  postMessage(m: unknown): void;
  onmessage: ((ev: MessageEvent) => void) | null;
};

let engine: typeof import("./engine-entry.js") | undefined;
let loaded: Awaited<ReturnType<typeof import("./engine-entry.js")["load"]>> | undefined;

async function init(m: InitMsg): Promise<void> {
  const t0 = performance.now();
  const mt = Boolean(scope.crossOriginIsolated) && m.threads > 1;
  const glue = new URL(`wasm/prebuilt/${mt ? "hearth-mt.js" : "hearth.js"}`, m.base).href;
  importScripts(glue);
  const threads = mt ? m.threads : 1;
  const M = await scope.createHearthWasm!({
    hearthPoolSize: threads - 1,
    mainScriptUrlOrBlob: glue, // pthread workers load the glue from its own file, not from this bundle
    locateFile: (p: string) => new URL(p, glue).href,
    preRun: [(mod: any) => Object.assign(mod.ENV, { HEARTH_WASM_THREADS: String(threads) })],
  });
  const addon = M.emnapiInit({ context: getDefaultContext(), filename: glue });
  (globalThis as { __hearthWasm?: WasmHost }).__hearthWasm = { addon, FS: M.FS, threads };
  const dir = `/models/${m.model}`;
  M.FS.mkdirTree(dir);
  await Promise.all(
    m.files.map(async (f) => {
      const r = await fetch(new URL(`models/${m.model}/${f}`, m.base));
      if (!r.ok) throw new Error(`[load] ${f}: HTTP ${r.status}`);
      M.FS.writeFile(`${dir}/${f}`, new Uint8Array(await r.arrayBuffer()));
    }),
  );
  engine = await import("./engine-entry.js");
  loaded = await engine.load(dir);
  if (loaded.tokenizer) loaded.tokenizer.chatTemplateTimeoutMs = 0; // see generate()
  scope.postMessage({ type: "ready", info: engine.backendInfo(), loadMs: performance.now() - t0 });
}

async function generate(m: GenerateMsg): Promise<void> {
  if (!engine || !loaded?.tokenizer) throw new Error("[generate] the model is not loaded (send init first)");
  const { model, tokenizer } = loaded;
  // The prompt as one user turn through the chat template, rendered in-thread (timeoutMs 0): the guarded render
  // needs node:worker_threads, and this worker is already off the page's thread.
  const prompt = engine.promptTokens(tokenizer, { prompt: m.prompt, chatTemplateOptions: { timeoutMs: 0 } });
  let out = "";
  let last: any;
  for await (const r of engine.streamGenerate(model, tokenizer, { prompt, maxTokens: m.maxTokens, temp: 0 })) {
    out += r.text;
    last = r;
    scope.postMessage({ type: "token", text: r.text });
  }
  scope.postMessage({
    type: "done",
    text: out,
    generationTps: last?.generationTps,
    promptTps: last?.promptTps,
    peakMemoryMB: engine.getPeakMemory() / 2 ** 20,
  });
}

scope.onmessage = (ev: MessageEvent) => {
  const m = ev.data as InitMsg | GenerateMsg;
  const job = m.type === "init" ? init(m) : generate(m);
  job.catch((e: unknown) => scope.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) }));
};
