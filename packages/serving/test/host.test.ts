// ModelHost: loads by name or path, refuses a load over the memory cap before reading weights, unloads on request
// and after an idle time, reports what is loaded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lm } from "@hearth/engine";
import { ModelHost, ServingError, weightBytes } from "../src/index.js";
import { engineHelpers } from "./helpers.js";

const tinyBytes = weightBytes(lm.bundledModelPath());

test("a load that would pass the memory limit is out_of_memory, checked before loading", async () => {
  const host = new ModelHost({ memoryLimitBytes: tinyBytes - 1 });
  await assert.rejects(host.load("hearth-tiny"), (e: ServingError) => e.code === "out_of_memory" && /unload a model or raise the limit/.test(e.message));
  assert.equal(host.isLoaded("hearth-tiny"), false);
  assert.equal(host.loadedBytes, 0);
  host.close();
});

test("the cap counts what is resident: a second model fits only after the first is unloaded", async () => {
  const vlm = (await engineHelpers()).tinyVlmWithTokenizer();
  const host = new ModelHost({ memoryLimitBytes: tinyBytes + weightBytes(vlm) - 1 });
  const info = await host.load("hearth-tiny");
  assert.equal(info.bytes, tinyBytes);
  await assert.rejects(host.load(vlm), (e: ServingError) => e.code === "out_of_memory");
  host.unload("hearth-tiny");
  const v = await host.load(vlm);
  assert.equal(v.kind, "vision");
  assert.deepEqual(host.list().filter((m) => m.loaded).map((m) => m.id), [vlm]);
  host.close();
});

test("idle models are unloaded; models in use are not", async () => {
  const host = new ModelHost({ idleUnloadMs: 100 });
  await host.load("hearth-tiny");
  const lease = await host.acquireText("hearth-tiny");
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(host.isLoaded("hearth-tiny"), true, "held by a request");
  lease.release();
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(host.isLoaded("hearth-tiny"), false);
  host.close();
});

test("names, paths and kinds", async () => {
  const host = new ModelHost({ models: { tiny: "hearth-tiny" }, allowPaths: false });
  assert.equal((await host.load("tiny")).kind, "text");
  await assert.rejects(host.load("/tmp"), (e: ServingError) => e.code === "path_denied");
  await assert.rejects(host.load("nothing-here"), (e: ServingError) => e.code === "model_not_found");
  await assert.rejects(host.acquireEmbedder("tiny"), (e: ServingError) => e.code === "unsupported");
  host.close();
});
