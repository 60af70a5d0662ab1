// Keeps the committed WebAssembly build (wasm/prebuilt) in step with the C++ sources it was built from.
//   node wasm/sources-hash.mjs --write   (build.sh runs it after a full build) records a SHA-256 of every input
//                                        in prebuilt/SOURCES.sha256
//   node wasm/sources-hash.mjs --check   exits 1, naming the files, when an input changed since then
// Inputs: every native/ source the Makefile compiles (all .cpp except tests, fuzzers and the x86/NEON-only ISA
// files), every native/ header, the build files in wasm/, and the emnapi / node-addon-api versions.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const wasmDir = dirname(fileURLToPath(import.meta.url));
const engine = join(wasmDir, "..");
const manifestPath = join(wasmDir, "prebuilt", "SOURCES.sha256");

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

// Mirrors the Makefile's SRCS (plus headers, which any of them may include).
function inputs() {
  const native = walk(join(engine, "native"))
    .map((f) => relative(engine, f))
    .filter((f) => !f.startsWith("native/tests/") && !f.startsWith("native/io/fuzz/"))
    .filter((f) => f.endsWith(".h") || (f.endsWith(".cpp") && !/_(avx2|avx512|amx|neon)\.cpp$/.test(f)));
  const build = ["wasm/Makefile", "wasm/build.sh", "wasm/patch-emnapi-library.mjs", "wasm/post-mt.js", "wasm/unwind-wasm-mt.c"];
  return [...native, ...build].sort();
}

function versions() {
  const require = createRequire(join(engine, "package.json"));
  const v = (name) => {
    try {
      return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
    } catch {
      return "missing";
    }
  };
  return { emnapi: v("emnapi"), "node-addon-api": v("node-addon-api") };
}

function current() {
  const lines = inputs().map((f) => `${createHash("sha256").update(readFileSync(join(engine, f))).digest("hex")}  ${f}`);
  for (const [k, v] of Object.entries(versions())) lines.push(`version  ${k}@${v}`);
  return lines;
}

const mode = process.argv[2];
if (mode === "--write") {
  writeFileSync(manifestPath, current().join("\n") + "\n");
  console.log(`wrote ${relative(engine, manifestPath)}`);
} else if (mode === "--check") {
  if (!existsSync(manifestPath)) {
    console.error(`wasm prebuilt check: ${relative(engine, manifestPath)} is missing; rebuild with packages/engine/wasm/build.sh`);
    process.exit(1);
  }
  const recorded = new Map(
    readFileSync(manifestPath, "utf8").trim().split("\n").map((l) => {
      const [h, f] = l.split(/ {2}/);
      return [f, h];
    }),
  );
  const now = new Map(current().map((l) => {
    const [h, f] = l.split(/ {2}/);
    return [f, h];
  }));
  const changed = [];
  for (const [f, h] of now) if (recorded.get(f) !== h) changed.push(recorded.has(f) ? `changed: ${f}` : `new: ${f}`);
  for (const f of recorded.keys()) if (!now.has(f)) changed.push(`removed: ${f}`);
  if (changed.length > 0) {
    console.error(
      `wasm prebuilt check: wasm/prebuilt was built from other sources than these (${changed.length} differ):\n  ` +
        changed.join("\n  ") +
        `\nRebuild it (Debian: apt-get install emscripten; then packages/engine/wasm/build.sh) and commit wasm/prebuilt.`,
    );
    process.exit(1);
  }
  console.log(`wasm prebuilt check: wasm/prebuilt matches the ${now.size} inputs it was built from`);
} else {
  console.error("usage: node wasm/sources-hash.mjs --write | --check");
  process.exit(2);
}
