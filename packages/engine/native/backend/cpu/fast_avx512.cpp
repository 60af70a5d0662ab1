// AVX-512 attention decode kernels (see fast_kernels.h): scores as register-blocked dot products of float
// queries with K rows, and P·V accumulated into register-resident strips of the output. bf16/f16 K and V
// are widened in registers, so the caches are read once and never converted in memory. Compiled with
// -mavx512*; only reached after cpu_features() reports them. Everything but the getter has internal linkage.
#include <immintrin.h>

#include "backend/cpu/fast_kernels.h"
#include "core/cpu_features.h"

// GCC 12 flags the deliberately undefined vectors inside some AVX-512 intrinsics (as in gemm_avx512.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::fast_detail {
namespace {

#define HEARTH_INLINE inline __attribute__((always_inline))

HEARTH_INLINE __mmask16 tail(int64_t n) {
  return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
}

template <Elem E> HEARTH_INLINE __m512 load16(const void* p, int64_t off, __mmask16 m) {
  if constexpr (E == Elem::f32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + off);
  } else if constexpr (E == Elem::bf16) {
    __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + off);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + off));
  }
}

// S[r, j..j+Q) for R query rows: Q keys at a time so each query load feeds Q FMAs.
template <int R, int Q, Elem E>
HEARTH_INLINE void dots(int64_t D, const float* q, const void* K, int64_t ldk, int64_t j, float* S, int64_t lds) {
  __m512 acc[R][Q];
  for (int r = 0; r < R; r++)
    for (int k = 0; k < Q; k++) acc[r][k] = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 m = tail(D - d);
    __m512 kv[Q];
    for (int k = 0; k < Q; k++) kv[k] = load16<E>(K, (j + k) * ldk + d, m);
    for (int r = 0; r < R; r++) {
      const __m512 x = _mm512_maskz_loadu_ps(m, q + r * D + d);
      for (int k = 0; k < Q; k++) acc[r][k] = _mm512_fmadd_ps(x, kv[k], acc[r][k]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int k = 0; k < Q; k++) S[r * lds + j + k] = _mm512_reduce_add_ps(acc[r][k]);
}

template <int R, Elem E>
void scores_rows(int64_t n, int64_t D, const float* q, const void* K, int64_t ldk, float* S, int64_t lds) {
  constexpr int Q = R == 1 ? 8 : R == 2 ? 6 : 4;  // about 16-20 accumulators
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

// O[r, c..c+64) += Σ_j P[r, j] V[j, c..c+64): the strip stays in registers over every key of the block.
template <int R, Elem E>
void accumulate_rows(int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv, float* O) {
  for (int64_t c = 0; c < Dv; c += 64) {
    __mmask16 m[4];
    for (int u = 0; u < 4; u++) m[u] = tail(Dv - c - 16 * u);
    __m512 acc[R][4];
    for (int r = 0; r < R; r++)
      for (int u = 0; u < 4; u++) acc[r][u] = _mm512_maskz_loadu_ps(m[u], O + r * Dv + c + 16 * u);
    for (int64_t j = 0; j < n; j++) {
      __m512 v[4];
      for (int u = 0; u < 4; u++) v[u] = load16<E>(V, j * ldv + c + 16 * u, m[u]);
      for (int r = 0; r < R; r++) {
        const __m512 p = _mm512_set1_ps(P[r * ldp + j]);
        for (int u = 0; u < 4; u++) acc[r][u] = _mm512_fmadd_ps(p, v[u], acc[r][u]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int u = 0; u < 4; u++) _mm512_mask_storeu_ps(O + r * Dv + c + 16 * u, m[u], acc[r][u]);
  }
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

const AttnKernels kAvx512 = {"avx512", scores, accumulate};

}  // namespace

// Reads the feature fields directly: CpuFeatures' inline helpers must not be instantiated with AVX-512 flags.
const AttnKernels* avx512_attn() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq ? &kAvx512 : nullptr;
}

}  // namespace hearth::cpu::fast_detail
