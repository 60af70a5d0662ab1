// CPU kernels of the quantized ops: MLX-exact quantize/dequantize, and the quantized matmul driver.
//
// quantized_matmul with few rows (decode: x [1..8, K], W [N, K]) streams the packed weights once through a
// fused decode-and-dot kernel threaded over N: per group it needs Σ x·q only, since
//   Σ_k x_k (s q_k + b) = s · Σ_k x_k q_k + b · Σ_k x_k,
// and Σ x per group is computed once per call. The ISA kernels live in quantized_avx2/avx512.cpp (contract in
// quantized_kernels.h); the portable kernel below handles every width and dtype. Larger M (prefill) and the
// non-transposed layout (gradients) dequantize tiles of W exactly as mx.dequantize does and call the GEMM.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "backend/cpu/gemm.h"
#include "backend/cpu/quantized_kernels.h"
#include "core/cpu_features.h"
#include "core/ops/layout.h"
#include "core/ops/quantized.h"
#include "kernel_utils.h"

#if defined(__GNUC__) && !defined(__clang__) && !defined(__x86_64__)
// dequantize rounds the product and the sum separately, as MLX's multiply-then-add; no fused multiply-add.
#pragma GCC optimize("fp-contract=off")
#endif

namespace hearth {
using namespace cpu;

namespace cpu::quant_detail {
// Without the ISA files (non-x86 builds) these weak stand-ins report "not available".
__attribute__((weak)) const QmvKernel* avx2_qmv(int, Elem, int64_t) { return nullptr; }
__attribute__((weak)) const QmvKernel* avx512_qmv(int, Elem, int64_t) { return nullptr; }
__attribute__((weak)) const DequantKernel* avx512_dequant(int) { return nullptr; }
__attribute__((weak)) const QmvKernel* vec128_qmv(int, Elem, int64_t, int) { return nullptr; }
}  // namespace cpu::quant_detail

namespace {
namespace qd = cpu::quant_detail;

// Above this many rows of x the tiled dequantize + GEMM path wins over streaming decode (measured on the 1B
// layer shapes, 4-bit, 1 thread CPU time: 16 rows streamed 119 ms vs 183 ms tiled, 32 rows 236 vs 198 ms);
// HEARTH_QMV_MAX_ROWS overrides it (benchmarks).
int64_t qmv_max_rows() {
  static const int64_t v = [] {
    const char* e = std::getenv("HEARTH_QMV_MAX_ROWS");
    return e ? std::max<int64_t>(0, std::atoll(e)) : int64_t(16);
  }();
  return v;
}
// Bytes of dequantized weights per tile of the GEMM path: large enough that re-packing x per tile is cheap
// against the tile's work, small enough to stay in the last-level cache. HEARTH_QTILE_MB overrides it.
int64_t tile_bytes() {
  static const int64_t v = [] {
    const char* e = std::getenv("HEARTH_QTILE_MB");
    return (e ? std::max<int64_t>(1, std::atoll(e)) : int64_t(8)) << 20;
  }();
  return v;
}

template <class T> using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

Array dense(const Array& a) {
  if (a.contiguous()) return a;
  Array c = Array::empty(a.shape(), a.dtype());
  copy_into(a, c);
  return c;
}

// Dense in the last two dims (batch dims may have any strides, e.g. 0 from broadcasting).
Array inner_dense(const Array& a) {
  int nd = a.ndim();
  if (nd < 2) return dense(a);
  const Strides& s = a.strides();
  bool ok = (s[nd - 1] == 1 || a.shape(-1) == 1) && (s[nd - 2] == a.shape(-1) || a.shape(-2) == 1);
  return ok ? a : dense(a);
}

// Codes n consecutive elements of a row starting at element k0 (k0 · bits a multiple of 32, which holds at
// every group start since groups are multiples of 32 elements): a little-endian bit stream over the words.
inline void decode_codes(const uint32_t* row, int64_t k0, int n, int bits, uint8_t* codes) {
  const uint32_t* p = row + k0 * bits / 32;
  const uint32_t mask = (1u << bits) - 1;
  if (bits == 4 || bits == 8 || bits == 2) {
    const int per = 32 / bits;
    for (int i = 0; i < n; i += per) {
      uint32_t v = *p++;
      for (int j = 0; j < per; j++) codes[i + j] = uint8_t((v >> (j * bits)) & mask);
    }
    return;
  }
  uint64_t buf = 0;
  int have = 0;
  for (int i = 0; i < n; i++) {
    if (have < bits) {
      buf |= uint64_t(*p++) << have;
      have += 32;
    }
    codes[i] = uint8_t(buf & mask);
    buf >>= bits;
    have -= bits;
  }
}

// One dequantized element with MLX's roundings: scale · q rounded to T, then + bias rounded to T.
template <class T> inline T dequant_one(uint8_t q, Compute<T> s, Compute<T> b) {
  using C = Compute<T>;
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) {
    float p = Num<T>::load(Num<T>::store(float(q) * s));
    return Num<T>::store(p + b);
  } else {
    C p = C(q) * s;
    return T(p + b);
  }
}

template <class T>
void dequant_row(const uint32_t* w, const T* s, const T* b, int64_t K, int gs, int bits, T* out) {
  uint8_t codes[128];
  for (int64_t g = 0, G = K / gs; g < G; g++) {
    decode_codes(w, g * gs, gs, bits, codes);
    const Compute<T> sc = Num<T>::load(s[g]), bi = Num<T>::load(b[g]);
    T* o = out + g * gs;
    for (int i = 0; i < gs; i++) o[i] = dequant_one<T>(codes[i], sc, bi);
  }
}

template <class T> constexpr qd::Elem elem_of() {
  return std::is_same_v<T, bf16> ? qd::Elem::bf16 : std::is_same_v<T, f16> ? qd::Elem::f16 : qd::Elem::f32;
}

// Rows [r0, r1) of a packed matrix with rows of K elements, dequantized into dst (row stride K), threaded.
template <class T>
void dequant_rows(const uint32_t* w, const T* s, const T* b, int64_t r0, int64_t r1, int64_t K, int gs, int bits,
                  T* dst) {
  const int64_t wpr = K * bits / 32, G = K / gs;
  const qd::DequantKernel* k = std::is_same_v<T, double> ? nullptr : qd::avx512_dequant(bits);
  parallel_for(size_t(r1 - r0), size_t(std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1))), [&](size_t a, size_t e) {
    const int64_t ra = r0 + int64_t(a);
    if (k) return k->rows(w + ra * wpr, s + ra * G, b + ra * G, elem_of<T>(), int64_t(e - a), K, gs, dst + int64_t(a) * K);
    for (size_t i = a; i < e; i++) {
      int64_t r = r0 + int64_t(i);
      dequant_row<T>(w + r * wpr, s + r * G, b + r * G, K, gs, bits, dst + int64_t(i) * K);
    }
  });
}

