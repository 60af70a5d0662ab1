// Ops that change how an array's elements are addressed without computing: reshape, transpose, broadcast,
// expand/squeeze, plus the gradient barrier. Views share the input's buffer when the layout allows.
#pragma once
#include "../primitive.h"

namespace hearth {

class Reshape : public Primitive {
 public:
  const char* name() const override { return "reshape"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Reshape*>(&o) != nullptr; }
};

class Transpose : public Primitive {
 public:
  explicit Transpose(std::vector<int> axes) : axes_(std::move(axes)) {}
  const char* name() const override { return "transpose"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
};

class BroadcastTo : public Primitive {
 public:
  const char* name() const override { return "broadcast_to"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const BroadcastTo*>(&o) != nullptr; }
};

// Identity in the forward pass, zero gradient.
class StopGradient : public Primitive {
 public:
  const char* name() const override { return "stop_gradient"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
};

// Makes an array row-contiguous (a copy only when it is not already).
class Contiguous : public Primitive {
 public:
  const char* name() const override { return "contiguous"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
};

Array reshape(const Array& a, Shape shape);  // one -1 allowed
Array transpose(const Array& a, std::vector<int> axes);
Array transpose(const Array& a);  // reverses the axes
Array broadcast_to(const Array& a, const Shape& shape);
Array expand_dims(const Array& a, std::vector<int> axes);
Array squeeze(const Array& a, std::vector<int> axes);
Array squeeze(const Array& a);
Array flatten(const Array& a, int start_axis = 0, int end_axis = -1);
Array swapaxes(const Array& a, int axis1, int axis2);
Array moveaxis(const Array& a, int source, int destination);
Array stop_gradient(const Array& a);
Array contiguous(const Array& a);

// Shared helpers for every op family.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
int normalize_axis(int axis, int ndim, const char* op);
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op);  // sorted, unique-checked
// Sums `cotangent` down to `shape` (undoing broadcasting) for gradients.
Array unbroadcast(const Array& cotangent, const Shape& shape);
// Copies any strided array into `out` (already allocated, same shape), converting dtype if needed.
void copy_into(const Array& src, Array& out);

}  // namespace hearth
