// Quantized products over a packed weight layout (native/core/ops/qmv_packed.h): weights repacked once at load
// into one interleaved stream per block of 16 output columns (codes + scales + biases), x rounded to int8 per
// group as quantizedMatmulInt8 does. A batch of M rows reads every weight once (the server's batched decode);
// several matrices that share an input (q/k/v, gate/up) packed together run as one product, one parallel region
// and one quantization of x. Inference only (no gradient).
import { track, type MxArray } from "./array.js";
import type { Dtype } from "./dtype.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";
import { concatenate, split } from "./ops-indexing.js";
import type { Quantized } from "./ops-quantized.js";

type H = MxArray;
// The bindings of this file (native/binding/qmv_packed.cpp).
const bind = native as unknown as {
  quantizedRepack(wq: H, scales: H, biases: H, groupSize: number, bits: number): H;
  packedQuantizedMatmul(x: H, packed: H, groupSize: number, bits: number, scalesDtype: number): H;
  packedQuantizedKernelName(): string;
};

/** A packed weight: one or several [N_i, K] quantized matrices, repacked and concatenated along the output axis. */
export interface PackedQuantized {
  /** uint8 [ΣN_i / 16, (K / groupSize) · record bytes]. */
  packed: MxArray;
  groupSize: number;
  bits: number;
  /** The dtype the scales and biases were in (they are kept in it). */
  scalesDtype: Dtype;
  /** The inner dimension K. */
  inputDims: number;
  /** Output widths N_i of the packed matrices, in order. */
  splits: number[];
}

export interface RepackOptions {
  /** 32, 64 (default) or 128. */
  groupSize?: number;
  /** 4 (default) or 8. */
  bits?: number;
}

/** Whether a [N, K] matrix with these parameters can be packed (N a multiple of 16, 4/8 bits, groups 32/64/128). */
export function quantizedRepackSupported(N: number, K: number, groupSize = 64, bits = 4): boolean {
  return N > 0 && N % 16 === 0 && K > 0 && [32, 64, 128].includes(groupSize) && K % groupSize === 0 && (bits === 4 || bits === 8);
}

/**
 * Repacks quantized matrices (mx.quantize's layout, transpose=true products: W [N, K]) for packedQuantizedMatmul.
 * Several matrices (same K, group size, bits and scales dtype) are concatenated along N.
 */
export function quantizedRepack(weights: Quantized | Quantized[], opts: RepackOptions = {}): PackedQuantized {
  const list = Array.isArray(weights) ? weights : [weights];
  const groupSize = opts.groupSize ?? 64, bits = opts.bits ?? 4;
  if (list.length === 0) throw new EngineError("[quantizedRepack] no weights given");
  const scalesDtype = list[0].scales.dtype;
  const K = (list[0].wq.shape[list[0].wq.ndim - 1] * 32) / bits;
  const parts = list.map((w, i) => {
    if (w.scales.dtype !== scalesDtype)
      throw new EngineError(`[quantizedRepack] weight ${i} has ${w.scales.dtype.name} scales, weight 0 ${scalesDtype.name}`);
    const k = (w.wq.shape[w.wq.ndim - 1] * 32) / bits;
    if (k !== K) throw new EngineError(`[quantizedRepack] weight ${i} has inner dimension ${k}, weight 0 has ${K}`);
    return track(bind.quantizedRepack(w.wq, w.scales, w.biases, groupSize, bits));
  });
  const packed = parts.length === 1 ? parts[0] : concatenate(parts, 0);
  return { packed, groupSize, bits, scalesDtype, inputDims: K, splits: list.map((w) => w.wq.shape[0]) };
}

/** x [..., K] times the packed Wᵀ → [..., ΣN_i] in x's dtype (x float32, bfloat16 or float16). */
export function packedQuantizedMatmul(x: MxArray, p: PackedQuantized): MxArray {
  return track(bind.packedQuantizedMatmul(x, p.packed, p.groupSize, p.bits, p.scalesDtype.id));
}

/** packedQuantizedMatmul split back into one output per packed matrix. */
export function packedQuantizedMatmulSplit(x: MxArray, p: PackedQuantized): MxArray[] {
  const y = packedQuantizedMatmul(x, p);
  if (p.splits.length === 1) return [y];
  const idx: number[] = [];
  let acc = 0;
  for (const n of p.splits.slice(0, -1)) idx.push((acc += n));
  return split(y, idx, -1);
}

/** The kernel packed products use on this CPU: "avx512-vnni", "avx2" or "generic" (HEARTH_ISA caps it). */
export function packedQuantizedKernelName(): string {
  return bind.packedQuantizedKernelName();
}
