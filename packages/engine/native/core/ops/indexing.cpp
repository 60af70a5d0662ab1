#include "indexing.h"

#include <algorithm>

#include "creation.h"
#include "elementwise.h"
#include "layout.h"
#include "reduce.h"

namespace hearth {

namespace {


Shape with_dim(Shape s, int axis, int64_t n) {
  s[axis] = n;
  return s;
}

void require_integer_indices(const Array& indices, const char* op) {
  if (!is_integral(indices.dtype()))
    throw_invalid(op, std::string("indices must be an integer array, got ") + dtype_name(indices.dtype()));
}

// Out-of-range indices fail at graph-building time when their values are already known (the common case:
// indices made from JS data), otherwise when the kernel runs. Large index arrays are left to the kernel.
void check_known_indices(const Array& indices, int64_t size, int axis, const char* op) {
  if (indices.is_evaluated() && indices.size() <= (int64_t(1) << 20)) normalize_indices(indices, size, axis, op);
}

Array cast_to(const Array& x, Dtype t) { return x.dtype() == t ? x : astype(x, t); }

}  // namespace

// ---- slices ----

SliceSpec normalize_slice(const Shape& shape, const Shape& start, const Shape& stop, const Strides& strides,
                          const char* op) {
  size_t nd = shape.size();
  if (start.size() != nd || stop.size() != nd || (!strides.empty() && strides.size() != nd))
    throw_invalid(op, "start, stop and strides need one entry per axis: got " + std::to_string(start.size()) + ", " +
                          std::to_string(stop.size()) + " and " + std::to_string(strides.size()) +
                          " entries for an array with " + std::to_string(nd) + " dimensions");
  SliceSpec s;
  s.start.resize(nd);
  s.step.resize(nd);
  s.shape.resize(nd);
  for (size_t i = 0; i < nd; i++) {
    int64_t n = shape[i], st = strides.empty() ? 1 : strides[i];
    if (st == 0) throw_invalid(op, "slice step cannot be zero (axis " + std::to_string(i) + ")");
    int64_t b = start[i], e = stop[i], len;
    if (b < 0) b += n;
    if (e < 0) e += n;
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      len = e > b ? (e - b - 1) / st + 1 : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      len = b > e ? (b - e - 1) / (-st) + 1 : 0;
    }
    s.start[i] = len ? b : 0;  // an empty axis must not move the view's offset outside the buffer
    s.step[i] = st;
    s.shape[i] = len;
  }
  return s;
}

static bool is_identity(const Shape& shape, const SliceSpec& s) {
  if (s.shape != shape) return false;
  for (size_t i = 0; i < shape.size(); i++)
    if (shape[i] > 1 && (s.start[i] != 0 || s.step[i] != 1)) return false;
  return true;
}

Array slice(const Array& a, const SliceSpec& spec) {
  if (is_identity(a.shape(), spec)) return a;
  return Array(spec.shape, a.dtype(), std::make_shared<Slice>(spec), {a});
}

Array slice(const Array& a, const Shape& start, const Shape& stop, const Strides& strides) {
  return slice(a, normalize_slice(a.shape(), start, stop, strides, "slice"));
}

Array slice_update(const Array& a, const Array& update, const SliceSpec& spec) {
  Shape b = broadcast_shapes(update.shape(), spec.shape, "sliceUpdate");
  if (b != spec.shape)
    throw_invalid("sliceUpdate", "an update of shape " + shape_str(update.shape()) +
                                     " cannot be broadcast to the slice's shape " + shape_str(spec.shape));
  Array u = broadcast_to(cast_to(update, a.dtype()), spec.shape);
  if (shape_size(spec.shape) == 0) return a;
  if (is_identity(a.shape(), spec)) return u;
  return Array(a.shape(), a.dtype(), std::make_shared<SliceUpdate>(spec), {a, u});
}

Array slice_update(const Array& a, const Array& update, const Shape& start, const Shape& stop,
                   const Strides& strides) {
  return slice_update(a, update, normalize_slice(a.shape(), start, stop, strides, "sliceUpdate"));
}

bool Slice::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Slice*>(&o);
  return p && p->spec_ == spec_;
}
bool SliceUpdate::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SliceUpdate*>(&o);
  return p && p->spec_ == spec_;
}

