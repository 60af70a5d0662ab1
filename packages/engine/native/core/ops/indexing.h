// Shapes and indexing: strided slices (views) and slice updates, gathers (take, take_along_axis) and the
// scatters that are their gradients, concatenation and the ops built from it (stack, split, pad, repeat,
// tile), triangles, outer products and diagonals. Error tags use the JS names (`[takeAlongAxis] ...`).
#pragma once
#include <string>
#include <utility>

#include "../primitive.h"

namespace hearth {

// A slice with Python semantics resolved: per axis the first element, the step and the output length.
struct SliceSpec {
  Shape start;
  Strides step;
  Shape shape;
  bool operator==(const SliceSpec& o) const { return start == o.start && step == o.step && shape == o.shape; }
};

// A strided view of its input (never a copy).
class Slice : public Primitive {
 public:
  explicit Slice(SliceSpec s) : spec_(std::move(s)) {}
  const char* name() const override { return "slice"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  SliceSpec spec_;
};

// Inputs (a, update): a copy of a with the slice replaced by update (already of the slice's shape and dtype).
class SliceUpdate : public Primitive {
 public:
  explicit SliceUpdate(SliceSpec s) : spec_(std::move(s)) {}
  const char* name() const override { return "slice_update"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  SliceSpec spec_;
};

// Inputs (a, indices): out = a[..., indices, ...] along axis (indices' shape replaces that axis).
class Take : public Primitive {
 public:
  explicit Take(int axis) : axis_(axis) {}
  const char* name() const override { return "take"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// Inputs (base, indices, updates shaped like take(base, indices, axis)): base with the updates added at the
// taken positions; repeated indices accumulate. The gradient of take.
class ScatterAddAxis : public Primitive {
 public:
  explicit ScatterAddAxis(int axis) : axis_(axis) {}
  const char* name() const override { return "scatter_add"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// Inputs (a, indices) with indices of the output's shape and a broadcast to it except along axis.
class TakeAlongAxis : public Primitive {
 public:
  explicit TakeAlongAxis(int axis) : axis_(axis) {}
  const char* name() const override { return "take_along_axis"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// Inputs (a, indices, values of indices' shape): a copy of a with values written (or added, when `add`) at
// the positions indices name along axis. Writes happen in row-major order, so the last duplicate wins.
class ScatterAlongAxis : public Primitive {
 public:
  ScatterAlongAxis(int axis, bool add) : axis_(axis), add_(add) {}
  const char* name() const override { return add_ ? "scatter_add_along_axis" : "put_along_axis"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
  bool add_;
};

class Concatenate : public Primitive {
 public:
  explicit Concatenate(int axis) : axis_(axis) {}
  const char* name() const override { return "concatenate"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// The diagonal of axes (axis1, axis2) as a view, moved to the last axis.
class Diagonal : public Primitive {
 public:
  Diagonal(int64_t offset, int axis1, int axis2) : offset_(offset), axis1_(axis1), axis2_(axis2) {}
  const char* name() const override { return "diagonal"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int64_t offset_;
  int axis1_, axis2_;
};

// Python slice semantics per axis: negative start/stop count from the end, out-of-range values clamp,
// negative strides walk backwards. start/stop/strides need one entry per axis (strides may be empty: all 1).
SliceSpec normalize_slice(const Shape& shape, const Shape& start, const Shape& stop, const Strides& strides,
                          const char* op);
Array slice(const Array& a, const Shape& start, const Shape& stop, const Strides& strides = {});
Array slice(const Array& a, const SliceSpec& spec);
// A copy of a with the slice replaced by update (broadcast to the slice's shape, cast to a's dtype).
Array slice_update(const Array& a, const Array& update, const Shape& start, const Shape& stop,
                   const Strides& strides = {});
Array slice_update(const Array& a, const Array& update, const SliceSpec& spec);

// Integer indices of any dtype and layout, negative ones wrapped, as a dense vector; throws
// std::out_of_range "[op] index i is out of bounds for axis a with size n" for the first bad one.
std::vector<int64_t> normalize_indices(const Array& indices, int64_t size, int axis, const char* op);

Array take(const Array& a, const Array& indices, int axis);
Array take(const Array& a, const Array& indices);  // over the flattened array
Array scatter_add_axis(const Array& base, const Array& indices, const Array& updates, int axis);
Array take_along_axis(const Array& a, const Array& indices, int axis);
Array take_along_axis(const Array& a, const Array& indices);  // flattened
Array put_along_axis(const Array& a, const Array& indices, const Array& values, int axis);
Array put_along_axis(const Array& a, const Array& indices, const Array& values);  // flattened
Array scatter_add_along_axis(const Array& a, const Array& indices, const Array& values, int axis);

Array concatenate(const std::vector<Array>& arrays, int axis = 0);
Array stack(const std::vector<Array>& arrays, int axis = 0);
std::vector<Array> split(const Array& a, int64_t sections, int axis = 0);  // must divide evenly
std::vector<Array> split(const Array& a, const Shape& indices, int axis = 0);  // NumPy split points

// widths: one (before, after) per axis; mode "constant" (fills with value, a scalar array) or "edge".
Array pad(const Array& a, const std::vector<std::pair<int64_t, int64_t>>& widths, const Array& value,
          const std::string& mode = "constant");
Array repeat(const Array& a, int64_t repeats, int axis);
Array repeat(const Array& a, int64_t repeats);  // flattened
Array repeat(const Array& a, const Shape& repeats, int axis);  // one count per element along axis
Array tile(const Array& a, Shape reps);
Array triu(const Array& a, int64_t k = 0);
Array tril(const Array& a, int64_t k = 0);
Array outer(const Array& a, const Array& b);
Array diagonal(const Array& a, int64_t offset = 0, int axis1 = 0, int axis2 = 1);
Array diag(const Array& a, int64_t k = 0);

}  // namespace hearth
