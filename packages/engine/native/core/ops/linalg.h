// Linear algebra: matmul (batched, broadcasting), addmm, inner/tensordot, and convolutions (MLX layouts,
// im2col + GEMM on the CPU).
#pragma once
#include "../primitive.h"

namespace hearth {

// a [..., M, K] @ b [..., K, N], batch dims already broadcast to the same shape by the op.
class Matmul : public Primitive {
 public:
  const char* name() const override { return "matmul"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Matmul*>(&o) != nullptr; }
};

// beta * c + alpha * (a @ b): inputs (c, a, b) with c already broadcast to the output shape and a, b shaped
// as for Matmul. One GEMM call with C pre-filled from c.
class AddMM : public Primitive {
 public:
  AddMM(double alpha, double beta) : alpha_(alpha), beta_(beta) {}
  const char* name() const override { return "addmm"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  double alpha_, beta_;
};

// Everything that defines an N-d convolution besides the operand shapes (one entry per spatial dim).
struct ConvParams {
  std::vector<int64_t> stride, pad_lo, pad_hi, kernel_dilation, input_dilation;
  int64_t groups = 1;
  bool flip = false;
  bool operator==(const ConvParams& o) const;
};

// The convolution and its two adjoints. They are bilinear and share parameters, so each one's vjp is
// built from the other two:
//   forward:      (x [N, S..., C], w [O, K..., C/G])  -> y  [N, So..., O]
//   grad_input:   (dy [N, So..., O], w)               -> dx [N, S..., C]   (col2im of dy · w)
//   grad_weight:  (x, dy)                             -> dw [O, K..., C/G] (dyᵀ · im2col(x))
enum class ConvMode : uint8_t { forward, grad_input, grad_weight };

class Convolution : public Primitive {
 public:
  Convolution(ConvParams p, ConvMode mode) : p_(std::move(p)), mode_(mode) {}
  const char* name() const override;
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;
  const ConvParams& params() const { return p_; }
  ConvMode mode() const { return mode_; }

 private:
  ConvParams p_;
  ConvMode mode_;
};

// NumPy semantics: 1-D operands are promoted to matrices and the added dim removed; batch dims broadcast.
Array matmul(const Array& a, const Array& b);
// beta * c + alpha * (a @ b), c broadcast to the product's shape (MLX addmm).
Array addmm(const Array& c, const Array& a, const Array& b, double alpha = 1.0, double beta = 1.0);
// Sum over the last axes of a and b (NumPy inner); 0-d operands multiply.
Array inner(const Array& a, const Array& b);
// Contracts axes_a of a with axes_b of b (same lengths); result dims: a's free dims then b's.
Array tensordot(const Array& a, const Array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b);
// The last n axes of a with the first n of b.
Array tensordot(const Array& a, const Array& b, int n);

// NumPy/MLX einsum: letters, "...", implicit or explicit ("->") output, repeated labels (diagonals).
// Contracts operands left to right, each pair as one batched matmul (multiply + sum for integers).
Array einsum(const std::string& subscripts, const std::vector<Array>& operands);

// MLX conv_general. Vectors have one entry per spatial dim, or one entry used for all. `op` names the
// calling op in error messages.
Array conv_general(const Array& input, const Array& weight, std::vector<int64_t> stride, std::vector<int64_t> pad_lo,
                   std::vector<int64_t> pad_hi, std::vector<int64_t> kernel_dilation,
                   std::vector<int64_t> input_dilation, int64_t groups, bool flip, const char* op = "conv_general");
// conv1d/2d/3d: input [N, spatial..., C_in], weight [C_out, kernel..., C_in/groups], symmetric padding.
Array conv_nd(const Array& input, const Array& weight, int spatial_dims, std::vector<int64_t> stride,
              std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups);
// conv_transpose1d/2d/3d (MLX layouts: weight [C_out, kernel..., C_in/groups]).
Array conv_transpose_nd(const Array& input, const Array& weight, int spatial_dims, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, std::vector<int64_t> dilation,
                        std::vector<int64_t> output_padding, int64_t groups);

}  // namespace hearth
