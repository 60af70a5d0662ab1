// The attention decode kernels' contract between fast.cpp (the driver and the portable versions) and the
// per-ISA files fast_avx2.cpp / fast_avx512.cpp. As in gemm.h, only plain structs and function pointers cross
// the boundary: anything inline shared by files compiled with different -m flags could be merged by the
// linker into the wrong ISA's copy.
#pragma once
#include <cstdint>

namespace hearth::cpu::fast_detail {

enum class Elem : uint8_t { f32, bf16, f16 };  // storage of K and V rows

struct AttnKernels {
  const char* name;
  // S[r * lds + j] = Σ_d Q[r * D + d] · K[j * ldk + d] for r < R, j < n (Q float32, contiguous rows).
  void (*scores)(int64_t R, int64_t n, int64_t D, const float* Q, const void* K, int64_t ldk, Elem ek, float* S,
                 int64_t lds);
  // O[r * Dv + c] += Σ_j P[r * ldp + j] · V[j * ldv + c] for r < R, c < Dv (P and O float32).
  void (*accumulate)(int64_t R, int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv,
                     Elem ev, float* O);
};

// nullptr where the file is not built (non-x86) or the CPU lacks the ISA.
const AttnKernels* avx2_attn();
const AttnKernels* avx512_attn();
// WebAssembly SIMD128 / aarch64 NEON (fast_vec128.cpp).
const AttnKernels* vec128_attn();

}  // namespace hearth::cpu::fast_detail
