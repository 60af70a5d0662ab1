// Bindings for linear algebra and convolutions. Per-spatial-dim parameters arrive as integer lists (one
// entry, or one per spatial dim); the TS layer expands numbers and pairs.
#include "backend/cpu/gemm.h"
#include "binding.h"
#include "core/ops/linalg.h"

namespace hearth::js {

HEARTH_BIND(matmul) { return wrap(info.Env(), matmul(arg_array(info, 0), arg_array(info, 1))); }

// The active GEMM kernels, e.g. "f32:avx512 bf16:amx f16:avx512" (benchmarks and logs).
HEARTH_BIND(gemmKernelName) { return Napi::String::New(info.Env(), cpu::gemm_kernel_name()); }

HEARTH_BIND(addmm) {
  return wrap(info.Env(), addmm(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2), arg_double(info, 3),
                                arg_double(info, 4)));
}

HEARTH_BIND(inner) { return wrap(info.Env(), inner(arg_array(info, 0), arg_array(info, 1))); }

HEARTH_BIND(tensordot) {
  return wrap(info.Env(), tensordot(arg_array(info, 0), arg_array(info, 1), arg_ints(info, 2), arg_ints(info, 3)));
}

HEARTH_BIND(tensordotN) {
  return wrap(info.Env(), tensordot(arg_array(info, 0), arg_array(info, 1), int(arg_int(info, 2))));
}

HEARTH_BIND(einsum) {
  if (!info[0].IsString()) throw std::invalid_argument("[einsum] the subscripts must be a string");
  return wrap(info.Env(), einsum(info[0].As<Napi::String>().Utf8Value(), arg_arrays(info, 1)));
}

// (input, weight, stride, padLo, padHi, kernelDilation, inputDilation, groups, flip)
HEARTH_BIND(convGeneral) {
  return wrap(info.Env(), conv_general(arg_array(info, 0), arg_array(info, 1), arg_shape(info, 2), arg_shape(info, 3),
                                       arg_shape(info, 4), arg_shape(info, 5), arg_shape(info, 6), arg_int(info, 7),
                                       arg_bool(info, 8)));
}

// (input, weight, spatialDims, stride, padding, dilation, groups)
HEARTH_BIND(convNd) {
  return wrap(info.Env(), conv_nd(arg_array(info, 0), arg_array(info, 1), int(arg_int(info, 2)), arg_shape(info, 3),
                                  arg_shape(info, 4), arg_shape(info, 5), arg_int(info, 6)));
}

// (input, weight, spatialDims, stride, padding, dilation, outputPadding, groups)
HEARTH_BIND(convTransposeNd) {
  return wrap(info.Env(), conv_transpose_nd(arg_array(info, 0), arg_array(info, 1), int(arg_int(info, 2)),
                                            arg_shape(info, 3), arg_shape(info, 4), arg_shape(info, 5),
                                            arg_shape(info, 6), arg_int(info, 7)));
}

}  // namespace hearth::js