std::vector<Array> Slice::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                              const Array&) {
  return {slice_update(zeros_like(primals[0]), cot, spec_)};
}

std::vector<Array> SliceUpdate::vjp(const std::vector<Array>&, const Array& cot, const std::vector<int>& argnums,
                                    const Array&) {
  std::vector<Array> g;
  for (int arg : argnums) {
    if (arg == 0) g.push_back(slice_update(cot, zeros(spec_.shape, cot.dtype()), spec_));
    else g.push_back(slice(cot, spec_));
  }
  return g;
}

// ---- take and its scatter ----

Array take(const Array& a, const Array& indices, int axis) {
  require_integer_indices(indices, "take");
  int ax = normalize_axis(axis, a.ndim(), "take");
  check_known_indices(indices, a.shape(ax), ax, "take");
  if (indices.size() > 0 && a.shape(ax) == 0)
    throw_invalid("take", "cannot take from axis " + std::to_string(ax) + " of size 0");
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  out.insert(out.end(), indices.shape().begin(), indices.shape().end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return Array(out, a.dtype(), std::make_shared<Take>(ax), {a, indices});
}

Array take(const Array& a, const Array& indices) { return take(reshape(a, {-1}), indices, 0); }

Array scatter_add_axis(const Array& base, const Array& indices, const Array& updates, int axis) {
  require_integer_indices(indices, "scatter_add");
  int ax = normalize_axis(axis, base.ndim(), "scatter_add");
  Shape expect(base.shape().begin(), base.shape().begin() + ax);
  expect.insert(expect.end(), indices.shape().begin(), indices.shape().end());
  expect.insert(expect.end(), base.shape().begin() + ax + 1, base.shape().end());
  if (updates.shape() != expect)
    throw_invalid("scatter_add", "updates have shape " + shape_str(updates.shape()) + ", expected " +
                                     shape_str(expect));
  Array u = contiguous(cast_to(updates, base.dtype()));
  return Array(base.shape(), base.dtype(), std::make_shared<ScatterAddAxis>(ax), {base, indices, u});
}

bool Take::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Take*>(&o);
  return p && p->axis_ == axis_;
}
bool ScatterAddAxis::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScatterAddAxis*>(&o);
  return p && p->axis_ == axis_;
}

std::vector<Array> Take::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                             const Array&) {
  std::vector<Array> g;
  for (int arg : argnums)
    g.push_back(arg == 0 ? scatter_add_axis(zeros_like(primals[0]), primals[1], cot, axis_) : zeros_like(primals[1]));
  return g;
}

std::vector<Array> ScatterAddAxis::vjp(const std::vector<Array>& primals, const Array& cot,
                                       const std::vector<int>& argnums, const Array&) {
  std::vector<Array> g;
  for (int arg : argnums) {
    if (arg == 0) g.push_back(cot);
    else if (arg == 1) g.push_back(zeros_like(primals[1]));
    else g.push_back(take(cot, primals[1], axis_));
  }
  return g;
}

// ---- along an axis ----

namespace {
// The shape indices broadcast to (all axes but `ax` broadcast with a's; ax keeps the indices' length).
Shape along_axis_shape(const Array& a, const Array& indices, int ax, const char* op) {
  if (indices.ndim() != a.ndim())
    throw_invalid(op, "indices must have as many dimensions as the array (" + std::to_string(a.ndim()) +
                          "), got " + std::to_string(indices.ndim()));
  Shape b = broadcast_shapes(with_dim(a.shape(), ax, 1), with_dim(indices.shape(), ax, 1), op);
  return with_dim(b, ax, indices.shape(ax));
}
}  // namespace

Array take_along_axis(const Array& a, const Array& indices, int axis) {
  const char* op = "takeAlongAxis";
  require_integer_indices(indices, op);
  int ax = normalize_axis(axis, a.ndim(), op);
  Shape out = along_axis_shape(a, indices, ax, op);
  check_known_indices(indices, a.shape(ax), ax, op);
  if (shape_size(out) > 0 && a.shape(ax) == 0)
    throw_invalid(op, "cannot take from axis " + std::to_string(ax) + " of size 0");
  Array ab = broadcast_to(a, with_dim(out, ax, a.shape(ax)));
  Array ib = broadcast_to(indices, out);
  return Array(out, a.dtype(), std::make_shared<TakeAlongAxis>(ax), {ab, ib});
}

