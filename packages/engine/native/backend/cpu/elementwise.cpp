// CPU kernels for unary, binary, where and cast. Inputs arrive broadcast to the output's shape (possibly
// with zero or transposed strides); the output is a fresh contiguous buffer.
#include <cmath>

#include "core/ops/elementwise.h"
#include "core/ops/layout.h"
#include "kernel_utils.h"
#include "math_scalar.h"

namespace hearth {
using namespace cpu;

namespace {

template <class C> inline C floor_div(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) return std::floor(a / b);
  else if constexpr (std::is_same_v<C, bool>) return a;
  else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == -1) return C(0) - a;  // avoids INT_MIN / -1
      C q = a / b;
      return (q * b != a && ((a < 0) != (b < 0))) ? C(q - 1) : q;
    }
    return a / b;
  }
}

template <class C> inline C py_mod(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = std::fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
  } else if constexpr (std::is_same_v<C, bool>) {
    return false;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == -1) return 0;
      C r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? C(r + b) : r;
    }
    return a % b;
  }
}

template <class C> inline C int_pow(C base, C exp) {
  if constexpr (std::is_signed_v<C>)
    if (exp < 0) return base == 1 ? 1 : (base == -1 ? ((exp & 1) ? -1 : 1) : 0);
  C r = 1;
  while (exp) {
    if (exp & 1) r *= base;
    base *= base;
    exp >>= 1;
  }
  return r;
}

template <BinaryOp OP, class C> inline auto bin(C a, C b) {
  if constexpr (OP == BinaryOp::add) return C(a + b);
  else if constexpr (OP == BinaryOp::subtract) return C(a - b);
  else if constexpr (OP == BinaryOp::multiply) return C(a * b);
  else if constexpr (OP == BinaryOp::divide) return C(a / b);
  else if constexpr (OP == BinaryOp::floor_divide) return floor_div<C>(a, b);
  else if constexpr (OP == BinaryOp::remainder) return py_mod<C>(a, b);
  else if constexpr (OP == BinaryOp::power) {
    if constexpr (std::is_floating_point_v<C>) return C(std::pow(a, b));
    else if constexpr (std::is_same_v<C, bool>) return C(a || !b);
    else return int_pow<C>(a, b);
  }
  else if constexpr (OP == BinaryOp::maximum) {
    if constexpr (std::is_floating_point_v<C>) return (a != a || b != b) ? C(NAN) : (a > b ? a : b);
    else return a > b ? a : b;
  }
  else if constexpr (OP == BinaryOp::minimum) {
    if constexpr (std::is_floating_point_v<C>) return (a != a || b != b) ? C(NAN) : (a < b ? a : b);
    else return a < b ? a : b;
  }
  else if constexpr (OP == BinaryOp::equal) return a == b;
  else if constexpr (OP == BinaryOp::not_equal) return a != b;
  else if constexpr (OP == BinaryOp::less) return a < b;
  else if constexpr (OP == BinaryOp::less_equal) return a <= b;
  else if constexpr (OP == BinaryOp::greater) return a > b;
  else if constexpr (OP == BinaryOp::greater_equal) return a >= b;
  else if constexpr (OP == BinaryOp::logical_and) return bool(a) && bool(b);
  else if constexpr (OP == BinaryOp::logical_or) return bool(a) || bool(b);
  else if constexpr (OP == BinaryOp::arctan2) return C(std::atan2(a, b));
  else {  // logaddexp
    C m = a > b ? a : b;
    if (std::isinf(m) && m < 0) return m;
    if (m != m) return m;
    return C(m + std::log1p(std::exp(-(std::fabs(a - b)))));
  }
}

template <BinaryOp OP, class T, class O>
void binary_kernel(const Array& a, const Array& b, Array& out) {
  using C = typename Num<T>::C;
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  O* po = out.data<O>();
  const Strides os = out.strides();
  for_each_run<3>(out.shape(), {&a.strides(), &b.strides(), &os},
                  [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    const T* x = pa + off[0];
    const T* y = pb + off[1];
    O* o = po + off[2];
    auto f = [](T u, T v) { return Num<O>::store(static_cast<typename Num<O>::C>(bin<OP, C>(Num<T>::load(u), Num<T>::load(v)))); };
    if (st[0] == 1 && st[1] == 1) for (int64_t i = 0; i < n; i++) o[i] = f(x[i], y[i]);
    else if (st[0] == 1 && st[1] == 0) { T v = y[0]; for (int64_t i = 0; i < n; i++) o[i] = f(x[i], v); }
    else if (st[0] == 0 && st[1] == 1) { T u = x[0]; for (int64_t i = 0; i < n; i++) o[i] = f(u, y[i]); }
    else for (int64_t i = 0; i < n; i++) o[i] = f(x[i * st[0]], y[i * st[1]]);
  });
}

