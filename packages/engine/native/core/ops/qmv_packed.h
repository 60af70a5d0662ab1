// Quantized products over a packed weight layout, for decoding one or many sequences (the server's continuous
// batching): x [..., K] · dequantize(W)ᵀ with W repacked once at load into one interleaved stream per block of 16
// output columns (codes + scales + biases together; layout in backend/cpu/qmv_packed_kernels.h), and x rounded
// to int8 per group as quantized_matmul_i8 does (same arithmetic, so the same error against the exact product).
// Every row of x meets each weight as it streams by: a batch of M rows reads the weights once.
// Several matrices sharing an input (q/k/v, gate/up) are packed into one weight by concatenating their packed
// arrays along axis 0; one product then quantizes x once and runs in one parallel region.
// 4- and 8-bit codes, groups of 32/64/128, N a multiple of 16. A portable kernel runs everywhere; AVX-512 VNNI
// and AVX2 kernels where the CPU has them (HEARTH_ISA caps the choice).
#pragma once

#include "../primitive.h"

namespace hearth {

class QuantizedPack16 : public Primitive {
 public:
  QuantizedPack16(int group_size, int bits) : group_size_(group_size), bits_(bits) {}
  const char* name() const override { return "quantizedRepack"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
};

class PackedQuantizedMatmul : public Primitive {
 public:
  PackedQuantizedMatmul(int group_size, int bits, Dtype scales_dtype)
      : group_size_(group_size), bits_(bits), sdt_(scales_dtype) {}
  const char* name() const override { return "packedQuantizedMatmul"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
  Dtype sdt_;
};

// wq [N, K·bits/32] uint32 (mx.quantize's layout), scales/biases [N, K/gs] → uint8 [N/16, (K/gs)·record].
Array quantized_repack(const Array& wq, const Array& scales, const Array& biases, int group_size, int bits);
// x [..., K] (float) · W [N, K]ᵀ from a packed weight → [..., N] in x's dtype. scales_dtype: the dtype the
// scales and biases had when packed.
Array packed_quantized_matmul(const Array& x, const Array& packed, int group_size, int bits, Dtype scales_dtype);
// The kernel in use for packed products: "avx512-vnni", "avx2" or "generic".
const char* packed_quantized_kernel_name();

}  // namespace hearth