Array take_along_axis(const Array& a, const Array& indices) {
  return take_along_axis(reshape(a, {-1}), reshape(indices, {-1}), 0);
}

static Array scatter_along_axis(const Array& a, const Array& indices, const Array& values, int axis, bool add,
                                const char* op) {
  require_integer_indices(indices, op);
  int ax = normalize_axis(axis, a.ndim(), op);
  Shape ishape = along_axis_shape(a, indices, ax, op);
  if (with_dim(ishape, ax, a.shape(ax)) != a.shape())
    throw_invalid(op, "indices of shape " + shape_str(indices.shape()) + " do not broadcast against the array's " +
                          shape_str(a.shape()) + " outside axis " + std::to_string(ax));
  Shape vb = broadcast_shapes(values.shape(), ishape, op);
  if (vb != ishape)
    throw_invalid(op, "values of shape " + shape_str(values.shape()) + " cannot be broadcast to the indices' " +
                          shape_str(ishape));
  check_known_indices(indices, a.shape(ax), ax, op);
  if (shape_size(ishape) > 0 && a.shape(ax) == 0)
    throw_invalid(op, "cannot index axis " + std::to_string(ax) + " of size 0");
  Array ib = broadcast_to(indices, ishape);
  Array vals = broadcast_to(cast_to(values, a.dtype()), ishape);
  return Array(a.shape(), a.dtype(), std::make_shared<ScatterAlongAxis>(ax, add), {a, ib, vals});
}

Array put_along_axis(const Array& a, const Array& indices, const Array& values, int axis) {
  return scatter_along_axis(a, indices, values, axis, false, "putAlongAxis");
}

Array put_along_axis(const Array& a, const Array& indices, const Array& values) {
  Array flat_v = values.ndim() == 0 ? values : reshape(values, {-1});
  return reshape(put_along_axis(reshape(a, {-1}), reshape(indices, {-1}), flat_v, 0), a.shape());
}

Array scatter_add_along_axis(const Array& a, const Array& indices, const Array& values, int axis) {
  return scatter_along_axis(a, indices, values, axis, true, "scatter_add_along_axis");
}

bool TakeAlongAxis::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const TakeAlongAxis*>(&o);
  return p && p->axis_ == axis_;
}
bool ScatterAlongAxis::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScatterAlongAxis*>(&o);
  return p && p->axis_ == axis_ && p->add_ == add_;
}

std::vector<Array> TakeAlongAxis::vjp(const std::vector<Array>& primals, const Array& cot,
                                      const std::vector<int>& argnums, const Array&) {
  std::vector<Array> g;
  for (int arg : argnums)
    g.push_back(arg == 0 ? scatter_add_along_axis(zeros_like(primals[0]), primals[1], cot, axis_)
                         : zeros_like(primals[1]));
  return g;
}

std::vector<Array> ScatterAlongAxis::vjp(const std::vector<Array>& primals, const Array& cot,
                                         const std::vector<int>& argnums, const Array&) {
  std::vector<Array> g;
  for (int arg : argnums) {
    if (arg == 0)
      g.push_back(add_ ? cot : put_along_axis(cot, primals[1], zeros({}, cot.dtype()), axis_));
    else if (arg == 1)
      g.push_back(zeros_like(primals[1]));
    else
      g.push_back(take_along_axis(cot, primals[1], axis_));
  }
  return g;
}

// ---- concatenate and friends ----

