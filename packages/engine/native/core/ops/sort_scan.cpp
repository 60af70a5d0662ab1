#include "sort_scan.h"

#include <cstdint>

#include "creation.h"
#include "elementwise.h"
#include "layout.h"

namespace hearth {

static const char* kScanNames[] = {"cumsum", "cumprod", "cummax", "cummin"};
const char* Scan::name() const { return kScanNames[int(op_)]; }

bool Scan::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Scan*>(&o);
  return p && p->op_ == op_ && p->axis_ == axis_ && p->reverse_ == reverse_ && p->inclusive_ == inclusive_;
}
bool ScanArg::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScanArg*>(&o);
  return p && p->is_max_ == is_max_ && p->axis_ == axis_ && p->reverse_ == reverse_ && p->inclusive_ == inclusive_;
}

const char* SortAxis::name() const {
  switch (kind_) {
    case SortKind::sort: return index_ ? "argsort" : "sort";
    case SortKind::partition: return index_ ? "argpartition" : "partition";
    default: return index_ ? "topk_indices" : "topk";
  }
}
bool SortAxis::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SortAxis*>(&o);
  return p && p->kind_ == kind_ && p->index_ == index_ && p->axis_ == axis_ && p->k_ == k_;
}

// ---- scans ----

Array scan(ScanOp op, const Array& a, int axis, bool reverse, bool inclusive) {
  const char* name = kScanNames[int(op)];
  if (a.ndim() == 0)
    throw_invalid(name, "expected an array with at least one dimension; pass no axis to scan the flattened array");
  int ax = normalize_axis(axis, a.ndim(), name);
  Array x = a;
  // As MLX: sums and products of bools count in int32; max/min keep bool.
  if ((op == ScanOp::sum || op == ScanOp::prod) && a.dtype() == Dtype::bool_) x = astype(a, Dtype::int32);
  return Array(a.shape(), x.dtype(), std::make_shared<Scan>(op, ax, reverse, inclusive), {x});
}
Array cumsum(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::sum, a, axis, reverse, inclusive);
}
Array cumprod(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::prod, a, axis, reverse, inclusive);
}
Array cummax(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::max, a, axis, reverse, inclusive);
}
Array cummin(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::min, a, axis, reverse, inclusive);
}

std::vector<Array> Scan::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                             const Array& out) {
  const Array& x = primals[0];
  switch (op_) {
    case ScanOp::sum:
      // Each input feeds every output after it (in scan order): the cotangent summed the other way.
      return {cumsum(cot, axis_, !reverse_, inclusive_)};
    case ScanOp::prod: {
      // d out_i / d x_j = prod over the scanned prefix without x_j. Zero-safe without dividing by zero:
      // before the first zero (in scan order) that is out_i / x_j; at the first zero it is the scan of x with
      // that zero replaced by 1; after it every term holds the first zero, so the gradient is 0.
      Array zero = scalar_like(0, x), one = scalar_like(1, x);
      Array is_zero = equal(x, zero);
      Array zeros_seen = cumsum(astype(is_zero, Dtype::int32), axis_, reverse_, true);
      Array first_zero = binary(BinaryOp::logical_and, is_zero, equal(zeros_seen, scalar(1, Dtype::int32)));
      Array before = equal(zeros_seen, scalar(0, Dtype::int32));
      Array g_before = divide(cumsum(multiply(cot, out), axis_, !reverse_, inclusive_), where(is_zero, one, x));
      Array y1 = cumprod(where(first_zero, one, x), axis_, reverse_, inclusive_);
      Array g_first = cumsum(multiply(cot, y1), axis_, !reverse_, inclusive_);
      return {where(before, g_before, where(first_zero, g_first, zeros_like(g_first)))};
    }
    default: {
      // The running extreme is one input element: route each cotangent to it.
      Array pos(x.shape(), Dtype::uint32,
                std::make_shared<ScanArg>(op_ == ScanOp::max, axis_, reverse_, inclusive_), {x});
      return {sortscan::scatter_add_axis(cot, pos, axis_, x.shape(axis_))};
    }
  }
}

std::vector<Array> ScanArg::vjp(const std::vector<Array>& primals, const Array&, const std::vector<int>&,
                                const Array&) {
  return {zeros_like(primals[0])};
}

// ---- sort family ----

