// Static server for the browser demo: serves the engine package's web/, wasm/prebuilt/ and models/ folders.
// With isolate (the default) it sends the COOP/COEP headers that make the page cross-origin isolated, so
// SharedArrayBuffer and wasm threads are available; without them the worker runs the one-thread build.
// CLI: node web/serve.mjs [--port 8080] [--no-isolate]
import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ALLOWED = ["/web/", "/wasm/prebuilt/", "/models/hearth-tiny/"];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

export function startServer({ port = 0, isolate = true } = {}) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    let path = decodeURIComponent(url.pathname);
    if (path === "/" || path === "/web") path = "/web/index.html";
    const clean = normalize(path);
    const headers = isolate
      ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" }
      : {};
    if (!ALLOWED.some((p) => clean.startsWith(p)) || clean.includes("..")) {
      res.writeHead(404, headers).end("not found");
      return;
    }
    const file = join(root, clean);
    let size;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      res.writeHead(404, headers).end("not found");
      return;
    }
    // .gz files are served as bytes (no Content-Encoding): the engine gunzips tokenizer.json.gz itself.
    res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": size });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  const isolate = !process.argv.includes("--no-isolate");
  const server = await startServer({ port, isolate });
  console.log(`Hearth web demo: http://127.0.0.1:${server.address().port}/web/index.html${isolate ? "" : " (not isolated: one thread)"}`);
}