Array concatenate(const std::vector<Array>& arrays, int axis) {
  const char* op = "concatenate";
  if (arrays.empty()) throw_invalid(op, "needs at least one array");
  const Array& first = arrays[0];
  int nd = first.ndim();
  if (nd == 0) throw_invalid(op, "zero-dimensional arrays cannot be concatenated");
  int ax = normalize_axis(axis, nd, op);
  Shape out = first.shape();
  out[ax] = 0;
  Dtype t = first.dtype();
  for (size_t k = 0; k < arrays.size(); k++) {
    const Array& x = arrays[k];
    if (x.ndim() != nd)
      throw_invalid(op, "all arrays must have the same number of dimensions; array 0 has " + std::to_string(nd) +
                            " and array " + std::to_string(k) + " has " + std::to_string(x.ndim()));
    for (int d = 0; d < nd; d++)
      if (d != ax && x.shape(d) != first.shape(d))
        throw_invalid(op, "all dimensions except the concatenation axis (" + std::to_string(ax) +
                              ") must match; array 0 has shape " + shape_str(first.shape()) + " and array " +
                              std::to_string(k) + " has shape " + shape_str(x.shape()));
    out[ax] += x.shape(ax);
    t = promote_types(t, x.dtype());
  }
  std::vector<Array> inputs;
  for (auto& x : arrays) inputs.push_back(cast_to(x, t));
  if (inputs.size() == 1) return inputs[0];
  return Array(out, t, std::make_shared<Concatenate>(ax), std::move(inputs));
}

bool Concatenate::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Concatenate*>(&o);
  return p && p->axis_ == axis_;
}

std::vector<Array> Concatenate::vjp(const std::vector<Array>& primals, const Array& cot,
                                    const std::vector<int>& argnums, const Array&) {
  std::vector<int64_t> offsets(primals.size() + 1, 0);
  for (size_t k = 0; k < primals.size(); k++) offsets[k + 1] = offsets[k] + primals[k].shape(axis_);
  std::vector<Array> g;
  for (int arg : argnums) {
    Shape start(cot.ndim(), 0), stop = cot.shape();
    start[axis_] = offsets[arg];
    stop[axis_] = offsets[arg + 1];
    g.push_back(slice(cot, start, stop));
  }
  return g;
}

Array stack(const std::vector<Array>& arrays, int axis) {
  if (arrays.empty()) throw_invalid("stack", "needs at least one array");
  for (size_t k = 1; k < arrays.size(); k++)
    if (arrays[k].shape() != arrays[0].shape())
      throw_invalid("stack", "all arrays must have the same shape; array 0 has shape " +
                                 shape_str(arrays[0].shape()) + " and array " + std::to_string(k) + " has shape " +
                                 shape_str(arrays[k].shape()));
  int ax = normalize_axis(axis, arrays[0].ndim() + 1, "stack");
  std::vector<Array> expanded;
  for (auto& x : arrays) expanded.push_back(expand_dims(x, {ax}));
  return concatenate(expanded, ax);
}

std::vector<Array> split(const Array& a, int64_t sections, int axis) {
  if (a.ndim() == 0) throw_invalid("split", "cannot split a zero-dimensional array");
  int ax = normalize_axis(axis, a.ndim(), "split");
  if (sections <= 0) throw_invalid("split", "the number of sections must be positive, got " + std::to_string(sections));
  int64_t n = a.shape(ax);
  if (n % sections)
    throw_invalid("split", "an axis of size " + std::to_string(n) + " cannot be split into " +
                               std::to_string(sections) + " equal sections; pass split points instead");
  Shape points;
  for (int64_t k = 1; k < sections; k++) points.push_back(k * (n / sections));
  return split(a, points, ax);
}

std::vector<Array> split(const Array& a, const Shape& indices, int axis) {
  if (a.ndim() == 0) throw_invalid("split", "cannot split a zero-dimensional array");
  int ax = normalize_axis(axis, a.ndim(), "split");
  std::vector<Array> out;
  Shape start(a.ndim(), 0), stop = a.shape();
  for (size_t k = 0; k <= indices.size(); k++) {
    start[ax] = k == 0 ? 0 : indices[k - 1];
    stop[ax] = k == indices.size() ? a.shape(ax) : indices[k];
    // NumPy semantics: a negative split point counts from the end; a later point before an earlier one gives
    // an empty piece (Python slicing does both).
    out.push_back(slice(a, normalize_slice(a.shape(), start, stop, {}, "split")));
  }
  return out;
}

// ---- pad, repeat, tile ----

