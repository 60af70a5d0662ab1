#include "creation.h"

#include <cmath>
#include <cstring>

#include "elementwise.h"
#include "layout.h"

namespace hearth {

bool Full::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Full*>(&o);
  return p && (p->value_ == value_ || (std::isnan(p->value_) && std::isnan(value_)));
}

bool Arange::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Arange*>(&o);
  return p && p->start_ == start_ && p->step_ == step_;
}

Array full(const Shape& shape, double value, Dtype dtype) {
  for (int64_t d : shape)
    if (d < 0) throw_invalid("full", "negative dimension in shape " + shape_str(shape));
  // A scalar node broadcast to the shape: O(1) memory until something is computed from it.
  Array s(Shape{}, dtype, std::make_shared<Full>(value), {});
  return shape.empty() ? s : broadcast_to(s, shape);
}

Array zeros(const Shape& shape, Dtype dtype) { return full(shape, 0, dtype); }
Array ones(const Shape& shape, Dtype dtype) { return full(shape, 1, dtype); }
Array zeros_like(const Array& a) { return zeros(a.shape(), a.dtype()); }
Array ones_like(const Array& a) { return ones(a.shape(), a.dtype()); }

Array arange(double start, double stop, double step, Dtype dtype) {
  if (step == 0) throw_invalid("arange", "step must not be 0");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw_invalid("arange", "start, stop and step must be finite");
  if (dtype == Dtype::bool_) throw_invalid("arange", "bool is not a valid dtype for a range");
  double n = std::ceil((stop - start) / step);
  int64_t count = n > 0 ? int64_t(n) : 0;
  if (n > 1e12) throw_invalid("arange", "the range has too many elements");
  return Array({count}, dtype, std::make_shared<Arange>(start, step), {});
}

Array linspace(double start, double stop, int64_t num, Dtype dtype) {
  if (num < 0) throw_invalid("linspace", "num must be non-negative, got " + std::to_string(num));
  if (!is_floating(dtype)) throw_invalid("linspace", std::string("dtype must be floating, got ") + dtype_name(dtype));
  if (num == 1) return full({1}, start, dtype);
  double step = num > 1 ? (stop - start) / double(num - 1) : 0;
  // Computed in float32 (or float64) then cast, so the ends are exact as NumPy's are.
  Dtype work = dtype == Dtype::float64 ? Dtype::float64 : Dtype::float32;
  Array r = Array({num}, work, std::make_shared<Arange>(start, step), {});
  return astype(r, dtype);
}

Array eye(int64_t n, int64_t m, int64_t k, Dtype dtype) {
  if (n < 0 || m < 0) throw_invalid("eye", "n and m must be non-negative");
  Array rows = reshape(arange(0, double(n), 1, Dtype::int64), {n, 1});
  Array cols = reshape(arange(0, double(m), 1, Dtype::int64), {1, m});
  Array mask = equal(add(rows, scalar(double(k), Dtype::int64)), cols);
  return astype(mask, dtype);
}

Array array_from_data(const void* data, const Shape& shape, Dtype dtype) {
  Array a = Array::empty(shape, dtype);
  if (a.nbytes()) std::memcpy(a.raw(), data, a.nbytes());
  return a;
}

}  // namespace hearth
