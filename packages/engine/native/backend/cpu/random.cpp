// CPU kernels of the random ops. Every value is computed from (key, its flat index) alone, so work can be split
// over threads in any way and the results stay the same.
#include <cmath>
#include <cstring>
#include <string>

#include "core/ops/random.h"
#include "kernel_utils.h"
#include "math_scalar.h"

namespace hearth::prng {
using namespace cpu;

namespace {

struct Key {
  uint32_t k0, k1;
  explicit Key(const Array& a) {
    const uint32_t* p = a.data<uint32_t>();
    k0 = p[0];
    k1 = p[a.strides()[0]];
  }
  // Block b of the stream: 8 bytes (word 0, word 1).
  void block(uint64_t b, uint32_t w[2]) const { threefry2x32(k0, k1, uint32_t(b), uint32_t(b >> 32), w); }
};

// Word i of the stream (block i / 2), caching the block for the next, odd index.
struct WordReader {
  const Key& key;
  uint64_t cached = ~uint64_t(0);
  uint32_t w[2];
  uint32_t word(uint64_t i) {
    uint64_t b = i >> 1;
    if (b != cached) { key.block(b, w); cached = b; }
    return w[i & 1];
  }
  // 64 bits for element i of a 64-bit draw: block i, as the width-8 byte stream.
  uint64_t word64(uint64_t i) {
    uint32_t v[2];
    key.block(i, v);
    return uint64_t(v[0]) | (uint64_t(v[1]) << 32);
  }
};

// Bits of significand (implicit one included): the multiples of 2^-p in [0, 1) are exact in the type.
template <class T> constexpr int significand_bits() {
  if constexpr (std::is_same_v<T, double>) return 53;
  else if constexpr (std::is_same_v<T, float>) return 24;
  else if constexpr (std::is_same_v<T, f16>) return 11;
  else return 8;  // bf16
}

// The next representable value below x.
template <class T> T next_down(T x) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    return std::nextafter(x, -std::numeric_limits<T>::infinity());
  } else {
    uint16_t b = x.bits;
    if ((b & 0x7fff) == 0) b = 0x8001;        // +-0: the smallest negative subnormal
    else if (b & 0x8000) b = uint16_t(b + 1);  // negative: away from zero
    else b = uint16_t(b - 1);
    return T{b};
  }
}

// A uniform draw in [0, 1) with p random bits (exact in any type with a p-bit significand).
template <int P> inline double unit_draw(WordReader& r, uint64_t i) {
  if constexpr (P == 53) return double(r.word64(i) >> 11) * 0x1p-53;
  else return double(r.word(i) >> (32 - P)) * (1.0 / double(uint64_t(1) << P));
}

template <class T> void normal_kernel(const Key& key, const Array& lo, const Array& hi, Array& out) {
  using C = typename Num<T>::C;
  constexpr bool dbl = std::is_same_v<T, double>;
  const double* pl = lo.data<double>();
  const double* ph = hi.data<double>();
  T* y = out.data<T>();
  const Strides os = out.strides();
  for_each_run<3>(out.shape(), {&os, &lo.strides(), &hi.strides()},
                  [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    WordReader r{key};
    for (int64_t j = 0; j < n; j++) {
      const int64_t i = off[0] + j * st[0];
      const double a = pl[off[1] + j * st[1]], b = ph[off[2] + j * st[2]];
      double u = a + (b - a) * unit_draw<dbl ? 53 : 24>(r, uint64_t(i));
      if (b > a && u >= b) u = std::nextafter(b, a);
      y[i] = Num<T>::store(C(M_SQRT2 * erfinv_scalar(u, dbl ? 2 : 0)));
    }
  });
}