template <BinaryOp OP> void binary_dispatch(const Array& a, const Array& b, Array& out) {
  constexpr bool to_bool = OP >= BinaryOp::equal && OP <= BinaryOp::logical_or;
  HEARTH_DISPATCH_ALL(a.dtype(), {
    if constexpr (to_bool) binary_kernel<OP, T, bool>(a, b, out);
    else binary_kernel<OP, T, T>(a, b, out);
  });
}

template <UnaryOp OP, class C> inline auto un(C x) {
  if constexpr (OP == UnaryOp::abs) {
    if constexpr (std::is_unsigned_v<C> || std::is_same_v<C, bool>) return x;
    else return C(x < 0 ? -x : x);
  }
  else if constexpr (OP == UnaryOp::negative) return C(-x);
  else if constexpr (OP == UnaryOp::sign) {
    if constexpr (std::is_floating_point_v<C>) return x != x ? x : C((x > 0) - (x < 0));
    else if constexpr (std::is_unsigned_v<C> || std::is_same_v<C, bool>) return C(x > 0);
    else return C((x > 0) - (x < 0));
  }
  else if constexpr (OP == UnaryOp::square) return C(x * x);
  else if constexpr (OP == UnaryOp::copy) return x;
  else if constexpr (OP == UnaryOp::logical_not) return !bool(x);
  else if constexpr (OP == UnaryOp::isnan) { if constexpr (std::is_floating_point_v<C>) return x != x; else return false; }
  else if constexpr (OP == UnaryOp::isinf) { if constexpr (std::is_floating_point_v<C>) return bool(std::isinf(x)); else return false; }
  else if constexpr (OP == UnaryOp::isposinf) { if constexpr (std::is_floating_point_v<C>) return std::isinf(x) && x > 0; else return false; }
  else if constexpr (OP == UnaryOp::isneginf) { if constexpr (std::is_floating_point_v<C>) return std::isinf(x) && x < 0; else return false; }
  else if constexpr (!std::is_floating_point_v<C>) return x;  // float-only ops never see ints (ops cast first)
  else if constexpr (OP == UnaryOp::exp) return C(std::exp(x));
  else if constexpr (OP == UnaryOp::expm1) return C(std::expm1(x));
  else if constexpr (OP == UnaryOp::log) return C(std::log(x));
  else if constexpr (OP == UnaryOp::log1p) return C(std::log1p(x));
  else if constexpr (OP == UnaryOp::log2) return C(std::log2(x));
  else if constexpr (OP == UnaryOp::log10) return C(std::log10(x));
  else if constexpr (OP == UnaryOp::sqrt) return C(std::sqrt(x));
  else if constexpr (OP == UnaryOp::rsqrt) return C(C(1) / std::sqrt(x));
  else if constexpr (OP == UnaryOp::reciprocal) return C(C(1) / x);
  else if constexpr (OP == UnaryOp::sin) return C(std::sin(x));
  else if constexpr (OP == UnaryOp::cos) return C(std::cos(x));
  else if constexpr (OP == UnaryOp::tan) return C(std::tan(x));
  else if constexpr (OP == UnaryOp::arcsin) return C(std::asin(x));
  else if constexpr (OP == UnaryOp::arccos) return C(std::acos(x));
  else if constexpr (OP == UnaryOp::arctan) return C(std::atan(x));
  else if constexpr (OP == UnaryOp::sinh) return C(std::sinh(x));
  else if constexpr (OP == UnaryOp::cosh) return C(std::cosh(x));
  else if constexpr (OP == UnaryOp::tanh) return C(std::tanh(x));
  else if constexpr (OP == UnaryOp::sigmoid) return C(C(1) / (C(1) + std::exp(-x)));
  else if constexpr (OP == UnaryOp::erf) return C(std::erf(x));
  else if constexpr (OP == UnaryOp::erfinv) return C(erfinv_scalar(double(x)));
  else if constexpr (OP == UnaryOp::floor) return C(std::floor(x));
  else if constexpr (OP == UnaryOp::ceil) return C(std::ceil(x));
  else return C(std::nearbyint(x));  // round: half to even, as NumPy
}

template <UnaryOp OP, class T, class O> void unary_kernel(const Array& a, Array& out) {
  using C = typename Num<T>::C;
  const T* pa = a.data<T>();
  O* po = out.data<O>();
  const Strides os = out.strides();
  for_each_run<2>(out.shape(), {&a.strides(), &os},
                  [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    const T* x = pa + off[0];
    O* o = po + off[1];
    auto f = [](T u) { return Num<O>::store(static_cast<typename Num<O>::C>(un<OP, C>(Num<T>::load(u)))); };
    if (st[0] == 1) for (int64_t i = 0; i < n; i++) o[i] = f(x[i]);
    else for (int64_t i = 0; i < n; i++) o[i] = f(x[i * st[0]]);
  }, 1 << 13);
}

