// Backend selection (the HEARTH_BACKEND contract) and the WebAssembly build's behaviour at the edges: each case
// runs in a child process because the backend is chosen once, when the engine module loads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const index = join(here, "..", "src", "index.js");
const nativeBuilt = existsSync(join(here, "..", "..", "build", "Release", "hearth_native.node"));

function run(code: string, env: Record<string, string | undefined>) {
  const fullEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) fullEnv[k] = v;
  const script = `import { mx, EngineError } from ${JSON.stringify(index)};\n${code}`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: fullEnv, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const info = `console.log(JSON.stringify(mx.backendInfo()));`;

test("HEARTH_BACKEND=wasm runs the WebAssembly build, with the engine's [op] errors", () => {
  const r = run(
    `${info}
     const a = mx.array([1, 2, 3, 4]);
     console.log(JSON.stringify(mx.add(a, a).tolist()));
     try { mx.reshape(a, [3]); } catch (e) { console.log(e instanceof EngineError, e.message); }`,
    { HEARTH_BACKEND: "wasm", HEARTH_THREADS: "1" },
  );
  assert.equal(r.status, 0, r.stderr);
  const [infoLine, sum, err] = r.stdout.trim().split("\n");
  const i = JSON.parse(infoLine);
  assert.equal(i.backend, "wasm");
  assert.equal(i.isa, "simd128");
  assert.equal(i.threads, 1);
  assert.deepEqual(JSON.parse(sum), [2, 4, 6, 8]);
  assert.match(err, /^true \[reshape\]/);
  assert.equal(r.stderr, ""); // forced: no fallback line
});

test("HEARTH_BACKEND=wasm with HEARTH_THREADS=2 runs the pthread build on two threads, [op] errors intact", () => {
  // The pthread build links its own unwinder glue (wasm/unwind-wasm-mt.c); without it every C++ exception there
  // escaped to JS as a bare WebAssembly.Exception.
  const r = run(
    `${info} mx.setNumThreads(1); console.log(mx.numThreads()); mx.setNumThreads(0); console.log(mx.numThreads());
     try { mx.concatenate([mx.ones([2, 3]), mx.ones([2, 4])], 0); } catch (e) { console.log(e instanceof EngineError, e.message); }`,
    { HEARTH_BACKEND: "wasm", HEARTH_THREADS: "2" });
  assert.equal(r.status, 0, r.stderr);
  const [infoLine, one, back, err] = r.stdout.trim().split("\n");
  assert.deepEqual(JSON.parse(infoLine), { backend: "wasm", isa: "simd128", threads: 2 });
  assert.equal(one, "1");
  assert.equal(back, "2");
  assert.match(err, /^true \[concatenate\]/);
});

test("without HEARTH_BACKEND a missing addon falls back to wasm with one line on stderr", () => {
  const r = run(info, { HEARTH_BACKEND: undefined, HEARTH_ADDON: "/nonexistent/hearth_native.node", HEARTH_THREADS: "1" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).backend, "wasm");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^hearth: native addon unavailable \(.*\); using the WebAssembly engine$/);
});

test("HEARTH_BACKEND=native with a missing addon fails instead of falling back", () => {
  const r = run(info, { HEARTH_BACKEND: "native", HEARTH_ADDON: "/nonexistent/hearth_native.node" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Cannot find module|hearth_native/);
});

test("an unknown HEARTH_BACKEND is an error that names the choices", () => {
  const r = run(info, { HEARTH_BACKEND: "gpu" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\[backend\] HEARTH_BACKEND must be "native" or "wasm", got "gpu"/);
});

test("native is the default when the addon loads", { skip: nativeBuilt ? false : "native addon not built" }, () => {
  const r = run(info, { HEARTH_BACKEND: undefined, HEARTH_ADDON: undefined });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).backend, "native");
  assert.equal(r.stderr, "");
});
