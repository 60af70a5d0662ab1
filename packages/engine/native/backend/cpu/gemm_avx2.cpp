// AVX2/FMA GEMM kernels: a 6×16 float32 micro-kernel (bf16/f16 are widened to float while packing, F16C
// for f16) and skinny (≤ 4 rows) streaming kernels. Compiled with -mavx2 -mfma -mf16c; only reached after
// cpu_features() reports them. Everything but the table getters has internal linkage (see gemm.h).
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/gemm.h"
#include "core/cpu_features.h"

namespace hearth::cpu::gemm_detail {
namespace {

#define HEARTH_GEMM_INLINE inline __attribute__((always_inline))

HEARTH_GEMM_INLINE int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// 6 rows × 2 vectors = 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers.
constexpr int MR = 6, NR = 16;

void micro(int64_t k, const float* __restrict a, const float* __restrict b, float* C, int64_t ldc, float alpha,
           float beta, int mrem, int nrem) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < k; p++) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (nrem == NR) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      if (i >= mrem) break;
      float* c = C + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, c0[i]), r1 = _mm256_mul_ps(va, c1[i]);
      if (beta != 0.f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1);
      }
      _mm256_storeu_ps(c, r0);
      _mm256_storeu_ps(c + 8, r1);
    }
    return;
  }
  // Column edge: go through a small buffer instead of masked vectors.
  alignas(32) float t[MR][NR];
  for (int i = 0; i < MR; i++) {
    _mm256_store_ps(t[i], _mm256_mul_ps(va, c0[i]));
    _mm256_store_ps(t[i] + 8, _mm256_mul_ps(va, c1[i]));
  }
  for (int i = 0; i < mrem; i++) {
    float* c = C + i * ldc;
    for (int j = 0; j < nrem; j++) c[j] = beta == 0.f ? t[i][j] : t[i][j] + beta * c[j];
  }
}

void macro(int64_t m, int64_t n, int64_t k, const void* pa, const void* pb, float* C, int64_t ldc, float alpha,
           float beta) {
  const float* A = static_cast<const float*>(pa);
  const float* B = static_cast<const float*>(pb);
  for (int64_t j = 0; j < n; j += NR)
    for (int64_t i = 0; i < m; i += MR)
      micro(k, A + i * k, B + j * k, C + i * ldc + j, ldc, alpha, beta, int(imin(MR, m - i)), int(imin(NR, n - j)));
}

void pack_a(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst) {
  generic_pack_a_f32(A, i0, m, k0, k, dst, MR);
}
void pack_b(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst) {
  generic_pack_b_f32(B, k0, k, j0, n, dst, NR);
}

// 16 KB of B micro-panel (kc = 256) in the 32-48 KB L1s of AVX2-era cores.
const GemmKernel kGemm = {"avx2-6x16", MR, NR, 6 * 24, 1024, 256, 1, 4, 1.5e6, 4, pack_a, pack_b, macro};

