// Shared pieces of the CPU kernels: dtype dispatch, half-precision load/store, and strided iteration that
// collapses dimensions and splits work over the thread pool.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "core/array.h"
#include "core/threadpool.h"

namespace hearth::cpu {

// Storage type -> compute type. Half types compute in float.
template <class T> struct Num {
  using C = T;
  static C load(T v) { return v; }
  static T store(C v) { return v; }
};
template <> struct Num<bf16> {
  using C = float;
  static float load(bf16 v) { return bf16_to_float(v.bits); }
  static bf16 store(float v) { return bf16{float_to_bf16(v)}; }
};
template <> struct Num<f16> {
  using C = float;
  static float load(f16 v) { return f16_to_float(v.bits); }
  static f16 store(float v) { return f16{float_to_f16(v)}; }
};

// Converts a compute value of one type to storage of another (casts, with C++ semantics for ints and
// saturating-free truncation like NumPy's astype; NaN to int gives 0 rather than UB).
template <class To, class From> inline To convert(From v) {
  using C = typename Num<To>::C;
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<C>) {
    if constexpr (std::is_same_v<C, bool>) return Num<To>::store(v != 0);
    if (!(v == v)) return Num<To>::store(C(0));
    if (v >= From(std::numeric_limits<C>::max())) return Num<To>::store(std::numeric_limits<C>::max());
    if (v <= From(std::numeric_limits<C>::lowest())) return Num<To>::store(std::numeric_limits<C>::lowest());
    return Num<To>::store(C(v));
  } else if constexpr (std::is_same_v<C, bool>) {
    return Num<To>::store(v != From(0));
  } else {
    return Num<To>::store(C(v));
  }
}

#define HEARTH_CASE(DT, TYPE, ...) \
  case Dtype::DT: {                \
    using T = TYPE;                \
    __VA_ARGS__;                   \
    break;                         \
  }
// Runs the body with `T` bound to the storage type of `dtype`.
#define HEARTH_DISPATCH_ALL(dtype, ...)                  \
  switch (dtype) {                                       \
    HEARTH_CASE(bool_, bool, __VA_ARGS__)                \
    HEARTH_CASE(uint8, uint8_t, __VA_ARGS__)             \
    HEARTH_CASE(uint16, uint16_t, __VA_ARGS__)           \
    HEARTH_CASE(uint32, uint32_t, __VA_ARGS__)           \
    HEARTH_CASE(uint64, uint64_t, __VA_ARGS__)           \
    HEARTH_CASE(int8, int8_t, __VA_ARGS__)               \
    HEARTH_CASE(int16, int16_t, __VA_ARGS__)             \
    HEARTH_CASE(int32, int32_t, __VA_ARGS__)             \
    HEARTH_CASE(int64, int64_t, __VA_ARGS__)             \
    HEARTH_CASE(float16, f16, __VA_ARGS__)               \
    HEARTH_CASE(bfloat16, bf16, __VA_ARGS__)             \
    HEARTH_CASE(float32, float, __VA_ARGS__)             \
    HEARTH_CASE(float64, double, __VA_ARGS__)            \
  }
#define HEARTH_DISPATCH_FLOAT(dtype, ...)                \
  switch (dtype) {                                       \
    HEARTH_CASE(float16, f16, __VA_ARGS__)               \
    HEARTH_CASE(bfloat16, bf16, __VA_ARGS__)             \
    HEARTH_CASE(float32, float, __VA_ARGS__)             \
    HEARTH_CASE(float64, double, __VA_ARGS__)            \
    default: throw std::invalid_argument("[kernel] expected a floating dtype"); \
  }

// Shape and per-operand strides with adjacent dims merged where every operand allows it.
template <int N> struct Collapsed {
  Shape shape;
  std::array<Strides, N> strides;
};

template <int N> Collapsed<N> collapse(const Shape& shape, const std::array<const Strides*, N>& strides) {
  Collapsed<N> c;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 1) continue;
    if (!c.shape.empty()) {
      bool merge = true;
      for (int k = 0; k < N; k++) merge = merge && c.strides[k].back() == (*strides[k])[d] * shape[d];
      if (merge) {
        c.shape.back() *= shape[d];
        for (int k = 0; k < N; k++) c.strides[k].back() = (*strides[k])[d];
        continue;
      }
    }
    c.shape.push_back(shape[d]);
    for (int k = 0; k < N; k++) c.strides[k].push_back((*strides[k])[d]);
  }
  if (c.shape.empty()) {
    c.shape.push_back(1);
    for (int k = 0; k < N; k++) c.strides[k].push_back(0);
  }
  return c;
}

// Calls inner(offsets, n, inner_strides) over runs of the innermost dimension, where offsets are element
// offsets of each operand at the run's start. Threaded when the array is large.
template <int N, class F>
void for_each_run(const Shape& shape, const std::array<const Strides*, N>& strides, F&& inner,
                  int64_t grain = 1 << 15) {
  Collapsed<N> c = collapse<N>(shape, strides);
  int nd = int(c.shape.size());
  int64_t len = c.shape.back(), rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= c.shape[d];
  std::array<int64_t, N> inner_strides;
  for (int k = 0; k < N; k++) inner_strides[k] = c.strides[k].back();
  if (rows * len == 0) return;
  if (rows == 1) {
    parallel_for(size_t(len), size_t(grain), [&](size_t b, size_t e) {
      std::array<int64_t, N> off;
      for (int k = 0; k < N; k++) off[k] = int64_t(b) * inner_strides[k];
      inner(off, int64_t(e - b), inner_strides);
    });
    return;
  }
  size_t row_grain = size_t(std::max<int64_t>(1, grain / std::max<int64_t>(len, 1)));
  parallel_for(size_t(rows), row_grain, [&](size_t b, size_t e) {
    std::vector<int64_t> idx(nd - 1);
    int64_t r = int64_t(b);
    std::array<int64_t, N> off{};
    for (int d = nd - 2; d >= 0; d--) {
      idx[d] = r % c.shape[d];
      r /= c.shape[d];
      for (int k = 0; k < N; k++) off[k] += idx[d] * c.strides[k][d];
    }
    for (size_t row = b; row < e; row++) {
      inner(off, len, inner_strides);
      for (int d = nd - 2; d >= 0; d--) {  // odometer step
        idx[d]++;
        for (int k = 0; k < N; k++) off[k] += c.strides[k][d];
        if (idx[d] < c.shape[d]) break;
        for (int k = 0; k < N; k++) off[k] -= idx[d] * c.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace hearth::cpu
