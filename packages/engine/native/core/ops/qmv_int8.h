// Quantized matrix-vector product with int8 activations, for decoding: x · dequantize(W)ᵀ where each group of x
// (the weights' group size) is first rounded to int8 with its own scale max|x|/127 — the scheme llama.cpp uses
// for Q4_0/Q8_0 (activations as Q8_0) — so the products run on AVX512-VNNI's u8×s8 dot instruction (vpdpbusd,
// 64 multiply-adds per instruction) instead of widening every 4-bit code to float. The weight side is exact MLX
// affine (scale·q + bias per group); the bias term uses the exact Σx. The activation rounding costs ~0.3% relative
// error in each group's Σ x·q. Only 4- and 8-bit codes, groups of 32/64/128, K a multiple of 128, and CPUs with
// AVX512-VNNI take this path; otherwise the op is exactly quantized_matmul.
#pragma once

#include "../primitive.h"

namespace hearth {

class QuantizedMatmulI8 : public Primitive {
 public:
  QuantizedMatmulI8(int group_size, int bits) : group_size_(group_size), bits_(bits) {}
  const char* name() const override { return "quantizedMatmulI8"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  // The gradient of the exact quantized_matmul (the rounding of x is treated as the identity).
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
};

// x [..., K] · dequantize(wq, scales, biases)ᵀ with W [N, K] (2-D, the Linear layout) → [..., N].
Array quantized_matmul_i8(const Array& x, const Array& wq, const Array& scales, const Array& biases, int group_size,
                          int bits);
// Whether quantized_matmul_i8 takes the int8 path for these parameters on this CPU.
bool quantized_matmul_i8_supported(int64_t K, int group_size, int bits);

}  // namespace hearth
