// AVX-512 GEMM kernels: a 14×32 float32 FMA micro-kernel (also used for float16 and, on Intel without AMX,
// bfloat16, both widened while packing), the same tile with AVX512_BF16 `vdpbf16ps` for bfloat16, and
// skinny (≤ 4 rows) streaming kernels.
// Compiled with -mavx512f/bw/vl/dq/bf16; only reached after cpu_features() reports them. Everything except
// the exported table getters has internal linkage (see gemm.h on mixing ISA flags).
#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/gemm.h"
#include "core/cpu_features.h"

// GCC 12 flags the deliberately undefined vectors inside some AVX-512 conversion intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::gemm_detail {
namespace {

#define HEARTH_GEMM_INLINE inline __attribute__((always_inline))

HEARTH_GEMM_INLINE int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// Register tile: 14 rows × 2 vectors = 28 accumulators, plus 2 B vectors and a broadcast = 31 of 32 zmm.
// Each k step does 28 FMAs for 2 vector loads and 14 broadcast loads, which the two load ports sustain.
constexpr int MR = 14, NR = 32;

HEARTH_GEMM_INLINE __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// One k step on 32-bit packed elements: float32 values, or bf16 pairs (k, k+1) for vdpbf16ps.
template <bool BF> HEARTH_GEMM_INLINE __m512 bcast(const uint32_t* a) {
  if constexpr (BF)
    return _mm512_castsi512_ps(_mm512_set1_epi32(int(*a)));
  else
    return _mm512_set1_ps(*reinterpret_cast<const float*>(a));
}
template <bool BF> HEARTH_GEMM_INLINE void madd(__m512& c, __m512 a, __m512 b) {
  if constexpr (BF)
    c = _mm512_dpbf16_ps(c, (__m512bh)a, (__m512bh)b);
  else
    c = _mm512_fmadd_ps(a, b, c);
}

// C[0:mrem, 0:nrem] = alpha * (A panel · B panel) + beta * C over `steps` packed k steps.
template <bool BF>
void micro(int64_t steps, const uint32_t* __restrict a, const float* __restrict b, float* C, int64_t ldc,
           float alpha, float beta, int mrem, int nrem) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
  // Warm the C tile while the k loop runs; it is read (beta ≠ 0) and written once at the end.
  for (int i = 0; i < mrem; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t p = 0; p < steps; p++) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * MR), _MM_HINT_T0);  // A streams from L2
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      __m512 ai = bcast<BF>(a + i);
      madd<BF>(c0[i], ai, b0);
      madd<BF>(c1[i], ai, b1);
    }
    a += MR;
    b += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = tail_mask(nrem), m1 = tail_mask(nrem - 16);
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    if (i >= mrem) break;
    float* c = C + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, c0[i]), r1 = _mm512_mul_ps(va, c1[i]);
    if (beta != 0.f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), r1);
    }
    _mm512_mask_storeu_ps(c, m0, r0);
    _mm512_mask_storeu_ps(c + 16, m1, r1);
  }
}

template <bool BF>
void macro(int64_t m, int64_t n, int64_t k, const void* pa, const void* pb, float* C, int64_t ldc, float alpha,
           float beta) {
  const int64_t steps = BF ? (k + 1) / 2 : k;  // 32-bit packed elements per panel row
  const uint32_t* A = static_cast<const uint32_t*>(pa);
  const float* B = static_cast<const float*>(pb);
  // B micro-panel (32 × kc) stays in L1 while the A micro-panels stream from L2.
  for (int64_t j = 0; j < n; j += NR)
    for (int64_t i = 0; i < m; i += MR)
      micro<BF>(steps, A + i * steps, B + j * steps, C + i * ldc + j, ldc, alpha, beta, int(imin(MR, m - i)),
                int(imin(NR, n - j)));
}

// ---- packing --------------------------------------------------------------------------------------------
HEARTH_GEMM_INLINE __m512 load16_as_f32(const void* p, int64_t off, Elem e, __mmask16 m) {
  switch (e) {
    case Elem::f32: return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + off);
    case Elem::bf16:
      return _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + off)), 16));
    default: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + off));
  }
}

