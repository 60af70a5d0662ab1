// Fused activations: the tanh-approximated GELU (Gemma's `gelu_pytorch_tanh`), optionally times a second
// operand — the whole gated MLP activation gelu(gate) · up in one pass over memory. Composed from plain ops it is
// ~10 nodes whose tanh runs through scalar libm: in a Gemma 3 1B prompt of 512 tokens that chain took as long as
// all the matrix products. Computed in float32 (float64 for float64) and rounded once to the output type.
#pragma once
#include <optional>

#include "../primitive.h"

namespace hearth {

class GeluApprox : public Primitive {
 public:
  explicit GeluApprox(bool has_mul) : has_mul_(has_mul) {}
  const char* name() const override { return "geluApprox"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  // The gradient of the fallback graph rebuilt on the primals.
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool has_mul_;
};

// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) [· mul]; x (and mul) floating, broadcast together, promoted.
// `fallback` builds the same function from plain ops (the reference for tests and the gradient).
Array gelu_approx(const Array& x, const std::optional<Array>& mul, bool fallback = false);
Array gelu_approx_fallback(const Array& x, const std::optional<Array>& mul);

}  // namespace hearth
