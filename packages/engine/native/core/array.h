// The lazy array: shape, dtype, strides and a shared buffer, plus (until evaluated) the primitive and the
// inputs that make it. Arrays are cheap handles (a shared_ptr); copying one shares the node.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "allocator.h"
#include "dtype.h"

namespace hearth {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;  // in elements

class Primitive;
class Array;

struct ArrayNode {
  Shape shape;
  Dtype dtype;
  int64_t size = 1;
  // Filled at evaluation (or at creation for constants):
  Strides strides;
  std::shared_ptr<Buffer> buffer;
  int64_t offset = 0;  // elements from buffer start
  bool contiguous = true;  // row-major dense from data()
  std::atomic<bool> evaluated{false};
  // The graph (cleared after evaluation unless the node is a tracer):
  std::shared_ptr<Primitive> primitive;
  std::vector<Array> inputs;
  // Set on the inputs of grad/vjp/compile traces and on every node built from them; tracers keep their graph
  // after evaluation so gradients can walk it.
  bool tracer = false;
  ~ArrayNode();  // iterative: dropping a long unevaluated chain must not recurse once per node
};

class Array {
 public:
  Array() = default;
  // A node computed later by `p` from `inputs`.
  Array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> p, std::vector<Array> inputs);
  // An evaluated, contiguous array on a fresh buffer (uninitialised).
  static Array empty(const Shape& shape, Dtype dtype);
  // An evaluated array over an existing buffer (e.g. a memory-mapped tensor).
  static Array from_buffer(const Shape& shape, Dtype dtype, std::shared_ptr<Buffer> buf, int64_t offset = 0);

  bool valid() const { return bool(n_); }
  const Shape& shape() const { return n_->shape; }
  int64_t shape(int axis) const { return n_->shape[axis < 0 ? axis + ndim() : axis]; }
  int ndim() const { return int(n_->shape.size()); }
  Dtype dtype() const { return n_->dtype; }
  int64_t size() const { return n_->size; }
  size_t itemsize() const { return size_of(n_->dtype); }
  size_t nbytes() const { return size_t(n_->size) * itemsize(); }
  const Strides& strides() const { return n_->strides; }
  int64_t offset() const { return n_->offset; }
  bool contiguous() const { return n_->contiguous; }
  bool is_evaluated() const { return n_->evaluated.load(std::memory_order_acquire); }
  bool has_primitive() const { return bool(n_->primitive); }
  Primitive& primitive() const { return *n_->primitive; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return n_->primitive; }
  const std::vector<Array>& inputs() const { return n_->inputs; }
  bool is_tracer() const;  // the flag counts only while a grad/vjp/compile trace is running
  void set_tracer(bool t) { n_->tracer = t; }
  const std::shared_ptr<Buffer>& buffer() const { return n_->buffer; }
  const ArrayNode* id() const { return n_.get(); }

  template <class T> T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(n_->buffer->data()) + n_->offset * int64_t(itemsize()));
  }
  void* raw() const { return data<char>(); }

  // Used by kernels during evaluation:
  void allocate();  // a fresh contiguous buffer for this node's shape
  void share(const Array& src, const Strides& strides, int64_t offset);  // a view into src's buffer
  void set_data(std::shared_ptr<Buffer> buf, const Strides& strides, int64_t offset);
  void mark_evaluated();
  void detach();  // drop primitive and inputs (after evaluation)
  long use_count() const { return n_.use_count(); }
  // True when this input's buffer can be reused for the output of the node being evaluated: nothing else
  // references the node (the consumer's input list holds the only handle) or its buffer, and it is writable.
  bool is_donatable() const {
    return n_.use_count() == 1 && n_->buffer && n_->buffer.use_count() == 1 && n_->buffer->owned() &&
           n_->contiguous && n_->offset == 0;
  }
  std::vector<Array> take_inputs() { return std::move(n_->inputs); }

  // Reads one element as double / as an integer (for item() and scalar helpers); array must be evaluated.
  double scalar_as_double(int64_t flat_index = 0) const;

 private:
  std::shared_ptr<ArrayNode> n_;
};

// Trace depth: tracers keep their graph (and propagate the flag) only while a transform is tracing.
void begin_trace();
void end_trace();
bool tracing();

Strides row_major_strides(const Shape& shape);
int64_t shape_size(const Shape& shape);  // throws on overflow
std::string shape_str(const Shape& shape);
// Element offset of flat (row-major) index i in an array with these shape/strides.
int64_t strided_offset(int64_t i, const Shape& shape, const Strides& strides);
// True when strides describe a dense row-major layout (size-1 dims ignored).
bool is_row_contiguous(const Shape& shape, const Strides& strides);

}  // namespace hearth
