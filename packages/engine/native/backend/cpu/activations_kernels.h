// The fused-activation kernels' contract between activations.cpp (driver, portable kernel) and
// activations_avx512.cpp. Only plain function pointers cross the boundary (see gemm.h on ISA files).
#pragma once
#include <cstdint>

namespace hearth::cpu::act_detail {

enum class Elem : uint8_t { f32, bf16, f16 };

// out[i] = gelu_tanh(x[i]) · (mul ? mul[i] : 1) for i < n, contiguous, all of type e; computed in float32.
using GeluFn = void (*)(const void* x, const void* mul, void* out, int64_t n, Elem e);

// nullptr where not built (non-x86) or the CPU lacks AVX-512 (F, BW, VL, DQ).
GeluFn avx512_gelu();

}  // namespace hearth::cpu::act_detail