static Array sort_family(SortKind kind, bool index, const Array& a, int axis, int64_t k, const char* name) {
  if (a.ndim() == 0)
    throw_invalid(name, "expected an array with at least one dimension; pass axis=null for the flattened array");
  int ax = normalize_axis(axis, a.ndim(), name);
  int64_t n = a.shape(ax);
  if (n > int64_t(UINT32_MAX))
    throw_invalid(name, "the axis has " + std::to_string(n) + " elements; at most 2^32 - 1 are supported");
  Shape shape = a.shape();
  if (kind == SortKind::partition) {
    if (k < -n || k >= n)
      throw_invalid(name, "kth " + std::to_string(k) + " is out of bounds for an axis of size " + std::to_string(n) +
                              "; expected -" + std::to_string(n) + " <= kth < " + std::to_string(n));
    if (k < 0) k += n;
  } else if (kind == SortKind::topk) {
    if (k < 0 || k > n)
      throw_invalid(name, "k " + std::to_string(k) + " is out of range for an axis of size " + std::to_string(n) +
                              "; expected 0 <= k <= " + std::to_string(n));
    shape[ax] = k;
  }
  return Array(shape, index ? Dtype::uint32 : a.dtype(), std::make_shared<SortAxis>(kind, index, ax, k), {a});
}

Array sort(const Array& a, int axis) { return sort_family(SortKind::sort, false, a, axis, 0, "sort"); }
Array argsort(const Array& a, int axis) { return sort_family(SortKind::sort, true, a, axis, 0, "argsort"); }
Array partition(const Array& a, int64_t kth, int axis) {
  return sort_family(SortKind::partition, false, a, axis, kth, "partition");
}
Array argpartition(const Array& a, int64_t kth, int axis) {
  return sort_family(SortKind::partition, true, a, axis, kth, "argpartition");
}
Array topk(const Array& a, int64_t k, int axis) { return sort_family(SortKind::topk, false, a, axis, k, "topk"); }
Array topk_indices(const Array& a, int64_t k, int axis) {
  return sort_family(SortKind::topk, true, a, axis, k, "topk");
}

std::vector<Array> SortAxis::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                                 const Array& out) {
  const Array& x = primals[0];
  if (index_) return {zeros_like(x)};
  // The values are x gathered at the matching index output (same total order): scatter the cotangent back.
  Array pos(out.shape(), Dtype::uint32, std::make_shared<SortAxis>(kind_, true, axis_, k_), {x});
  return {sortscan::scatter_add_axis(cot, pos, axis_, x.shape(axis_))};
}

// ---- gather / scatter along an axis ----

namespace sortscan {

static void check_index_pair(const char* name, const Shape& data, const Array& idx, int axis, bool same_axis) {
  if (!is_integral(idx.dtype()))
    throw_invalid(name, std::string("indices must be integers, got ") + dtype_name(idx.dtype()));
  if (int(data.size()) != idx.ndim())
    throw_invalid(name, "indices have " + std::to_string(idx.ndim()) + " dimensions, the array " +
                            std::to_string(data.size()));
  for (int d = 0; d < idx.ndim(); d++)
    if (d != axis || same_axis)
      if (idx.shape(d) != data[d])
        throw_invalid(name, "indices of shape " + shape_str(idx.shape()) + " do not match the array's shape " +
                                shape_str(data) + " outside axis " + std::to_string(axis));
}

Array gather_axis(const Array& x, const Array& idx, int axis) {
  int ax = normalize_axis(axis, x.ndim(), "gather_axis");
  check_index_pair("gather_axis", x.shape(), idx, ax, false);
  return Array(idx.shape(), x.dtype(), std::make_shared<GatherAxis>(ax), {x, idx});
}

Array scatter_add_axis(const Array& upd, const Array& idx, int axis, int64_t n) {
  int ax = normalize_axis(axis, upd.ndim(), "scatter_add_axis");
  check_index_pair("scatter_add_axis", upd.shape(), idx, ax, true);
  Shape shape = upd.shape();
  shape[ax] = n;
  return Array(shape, upd.dtype(), std::make_shared<ScatterAddAxis>(ax, n), {upd, idx});
}

std::vector<Array> GatherAxis::vjp(const std::vector<Array>& primals, const Array& cot,
                                   const std::vector<int>& argnums, const Array&) {
  std::vector<Array> g;
  for (int arg : argnums)
    g.push_back(arg == 0 ? scatter_add_axis(cot, primals[1], axis_, primals[0].shape(axis_)) : zeros_like(primals[1]));
  return g;
}

std::vector<Array> ScatterAddAxis::vjp(const std::vector<Array>& primals, const Array& cot,
                                       const std::vector<int>& argnums, const Array&) {
  std::vector<Array> g;
  for (int arg : argnums) {
    if (arg == 1) { g.push_back(zeros_like(primals[1])); continue; }
    // Positions >= n received nothing, so their updates get no gradient: clamp them to a gathered 0.
    Array idx = primals[1];
    Array in_range = less(astype(idx, Dtype::int64), scalar(double(n_), Dtype::int64));
    Array safe = where(in_range, idx, zeros_like(idx));
    g.push_back(where(in_range, gather_axis(cot, safe, axis_), zeros_like(primals[0])));
  }
  return g;
}

}  // namespace sortscan
}  // namespace hearth
