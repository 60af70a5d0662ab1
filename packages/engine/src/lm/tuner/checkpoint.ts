// Gradient checkpointing for a model made of a chain of blocks (model.layers): the forward pass keeps only each
// block's input and output, and the backward pass re-runs one block at a time under mx.vjp, so at most one block's
// activations are alive. Built on mx.vjp and stopGradient in four passes:
//   1. forward, block by block (each block's output evaluated at once, its intermediates released);
//   2. the head (everything after the last block) differentiated w.r.t. the last block's output and the
//      trainable parameters outside the blocks, the blocks replaying their recorded outputs;
//   3. each block, last to first, recomputed under mx.vjp with the cotangent from the block above;
//   4. only if parameters outside the blocks are trainable: Σ stop(∂L/∂x₀)·x₀ differentiated for the part before
//      the blocks (embeddings).
// Dropout in adapter layers draws from a per-block key so that the recomputation drops the same units.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { treeFlatten, treeMap, treeUnflatten } from "../../core/tree.js";
import type { Module, ParamTree } from "../../nn/module.js";
import { withDropoutKey } from "./lora.js";

interface Record_ {
  x: MxArray;
  rest: unknown[];
  y: MxArray;
  key: MxArray;
}

type Mode = "record" | "replay" | "pre";

function blockPaths(model: Module, blocks: Module[]): string[] {
  const where = new Map<Module, string>();
  for (const [p, m] of model.namedModules()) if (!where.has(m)) where.set(m, p);
  return blocks.map((b, i) => {
    const p = where.get(b);
    if (p === undefined) throw new EngineError(`[gradCheckpoint] block ${i} is not a sub-module of the model`);
    return p;
  });
}

export interface CheckpointOptions {
  /** The chain of blocks (default model.layers). */
  blocks?: Module[];
  /**
   * Evaluate the head (what follows the last block: final norm, output projection, loss) on this many row chunks
   * of the batch, one after the other: the [rows, length, vocab] logits of one chunk at a time. Needs fn to return
   * [mean loss over counted tokens, token count] and to treat batch rows independently (the trainer's loss does);
   * array arguments whose first axis is the batch are sliced. Default 1.
   */
  headChunks?: number;
}

/**
 * nn.valueAndGrad(model, fn) with gradient checkpointing over opts.blocks (default model.layers): same value, same
 * gradients (shaped like model.trainableParameters()), much less memory for deep models. fn must call every block
 * exactly once, in order, each block's output feeding the next (a transformer's layer loop), with the block input
 * as the first argument of block.forward.
 */
