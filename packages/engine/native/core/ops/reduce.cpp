#include "reduce.h"

#include <cmath>

#include "creation.h"
#include "elementwise.h"
#include "layout.h"

namespace hearth {

static const char* kReduceNames[] = {"sum", "prod", "max", "min", "all", "any"};
const char* Reduce::name() const { return kReduceNames[int(op_)]; }

bool Reduce::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Reduce*>(&o);
  return p && p->op_ == op_ && p->axes_ == axes_;
}
bool ArgReduce::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ArgReduce*>(&o);
  return p && p->is_max_ == is_max_ && p->axis_ == axis_;
}

std::vector<int> all_axes(int ndim) {
  std::vector<int> v(ndim);
  for (int i = 0; i < ndim; i++) v[i] = i;
  return v;
}

Array reduce(ReduceOp op, const Array& a, const std::vector<int>& axes_in, bool keepdims, bool all) {
  const char* name = kReduceNames[int(op)];
  std::vector<int> axes = all ? all_axes(a.ndim()) : normalize_axes(axes_in, a.ndim(), name);
  Array x = a;
  Dtype out_t = a.dtype();
  if (op == ReduceOp::all || op == ReduceOp::any) {
    out_t = Dtype::bool_;
    if (x.dtype() != Dtype::bool_) x = astype(x, Dtype::bool_);
  } else if ((op == ReduceOp::sum || op == ReduceOp::prod) && a.dtype() == Dtype::bool_) {
    out_t = Dtype::int32;
    x = astype(x, Dtype::int32);
  }
  if (op == ReduceOp::max || op == ReduceOp::min)
    for (int ax : axes)
      if (a.shape(ax) == 0)
        throw_invalid(name, "cannot reduce over axis " + std::to_string(ax) + " of size 0 (no identity)");
  Shape kept = a.shape();
  for (int ax : axes) kept[ax] = 1;
  Array r = axes.empty() ? x : Array(kept, out_t, std::make_shared<Reduce>(op, axes), {x});
  if (keepdims || axes.empty()) return r;
  Shape shape;
  for (int i = 0, k = 0; i < a.ndim(); i++) {
    if (k < int(axes.size()) && axes[k] == i) { k++; continue; }
    shape.push_back(a.shape(i));
  }
  return reshape(r, shape);
}

Array sum(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::sum, a, axes, keepdims, false);
}
Array sum(const Array& a, bool keepdims) { return reduce(ReduceOp::sum, a, {}, keepdims, true); }
Array max(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::max, a, axes, keepdims, false);
}

Array mean(const Array& a, const std::vector<int>& axes, bool keepdims) {
  auto ax = normalize_axes(axes, a.ndim(), "mean");
  int64_t n = 1;
  for (int i : ax) n *= a.shape(i);
  Array x = is_floating(a.dtype()) ? a : astype(a, Dtype::float32);
  Array s = sum(x, ax, keepdims);
  return multiply(s, scalar_like(n ? 1.0 / double(n) : NAN, s));
}

static Array arg_reduce(bool is_max, const Array& a, int axis, bool keepdims) {
  const char* name = is_max ? "argmax" : "argmin";
  int ax = normalize_axis(axis, a.ndim(), name);
  if (a.shape(ax) == 0) throw_invalid(name, "attempt to get the arg of an empty axis");
  Shape kept = a.shape();
  kept[ax] = 1;
  Array r(kept, Dtype::uint32, std::make_shared<ArgReduce>(is_max, ax), {a});
  return keepdims ? r : squeeze(r, {ax});
}
Array argmax(const Array& a, int axis, bool keepdims) { return arg_reduce(true, a, axis, keepdims); }
Array argmin(const Array& a, int axis, bool keepdims) { return arg_reduce(false, a, axis, keepdims); }

std::vector<Array> Reduce::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                               const Array& out) {
  const Array& x = primals[0];
  switch (op_) {
    case ReduceOp::sum: return {broadcast_to(cot, x.shape())};
    case ReduceOp::prod: {
      // Product of the others: out / x where x != 0; where x == 0, the product over the rest computed directly
      // by replacing zeros with ones (exact when the reduced slice has a single zero; zero otherwise).
      Array zero = scalar_like(0, x), one = scalar_like(1, x);
      Array is_zero = equal(x, zero);
      Array x_nz = where(is_zero, one, x);
      Array prod_nz = reduce(ReduceOp::prod, x_nz, axes_, true, false);
      Array nzeros = reduce(ReduceOp::sum, astype(is_zero, Dtype::int32), axes_, true, false);
      Array others = where(is_zero, where(equal(nzeros, scalar(1, Dtype::int32)), prod_nz, zero),
                           where(greater(nzeros, scalar(0, Dtype::int32)), zero, divide(prod_nz, x_nz)));
      return {multiply(broadcast_to(cot, x.shape()), others)};
    }
    case ReduceOp::max: case ReduceOp::min: {
      Array mask = astype(equal(x, out), cot.dtype());
      Array count = reduce(ReduceOp::sum, mask, axes_, true, false);
      return {divide(multiply(broadcast_to(cot, x.shape()), mask), count)};
    }
    default: return {zeros_like(x)};
  }
}

// Indices are piecewise constant in the input: zero gradient (so argmax can sit inside a differentiated graph).
std::vector<Array> ArgReduce::vjp(const std::vector<Array>& primals, const Array&, const std::vector<int>&,
                                  const Array&) {
  return {zeros_like(primals[0])};
}

}  // namespace hearth