Array pad(const Array& a, const std::vector<std::pair<int64_t, int64_t>>& widths, const Array& value,
          const std::string& mode) {
  int nd = a.ndim();
  if (int(widths.size()) != nd)
    throw_invalid("pad", "pad widths need one (before, after) pair per axis: got " + std::to_string(widths.size()) +
                             " for an array with " + std::to_string(nd) + " dimensions");
  bool any = false;
  for (auto& [lo, hi] : widths) {
    if (lo < 0 || hi < 0) throw_invalid("pad", "pad widths must be non-negative");
    any = any || lo || hi;
  }
  if (mode != "constant" && mode != "edge")
    throw_invalid("pad", "mode must be 'constant' or 'edge', got '" + mode + "'");
  if (mode == "constant" && value.size() != 1)
    throw_invalid("pad", "constantValues must be a single value, got shape " + shape_str(value.shape()));
  if (!any) return a;
  if (mode == "constant") {
    Shape out = a.shape(), start(nd), stop(nd);
    for (int i = 0; i < nd; i++) {
      out[i] += widths[i].first + widths[i].second;
      start[i] = widths[i].first;
      stop[i] = widths[i].first + a.shape(i);
    }
    Array base = broadcast_to(cast_to(reshape(value, {}), a.dtype()), out);
    return slice_update(base, a, start, stop);
  }
  Array x = a;
  for (int ax = 0; ax < nd; ax++) {
    auto [lo, hi] = widths[ax];
    if (!lo && !hi) continue;
    int64_t n = x.shape(ax);
    if (n == 0) throw_invalid("pad", "cannot pad an empty axis (" + std::to_string(ax) + ") in edge mode");
    std::vector<Array> parts;
    Shape start(nd, 0), stop = x.shape();
    if (lo) {
      stop[ax] = 1;
      parts.push_back(broadcast_to(slice(x, start, stop), with_dim(x.shape(), ax, lo)));
    }
    parts.push_back(x);
    if (hi) {
      start[ax] = n - 1;
      stop[ax] = n;
      parts.push_back(broadcast_to(slice(x, start, stop), with_dim(x.shape(), ax, hi)));
    }
    x = concatenate(parts, ax);
  }
  return x;
}

Array repeat(const Array& a, int64_t repeats, int axis) {
  if (repeats < 0) throw_invalid("repeat", "repeats must be non-negative, got " + std::to_string(repeats));
  int ax = normalize_axis(axis, a.ndim(), "repeat");
  Array e = expand_dims(a, {ax + 1});
  Shape b = e.shape();
  b[ax + 1] = repeats;
  return reshape(broadcast_to(e, b), with_dim(a.shape(), ax, a.shape(ax) * repeats));
}

Array repeat(const Array& a, int64_t repeats) { return repeat(reshape(a, {-1}), repeats, 0); }

Array repeat(const Array& a, const Shape& repeats, int axis) {
  int ax = normalize_axis(axis, a.ndim(), "repeat");
  if (repeats.size() == 1) return repeat(a, repeats[0], ax);
  if (int64_t(repeats.size()) != a.shape(ax))
    throw_invalid("repeat", "repeats has " + std::to_string(repeats.size()) + " entries for an axis of size " +
                                std::to_string(a.shape(ax)));
  std::vector<int64_t> idx;
  for (size_t i = 0; i < repeats.size(); i++) {
    if (repeats[i] < 0) throw_invalid("repeat", "repeats must be non-negative, got " + std::to_string(repeats[i]));
    idx.insert(idx.end(), size_t(repeats[i]), int64_t(i));
  }
  return take(a, array_from_data(idx.data(), {int64_t(idx.size())}, Dtype::int64), ax);
}

Array tile(const Array& a, Shape reps) {
  for (int64_t r : reps)
    if (r < 0) throw_invalid("tile", "reps must be non-negative, got " + shape_str(reps));
  size_t d = std::max(size_t(a.ndim()), reps.size());
  reps.insert(reps.begin(), d - reps.size(), 1);
  Shape s = a.shape();
  s.insert(s.begin(), d - s.size(), 1);
  Shape inter, bcast, out;
  for (size_t i = 0; i < d; i++) {
    inter.insert(inter.end(), {1, s[i]});
    bcast.insert(bcast.end(), {reps[i], s[i]});
    out.push_back(reps[i] * s[i]);
  }
  return reshape(broadcast_to(reshape(a, inter), bcast), out);
}

// ---- triangles, outer, diagonals ----