// ---- GEMM on dequantized tiles ----

// C (float, or double for float64) = alpha · op(A) op(B) + beta · C with A, B of storage type T.
template <class T>
void gemm_t(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
            double beta, Compute<T>* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, float(beta), C, ldc);
  } else if constexpr (std::is_same_v<T, double>) {
    dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
  } else if constexpr (std::is_same_v<T, bf16>) {
    gemm_bf16(ta, tb, M, N, K, 1.0f, reinterpret_cast<const uint16_t*>(A), lda, reinterpret_cast<const uint16_t*>(B),
              ldb, float(beta), C, ldc);
  } else {
    gemm_f16(ta, tb, M, N, K, 1.0f, reinterpret_cast<const uint16_t*>(A), lda, reinterpret_cast<const uint16_t*>(B),
             ldb, float(beta), C, ldc);
  }
}

// One 2-D problem through tiles: x [M, Kc] (row stride Kc), out C [M, N] (row stride N).
//  transpose: W [N, Kc] → tiles of rows of W are column blocks of C.
//  else:      W [Kc, N] → tiles of rows of W are slices of the contraction, accumulated into C.
template <class T>
void qmm_tiled(bool transpose, int64_t M, int64_t N, int64_t Kc, const T* x, const uint32_t* w, const T* s,
               const T* b, int gs, int bits, Compute<T>* C) {
  const int64_t rows = transpose ? N : Kc, len = transpose ? Kc : N;
  const int64_t per_tile = std::max<int64_t>(1, tile_bytes() / std::max<int64_t>(1, len * int64_t(sizeof(T))));
  std::vector<T> tile(size_t(std::min(rows, per_tile) * len));
  const int64_t wpr = len * bits / 32, G = len / gs;
  for (int64_t r0 = 0; r0 < rows; r0 += per_tile) {
    const int64_t r1 = std::min(rows, r0 + per_tile), nr = r1 - r0;
    dequant_rows<T>(w + r0 * wpr, s + r0 * G, b + r0 * G, 0, nr, len, gs, bits, tile.data());
    if (transpose) gemm_t<T>(false, true, M, nr, Kc, x, Kc, tile.data(), Kc, 0.0, C + r0, N);
    else gemm_t<T>(false, false, M, N, nr, x + r0, Kc, tile.data(), N, r0 == 0 ? 0.0 : 1.0, C, N);
  }
}

