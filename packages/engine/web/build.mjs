// Bundles the browser demo with esbuild: dist/worker.js (a classic Web Worker: it importScripts() the
// emscripten glue) and dist/page.js. Node built-ins the engine imports are mapped to small browser shims,
// and src/core/native.ts to native-browser.ts (the addon comes from the wasm module the worker loads).
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const shim = (f) => join(here, "src", "shims", f);
const nodeShims = {
  fs: shim("fs.ts"),
  "fs/promises": shim("fs-promises.ts"),
  path: shim("path.ts"),
  zlib: shim("zlib.ts"),
};
const browserPlugin = {
  name: "hearth-browser",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: nodeShims[a.path.slice(5)] ?? shim("misc.ts") }));
    b.onResolve({ filter: /^(fs|path|zlib|os|util|url|module|worker_threads|child_process|readline|perf_hooks)$/ },
      (a) => ({ path: nodeShims[a.path] ?? shim("misc.ts") }));
    // The engine's addon loader, imported as ./native.js from src/core: swapped for the browser one.
    b.onResolve({ filter: /^\.\/native\.js$/ }, (a) =>
      a.importer.includes(join("src", "core")) ? { path: join(here, "src", "native-browser.ts") } : undefined);
    // sharp (images) is native-only; the text path never calls it.
    b.onResolve({ filter: /^sharp$/ }, () => ({ path: shim("misc.ts") }));
  },
};
const common = {
  bundle: true,
  platform: "browser",
  target: "es2022",
  sourcemap: false,
  minify: process.argv.includes("--minify"),
  logLevel: "warning",
  plugins: [browserPlugin],
  // The engine reads process.env for optional settings (HF cache folders...): none in a browser, and no
  // tokenizer cache (it writes under the home folder, which a page does not have).
  define: { "process.env": JSON.stringify({ HEARTH_TOKENIZER_CACHE: "0" }) },
};
// import.meta is empty in the worker's iife bundle; the engine's path arithmetic (src/lm/bundled.ts) only needs a
// well-formed file URL there, and nothing in the browser reads files through it.
const workerDefine = { ...common.define, "import.meta.url": JSON.stringify("file:///hearth/packages/engine/dist/src/index.js") };
await build({ ...common, define: workerDefine, entryPoints: [join(here, "src", "worker.ts")], outfile: join(here, "dist", "worker.js"), format: "iife" });
await build({ ...common, entryPoints: [join(here, "src", "page.ts")], outfile: join(here, "dist", "page.js"), format: "esm" });
console.log("web/dist: worker.js, page.js");
