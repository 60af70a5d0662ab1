// Elementwise ops: unary math, binary arithmetic/comparison with NumPy broadcasting, where, and casts.
#pragma once
#include "../primitive.h"

namespace hearth {

enum class UnaryOp : uint8_t {
  abs, negative, sign, exp, expm1, log, log1p, log2, log10, sqrt, rsqrt, square, reciprocal, sin, cos, tan,
  arcsin, arccos, arctan, sinh, cosh, tanh, sigmoid, erf, erfinv, floor, ceil, round, isnan, isinf,
  isposinf, isneginf, logical_not, copy,
  count_
};
enum class BinaryOp : uint8_t {
  add, subtract, multiply, divide, floor_divide, remainder, power, maximum, minimum, equal, not_equal, less,
  less_equal, greater, greater_equal, logical_and, logical_or, arctan2, logaddexp,
  count_
};

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

class Unary : public Primitive {
 public:
  explicit Unary(UnaryOp op) : op_(op) {}
  const char* name() const override { return unary_op_name(op_); }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>& primals, const Array& cotangent,
                         const std::vector<int>& argnums, const Array& output) override;
  bool is_equivalent(const Primitive& o) const override;
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

class Binary : public Primitive {
 public:
  explicit Binary(BinaryOp op) : op_(op) {}
  const char* name() const override { return binary_op_name(op_); }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>& primals, const Array& cotangent,
                         const std::vector<int>& argnums, const Array& output) override;
  bool is_equivalent(const Primitive& o) const override;
  BinaryOp op() const { return op_; }

 private:
  BinaryOp op_;
};

class Where : public Primitive {
 public:
  const char* name() const override { return "where"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>& primals, const Array& cotangent,
                         const std::vector<int>& argnums, const Array& output) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Where*>(&o) != nullptr; }
};

class Cast : public Primitive {
 public:
  explicit Cast(Dtype to) : to_(to) {}
  const char* name() const override { return "astype"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>& primals, const Array& cotangent,
                         const std::vector<int>& argnums, const Array& output) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  Dtype to_;
};

// A chain of float unary/binary ops fused by compile into one pass over the data. Operands >= 0 name inputs,
// < 0 name earlier steps (-1 - step). Inputs have the output's size or are scalars (size 1).
struct FusedStep {
  bool binary;
  uint8_t op;
  int a, b;
};
class Fused : public Primitive {
 public:
  explicit Fused(std::vector<FusedStep> steps) : steps_(std::move(steps)) {}
  const char* name() const override { return "fused"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  // Rebuilds the unfused chain on tracers of the primals and differentiates that.
  std::vector<Array> vjp(const std::vector<Array>& primals, const Array& cotangent,
                         const std::vector<int>& argnums, const Array& output) override;
  const std::vector<FusedStep>& steps() const { return steps_; }

 private:
  std::vector<FusedStep> steps_;
};
bool fusable_unary(UnaryOp op);
bool fusable_binary(BinaryOp op);

// Ops (validate, promote, broadcast, build the node).
Array unary(UnaryOp op, const Array& a);
Array binary(BinaryOp op, const Array& a, const Array& b);
Array where(const Array& cond, const Array& x, const Array& y);
Array astype(const Array& a, Dtype dtype);

inline Array add(const Array& a, const Array& b) { return binary(BinaryOp::add, a, b); }
inline Array subtract(const Array& a, const Array& b) { return binary(BinaryOp::subtract, a, b); }
inline Array multiply(const Array& a, const Array& b) { return binary(BinaryOp::multiply, a, b); }
inline Array divide(const Array& a, const Array& b) { return binary(BinaryOp::divide, a, b); }
inline Array maximum(const Array& a, const Array& b) { return binary(BinaryOp::maximum, a, b); }
inline Array minimum(const Array& a, const Array& b) { return binary(BinaryOp::minimum, a, b); }
inline Array power(const Array& a, const Array& b) { return binary(BinaryOp::power, a, b); }
inline Array equal(const Array& a, const Array& b) { return binary(BinaryOp::equal, a, b); }
inline Array greater(const Array& a, const Array& b) { return binary(BinaryOp::greater, a, b); }
inline Array less(const Array& a, const Array& b) { return binary(BinaryOp::less, a, b); }
inline Array negative(const Array& a) { return unary(UnaryOp::negative, a); }
inline Array exp(const Array& a) { return unary(UnaryOp::exp, a); }
inline Array log(const Array& a) { return unary(UnaryOp::log, a); }
inline Array sqrt(const Array& a) { return unary(UnaryOp::sqrt, a); }
inline Array rsqrt(const Array& a) { return unary(UnaryOp::rsqrt, a); }
inline Array square(const Array& a) { return unary(UnaryOp::square, a); }
inline Array sigmoid(const Array& a) { return unary(UnaryOp::sigmoid, a); }
inline Array tanh(const Array& a) { return unary(UnaryOp::tanh, a); }
inline Array abs(const Array& a) { return unary(UnaryOp::abs, a); }
inline Array sign(const Array& a) { return unary(UnaryOp::sign, a); }
inline Array reciprocal(const Array& a) { return unary(UnaryOp::reciprocal, a); }
inline Array logical_not(const Array& a) { return unary(UnaryOp::logical_not, a); }

// Scalars in the dtype of `like` (weakly typed, as MLX treats Python scalars).
Array scalar(double v, Dtype dtype);
Array scalar_like(double v, const Array& like);

}  // namespace hearth