export function checkpointedValueAndGrad<F extends (...args: any[]) => any>(
  model: Module, fn: F, opts: CheckpointOptions = {},
): (...args: Parameters<F>) => [ReturnType<F>, ParamTree] {
  return (...args: Parameters<F>) => {
    const bl = opts.blocks ?? ((model as any).layers as Module[]);
    if (!Array.isArray(bl) || !bl.length) throw new EngineError("[gradCheckpoint] the model has no blocks (model.layers)");
    const n = bl.length;
    const paths = blockPaths(model, bl);
    const trainableTree = model.trainableParameters();
    const trainable = treeFlatten(trainableTree) as [string, MxArray][];
    const perBlock: [string, MxArray][][] = bl.map(() => []);
    const other: [string, MxArray][] = [];
    for (const e of trainable) {
      const i = paths.findIndex((p) => e[0].startsWith(p + "."));
      if (i >= 0) perBlock[i].push([e[0].slice(paths[i].length + 1), e[1]]);
      else other.push(e);
    }
    const firstTrainable = perBlock.findIndex((b) => b.length > 0);
    const lowest = other.length ? 0 : firstTrainable < 0 ? n : firstTrainable;

    const rec: Record_[] = new Array(n);
    let mode: Mode = "record";
    let seen = 0;
    let lastTracer: MxArray | null = null;
    let preX: MxArray | null = null;
    let chunkArgs: Parameters<F> | null = null;
    let rowSlice: ((a: MxArray) => MxArray) | null = null;
    const orig = bl.map((b) => (b as any).forward as (...a: unknown[]) => MxArray);
    const callOrig = (i: number, x: MxArray, rest: unknown[]) => orig[i].call(bl[i], x, ...rest);

    bl.forEach((b, i) => {
      Object.defineProperty(b, "forward", {
        configurable: true, enumerable: false, writable: true,
        value: (x: MxArray, ...rest: unknown[]) => {
          if (i !== seen) throw new EngineError(`[gradCheckpoint] block ${i} was called out of order (expected block ${seen})`);
          seen = (seen + 1) % n;
          if (mode === "record") {
            rec[i] = mx.tidy(() => {
              const xi = mx.stopGradient(x);
              const key = mx.random.bits([2], 4);
              const y = withDropoutKey(key, () => callOrig(i, xi, rest));
              mx.eval(xi, y, key);
              return { x: xi, y, key, rest };
            });
            return rec[i].y;
          }
          if (mode === "pre") {
            // Only block 0's input matters here; the rest of the graph is built but never evaluated.
            if (i === 0) preX = x;
            return x;
          }
          if (i === n - 1 && lastTracer) return lastTracer;
          return rowSlice ? rowSlice(rec[i].y) : rec[i].y;
        },
      });
    });

    const grads = new Map<string, MxArray>();
    let value: ReturnType<F>;
    try {
      // 1. Forward, recording block boundaries (the head's graph is built but not evaluated).
      fn(...args);
      if (rec.some((r) => r === undefined) || seen !== 0)
        throw new EngineError("[gradCheckpoint] the loss function did not call every block exactly once");

      // 2. Head: ∂L/∂y_last and ∂L/∂(parameters outside the blocks), blocks replaying their outputs; in row chunks
      //    of the batch when asked (the logits of a large vocabulary are the biggest tensors of a step).
      mode = "replay";
      const otherLeaves = other.map(([, a]) => a);
      const B = rec[n - 1].y.shape[0];
      const chunks = Math.max(1, Math.min(opts.headChunks ?? 1, B));
      const rowArgs = args.map((a) => mx.isArray(a) && a.ndim > 0 && a.shape[0] === B);
      const headFn = (yLast: MxArray, ...leaves: MxArray[]) => {
        lastTracer = yLast;
        if (leaves.length) model.update(treeUnflatten(other.map(([k], j) => [k, leaves[j]])));
        return fn(...(chunkArgs ?? args));
      };
      const vg = mx.valueAndGrad(headFn, Array.from({ length: otherLeaves.length + 1 }, (_, j) => j));
      let gY: MxArray;
      try {
        if (chunks === 1) {
          const out = mx.tidy(() => {
            const [v, g] = vg(rec[n - 1].y, ...otherLeaves) as [ReturnType<F>, MxArray[]];
            mx.eval(v, g);
            return { v, g };
          });
          value = out.v;
          gY = out.g[0];
          other.forEach(([k], j) => grads.set(k, out.g[j + 1]));
        } else {
          // fn returns [mean loss over its counted tokens, count]: chunk results combine weighted by their counts.
          const size = Math.ceil(B / chunks);
          const parts: { v: MxArray[]; g: MxArray[] }[] = [];
          for (let r0 = 0; r0 < B; r0 += size) {
            const r1 = Math.min(B, r0 + size);
            const rows = (a: MxArray) => mx.slice(a, [r0, ...a.shape.slice(1).map(() => 0)], [r1, ...a.shape.slice(1)]);
            rowSlice = rows;
            chunkArgs = args.map((a, j) => (rowArgs[j] ? rows(a as MxArray) : a)) as Parameters<F>;
            parts.push(mx.tidy(() => {
              const [v, g] = vg(rows(rec[n - 1].y), ...otherLeaves) as [unknown, MxArray[]];
              if (!Array.isArray(v) || v.length < 2 || !mx.isArray(v[0]) || !mx.isArray(v[1]))
                throw new EngineError("[gradCheckpoint] headChunks needs a loss function returning [mean loss, token count]");
              const count = mx.astype(v[1] as MxArray, mx.float32);
              const scaled = g.map((x) => mx.multiply(x, mx.astype(count, x.dtype)));
              const vs = [mx.multiply(v[0] as MxArray, count), count];
              mx.eval(vs, scaled);
              return { v: vs, g: scaled };
            }));
          }
          const total = parts.reduce((t, p) => mx.add(t, p.v[1]), mx.array(0, mx.float32) as MxArray);
          const inv = mx.divide(1, mx.maximum(total, 1));
          value = [mx.multiply(parts.reduce((t, p) => mx.add(t, p.v[0]), mx.array(0, mx.float32) as MxArray), inv), total] as ReturnType<F>;
          gY = mx.multiply(mx.concatenate(parts.map((p) => p.g[0]), 0), mx.astype(inv, rec[n - 1].y.dtype));
          other.forEach(([k], j) => grads.set(k, mx.multiply(parts.reduce((t, p) => mx.add(t, p.g[j + 1]), mx.zerosLike(otherLeaves[j]) as MxArray), mx.astype(inv, otherLeaves[j].dtype))));
          mx.eval(value, gY, [...grads.values()]);
        }
      } finally {
        lastTracer = null;
        chunkArgs = null;
        rowSlice = null;
        if (other.length) model.update(treeUnflatten(other));
      }

      // 3. Blocks, last to first, each recomputed under mx.vjp.
      for (let i = n - 1; i >= lowest; i--) {
        const names = perBlock[i].map(([k]) => k);
        const leaves = perBlock[i].map(([, a]) => a);
        const r = rec[i];
        const blockFn = (x: MxArray, ...ls: MxArray[]) => {
          if (ls.length) bl[i].update(treeUnflatten(names.map((k, j) => [k, ls[j]])));
          return [withDropoutKey(r.key, () => callOrig(i, x, r.rest))];
        };
        const g = mx.tidy(() => {
          try {
            const [, vjps] = mx.vjp(blockFn, [r.x, ...leaves], [gY]);
            mx.eval(vjps);
            return vjps;
          } finally {
            if (leaves.length) bl[i].update(treeUnflatten(perBlock[i]));
          }
        });
        names.forEach((k, j) => grads.set(`${paths[i]}.${k}`, g[j + 1]));
        gY.dispose();
        gY = g[0];
        r.y.dispose();
        if (i > 0) r.x.dispose();
      }

      // 4. The part before the blocks, through Σ stop(∂L/∂x₀)·x₀.
      if (other.length) {
        mode = "pre";
        const gX0 = gY!;
        const preFn = (...leaves: MxArray[]) => {
          model.update(treeUnflatten(other.map(([k], j) => [k, leaves[j]])));
          preX = null;
          fn(...args);
          if (!preX) throw new EngineError("[gradCheckpoint] block 0 was not reached");
          return mx.sum(mx.multiply(mx.astype(preX, mx.float32), mx.astype(gX0, mx.float32)));
        };
        try {
          const g = mx.tidy(() => {
            const gs = mx.grad(preFn, otherLeaves.map((_, j) => j))(...otherLeaves) as MxArray[];
            mx.eval(gs);
            return gs;
          });
          other.forEach(([k], j) => {
            const prev = grads.get(k)!;
            grads.set(k, mx.add(prev, mx.astype(g[j], prev.dtype)));
          });
        } finally {
          model.update(treeUnflatten(other));
        }
      }
    } finally {
      for (const b of bl) delete (b as any).forward;
    }
    // Blocks below the lowest trainable one carry no gradient; give their (absent) entries nothing.
    const flat = treeFlatten(trainableTree).map(([k, a]) => grads.get(k) ?? mx.zerosLike(a as MxArray));
    let k = 0;
    return [value!, treeMap(() => flat[k++], trainableTree)];
  };
}
