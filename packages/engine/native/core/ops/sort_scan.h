// Scans (cumsum, cumprod, cummax, cummin) and the sort family (sort, argsort, partition, argpartition, topk)
// along one axis, plus the gather/scatter-along-axis primitives their gradients are made of.
#pragma once
#include "../primitive.h"

namespace hearth {

enum class ScanOp : uint8_t { sum, prod, max, min };

// out[i] = op over x[0..i] (inclusive) or x[0..i) (exclusive), walking the axis backwards when `reverse`.
class Scan : public Primitive {
 public:
  Scan(ScanOp op, int axis, bool reverse, bool inclusive)
      : op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  const char* name() const override;
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  ScanOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

// The position (along the axis, uint32) that each cummax/cummin output element was taken from: the first
// occurrence of the running extreme, or the first NaN. Exclusive scans give `len` (no source) at the start.
class ScanArg : public Primitive {
 public:
  ScanArg(bool is_max, int axis, bool reverse, bool inclusive)
      : is_max_(is_max), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  const char* name() const override { return is_max_ ? "cummax_arg" : "cummin_arg"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool is_max_;
  int axis_;
  bool reverse_, inclusive_;
};

// One primitive for the sort family; `index` selects the uint32 positions instead of the values. The order is
// a total one: NaN after +inf (as NumPy), -0 equal to +0, ties by original position (so sorts are stable).
//   sort: ascending. partition(k): the element of rank k at position k, smaller ones before it and larger
//   ones after, each group in original order. topk(k): the k largest, descending, ties by lower position.
enum class SortKind : uint8_t { sort, partition, topk };

class SortAxis : public Primitive {
 public:
  SortAxis(SortKind kind, bool index, int axis, int64_t k) : kind_(kind), index_(index), axis_(axis), k_(k) {}
  const char* name() const override;
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  SortKind kind_;
  bool index_;
  int axis_;
  int64_t k_;
};

// Ops. `axis` may be negative. The forms without an axis work on the flattened array (MLX's axis=None).
Array cumsum(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array cumprod(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array cummax(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array cummin(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array scan(ScanOp op, const Array& a, int axis, bool reverse, bool inclusive);

Array sort(const Array& a, int axis = -1);
Array argsort(const Array& a, int axis = -1);
Array partition(const Array& a, int64_t kth, int axis = -1);
Array argpartition(const Array& a, int64_t kth, int axis = -1);
Array topk(const Array& a, int64_t k, int axis = -1);
// Positions of topk's values (same order); not an MLX op, used by its gradient and by samplers.
Array topk_indices(const Array& a, int64_t k, int axis = -1);

// Gather/scatter along one axis, kept in their own namespace so an indexing family can define the public
// take_along_axis/put_along_axis without a clash. `idx` is an integer array.
namespace sortscan {

// out[..., j, ...] = x[..., idx[..., j, ...], ...]; idx has x's shape except along `axis`.
class GatherAxis : public Primitive {
 public:
  explicit GatherAxis(int axis) : axis_(axis) {}
  const char* name() const override { return "gather_axis"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;

 private:
  int axis_;
};

// out = zeros with `n` along `axis`; out[..., idx[..., j, ...], ...] += upd[..., j, ...]. Positions >= n are
// skipped (ScanArg's "no source").
class ScatterAddAxis : public Primitive {
 public:
  ScatterAddAxis(int axis, int64_t n) : axis_(axis), n_(n) {}
  const char* name() const override { return "scatter_add_axis"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;

 private:
  int axis_;
  int64_t n_;
};

Array gather_axis(const Array& x, const Array& idx, int axis);
Array scatter_add_axis(const Array& upd, const Array& idx, int axis, int64_t n);

}  // namespace sortscan
}  // namespace hearth