template <UnaryOp OP> void unary_dispatch(const Array& a, Array& out) {
  constexpr bool to_bool = OP == UnaryOp::isnan || OP == UnaryOp::isinf || OP == UnaryOp::isposinf ||
                           OP == UnaryOp::isneginf || OP == UnaryOp::logical_not;
  HEARTH_DISPATCH_ALL(a.dtype(), {
    if constexpr (to_bool) unary_kernel<OP, T, bool>(a, out);
    else unary_kernel<OP, T, T>(a, out);
  });
}

template <class T, class O> void cast_kernel(const Array& a, Array& out) {
  const T* pa = a.data<T>();
  O* po = out.data<O>();
  const Strides os = out.strides();
  for_each_run<2>(out.shape(), {&a.strides(), &os},
                  [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    const T* x = pa + off[0];
    O* o = po + off[1];
    for (int64_t i = 0; i < n; i++) o[i] = convert<O>(Num<T>::load(x[i * st[0]]));
  });
}

template <class T> void cast_to(const Array& a, Array& out) {
  switch (out.dtype()) {
    case Dtype::bool_: cast_kernel<T, bool>(a, out); break;
    case Dtype::uint8: cast_kernel<T, uint8_t>(a, out); break;
    case Dtype::uint16: cast_kernel<T, uint16_t>(a, out); break;
    case Dtype::uint32: cast_kernel<T, uint32_t>(a, out); break;
    case Dtype::uint64: cast_kernel<T, uint64_t>(a, out); break;
    case Dtype::int8: cast_kernel<T, int8_t>(a, out); break;
    case Dtype::int16: cast_kernel<T, int16_t>(a, out); break;
    case Dtype::int32: cast_kernel<T, int32_t>(a, out); break;
    case Dtype::int64: cast_kernel<T, int64_t>(a, out); break;
    case Dtype::float16: cast_kernel<T, f16>(a, out); break;
    case Dtype::bfloat16: cast_kernel<T, bf16>(a, out); break;
    case Dtype::float32: cast_kernel<T, float>(a, out); break;
    case Dtype::float64: cast_kernel<T, double>(a, out); break;
  }
}

// Fused chains: each step runs over a chunk that stays in L1, so the chain reads and writes memory once.
using UnaryLoop = void (*)(const float*, float*, int64_t);
using BinaryLoop = void (*)(const float*, const float*, float*, int64_t);
template <UnaryOp OP> void unary_loop(const float* a, float* o, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = float(un<OP, float>(a[i]));
}
template <BinaryOp OP> void binary_loop(const float* a, const float* b, float* o, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = float(bin<OP, float>(a[i], b[i]));
}
UnaryLoop unary_loop_for(UnaryOp op) {
  switch (op) {
#define U(NAME) case UnaryOp::NAME: return unary_loop<UnaryOp::NAME>;
    U(abs) U(negative) U(sign) U(exp) U(expm1) U(log) U(log1p) U(log2) U(log10) U(sqrt) U(rsqrt) U(square)
    U(reciprocal) U(sin) U(cos) U(tan) U(arcsin) U(arccos) U(arctan) U(sinh) U(cosh) U(tanh) U(sigmoid) U(erf)
    U(erfinv) U(floor) U(ceil) U(round) U(copy)
#undef U
    default: throw std::logic_error("[fused] op is not fusable");
  }
}
BinaryLoop binary_loop_for(BinaryOp op) {
  switch (op) {
#define B(NAME) case BinaryOp::NAME: return binary_loop<BinaryOp::NAME>;
    B(add) B(subtract) B(multiply) B(divide) B(floor_divide) B(remainder) B(power) B(maximum) B(minimum)
    B(arctan2) B(logaddexp)
#undef B
    default: throw std::logic_error("[fused] op is not fusable");
  }
}

template <class T> void load_chunk(const Array& a, int64_t start, int64_t len, float* dst, const float*& src) {
  if (a.size() == 1) { src = dst; return; }  // scalars are filled once per thread
  if constexpr (std::is_same_v<T, float>) { src = a.data<float>() + start; return; }
  const T* p = a.data<T>() + start;
  for (int64_t i = 0; i < len; i++) dst[i] = Num<T>::load(p[i]);
  src = dst;
}