// ---- portable streaming kernel (every width and dtype) ----

// y[m·N + n] for n in [n0, n1): per group, decode the codes once and take the dot with every row of x.
template <class T>
void generic_qmv(int64_t M, int64_t N, int64_t K, const Compute<T>* xc, const Compute<T>* xsum, const uint32_t* w,
                 const T* s, const T* b, int gs, int bits, Compute<T>* y, int64_t n0, int64_t n1) {
  using C = Compute<T>;
  const int64_t wpr = K * bits / 32, G = K / gs;
  uint8_t codes[128];
  C qf[128];
  std::vector<C> acc(static_cast<size_t>(M));
  for (int64_t n = n0; n < n1; n++) {
    std::fill(acc.begin(), acc.end(), C(0));
    for (int64_t g = 0; g < G; g++) {
      decode_codes(w + n * wpr, g * gs, gs, bits, codes);
      for (int i = 0; i < gs; i++) qf[i] = C(codes[i]);
      const C sc = Num<T>::load(s[n * G + g]), bi = Num<T>::load(b[n * G + g]);
      for (int64_t m = 0; m < M; m++) {
        const C* xr = xc + m * K + g * gs;
        C d = 0;
        for (int i = 0; i < gs; i++) d += xr[i] * qf[i];
        acc[m] += sc * d + bi * xsum[m * G + g];
      }
    }
    for (int64_t m = 0; m < M; m++) y[m * N + n] = acc[m];
  }
}

size_t row_grain(int64_t K) { return size_t(std::max<int64_t>(8, (int64_t(1) << 17) / std::max<int64_t>(K, 1))); }

const qd::QmvKernel* isa_kernel(int bits, qd::Elem ex, int64_t M, int gs = 64) {
  if (auto* k = qd::avx512_qmv(bits, ex, M)) return k;
  if (auto* k = qd::avx2_qmv(bits, ex, M)) return k;
  if (auto* k = qd::vec128_qmv(bits, ex, M, gs)) return k;
  return nullptr;
}