template <class T> void uniform_kernel(const Key& key, const Array& lo, const Array& hi, Array& out) {
  using C = typename Num<T>::C;
  constexpr int p = significand_bits<T>();
  const double* pl = lo.data<double>();
  const double* ph = hi.data<double>();
  T* y = out.data<T>();
  const Strides os = out.strides();
  for_each_run<3>(out.shape(), {&os, &lo.strides(), &hi.strides()},
                  [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    WordReader r{key};
    for (int64_t j = 0; j < n; j++) {
      const int64_t i = off[0] + j * st[0];  // the output is row-major: its offset is the flat index
      const double u = unit_draw<p>(r, uint64_t(i));
      const double l = pl[off[1] + j * st[1]], h = ph[off[2] + j * st[2]];
      T v = Num<T>::store(C(l + (h - l) * u));
      if (h > l && double(Num<T>::load(v)) >= h) {  // rounding reached high: take the value just below it
        v = Num<T>::store(C(h));
        while (double(Num<T>::load(v)) >= h) v = next_down(v);
      }
      y[i] = v;
    }
  });
}

inline uint64_t mul_high64(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
  return uint64_t((unsigned __int128)a * b >> 64);
#else
  uint64_t a_lo = uint32_t(a), a_hi = a >> 32, b_lo = uint32_t(b), b_hi = b >> 32;
  uint64_t mid = a_hi * b_lo + ((a_lo * b_lo) >> 32);
  uint64_t mid2 = a_lo * b_hi + uint32_t(mid);
  return a_hi * b_hi + (mid >> 32) + (mid2 >> 32);
#endif
}

template <class T> void randint_kernel(const Key& key, const Array& lo, const Array& hi, Array& out) {
  const int64_t* pl = lo.data<int64_t>();
  const int64_t* ph = hi.data<int64_t>();
  T* y = out.data<T>();
  const Strides os = out.strides();
  for_each_run<3>(out.shape(), {&os, &lo.strides(), &hi.strides()},
                  [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    WordReader r{key};
    for (int64_t j = 0; j < n; j++) {
      const int64_t i = off[0] + j * st[0];
      const int64_t l = pl[off[1] + j * st[1]], h = ph[off[2] + j * st[2]];
      if (!(l < h))
        throw std::invalid_argument("[randint] low must be less than high, got low " + std::to_string(l) +
                                    " and high " + std::to_string(h));
      const uint64_t range = uint64_t(h) - uint64_t(l);
      uint64_t v;
      if (range <= (uint64_t(1) << 32)) {
        v = (uint64_t(r.word(uint64_t(i))) * range) >> 32;  // multiply-shift: bias below range / 2^32
      } else {
        // Wide ranges take 64 bits from a counter space the 32-bit stream never reaches (high bit set).
        uint32_t w[2];
        threefry2x32(key.k0, key.k1, uint32_t(i), uint32_t(uint64_t(i) >> 32) | 0x80000000u, w);
        v = mul_high64(uint64_t(w[0]) | (uint64_t(w[1]) << 32), range);
      }
      y[i] = static_cast<T>(int64_t(uint64_t(l) + v));
    }
  });
}

}  // namespace

void RandomBits::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Key key(in[0]);
  const size_t nbytes = out.nbytes();
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  const uint64_t first = uint64_t(first_block_);
  parallel_for((nbytes + 7) / 8, 4096, [&](size_t b, size_t e) {
    for (size_t blk = b; blk < e; blk++) {
      uint32_t w[2];
      key.block(first + blk, w);
      size_t at = blk * 8;
      std::memcpy(dst + at, w, std::min<size_t>(8, nbytes - at));  // little-endian: word 0 first
    }
  });
}

void Uniform::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Key key(in[0]);
  HEARTH_DISPATCH_FLOAT(out.dtype(), uniform_kernel<T>(key, in[1], in[2], out));
}

void NormalInvCdf::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Key key(in[0]);
  HEARTH_DISPATCH_FLOAT(out.dtype(), normal_kernel<T>(key, in[1], in[2], out));
}

void RandInt::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Key key(in[0]);
  switch (out.dtype()) {
    HEARTH_CASE(uint8, uint8_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(uint16, uint16_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(uint32, uint32_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(uint64, uint64_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(int8, int8_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(int16, int16_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(int32, int32_t, randint_kernel<T>(key, in[1], in[2], out))
    HEARTH_CASE(int64, int64_t, randint_kernel<T>(key, in[1], in[2], out))
    default: throw std::invalid_argument("[randint] dtype must be an integer type");
  }
}

}  // namespace hearth::prng
