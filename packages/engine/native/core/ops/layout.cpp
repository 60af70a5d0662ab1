#include "layout.h"

#include <algorithm>

#include "creation.h"
#include "elementwise.h"
#include "reduce.h"

namespace hearth {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; i++) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw_invalid(op, "shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int normalize_axis(int axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim)
    throw_invalid(op, "axis " + std::to_string(axis) + " is out of bounds for an array with " +
                          std::to_string(ndim) + " dimensions");
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw_invalid(op, "repeated axis in the axes list");
  return out;
}

Array reshape(const Array& a, Shape shape) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); i++) {
    if (shape[i] == -1) {
      if (infer >= 0) throw_invalid("reshape", "only one dimension can be -1, got " + shape_str(shape));
      infer = int(i);
    } else if (shape[i] < 0) {
      throw_invalid("reshape", "invalid dimension " + std::to_string(shape[i]) + " in " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known)
      throw_invalid("reshape", "cannot infer -1 in " + shape_str(shape) + " for an array of size " +
                                   std::to_string(a.size()));
    shape[infer] = a.size() / known;
  }
  if (shape_size(shape) != a.size())
    throw_invalid("reshape", "cannot reshape an array of shape " + shape_str(a.shape()) + " (size " +
                                 std::to_string(a.size()) + ") into shape " + shape_str(shape));
  if (shape == a.shape()) return a;
  return Array(shape, a.dtype(), std::make_shared<Reshape>(), {a});
}

Array transpose(const Array& a, std::vector<int> axes) {
  int nd = a.ndim();
  if (int(axes.size()) != nd)
    throw_invalid("transpose", "axes has " + std::to_string(axes.size()) + " entries for an array with " +
                                   std::to_string(nd) + " dimensions");
  std::vector<bool> seen(nd, false);
  Shape shape(nd);
  for (int i = 0; i < nd; i++) {
    int ax = normalize_axis(axes[i], nd, "transpose");
    if (seen[ax]) throw_invalid("transpose", "repeated axis " + std::to_string(axes[i]));
    seen[ax] = true;
    axes[i] = ax;
    shape[i] = a.shape(ax);
  }
  bool identity = true;
  for (int i = 0; i < nd; i++) identity = identity && axes[i] == i;
  if (identity) return a;
  return Array(shape, a.dtype(), std::make_shared<Transpose>(axes), {a});
}

Array transpose(const Array& a) {
  std::vector<int> axes(a.ndim());
  for (int i = 0; i < a.ndim(); i++) axes[i] = a.ndim() - 1 - i;
  return transpose(a, axes);
}

Array broadcast_to(const Array& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  Shape b = broadcast_shapes(a.shape(), shape, "broadcast_to");
  if (b != shape)
    throw_invalid("broadcast_to", "cannot broadcast an array of shape " + shape_str(a.shape()) + " to " +
                                      shape_str(shape));
  return Array(shape, a.dtype(), std::make_shared<BroadcastTo>(), {a});
}

Array expand_dims(const Array& a, std::vector<int> axes) {
  int nd = a.ndim() + int(axes.size());
  auto ax = normalize_axes(axes, nd, "expand_dims");
  Shape shape;
  size_t j = 0, k = 0;
  for (int i = 0; i < nd; i++) {
    if (k < ax.size() && ax[k] == i) { shape.push_back(1); k++; }
    else shape.push_back(a.shape()[j++]);
  }
  return reshape(a, shape);
}

Array squeeze(const Array& a, std::vector<int> axes) {
  auto ax = normalize_axes(axes, a.ndim(), "squeeze");
  Shape shape;
  size_t k = 0;
  for (int i = 0; i < a.ndim(); i++) {
    if (k < ax.size() && ax[k] == i) {
      if (a.shape(i) != 1)
        throw_invalid("squeeze", "cannot squeeze axis " + std::to_string(i) + " of size " +
                                     std::to_string(a.shape(i)));
      k++;
    } else {
      shape.push_back(a.shape(i));
    }
  }
  return reshape(a, shape);
}

Array squeeze(const Array& a) {
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); i++)
    if (a.shape(i) == 1) axes.push_back(i);
  return squeeze(a, axes);
}

Array flatten(const Array& a, int start_axis, int end_axis) {
  if (a.ndim() == 0) return reshape(a, {1});
  int s = normalize_axis(start_axis, a.ndim(), "flatten"), e = normalize_axis(end_axis, a.ndim(), "flatten");
  if (s > e) throw_invalid("flatten", "start_axis must not come after end_axis");
  Shape shape(a.shape().begin(), a.shape().begin() + s);
  int64_t n = 1;
  for (int i = s; i <= e; i++) n *= a.shape(i);
  shape.push_back(n);
  shape.insert(shape.end(), a.shape().begin() + e + 1, a.shape().end());
  return reshape(a, shape);
}

Array swapaxes(const Array& a, int axis1, int axis2) {
  int x = normalize_axis(axis1, a.ndim(), "swapaxes"), y = normalize_axis(axis2, a.ndim(), "swapaxes");
  std::vector<int> axes(a.ndim());
  for (int i = 0; i < a.ndim(); i++) axes[i] = i;
  std::swap(axes[x], axes[y]);
  return transpose(a, axes);
}

Array moveaxis(const Array& a, int source, int destination) {
  int s = normalize_axis(source, a.ndim(), "moveaxis"), d = normalize_axis(destination, a.ndim(), "moveaxis");
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); i++)
    if (i != s) axes.push_back(i);
  axes.insert(axes.begin() + d, s);
  return transpose(a, axes);
}

Array stop_gradient(const Array& a) { return Array(a.shape(), a.dtype(), std::make_shared<StopGradient>(), {a}); }

Array contiguous(const Array& a) { return Array(a.shape(), a.dtype(), std::make_shared<Contiguous>(), {a}); }

Array unbroadcast(const Array& cot, const Shape& shape) {
  if (cot.shape() == shape) return cot;
  int extra = cot.ndim() - int(shape.size());
  std::vector<int> axes;
  for (int i = 0; i < cot.ndim(); i++)
    if (i < extra || (shape[i - extra] == 1 && cot.shape(i) != 1)) axes.push_back(i);
  Array s = sum(cot, axes, true);
  return reshape(s, shape);
}

bool Transpose::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Transpose*>(&o);
  return p && p->axes_ == axes_;
}

std::vector<Array> Reshape::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                                const Array&) {
  return {reshape(cot, primals[0].shape())};
}

std::vector<Array> Transpose::vjp(const std::vector<Array>&, const Array& cot, const std::vector<int>&,
                                  const Array&) {
  std::vector<int> inv(axes_.size());
  for (size_t i = 0; i < axes_.size(); i++) inv[axes_[i]] = int(i);
  return {transpose(cot, inv)};
}

std::vector<Array> BroadcastTo::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                                    const Array&) {
  return {unbroadcast(cot, primals[0].shape())};
}

std::vector<Array> StopGradient::vjp(const std::vector<Array>& primals, const Array&, const std::vector<int>&,
                                     const Array&) {
  return {zeros_like(primals[0])};
}

std::vector<Array> Contiguous::vjp(const std::vector<Array>&, const Array& cot, const std::vector<int>&,
                                   const Array&) {
  return {cot};
}

}  // namespace hearth
