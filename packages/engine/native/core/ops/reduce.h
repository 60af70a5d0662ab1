// Reductions over axes (sum, prod, max, min, argmax, argmin, all, any) and the ops built on them.
#pragma once
#include "../primitive.h"

namespace hearth {

enum class ReduceOp : uint8_t { sum, prod, max, min, all, any };

class Reduce : public Primitive {
 public:
  Reduce(ReduceOp op, std::vector<int> axes) : op_(op), axes_(std::move(axes)) {}
  const char* name() const override;
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;
  const std::vector<int>& axes() const { return axes_; }  // output keeps these as size-1 dims

 private:
  ReduceOp op_;
  std::vector<int> axes_;
};

class ArgReduce : public Primitive {
 public:
  ArgReduce(bool is_max, int axis) : is_max_(is_max), axis_(axis) {}
  const char* name() const override { return is_max_ ? "argmax" : "argmin"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool is_max_;
  int axis_;
};

// An empty `axes` with all_axes=true reduces everything. keepdims as in NumPy.
Array reduce(ReduceOp op, const Array& a, const std::vector<int>& axes, bool keepdims, bool all_axes);
Array sum(const Array& a, const std::vector<int>& axes, bool keepdims = false);
Array sum(const Array& a, bool keepdims = false);
Array mean(const Array& a, const std::vector<int>& axes, bool keepdims = false);
Array max(const Array& a, const std::vector<int>& axes, bool keepdims = false);
Array argmax(const Array& a, int axis, bool keepdims = false);
Array argmin(const Array& a, int axis, bool keepdims = false);
// Indexing helpers: all axes as a list.
std::vector<int> all_axes(int ndim);

}  // namespace hearth
