// Contract between the int8-activation quantized matvec driver (qmv_int8.cpp) and its AVX512-VNNI kernel
// (qmv_int8_avx512.cpp). Plain structs and function pointers only (see gemm.h on ISA files).
#pragma once
#include <cstdint>

namespace hearth::cpu::qmv_i8_detail {

enum class Elem : uint8_t { f32, bf16, f16 };

// Values per chunk: 128 for 4-bit codes (64 packed bytes), 64 for 8-bit. In a chunk, 32-bit lane L of the dot
// instruction covers values [L·V/16, (L+1)·V/16).
struct Problem {
  int64_t M, N, K;
  int bits, gs;
  // Per row of x: K int8 values; for 4-bit codes each chunk is laid out [even-indexed | odd-indexed] values to
  // match the low and high nibbles of the packed bytes.
  const int8_t* xq;
  const float* xlane;  // per row, per chunk: 16 lane scales (x's group scale for the group of each lane)
  const float* xsum;   // per row: G = K / gs exact group sums of x
  // Per row and group: z·(Σx − sx·Σqx) with z the codes' midpoint (8 or 128). The kernel adds scale_g times
  // this, which turns its Σ q·qx into Σ (q − z)·qx plus the exact z·Σx: the int8 rounding of x then only meets
  // centred codes (uncentred, the error grew with the codes' mean and was ~3x larger).
  const float* xcorr;
  const uint32_t* w;   // [N, K·bits/32] MLX-packed codes
  const void* scales;  // [N, G]
  const void* biases;  // [N, G]
  Elem es;
  float* y;            // y[m·ldy + n]
  int64_t ldy;
};

using RunFn = void (*)(const Problem& p, int64_t n0, int64_t n1);
// nullptr where not built or without AVX512-VNNI.
RunFn avx512_vnni_qmv_i8();

}  // namespace hearth::cpu::qmv_i8_detail