template <class T> void fused_kernel(const std::vector<FusedStep>& steps, const std::vector<Array>& in, Array& out) {
  constexpr int64_t CH = 512;
  std::vector<UnaryLoop> uf(steps.size());
  std::vector<BinaryLoop> bf(steps.size());
  for (size_t s = 0; s < steps.size(); s++) {
    if (steps[s].binary) bf[s] = binary_loop_for(BinaryOp(steps[s].op));
    else uf[s] = unary_loop_for(UnaryOp(steps[s].op));
  }
  T* po = out.data<T>();
  parallel_for(size_t(out.size()), 8192, [&](size_t b, size_t e) {
    std::vector<float> inbuf(in.size() * CH), tmp(steps.size() * CH);
    std::vector<const float*> src(in.size());
    for (size_t k = 0; k < in.size(); k++)
      if (in[k].size() == 1) std::fill_n(&inbuf[k * CH], CH, float(in[k].scalar_as_double()));
    for (int64_t start = int64_t(b); start < int64_t(e); start += CH) {
      int64_t len = std::min<int64_t>(CH, int64_t(e) - start);
      for (size_t k = 0; k < in.size(); k++) load_chunk<T>(in[k], start, len, &inbuf[k * CH], src[k]);
      auto operand = [&](int i) -> const float* { return i >= 0 ? src[i] : &tmp[size_t(-1 - i) * CH]; };
      for (size_t s = 0; s < steps.size(); s++) {
        float* dst = &tmp[s * CH];
        if (steps[s].binary) bf[s](operand(steps[s].a), operand(steps[s].b), dst, len);
        else uf[s](operand(steps[s].a), dst, len);
      }
      const float* r = &tmp[(steps.size() - 1) * CH];
      for (int64_t i = 0; i < len; i++) po[start + i] = Num<T>::store(r[i]);
    }
  });
}

}  // namespace

void Fused::eval_cpu(const std::vector<Array>& in_raw, Array& out) {
  std::vector<Array> in;
  for (auto& a : in_raw) {
    if (a.size() == 1 || a.contiguous()) { in.push_back(a); continue; }
    Array c = Array::empty(a.shape(), a.dtype());
    copy_into(a, c);
    in.push_back(c);
  }
  out.allocate();
  switch (out.dtype()) {
    case Dtype::float32: fused_kernel<float>(steps_, in, out); break;
    case Dtype::bfloat16: fused_kernel<bf16>(steps_, in, out); break;
    case Dtype::float16: fused_kernel<f16>(steps_, in, out); break;
    default: throw std::logic_error("[fused] unsupported dtype");
  }
}

void copy_into(const Array& src, Array& out) { HEARTH_DISPATCH_ALL(src.dtype(), cast_to<T>(src, out)); }

void Cast::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  copy_into(in[0], out);
}

void Unary::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  switch (op_) {
#define U(NAME) case UnaryOp::NAME: unary_dispatch<UnaryOp::NAME>(in[0], out); break;
    U(abs) U(negative) U(sign) U(exp) U(expm1) U(log) U(log1p) U(log2) U(log10) U(sqrt) U(rsqrt) U(square)
    U(reciprocal) U(sin) U(cos) U(tan) U(arcsin) U(arccos) U(arctan) U(sinh) U(cosh) U(tanh) U(sigmoid) U(erf)
    U(erfinv) U(floor) U(ceil) U(round) U(isnan) U(isinf) U(isposinf) U(isneginf) U(logical_not) U(copy)
#undef U
    default: throw std::logic_error("[unary] unknown op");
  }
}

void Binary::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  switch (op_) {
#define B(NAME) case BinaryOp::NAME: binary_dispatch<BinaryOp::NAME>(in[0], in[1], out); break;
    B(add) B(subtract) B(multiply) B(divide) B(floor_divide) B(remainder) B(power) B(maximum) B(minimum)
    B(equal) B(not_equal) B(less) B(less_equal) B(greater) B(greater_equal) B(logical_and) B(logical_or)
    B(arctan2) B(logaddexp)
#undef B
    default: throw std::logic_error("[binary] unknown op");
  }
}

void Where::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Strides os = out.strides();
  const bool* pc = in[0].data<bool>();
  HEARTH_DISPATCH_ALL(out.dtype(), {
    const T* px = in[1].data<T>();
    const T* py = in[2].data<T>();
    T* po = out.data<T>();
    for_each_run<4>(out.shape(), {&in[0].strides(), &in[1].strides(), &in[2].strides(), &os},
                    [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
      for (int64_t i = 0; i < n; i++)
        po[off[3] + i] = pc[off[0] + i * st[0]] ? px[off[1] + i * st[1]] : py[off[2] + i * st[2]];
    });
  });
}

}  // namespace hearth
