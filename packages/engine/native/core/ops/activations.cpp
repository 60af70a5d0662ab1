#include "activations.h"

#include <cmath>

#include "../transforms.h"
#include "elementwise.h"
#include "layout.h"

namespace hearth {

namespace {
Dtype compute_dtype(Dtype t) { return t == Dtype::float16 || t == Dtype::bfloat16 ? Dtype::float32 : t; }
}  // namespace

Array gelu_approx_fallback(const Array& x, const std::optional<Array>& mul) {
  Dtype t = mul ? promote_types(x.dtype(), mul->dtype()) : x.dtype(), ct = compute_dtype(t);
  Array xf = astype(x, ct);
  Array inner = multiply(add(xf, multiply(multiply(square(xf), xf), scalar(0.044715, ct))),
                         scalar(std::sqrt(2.0 / M_PI), ct));
  Array y = multiply(multiply(xf, scalar(0.5, ct)), add(tanh(inner), scalar(1.0, ct)));
  if (mul) y = multiply(y, astype(*mul, ct));
  return astype(y, t);
}

Array gelu_approx(const Array& x, const std::optional<Array>& mul, bool fallback) {
  if (!is_floating(x.dtype()))
    throw_invalid("geluApprox", std::string("x must be floating, got ") + dtype_name(x.dtype()));
  if (mul && !is_floating(mul->dtype()))
    throw_invalid("geluApprox", std::string("mul must be floating, got ") + dtype_name(mul->dtype()));
  Shape shape = mul ? broadcast_shapes(x.shape(), mul->shape(), "geluApprox") : x.shape();
  if (fallback) return gelu_approx_fallback(x, mul);
  Dtype t = mul ? promote_types(x.dtype(), mul->dtype()) : x.dtype();
  std::vector<Array> in{broadcast_to(astype(x, t), shape)};
  if (mul) in.push_back(broadcast_to(astype(*mul, t), shape));
  return Array(shape, t, std::make_shared<GeluApprox>(bool(mul)), std::move(in));
}

std::vector<Array> GeluApprox::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                                   const Array&) {
  begin_trace();
  try {
    std::vector<Array> ins = primals, leaves;
    for (int a : argnums) {
      ins[a] = make_tracer(primals[a]);
      leaves.push_back(ins[a]);
    }
    Array out = gelu_approx_fallback(ins[0], has_mul_ ? std::optional<Array>(ins[1]) : std::nullopt);
    std::vector<Array> grads = backprop({out}, {cot}, leaves);
    end_trace();
    return grads;
  } catch (...) {
    end_trace();
    throw;
  }
}

bool GeluApprox::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const GeluApprox*>(&o);
  return p && p->has_mul_ == has_mul_;
}

}  // namespace hearth