static Array triangle(const Array& a, int64_t k, bool upper, const char* op) {
  if (a.ndim() < 2) throw_invalid(op, "expected an array with at least 2 dimensions, got " + std::to_string(a.ndim()));
  int64_t n = a.shape(-2), m = a.shape(-1);
  Array rows = reshape(arange(0, double(n), 1, Dtype::int64), {n, 1});
  Array cols = reshape(arange(0, double(m), 1, Dtype::int64), {1, m});
  Array diff = subtract(cols, rows);  // j - i: which diagonal each element sits on
  Array kk = scalar(double(k), Dtype::int64);
  Array mask = upper ? binary(BinaryOp::greater_equal, diff, kk) : binary(BinaryOp::less_equal, diff, kk);
  return where(mask, a, scalar_like(0, a));
}

Array triu(const Array& a, int64_t k) { return triangle(a, k, true, "triu"); }
Array tril(const Array& a, int64_t k) { return triangle(a, k, false, "tril"); }

Array outer(const Array& a, const Array& b) { return multiply(reshape(a, {-1, 1}), reshape(b, {1, -1})); }

static int64_t diagonal_length(int64_t n1, int64_t n2, int64_t offset) {
  if (offset >= 0) return offset >= n2 ? 0 : std::min(n1, n2 - offset);
  return -offset >= n1 ? 0 : std::min(n1 + offset, n2);
}

Array diagonal(const Array& a, int64_t offset, int axis1, int axis2) {
  if (a.ndim() < 2)
    throw_invalid("diagonal", "expected an array with at least 2 dimensions, got " + std::to_string(a.ndim()));
  int ax1 = normalize_axis(axis1, a.ndim(), "diagonal"), ax2 = normalize_axis(axis2, a.ndim(), "diagonal");
  if (ax1 == ax2) throw_invalid("diagonal", "axis1 and axis2 must be different, both are " + std::to_string(ax1));
  Shape out;
  for (int i = 0; i < a.ndim(); i++)
    if (i != ax1 && i != ax2) out.push_back(a.shape(i));
  out.push_back(diagonal_length(a.shape(ax1), a.shape(ax2), offset));
  return Array(out, a.dtype(), std::make_shared<Diagonal>(offset, ax1, ax2), {a});
}

// A [..., n1, n2] array with v ([..., len]) on diagonal `offset` and zeros elsewhere.
static Array diag_embed(const Array& v, int64_t n1, int64_t n2, int64_t offset) {
  int64_t len = v.shape(-1);
  if (len == 0) {
    Shape s(v.shape().begin(), v.shape().end() - 1);
    s.insert(s.end(), {n1, n2});
    return zeros(s, v.dtype());
  }
  int64_t before = std::max<int64_t>(0, offset);
  std::vector<std::pair<int64_t, int64_t>> w(v.ndim(), {0, 0});
  w.back() = {before, n2 - len - before};
  Array row = expand_dims(pad(v, w, scalar(0, v.dtype())), {-2});  // value for column j on the diagonal
  Shape s = row.shape();
  s[s.size() - 2] = n1;
  Array mask = eye(n1, n2, offset, Dtype::bool_);
  return where(mask, broadcast_to(row, s), scalar_like(0, v));
}

Array diag(const Array& a, int64_t k) {
  if (a.ndim() == 1) {
    int64_t n = a.shape(0) + (k < 0 ? -k : k);
    return diag_embed(a, n, n, k);
  }
  if (a.ndim() == 2) return diagonal(a, k, 0, 1);
  throw_invalid("diag", "expected a 1-D or 2-D array, got " + std::to_string(a.ndim()) + " dimensions");
}

bool Diagonal::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Diagonal*>(&o);
  return p && p->offset_ == offset_ && p->axis1_ == axis1_ && p->axis2_ == axis2_;
}

std::vector<Array> Diagonal::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                                 const Array&) {
  const Array& x = primals[0];
  int nd = x.ndim();
  Array g = diag_embed(cot, x.shape(axis1_), x.shape(axis2_), offset_);  // [rest..., n1, n2]
  std::vector<int> perm(nd);
  for (int i = 0, r = 0; i < nd; i++) {
    if (i == axis1_) perm[i] = nd - 2;
    else if (i == axis2_) perm[i] = nd - 1;
    else perm[i] = r++;
  }
  return {transpose(g, perm)};
}

}  // namespace hearth
