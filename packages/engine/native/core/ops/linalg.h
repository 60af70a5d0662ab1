// Linear algebra: matmul (batched, broadcasting) and the ops built on it.
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

// NumPy semantics: 1-D operands are promoted to matrices and the added dim removed; batch dims broadcast.
Array matmul(const Array& a, const Array& b);

}  // namespace hearth
