// AVX2/FMA attention decode kernels (see fast_kernels.h), the same blocking as fast_avx512.cpp with 8-lane
// vectors; column tails that are not a multiple of 8 go through scalar code. F16C widens float16.
// Compiled with -mavx2 -mfma -mf16c; only reached after cpu_features() reports them.
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/fast_kernels.h"
#include "core/cpu_features.h"

namespace hearth::cpu::fast_detail {
namespace {

#define HEARTH_INLINE inline __attribute__((always_inline))

template <Elem E> HEARTH_INLINE __m256 load8(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + off);
  } else {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + off));
    if constexpr (E == Elem::bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
  }
}

template <Elem E> HEARTH_INLINE float load1(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) {
    return static_cast<const float*>(p)[off];
  } else {
    uint16_t h = static_cast<const uint16_t*>(p)[off];
    if constexpr (E == Elem::bf16) {
      uint32_t u = uint32_t(h) << 16;
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    } else {
      return _cvtsh_ss(h);
    }
  }
}

HEARTH_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int R, int Q, Elem E>
HEARTH_INLINE void dots(int64_t D, const float* q, const void* K, int64_t ldk, int64_t j, float* S, int64_t lds) {
  __m256 acc[R][Q];
  for (int r = 0; r < R; r++)
    for (int k = 0; k < Q; k++) acc[r][k] = _mm256_setzero_ps();
  const int64_t D8 = D / 8 * 8;
  for (int64_t d = 0; d < D8; d += 8) {
    __m256 kv[Q];
    for (int k = 0; k < Q; k++) kv[k] = load8<E>(K, (j + k) * ldk + d);
    for (int r = 0; r < R; r++) {
      const __m256 x = _mm256_loadu_ps(q + r * D + d);
      for (int k = 0; k < Q; k++) acc[r][k] = _mm256_fmadd_ps(x, kv[k], acc[r][k]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int k = 0; k < Q; k++) {
      float s = hsum(acc[r][k]);
      for (int64_t d = D8; d < D; d++) s += q[r * D + d] * load1<E>(K, (j + k) * ldk + d);
      S[r * lds + j + k] = s;
    }
}

template <int R, Elem E>
void scores_rows(int64_t n, int64_t D, const float* q, const void* K, int64_t ldk, float* S, int64_t lds) {
  constexpr int Q = R == 1 ? 6 : R == 2 ? 4 : 2;  // accumulators + loads within 16 ymm registers
  int64_t j = 0;
  for (; j + Q <= n; j += Q) dots<R, Q, E>(D, q, K, ldk, j, S, lds);
  for (; j < n; j++) dots<R, 1, E>(D, q, K, ldk, j, S, lds);
}

template <Elem E>
void scores_e(int64_t R, int64_t n, int64_t D, const float* Q, const void* K, int64_t ldk, float* S, int64_t lds) {
  for (int64_t r0 = 0; r0 < R; r0 += 4) {
    const float* q = Q + r0 * D;
    float* s = S + r0 * lds;
    switch (R - r0) {
      case 1: scores_rows<1, E>(n, D, q, K, ldk, s, lds); break;
      case 2: scores_rows<2, E>(n, D, q, K, ldk, s, lds); break;
      case 3: scores_rows<3, E>(n, D, q, K, ldk, s, lds); break;
      default: scores_rows<4, E>(n, D, q, K, ldk, s, lds); break;
    }
  }
}

// O[r, c..c+24) += Σ_j P[r, j] V[j, c..c+24), the strip in registers over the block's keys.
template <int R, Elem E>
void accumulate_rows(int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv, float* O) {
  constexpr int U = 3;
  const int64_t D8 = Dv / 8 * 8;
  int64_t c = 0;
  for (; c + 8 * U <= D8; c += 8 * U) {
    __m256 acc[R][U];
    for (int r = 0; r < R; r++)
      for (int u = 0; u < U; u++) acc[r][u] = _mm256_loadu_ps(O + r * Dv + c + 8 * u);
    for (int64_t j = 0; j < n; j++) {
      __m256 v[U];
      for (int u = 0; u < U; u++) v[u] = load8<E>(V, j * ldv + c + 8 * u);
      for (int r = 0; r < R; r++) {
        const __m256 p = _mm256_broadcast_ss(P + r * ldp + j);
        for (int u = 0; u < U; u++) acc[r][u] = _mm256_fmadd_ps(p, v[u], acc[r][u]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int u = 0; u < U; u++) _mm256_storeu_ps(O + r * Dv + c + 8 * u, acc[r][u]);
  }
  for (; c < D8; c += 8) {
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_loadu_ps(O + r * Dv + c);
    for (int64_t j = 0; j < n; j++) {
      const __m256 v = load8<E>(V, j * ldv + c);
      for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + r * ldp + j), v, acc[r]);
    }
    for (int r = 0; r < R; r++) _mm256_storeu_ps(O + r * Dv + c, acc[r]);
  }
  for (int r = 0; r < R; r++)
    for (int64_t j = 0; j < n; j++)
      for (int64_t cc = D8; cc < Dv; cc++) O[r * Dv + cc] += P[r * ldp + j] * load1<E>(V, j * ldv + cc);
}

template <Elem E>
void accumulate_e(int64_t R, int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv,
                  float* O) {
  for (int64_t r0 = 0; r0 < R; r0 += 4) {
    const float* p = P + r0 * ldp;
    float* o = O + r0 * Dv;
    switch (R - r0) {
      case 1: accumulate_rows<1, E>(n, Dv, p, ldp, V, ldv, o); break;
      case 2: accumulate_rows<2, E>(n, Dv, p, ldp, V, ldv, o); break;
      case 3: accumulate_rows<3, E>(n, Dv, p, ldp, V, ldv, o); break;
      default: accumulate_rows<4, E>(n, Dv, p, ldp, V, ldv, o); break;
    }
  }
}

void scores(int64_t R, int64_t n, int64_t D, const float* Q, const void* K, int64_t ldk, Elem ek, float* S,
            int64_t lds) {
  switch (ek) {
    case Elem::f32: return scores_e<Elem::f32>(R, n, D, Q, K, ldk, S, lds);
    case Elem::bf16: return scores_e<Elem::bf16>(R, n, D, Q, K, ldk, S, lds);
    case Elem::f16: return scores_e<Elem::f16>(R, n, D, Q, K, ldk, S, lds);
  }
}

void accumulate(int64_t R, int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv, Elem ev,
                float* O) {
  switch (ev) {
    case Elem::f32: return accumulate_e<Elem::f32>(R, n, Dv, P, ldp, V, ldv, O);
    case Elem::bf16: return accumulate_e<Elem::bf16>(R, n, Dv, P, ldp, V, ldv, O);
    case Elem::f16: return accumulate_e<Elem::f16>(R, n, Dv, P, ldp, V, ldv, O);
  }
}

const AttnKernels kAvx2 = {"avx2", scores, accumulate};

}  // namespace

const AttnKernels* avx2_attn() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c ? &kAvx2 : nullptr;
}

}  // namespace hearth::cpu::fast_detail
