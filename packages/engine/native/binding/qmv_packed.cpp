// quantizedRepack(wq, scales, biases, groupSize, bits) → the packed layout; packedQuantizedMatmul(x, packed,
// groupSize, bits, scalesDtype) → x · Wᵀ on it (core/ops/qmv_packed.h).
#include "binding.h"
#include "core/ops/qmv_packed.h"

namespace hearth::js {

HEARTH_BIND(quantizedRepack) {
  return wrap(info.Env(), quantized_repack(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2),
                                           int(arg_int(info, 3)), int(arg_int(info, 4))));
}

HEARTH_BIND(packedQuantizedMatmul) {
  return wrap(info.Env(), packed_quantized_matmul(arg_array(info, 0), arg_array(info, 1), int(arg_int(info, 2)),
                                                  int(arg_int(info, 3)), arg_dtype(info, 4)));
}

HEARTH_BIND(packedQuantizedKernelName) { return Napi::String::New(info.Env(), packed_quantized_kernel_name()); }

}  // namespace hearth::js