// y = x · Wᵀ for few rows, W [N, K]: the ISA kernel where one exists, else the portable one.
template <class T>
void qmv(int64_t M, int64_t N, int64_t K, const T* x, const uint32_t* w, const T* s, const T* b, int gs, int bits,
         Compute<T>* y) {
  using C = Compute<T>;
  const int64_t G = K / gs;
  std::vector<C> xc(size_t(M * K)), xsum(size_t(M * G));
  for (int64_t i = 0; i < M * K; i++) xc[size_t(i)] = Num<T>::load(x[i]);
  for (int64_t m = 0; m < M; m++)
    for (int64_t g = 0; g < G; g++) {
      C t = 0;
      for (int i = 0; i < gs; i++) t += xc[size_t(m * K + g * gs + i)];
      xsum[size_t(m * G + g)] = t;
    }
  if constexpr (!std::is_same_v<T, double>) {
    constexpr qd::Elem ex = elem_of<T>();
    if (const qd::QmvKernel* k = isa_kernel(bits, ex, M, gs)) {
      std::vector<char> prep(k->prep_bytes(M, K) + 64);
      k->prep(M, K, x, ex, prep.data());
      const qd::QmvProblem p{M, N, K, bits, gs, prep.data(), xsum.data(), w, s, b, ex, y, N};
      parallel_for(size_t(N), row_grain(K), [&](size_t a, size_t e) { k->run(p, int64_t(a), int64_t(e)); });
      return;
    }
  }
  parallel_for(size_t(N), row_grain(K), [&](size_t a, size_t e) {
    generic_qmv<T>(M, N, K, xc.data(), xsum.data(), w, s, b, gs, bits, y, int64_t(a), int64_t(e));
  });
}

template <class T>
void qmm_2d(bool transpose, int64_t M, int64_t N, int64_t Kc, const T* x, const uint32_t* w, const T* s, const T* b,
            int gs, int bits, T* out) {
  using C = Compute<T>;
  constexpr bool direct = std::is_same_v<T, C>;
  std::vector<C> acc(direct ? 0 : size_t(M * N));
  C* y = direct ? reinterpret_cast<C*>(out) : acc.data();
  if (Kc == 0) {
    std::fill(y, y + M * N, C(0));
  } else if (transpose && M <= qmv_max_rows()) {
    qmv<T>(M, N, Kc, x, w, s, b, gs, bits, y);
  } else {
    qmm_tiled<T>(transpose, M, N, Kc, x, w, s, b, gs, bits, y);
  }
  if constexpr (!direct) {
    parallel_for(size_t(M * N), 1 << 16, [&](size_t a, size_t e) {
      for (size_t i = a; i < e; i++) out[i] = Num<T>::store(acc[i]);
    });
  }
}

}  // namespace

const char* quantized_kernel_name() {
  static const std::string name = [] {
    auto nm = [](int bits, qd::Elem e) {
      const qd::QmvKernel* k = isa_kernel(bits, e, 1);
      return std::string(k ? k->name : "generic");
    };
    return "q4-bf16:" + nm(4, qd::Elem::bf16) + " q4-f32:" + nm(4, qd::Elem::f32) + " q8:" + nm(8, qd::Elem::bf16);
  }();
  return name.c_str();
}

// ---- quantize ----

void QuantizeParams::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  Array w = dense(in[0]);
  const int64_t groups = w.size() / group_size_;
  const float n_bins = float((1 << bits_) - 1), eps = 1e-7f;
  float* scales = out.data<float>();
  float* biases = scales + groups;
  const int gs = group_size_;
  HEARTH_DISPATCH_FLOAT(w.dtype(), {
    const T* src = w.data<T>();
    parallel_for(size_t(groups), 1024, [&](size_t a, size_t e) {
      for (size_t g = a; g < e; g++) {
        const T* p = src + g * gs;
        float lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < gs; j++) {
          float v = float(Num<T>::load(p[j]));
          hi = std::max(hi, v);
          lo = std::min(lo, v);
        }
        // MLX: the edge of larger magnitude is exact (q0 steps of the scale from 0), or bias 0 when it rounds to 0.
        const bool use_lo = std::fabs(lo) > std::fabs(hi);
        float scale = std::max((hi - lo) / n_bins, eps);
        scale = use_lo ? scale : -scale;
        const float edge = use_lo ? lo : hi;
        const float q0 = std::rint(edge / scale);
        float bias = 0;
        if (q0 != 0) {
          scale = edge / q0;
          bias = edge;
        }
        scales[g] = scale;
        biases[g] = bias;
      }
    });
  });
}

