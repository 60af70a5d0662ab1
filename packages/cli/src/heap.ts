// Keeps the JS heap of a long generation flat. The decode loop makes short-lived JS objects at every token;
// left to its defaults V8 doubles the young generation under that allocation rate (8 → 33 MB committed) and lets
// the old generation fill with promoted garbage until its next limit, so RSS kept rising for the first ~10k
// tokens of a generation although the live heap stays ~16 MB (heap snapshots at 1k and 5k tokens differ by
// 0.3 MB). Once a generation is long (cacheTrimmer's first trim), settleHeap() stops the young generation from
// growing further (V8 reads the flag at each growth, so setting it at run time works); collectGarbage() runs a
// full collection (~10 ms on a small heap) every few thousand tokens. Not at start-up: a young generation kept
// at its initial size costs dozens of extra scavenges while modules and the model load.
import v8 from "node:v8";
import vm from "node:vm";

let gc: (() => void) | undefined;
let settled = false;

/** From now on the young generation keeps its current size. */
export function settleHeap(): void {
  if (settled) return;
  settled = true;
  v8.setFlagsFromString("--semi-space-growth-factor=1");
  v8.setFlagsFromString("--expose-gc");
  gc = vm.runInNewContext("gc") as (() => void) | undefined;
  v8.setFlagsFromString("--no-expose-gc");
}

/** A full garbage collection (no-op where the runtime does not allow it). */
export function collectGarbage(): void {
  settleHeap();
  gc?.();
}
