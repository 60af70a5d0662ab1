// Keeps the JS heap of a long generation flat. The decode loop makes short-lived JS objects at every token;
// left to its defaults V8 doubles the young generation under that allocation rate (8 → 33 MB committed) and lets
// the old generation fill with promoted garbage until its next limit, so RSS kept rising for the first ~10k
// tokens of a generation although the live heap stays ~16 MB (heap snapshots at 1k and 5k tokens differ by
// 0.3 MB). This module is imported first by main.ts: it stops the young generation from growing (the flag is read
// at each growth, so setting it at start-up works) and exposes a full collection that cacheTrimmer runs every
// few thousand tokens (~10 ms each on a small heap).
import v8 from "node:v8";
import vm from "node:vm";

v8.setFlagsFromString("--semi-space-growth-factor=1");
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as (() => void) | undefined;
v8.setFlagsFromString("--no-expose-gc");

/** A full garbage collection (no-op where the runtime does not allow it). */
export function collectGarbage(): void {
  gc?.();
}
