// Bundles the extension (CJS for VS Code's extension host), the chat page (browser IIFE) and the language server
// (one ESM file) with esbuild, and lays out server/ as the .vsix carries it: the native engine addon, the bundled
// hearth-tiny model, and @huggingface/jinja (the chat-template worker loads it by path).
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, realpathSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const engine = realpathSync(join(root, "node_modules", "@hearth", "engine"));
const t0 = Date.now();

await build({
  entryPoints: [join(root, "src/client/extension.ts")], outfile: join(root, "dist/extension.cjs"),
  bundle: true, platform: "node", format: "cjs", target: "node20", external: ["vscode"], minify: true, sourcemap: false, logLevel: "warning",
});
await build({
  entryPoints: [join(root, "webview/chat.ts")], outfile: join(root, "dist/webview.js"),
  bundle: true, platform: "browser", format: "iife", target: "es2022", minify: true, logLevel: "warning",
});
const server = join(root, "server");
rmSync(server, { recursive: true, force: true });
await build({
  entryPoints: [join(root, "src/server/main.ts")], outfile: join(server, "hearth-lsp.mjs"),
  bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning",
  // sharp (images) and xgrammar (JSON schema output) are loaded on first use; the LSP needs neither.
  external: ["sharp", "@mlc-ai/web-xgrammar"],
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
});
const addon = join(engine, "build", "Release", "hearth_native.node");
if (existsSync(addon)) {
  mkdirSync(join(server, "build", "Release"), { recursive: true });
  cpSync(addon, join(server, "build", "Release", "hearth_native.node"));
} else {
  console.warn(`bundle: no native addon at ${addon}; the package will need hearth.baseUrl (remote backend)`);
}
cpSync(join(engine, "models", "hearth-tiny"), join(server, "models", "hearth-tiny"), { recursive: true });
const jinja = realpathSync(join(engine, "node_modules", "@huggingface", "jinja"));
cpSync(jinja, join(server, "node_modules", "@huggingface", "jinja"), { recursive: true, dereference: true });
console.log(`bundle: dist/extension.cjs, dist/webview.js, server/ in ${Date.now() - t0} ms`);