// 16×16 transpose of floats in registers (rows in r[], result in r[]).
HEARTH_GEMM_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // Each 128-bit lane now holds a 4×4 block in place; move the blocks across lanes.
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// Float panels [panel][k][R] (R = MR for A, NR for B) of rows [i0, i0 + m) of a view X(row, k): A as is, B
// through its transpose. Converts bf16/f16 on the way.
void pack_panels_f32(const View& X, int64_t i0, int64_t m, int64_t k0, int64_t k, float* d, int R) {
  if (X.cs != 1) {  // rows adjacent in memory: masked vector copies, sweeping each k-row across all panels
    for (int64_t kk = 0; kk < k; kk++)
      for (int64_t i = 0; i < m; i += R)
        for (int g = 0; g < R; g += 16) {
          __m512 v = load16_as_f32(X.p, (k0 + kk) * X.cs + i0 + i + g, X.type, tail_mask(m - i - g));
          _mm512_mask_storeu_ps(d + i * k + kk * R + g, tail_mask(R - g), v);
        }
    return;
  }
  // Rows contiguous along k: load 16 k of each of 16 rows, transpose, store 16 k-rows.
  for (int64_t i = 0; i < m; i += R, d += R * k) {
    const int64_t rows = imin(R, m - i);
    for (int g = 0; g < R; g += 16) {
      const __mmask16 store = tail_mask(R - g);
      for (int64_t kk = 0; kk < k; kk += 16) {
        const int64_t kn = imin(16, k - kk);
        const __mmask16 km = tail_mask(kn);
        __m512 r[16];
        for (int q = 0; q < 16; q++)
          r[q] = g + q < rows ? load16_as_f32(X.p, (i0 + i + g + q) * X.rs + k0 + kk, X.type, km) : _mm512_setzero_ps();
        transpose16(r);
        for (int q = 0; q < kn; q++) _mm512_mask_storeu_ps(d + (kk + q) * R + g, store, r[q]);
      }
    }
  }
}
void pack_a_f32(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst) {
  pack_panels_f32(A, i0, m, k0, k, static_cast<float*>(dst), MR);
}
void pack_b_f32(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst) {
  pack_panels_f32(View{B.p, B.cs, B.rs, B.type}, j0, n, k0, k, static_cast<float*>(dst), NR);
}

// bf16 pairs for vdpbf16ps: element (k-pair p, row/col c) = X(2p, c) | X(2p+1, c) << 16, odd k zero-padded.
// `rows` here are A's rows or B's columns (B is passed transposed).
void pack_pairs(const View& X, int64_t i0, int64_t m, int64_t k0, int64_t k, uint32_t* d, int r_tile) {
  const uint16_t* p = static_cast<const uint16_t*>(X.p);
  const int64_t kp = (k + 1) / 2;
  for (int64_t i = 0; i < m; i += r_tile, d += r_tile * kp) {
    int64_t rows = imin(r_tile, m - i);
    if (X.cs == 1) {  // along k contiguous: each pair is one 32-bit word
      for (int64_t r = 0; r < rows; r++) {
        const uint16_t* s = p + (i0 + i + r) * X.rs + k0;
        for (int64_t q = 0; q < k / 2; q++) {
          uint32_t w;
          std::memcpy(&w, s + 2 * q, 4);
          d[q * r_tile + r] = w;
        }
        if (k & 1) d[(kp - 1) * r_tile + r] = s[k - 1];
      }
    } else {  // rows contiguous: interleave two k-rows
      for (int64_t q = 0; q < kp; q++) {
        const uint16_t* s0 = p + (k0 + 2 * q) * X.cs + i0 + i;
        const uint16_t* s1 = s0 + X.cs;
        bool has1 = 2 * q + 1 < k;
        for (int64_t r = 0; r < rows; r++) d[q * r_tile + r] = uint32_t(s0[r]) | (has1 ? uint32_t(s1[r]) << 16 : 0u);
      }
    }
    for (int64_t q = 0; q < kp; q++)
      for (int64_t r = rows; r < r_tile; r++) d[q * r_tile + r] = 0;
  }
}
void pack_a_bf16(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst) {
  pack_pairs(A, i0, m, k0, k, static_cast<uint32_t*>(dst), MR);
}
void pack_b_bf16(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst) {
  pack_pairs(View{B.p, B.cs, B.rs, B.type}, j0, n, k0, k, static_cast<uint32_t*>(dst), NR);
}

