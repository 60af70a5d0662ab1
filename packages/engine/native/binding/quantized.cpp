// Bindings for MLX's affine quantization: quantize, dequantize, quantizedMatmul. Group size and bits arrive as
// integers (the TS layer applies the defaults 64 and 4).
#include "binding.h"
#include "core/ops/quantized.h"

namespace hearth::js {

// (w, groupSize, bits) -> [wq, scales, biases]
HEARTH_BIND(quantize) {
  return wrap_arrays(info.Env(), quantize(arg_array(info, 0), int(arg_int(info, 1)), int(arg_int(info, 2))));
}

// (wq, scales, biases, groupSize, bits)
HEARTH_BIND(dequantize) {
  return wrap(info.Env(), dequantize(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2), int(arg_int(info, 3)),
                                     int(arg_int(info, 4))));
}

// (x, wq, scales, biases, transpose, groupSize, bits)
HEARTH_BIND(quantizedMatmul) {
  return wrap(info.Env(), quantized_matmul(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2),
                                           arg_array(info, 3), arg_bool(info, 4), int(arg_int(info, 5)),
                                           int(arg_int(info, 6))));
}

// The decode kernels in use, e.g. "q4-bf16:avx512-bf16 q4-f32:avx512 q8:avx512" (benchmarks and tests).
HEARTH_BIND(quantizedKernelName) { return Napi::String::New(info.Env(), quantized_kernel_name()); }

}  // namespace hearth::js
