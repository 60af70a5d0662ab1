// The contract between the quantized matmul driver (quantized.cpp) and the per-ISA decode kernels
// (quantized_avx2.cpp / quantized_avx512.cpp). As in gemm.h, only plain structs and function pointers cross
// the boundary: inline code shared by files compiled with different -m flags could be merged by the linker
// into the wrong ISA's copy.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hearth::cpu::quant_detail {

enum class Elem : uint8_t { f32, bf16, f16 };

// y[m·ldy + n] = Σ_k x[m, k] · (scale[n, g(k)] · q[n, k] + bias[n, g(k)]) for n in [n0, n1), m < M, where
// W = q is [N, K] packed `bits` per code along k (MLX's layout) and g(k) = k / gs. `xp` is x as the kernel's
// prep() laid it out; xsum[m·G + g] = Σ_{k in group g} x[m, k] (float32, G = K / gs) is computed by the driver
// so a kernel only needs Σ x·q per group.
struct QmvProblem {
  int64_t M, N, K;
  int bits, gs;
  const void* xp;
  const float* xsum;
  const uint32_t* w;
  const void* scales;  // [N, G] of es
  const void* biases;
  Elem es;
  float* y;
  int64_t ldy;
};

struct QmvKernel {
  const char* name;
  // Bytes of the prepared x for M rows of K.
  size_t (*prep_bytes)(int64_t M, int64_t K);
  // Lays out x (M rows of K contiguous elements of type ex) for run().
  void (*prep)(int64_t M, int64_t K, const void* x, Elem ex, void* dst);
  void (*run)(const QmvProblem& p, int64_t n0, int64_t n1);
};

// The best kernel of that file for codes of `bits`, activations of type ex and M rows, or nullptr (ISA missing
// or that width not handled there; the driver then uses its portable kernel).
const QmvKernel* avx2_qmv(int bits, Elem ex, int64_t M);
const QmvKernel* avx512_qmv(int bits, Elem ex, int64_t M);
// WebAssembly SIMD128 / aarch64 NEON (quantized_vec128.cpp); also needs the group size.
const QmvKernel* vec128_qmv(int bits, Elem ex, int64_t M, int gs);

// Dequantizes `rows` rows of K codes (row stride K·bits/32 words) with scales/biases [rows, K/gs] of type e
// into out [rows, K] of type e, with mx.dequantize's roundings (scale·q rounded to e, then + bias rounded).
struct DequantKernel {
  const char* name;
  void (*rows)(const uint32_t* w, const void* scales, const void* biases, Elem e, int64_t rows, int64_t K, int gs,
               void* out);
};
const DequantKernel* avx512_dequant(int bits);

}  // namespace hearth::cpu::quant_detail
