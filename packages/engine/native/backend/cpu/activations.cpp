// CPU kernels of the fused activations (core/ops/activations.h): the driver and the portable kernel; the
// AVX-512 kernel is in activations_avx512.cpp. Inputs are made contiguous; work is split over the pool.
#include <cmath>
#include <cstring>

#include "backend/cpu/activations_kernels.h"
#include "core/ops/activations.h"
#include "core/ops/layout.h"
#include "kernel_utils.h"

namespace hearth {
namespace cpu::act_detail {
__attribute__((weak)) GeluFn avx512_gelu() { return nullptr; }  // overridden where activations_avx512.cpp is built
}  // namespace cpu::act_detail

using namespace cpu;

namespace {

template <class T> void gelu_portable(const T* x, const T* mul, T* out, int64_t n) {
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const C c = C(0.7978845608028654), k = C(0.044715);
  for (int64_t i = 0; i < n; i++) {
    C v = C(Num<T>::load(x[i]));
    C y = v / (C(1) + std::exp(C(-2) * c * (v + k * v * v * v)));
    if (std::isinf(v)) y = v > 0 ? v : C(0);  // exp overflow would give inf/inf
    if (mul) y *= C(Num<T>::load(mul[i]));
    out[i] = Num<T>::store(y);
  }
}

Array dense(const Array& a) {
  if (a.contiguous()) return a;
  Array c = Array::empty(a.shape(), a.dtype());
  copy_into(a, c);
  return c;
}

}  // namespace

void GeluApprox::eval_cpu(const std::vector<Array>& in_raw, Array& out) {
  const Array x = dense(in_raw[0]);
  const std::optional<Array> mul = has_mul_ ? std::optional<Array>(dense(in_raw[1])) : std::nullopt;
  out.allocate();
  const int64_t n = out.size();
  act_detail::GeluFn fast = act_detail::avx512_gelu();
  const Dtype t = out.dtype();
  const size_t es = size_of(t);
  const char* px = static_cast<const char*>(x.raw());
  const char* pm = mul ? static_cast<const char*>(mul->raw()) : nullptr;
  char* po = static_cast<char*>(out.raw());
  parallel_for(size_t(n), 1 << 14, [&](size_t b, size_t e) {
    const int64_t len = int64_t(e - b);
    const void* xs = px + b * es;
    const void* ms = pm ? pm + b * es : nullptr;
    void* os = po + b * es;
    if (fast && t != Dtype::float64) {
      auto el = t == Dtype::float32 ? act_detail::Elem::f32 : t == Dtype::bfloat16 ? act_detail::Elem::bf16 : act_detail::Elem::f16;
      fast(xs, ms, os, len, el);
      return;
    }
    HEARTH_DISPATCH_FLOAT(t, gelu_portable<T>(static_cast<const T*>(xs), static_cast<const T*>(ms), static_cast<T*>(os), len));
  });
}

}  // namespace hearth
