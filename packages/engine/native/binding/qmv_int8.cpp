// quantizedMatmulInt8(x, wq, scales, biases, groupSize, bits): x · dequantize(W)ᵀ with int8 activations (decode).
#include "binding.h"
#include "core/ops/qmv_int8.h"

namespace hearth::js {

HEARTH_BIND(quantizedMatmulInt8) {
  return wrap(info.Env(), quantized_matmul_i8(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2),
                                              arg_array(info, 3), int(arg_int(info, 4)), int(arg_int(info, 5))));
}

HEARTH_BIND(quantizedMatmulInt8Supported) {
  return Napi::Boolean::New(info.Env(), quantized_matmul_i8_supported(arg_int(info, 0), int(arg_int(info, 1)),
                                                                      int(arg_int(info, 2))));
}

}  // namespace hearth::js
