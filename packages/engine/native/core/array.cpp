#include "array.h"

#include <stdexcept>

#include "primitive.h"

namespace hearth {

static std::atomic<int> g_trace_depth{0};
void begin_trace() { g_trace_depth++; }
void end_trace() { g_trace_depth--; }
bool tracing() { return g_trace_depth.load(std::memory_order_relaxed) > 0; }
bool Array::is_tracer() const { return n_->tracer && tracing(); }

Strides row_major_strides(const Shape& shape) {
  Strides s(shape.size());
  int64_t acc = 1;
  for (int i = int(shape.size()) - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("[array] negative dimension in shape " + shape_str(shape));
    if (d && n > INT64_MAX / d) throw std::invalid_argument("[array] shape " + shape_str(shape) + " is too large");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t strided_offset(int64_t i, const Shape& shape, const Strides& strides) {
  int64_t off = 0;
  for (int d = int(shape.size()) - 1; d >= 0; d--) {
    int64_t q = i / shape[d];
    off += (i - q * shape[d]) * strides[d];
    i = q;
  }
  return off;
}

bool is_row_contiguous(const Shape& shape, const Strides& strides) {
  int64_t acc = 1;
  for (int i = int(shape.size()) - 1; i >= 0; i--) {
    if (shape[i] == 1) continue;
    if (strides[i] != acc) return false;
    acc *= shape[i];
  }
  return true;
}

ArrayNode::~ArrayNode() {
  std::vector<Array> stack = std::move(inputs);
  while (!stack.empty()) {
    Array a = std::move(stack.back());
    stack.pop_back();
    if (a.use_count() == 1)
      for (auto& in : a.take_inputs()) stack.push_back(std::move(in));
  }
}

Array::Array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> p, std::vector<Array> inputs)
    : n_(std::make_shared<ArrayNode>()) {
  n_->size = shape_size(shape);
  n_->shape = std::move(shape);
  n_->dtype = dtype;
  bool tracer = false;
  for (auto& in : inputs) tracer = tracer || in.is_tracer();
  n_->tracer = tracer;
  n_->primitive = std::move(p);
  n_->inputs = std::move(inputs);
}

Array Array::empty(const Shape& shape, Dtype dtype) {
  Array a;
  a.n_ = std::make_shared<ArrayNode>();
  a.n_->size = shape_size(shape);
  a.n_->shape = shape;
  a.n_->dtype = dtype;
  a.allocate();
  a.mark_evaluated();
  return a;
}

Array Array::from_buffer(const Shape& shape, Dtype dtype, std::shared_ptr<Buffer> buf, int64_t offset) {
  Array a;
  a.n_ = std::make_shared<ArrayNode>();
  a.n_->size = shape_size(shape);
  a.n_->shape = shape;
  a.n_->dtype = dtype;
  a.set_data(std::move(buf), row_major_strides(shape), offset);
  a.mark_evaluated();
  return a;
}

void Array::allocate() {
  n_->buffer = Buffer::allocate(nbytes());
  n_->strides = row_major_strides(n_->shape);
  n_->offset = 0;
  n_->contiguous = true;
}

void Array::share(const Array& src, const Strides& strides, int64_t offset) {
  set_data(src.n_->buffer, strides, offset);
}

void Array::set_data(std::shared_ptr<Buffer> buf, const Strides& strides, int64_t offset) {
  n_->buffer = std::move(buf);
  n_->strides = strides;
  n_->offset = offset;
  n_->contiguous = is_row_contiguous(n_->shape, strides);
}

void Array::mark_evaluated() { n_->evaluated.store(true, std::memory_order_release); }

void Array::detach() {
  n_->primitive.reset();
  n_->inputs.clear();
}

double Array::scalar_as_double(int64_t i) const {
  int64_t off = strided_offset(i, n_->shape, n_->strides);
  const char* p = static_cast<const char*>(n_->buffer->data()) + (n_->offset + off) * int64_t(itemsize());
  switch (n_->dtype) {
    case Dtype::bool_: return *reinterpret_cast<const uint8_t*>(p) ? 1 : 0;
    case Dtype::uint8: return *reinterpret_cast<const uint8_t*>(p);
    case Dtype::uint16: return *reinterpret_cast<const uint16_t*>(p);
    case Dtype::uint32: return *reinterpret_cast<const uint32_t*>(p);
    case Dtype::uint64: return double(*reinterpret_cast<const uint64_t*>(p));
    case Dtype::int8: return *reinterpret_cast<const int8_t*>(p);
    case Dtype::int16: return *reinterpret_cast<const int16_t*>(p);
    case Dtype::int32: return *reinterpret_cast<const int32_t*>(p);
    case Dtype::int64: return double(*reinterpret_cast<const int64_t*>(p));
    case Dtype::float16: return f16_to_float(*reinterpret_cast<const uint16_t*>(p));
    case Dtype::bfloat16: return bf16_to_float(*reinterpret_cast<const uint16_t*>(p));
    case Dtype::float32: return *reinterpret_cast<const float*>(p);
    case Dtype::float64: return *reinterpret_cast<const double*>(p);
  }
  return 0;
}

}  // namespace hearth