// A 168 × 384 block of A (258 KB) stays in L2 while each 32-column B micro-panel (48 KB) is reused across
// its 12 A micro-panels. Sizes picked by measurement (kc 256-512, mc 84-336 were within a few percent).
const GemmKernel kF32 = {"avx512-14x32", MR, NR, 14 * 12, 1024, 384, 1, 4, 4e6, 4, pack_a_f32, pack_b_f32,
                         macro<false>};
const GemmKernel kBF16 = {"avx512bf16-14x32", MR, NR, 14 * 12, 1024, 768, 2, 2, 2e6, 4, pack_a_bf16, pack_b_bf16,
                          macro<true>};

// ---- skinny kernels (≤ 4 rows) -----------------------------------------------------------------------
HEARTH_GEMM_INLINE float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// One k step of a W column for the dot kernels (`left` elements remain): 16 floats (f32, f16 widened), or 32 bf16
// kept as pairs for vdpbf16ps.
template <Elem E>
HEARTH_GEMM_INLINE __m512 load_step(const void* src, int64_t left) {
  if constexpr (E == Elem::f32) return _mm512_maskz_loadu_ps(tail_mask(left), src);
  else if constexpr (E == Elem::f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail_mask(left), src));
  else
    return _mm512_castsi512_ps(
        _mm512_maskz_loadu_epi16(left >= 32 ? ~__mmask32(0) : __mmask32((1u << left) - 1), src));
}

