// Quantized matrix-vector product with int8 activations (native/core/ops/qmv_int8.h): the decode path's
// x · dequantize(W)ᵀ on AVX512-VNNI, with x rounded to int8 per group as llama.cpp does for its Q4_0/Q8_0
// products. Falls back to the exact mx.quantizedMatmul where the CPU or the parameters don't allow it.
import { track, type MxArray } from "./array.js";
import { native } from "./native.js";

/** x [..., K] times the transposed quantized W [N, K] → [..., N] (transpose=true layout only). */
export function quantizedMatmulInt8(x: MxArray, wq: MxArray, scales: MxArray, biases: MxArray, groupSize = 64, bits = 4): MxArray {
  return track(native.quantizedMatmulInt8(x, wq, scales, biases, groupSize, bits));
}

/** Whether the int8 path is taken for an inner dimension K with these parameters on this CPU. */
export function quantizedMatmulInt8Supported(K: number, groupSize = 64, bits = 4): boolean {
  return native.quantizedMatmulInt8Supported(K, groupSize, bits) as boolean;
}