void QuantizePack::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  Array w = dense(in[0]), params = dense(in[1]);
  const int64_t K = w.shape(-1), rows = K ? w.size() / K : 0, wpr = K * bits_ / 32, G = K / group_size_;
  const int64_t groups = rows * G;
  const float* scales = params.data<float>();
  const float* biases = scales + groups;
  uint32_t* dst = out.data<uint32_t>();
  const float n_bins = float((1 << bits_) - 1);
  const int gs = group_size_, bits = bits_;
  HEARTH_DISPATCH_FLOAT(w.dtype(), {
    const T* src = w.data<T>();
    parallel_for(size_t(rows), size_t(std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1))), [&](size_t a, size_t e) {
      for (size_t r = a; r < e; r++) {
        uint32_t* o = dst + r * wpr;
        std::memset(o, 0, size_t(wpr) * 4);
        for (int64_t k = 0; k < K; k++) {
          const int64_t g = int64_t(r) * G + k / gs;
          float v = std::rint((float(Num<T>::load(src[r * K + k])) - biases[g]) / scales[g]);
          v = v > n_bins ? n_bins : v;
          const uint32_t q = v >= 0 ? uint32_t(v) : 0;  // NaN (a NaN in the group) packs as 0, never UB
          const int64_t pos = k * bits;
          const int sh = int(pos & 31);
          o[pos >> 5] |= q << sh;
          if (sh + bits > 32) o[(pos >> 5) + 1] |= q >> (32 - sh);
        }
      }
    });
  });
}

void Dequantize::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  if (out.size() == 0) return;
  Array w = dense(in[0]), s = dense(in[1]), b = dense(in[2]);
  const int64_t K = out.shape(-1), rows = out.size() / K;
  HEARTH_DISPATCH_FLOAT(out.dtype(), {
    dequant_rows<T>(w.data<uint32_t>(), s.data<T>(), b.data<T>(), 0, rows, K, group_size_, bits_, out.data<T>());
  });
}

// ---- quantized matmul ----

void QuantizedMatmul::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  if (out.size() == 0) return;
  const bool batched = in[1].ndim() > 2;
  Array x = batched ? inner_dense(in[0]) : dense(in[0]);
  Array w = inner_dense(in[1]), s = inner_dense(in[2]), b = inner_dense(in[3]);
  const int64_t Kc = x.shape(-1), N = out.shape(-1);
  const int64_t M = batched ? x.shape(-2) : out.size() / N;
  const int64_t nbatch = batched ? out.size() / (M * N) : 1;
  const Shape bshape(out.shape().begin(), out.shape().end() - (batched ? 2 : 1));
  auto batch_strides = [&](const Array& a) {
    return batched ? Strides(a.strides().begin(), a.strides().end() - 2) : Strides{};
  };
  const Strides bx = batch_strides(x), bw = batch_strides(w), bs = batch_strides(s), bb = batch_strides(b);
  HEARTH_DISPATCH_FLOAT(out.dtype(), {
    for (int64_t i = 0; i < nbatch; i++) {
      const int64_t ox = batched ? strided_offset(i, bshape, bx) : 0, ow = batched ? strided_offset(i, bshape, bw) : 0;
      const int64_t os = batched ? strided_offset(i, bshape, bs) : 0, ob = batched ? strided_offset(i, bshape, bb) : 0;
      qmm_2d<T>(transpose_, M, N, Kc, x.data<T>() + ox, w.data<uint32_t>() + ow, s.data<T>() + os, b.data<T>() + ob,
                group_size_, bits_, out.data<T>() + i * M * N);
    }
  });
}

}  // namespace hearth