// W contiguous along k (W(k, j) = p[j * cs + k]): Q columns at a time as dot products over k.
// `ahead`: where the next call's columns start, relative to j (0: prefetch 1 KB ahead in each stream). The Q columns
// are one contiguous run when W is dense, so with short columns each stream prefetches the same offset of the next
// run, which an in-stream distance would start cold (Zen 4, K = 1152: 22 → 28 GB/s). Long columns keep the in-stream
// distance: the next run is too far ahead there (Xeon, K = 6912 / 10240: 29-32 → 28-29 GB/s with it).
template <int R, int Q, Elem E>
void dot_cols(int64_t K, const void* xv, int64_t kx, const View& W, int64_t j, float* y, int64_t ldy,
              int64_t ahead = 0) {
  constexpr bool kPairs = E == Elem::bf16;  // bf16 weights meet bf16 x via vdpbf16ps, 32 k per step
  constexpr int64_t kStep = kPairs ? 32 : 16;
  __m512 acc[R][Q];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();
  const char* base = static_cast<const char*>(W.p);
  const int64_t es = E == Elem::f32 ? 4 : 2;
  for (int64_t k = 0; k < K; k += kStep) {
    int64_t left = K - k;
    __m512 w[Q];
    for (int q = 0; q < Q; q++) {
      const void* src = base + ((j + q) * W.cs + k) * es;
      if (ahead) _mm_prefetch(base + ((j + ahead + q) * W.cs + k) * es, _MM_HINT_T0);
      else _mm_prefetch(static_cast<const char*>(src) + 1024, _MM_HINT_T0);  // more lines in flight per core
      w[q] = load_step<E>(src, left);
    }
    for (int r = 0; r < R; r++) {
      if constexpr (kPairs) {
        __m512bh xr = (__m512bh)_mm512_loadu_si512(static_cast<const uint16_t*>(xv) + r * kx + k);
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_dpbf16_ps(acc[r][q], xr, (__m512bh)w[q]);
      } else {
        __m512 xr = _mm512_loadu_ps(static_cast<const float*>(xv) + r * kx + k);
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_fmadd_ps(xr, w[q], acc[r][q]);
      }
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) y[r * ldy + q] = hsum(acc[r][q]);
}

// W contiguous along j (W(k, j) = p[k * rs + j]): y rows += x(r, k) * W row k, four k at a time.
// x is bf16 when XBF (the vdpbf16ps kernel's input format), else float.
template <int R, Elem E, bool XBF>
void axpy_rows(int64_t K, const void* xv, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y,
               int64_t ldy) {
  const int64_t n = j1 - j0;
  for (int r = 0; r < R; r++)
    for (int64_t j = 0; j < n; j++) y[r * ldy + j] = 0.f;
  auto xat = [&](int r, int64_t k) -> float {
    if constexpr (XBF) {
      uint32_t u = uint32_t(static_cast<const uint16_t*>(xv)[r * kx + k]) << 16;
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    } else {
      return static_cast<const float*>(xv)[r * kx + k];
    }
  };
  for (int64_t k = 0; k < K; k += 4) {
    const int ku = int(imin(4, K - k));
    __m512 xs[R][4];
    for (int r = 0; r < R; r++)
      for (int u = 0; u < 4; u++) xs[r][u] = _mm512_set1_ps(u < ku ? xat(r, k + u) : 0.f);
    for (int64_t j = 0; j < n; j += 16) {
      __mmask16 m = tail_mask(n - j);
      __m512 w[4];
      for (int u = 0; u < 4; u++)
        w[u] = u < ku ? load16_as_f32(W.p, (k + u) * W.rs + j0 + j, E, m) : _mm512_setzero_ps();
      for (int r = 0; r < R; r++) {
        float* yr = y + r * ldy + j;
        __m512 acc = _mm512_maskz_loadu_ps(m, yr);
        for (int u = 0; u < 4; u++) acc = _mm512_fmadd_ps(xs[r][u], w[u], acc);
        _mm512_mask_storeu_ps(yr, m, acc);
      }
    }
  }
}

// One row (decode): the columns one after another, i.e. W read front to back as one stream, four accumulators
// over k. Several columns interleaved (dot_cols) are as many streams at once, each starting cold at every run,
// which costs most where columns are short. Measured, 2 threads, bf16 K = 1152 (most 1B products and the tied
// head): Zen 4 22 → 26-31 GB/s, Xeon 18-19 → 21-22. Where it lost, it is not used: long columns (Zen 4 K = 6912:
// 31 → 27), bf16 K = 2560 on the Xeon (25.7 → 21.9) and f32 weights on the Xeon (K = 1152: 25 → 22).
// Columns up to this size are read as one stream (one row) or prefetched one run ahead (interleaved kernel). On
// AMD (Zen 4) one stream also wins for 16-bit columns up to 8 KB (bf16 K = 2560, the 4B's q/k/v, gate/up and head:
// 21-22 → 28 GB/s), where on the Xeon it lost (above); longer columns stay interleaved on both.
int64_t short_column_bytes() {
  static const int64_t n = cpu_features().amd ? 8192 : 4096;
  return n;
}

template <Elem E>
void dot_stream(int64_t K, const void* xv, const View& W, int64_t j0, int64_t j1, float* y) {
  constexpr bool kPairs = E == Elem::bf16;
  constexpr int64_t kStep = kPairs ? 32 : 16;
  const char* base = static_cast<const char*>(W.p);
  const int64_t es = E == Elem::f32 ? 4 : 2;
  for (int64_t j = j0; j < j1; j++) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const char* col = base + j * W.cs * es;
    int u = 0;
    for (int64_t k = 0; k < K; k += kStep, u = (u + 1) & 3) {
      const int64_t left = K - k;
      const char* src = col + k * es;
      _mm_prefetch(src + 2048, _MM_HINT_T0);  // 2 KB ahead on the one stream (1-4 KB measured alike)
      const __m512 w = load_step<E>(src, left);
      if constexpr (kPairs) {
        __m512bh xr = (__m512bh)_mm512_loadu_si512(static_cast<const uint16_t*>(xv) + k);
        acc[u] = _mm512_dpbf16_ps(acc[u], xr, (__m512bh)w);
      } else {
        acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(static_cast<const float*>(xv) + k), w, acc[u]);
      }
    }
    y[j - j0] = hsum(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  }
}

template <int R, Elem E>
void gemv_rows(int64_t K, const void* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y,
               int64_t ldy) {
  if (W.rs != 1) return axpy_rows<R, E, E == Elem::bf16>(K, x, kx, W, j0, j1, y, ldy);
  constexpr int64_t es = E == Elem::f32 ? 4 : 2;
  const bool short_columns = K * es <= short_column_bytes();
  if (R == 1 && E != Elem::f32 && short_columns) {
    dot_stream<E>(K, x, W, j0, j1, y);
  } else {
    constexpr int Q = R == 1 ? 8 : 4;  // more independent streams when each weight feeds only one row
    int64_t j = j0;
    for (; j + Q <= j1; j += Q)
      dot_cols<R, Q, E>(K, x, kx, W, j, y + (j - j0), ldy, short_columns && j + 2 * Q <= j1 ? Q : 0);
    for (; j < j1; j++) dot_cols<R, 1, E>(K, x, kx, W, j, y + (j - j0), ldy);
  }
}