// ---- skinny kernels (≤ 4 rows), x in float ---------------------------------------------------------------
template <Elem E> HEARTH_GEMM_INLINE __m256 load8(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) return _mm256_loadu_ps(static_cast<const float*>(p) + off);
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + off));
  if constexpr (E == Elem::f16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
template <Elem E> HEARTH_GEMM_INLINE float load1(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) return static_cast<const float*>(p)[off];
  const uint16_t h = static_cast<const uint16_t*>(p)[off];
  if constexpr (E == Elem::f16) return _cvtsh_ss(h);
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

HEARTH_GEMM_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int R, int Q, Elem E>
void dot_cols(int64_t K, const float* x, int64_t kx, const View& W, int64_t j, float* y, int64_t ldy) {
  __m256 acc[R][Q];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) acc[r][q] = _mm256_setzero_ps();
  const int64_t kv = K & ~int64_t(7);
  for (int64_t k = 0; k < kv; k += 8) {
    __m256 w[Q];
    for (int q = 0; q < Q; q++) w[q] = load8<E>(W.p, (j + q) * W.cs + k);
    for (int r = 0; r < R; r++) {
      __m256 xr = _mm256_loadu_ps(x + r * kx + k);
      for (int q = 0; q < Q; q++) acc[r][q] = _mm256_fmadd_ps(xr, w[q], acc[r][q]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) {
      float s = hsum(acc[r][q]);
      for (int64_t k = kv; k < K; k++) s += x[r * kx + k] * load1<E>(W.p, (j + q) * W.cs + k);
      y[r * ldy + q] = s;
    }
}

template <int R, Elem E>
void axpy_rows(int64_t K, const float* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y, int64_t ldy) {
  const int64_t n = j1 - j0, nv = n & ~int64_t(7);
  for (int r = 0; r < R; r++)
    for (int64_t j = 0; j < n; j++) y[r * ldy + j] = 0.f;
  for (int64_t k = 0; k < K; k += 2) {
    const bool two = k + 1 < K;
    __m256 xs[R][2];
    for (int r = 0; r < R; r++) {
      xs[r][0] = _mm256_set1_ps(x[r * kx + k]);
      xs[r][1] = _mm256_set1_ps(two ? x[r * kx + k + 1] : 0.f);
    }
    const int64_t o0 = k * W.rs + j0, o1 = two ? o0 + W.rs : o0;
    for (int64_t j = 0; j < nv; j += 8) {
      __m256 w0 = load8<E>(W.p, o0 + j), w1 = load8<E>(W.p, o1 + j);
      for (int r = 0; r < R; r++) {
        float* yr = y + r * ldy + j;
        __m256 acc = _mm256_fmadd_ps(xs[r][0], w0, _mm256_loadu_ps(yr));
        _mm256_storeu_ps(yr, _mm256_fmadd_ps(xs[r][1], w1, acc));
      }
    }
    for (int64_t j = nv; j < n; j++)
      for (int r = 0; r < R; r++) {
        float v = x[r * kx + k] * load1<E>(W.p, o0 + j);
        if (two) v += x[r * kx + k + 1] * load1<E>(W.p, o1 + j);
        y[r * ldy + j] += v;
      }
  }
}

// One row (decode): the columns one after another, so W is read front to back as one stream (several columns
// interleaved are as many streams, which the hardware prefetcher follows worse; see gemm_avx512.cpp). HEARTH_ISA=avx2,
// 2 threads, bf16 K = 1152: Zen 4 17-18 → 28-30 GB/s, Xeon 15-17 → 20-23.
template <Elem E>
void dot_stream(int64_t K, const float* x, const View& W, int64_t j0, int64_t j1, float* y) {
  const char* base = static_cast<const char*>(W.p);
  constexpr int64_t es = E == Elem::f32 ? 4 : 2;
  for (int64_t j = j0; j < j1; j++) {
    const int64_t off = j * W.cs;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      const char* src = base + (off + k) * es;
      _mm_prefetch(src + 2048, _MM_HINT_T0);
      if constexpr (es == 4) _mm_prefetch(src + 2048 + 64, _MM_HINT_T0);  // 32 floats are two lines
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load8<E>(W.p, off + k), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), load8<E>(W.p, off + k + 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 16), load8<E>(W.p, off + k + 16), a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 24), load8<E>(W.p, off + k + 24), a3);
    }
    for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load8<E>(W.p, off + k), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; k < K; k++) s += x[k] * load1<E>(W.p, off + k);
    y[j - j0] = s;
  }
}

template <int R, Elem E>
void gemv_rows(int64_t K, const float* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y, int64_t ldy) {
  if (W.rs != 1) return axpy_rows<R, E>(K, x, kx, W, j0, j1, y, ldy);
  // Only 16-bit columns up to 4 KB: longer ones read faster interleaved (Zen 4, K = 6912 bf16: 28 → 21 GB/s
  // streamed), and f32 weights did on the Xeon (K = 1152: 27 → 23).
  constexpr int64_t es = E == Elem::f32 ? 4 : 2;
  if (R == 1 && E != Elem::f32 && K * es <= (cpu_features().amd ? 8192 : 4096)) {  // AMD: up to 8 KB, as gemm_avx512.cpp
    dot_stream<E>(K, x, W, j0, j1, y);
  } else {
    int64_t j = j0;
    for (; j + 4 <= j1; j += 4) dot_cols<R, 4, E>(K, x, kx, W, j, y + (j - j0), ldy);
    for (; j < j1; j++) dot_cols<R, 1, E>(K, x, kx, W, j, y + (j - j0), ldy);
  }
}

template <Elem E>
void gemv(int64_t rows, int64_t K, const void* xv, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y,
          int64_t ldy) {
  const float* x = static_cast<const float*>(xv);
  switch (rows) {
    case 1: return gemv_rows<1, E>(K, x, kx, W, j0, j1, y, ldy);
    case 2: return gemv_rows<2, E>(K, x, kx, W, j0, j1, y, ldy);
    case 3: return gemv_rows<3, E>(K, x, kx, W, j0, j1, y, ldy);
    default: return gemv_rows<4, E>(K, x, kx, W, j0, j1, y, ldy);
  }
}

const GemvKernel kGemv[3] = {{"avx2", false, gemv<Elem::f32>},
                             {"avx2", false, gemv<Elem::bf16>},
                             {"avx2", false, gemv<Elem::f16>}};

}  // namespace

const GemmKernel* avx2_gemm(Elem) { return &kGemm; }
const GemvKernel* avx2_gemv(Elem e) { return &kGemv[int(e)]; }

}  // namespace hearth::cpu::gemm_detail
