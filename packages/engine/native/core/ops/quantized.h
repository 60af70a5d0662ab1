// MLX's affine group quantization: quantize, dequantize and the quantized matrix product.
//
// Format (bit for bit MLX's CPU implementation): per group of `group_size` consecutive elements along the last
// axis, with lo/hi the group's min/max in float32 and n = 2^bits − 1,
//   scale = max((hi − lo) / n, 1e-7), negated unless |lo| > |hi|;  edge = lo if |lo| > |hi| else hi
//   q0 = rint(edge / scale); if q0 ≠ 0: scale = edge / q0, bias = edge; else bias = 0
//   code = clamp(rint((w − bias) / scale), 0, n)            (float32 arithmetic, ties to even)
// so the edge of larger magnitude is exactly representable. Codes are a little-endian bit stream per row:
// element i occupies bits [i·bits, (i+1)·bits) of the row's uint32 words (3/5/6-bit codes straddle words).
// scales/biases are stored in w's dtype; dequantize computes scale·q + bias in the scales' dtype with one
// rounding per operation (MLX's multiply then add).
#pragma once
#include <optional>

#include "../primitive.h"

namespace hearth {

// w [..., K] → float32 [2, ..., K/group_size]: the exact (unrounded) scales, then biases, used for packing.
class QuantizeParams : public Primitive {
 public:
  QuantizeParams(int group_size, int bits) : group_size_(group_size), bits_(bits) {}
  const char* name() const override { return "quantize"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  bool is_equivalent(const Primitive& o) const override;
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  int group_size_, bits_;
};

// (w [..., K], params) → uint32 [..., K·bits/32]: the packed codes.
class QuantizePack : public Primitive {
 public:
  QuantizePack(int group_size, int bits) : group_size_(group_size), bits_(bits) {}
  const char* name() const override { return "quantize"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
};

// (wq uint32 [..., K·bits/32], scales, biases [..., K/group_size], same float dtype) → [..., K].
class Dequantize : public Primitive {
 public:
  Dequantize(int group_size, int bits) : group_size_(group_size), bits_(bits) {}
  const char* name() const override { return "dequantize"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
};

// (x [..., M, K], wq, scales, biases), all floats of one dtype, wq 2-D or with batch dims broadcast with x's.
// transpose: out = x · Wᵀ with W [N, K] (the Linear layout); else out = x · W with W [K, N].
class QuantizedMatmul : public Primitive {
 public:
  QuantizedMatmul(int group_size, int bits, bool transpose)
      : group_size_(group_size), bits_(bits), transpose_(transpose) {}
  const char* name() const override { return "quantizedMatmul"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
  bool transpose_;
};

// {wq, scales, biases}. w: float, ≥ 2-D, last dim divisible by group_size (32, 64 or 128); bits 2, 3, 4, 5,
// 6 or 8.
std::vector<Array> quantize(const Array& w, int group_size = 64, int bits = 4);
// The float matrix back, in the promoted dtype of scales and biases.
Array dequantize(const Array& wq, const Array& scales, const Array& biases, int group_size = 64, int bits = 4);
// x · dequantize(W)ᵀ (transpose) or x · dequantize(W), computed without materialising W.
Array quantized_matmul(const Array& x, const Array& wq, const Array& scales, const Array& biases,
                       bool transpose = true, int group_size = 64, int bits = 4);

// The quantized matmul kernels in use, e.g. "avx512-bf16" (HEARTH_ISA caps them; for tests and benchmarks).
const char* quantized_kernel_name();

}  // namespace hearth