template <Elem E>
void gemv(int64_t rows, int64_t K, const void* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y,
          int64_t ldy) {
  switch (rows) {
    case 1: return gemv_rows<1, E>(K, x, kx, W, j0, j1, y, ldy);
    case 2: return gemv_rows<2, E>(K, x, kx, W, j0, j1, y, ldy);
    case 3: return gemv_rows<3, E>(K, x, kx, W, j0, j1, y, ldy);
    default: return gemv_rows<4, E>(K, x, kx, W, j0, j1, y, ldy);
  }
}

// Without AVX512_BF16, bf16 weights are widened to float like f16 (x arrives as float then).
void gemv_bf16_widen(int64_t rows, int64_t K, const void* x, int64_t kx, const View& W, int64_t j0, int64_t j1,
                     float* y, int64_t ldy);

const GemvKernel kGemvF32 = {"avx512", false, gemv<Elem::f32>};
const GemvKernel kGemvBF16 = {"avx512bf16", true, gemv<Elem::bf16>};
const GemvKernel kGemvF16 = {"avx512", false, gemv<Elem::f16>};
const GemvKernel kGemvBF16Widen = {"avx512", false, gemv_bf16_widen};

// Dot layout with float x and bf16 weights widened by a shift (no AVX512_BF16 needed).
template <int R, int Q>
void dot_cols_widen(int64_t K, const float* x, int64_t kx, const View& W, int64_t j, float* y, int64_t ldy) {
  __m512 acc[R][Q];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    __m512 w[Q];
    for (int q = 0; q < Q; q++) {
      const int64_t off = (j + q) * W.cs + k;
      _mm_prefetch(reinterpret_cast<const char*>(static_cast<const uint16_t*>(W.p) + off) + 1024, _MM_HINT_T0);
      w[q] = load16_as_f32(W.p, off, Elem::bf16, tail_mask(K - k));
    }
    for (int r = 0; r < R; r++) {
      __m512 xr = _mm512_loadu_ps(x + r * kx + k);
      for (int q = 0; q < Q; q++) acc[r][q] = _mm512_fmadd_ps(xr, w[q], acc[r][q]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) y[r * ldy + q] = hsum(acc[r][q]);
}
template <int R>
void widen_rows(int64_t K, const float* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y,
                int64_t ldy) {
  if (W.rs != 1) return axpy_rows<R, Elem::bf16, false>(K, x, kx, W, j0, j1, y, ldy);
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) dot_cols_widen<R, 4>(K, x, kx, W, j, y + (j - j0), ldy);
  for (; j < j1; j++) dot_cols_widen<R, 1>(K, x, kx, W, j, y + (j - j0), ldy);
}
void gemv_bf16_widen(int64_t rows, int64_t K, const void* xv, int64_t kx, const View& W, int64_t j0, int64_t j1,
                     float* y, int64_t ldy) {
  const float* x = static_cast<const float*>(xv);
  switch (rows) {
    case 1: return widen_rows<1>(K, x, kx, W, j0, j1, y, ldy);
    case 2: return widen_rows<2>(K, x, kx, W, j0, j1, y, ldy);
    case 3: return widen_rows<3>(K, x, kx, W, j0, j1, y, ldy);
    default: return widen_rows<4>(K, x, kx, W, j0, j1, y, ldy);
  }
}

bool has_bf16() { return cpu_features().avx512_bf16; }

bool is_amd() {
  unsigned a, b, c, d;
  return __get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u;  // "Auth"enticAMD
}

}  // namespace

// bf16 without AMX: on Intel cores vdpbf16ps issues at half the rate of float FMAs (measured on Sapphire
// Rapids: ~120 vs ~240 GFLOP/s per core), so widening to float while packing is faster there. AMD Zen 4/5
// issue it as fast as an FMA, twice the flops (per published tables; not measured here).
const GemmKernel* avx512_gemm(Elem e) {
  if (e == Elem::bf16 && has_bf16() && is_amd()) return &kBF16;
  return &kF32;  // the packers widen bf16 / f16 to float
}
const GemmKernel* avx512_dpbf16_gemm() { return has_bf16() ? &kBF16 : nullptr; }
const GemvKernel* avx512_gemv(Elem e) {
  if (e == Elem::bf16) return has_bf16() ? &kGemvBF16 : &kGemvBF16Widen;
  return e == Elem::f16 ? &kGemvF16 : &kGemvF32;
}

}  // namespace hearth::cpu::gemm_detail
