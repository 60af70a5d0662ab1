// AVX-512 fused GELU (tanh form): gelu(x) = x · σ(2u) = x / (1 + e^(−2u)), u = √(2/π)·(x + 0.044715·x³), with a
// vector exp (range reduction to r ∈ [−ln2/2, ln2/2], degree-6 polynomial, 2^n by vscalefps). Relative error
// ~1e-7, far below bf16's rounding; NaN in x propagates through x·(…).
#include <immintrin.h>

#include <cmath>

#include "backend/cpu/activations_kernels.h"
#include "core/cpu_features.h"

// GCC 12 flags the deliberately undefined vectors inside some AVX-512 intrinsics (as in gemm_avx512.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::act_detail {
namespace {

inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 split hi/lo
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 gelu16(__m512 x) {
  const __m512 x2 = _mm512_mul_ps(x, x);
  // −2u = x · (−2c − 2c·0.044715·x²)
  const __m512 k = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.0f * 0.7978845608028654f * 0.044715f),
                                   _mm512_set1_ps(-2.0f * 0.7978845608028654f));
  const __m512 e = exp512(_mm512_mul_ps(x, k));
  const __m512 y = _mm512_div_ps(x, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
  // −∞ → 0 (the limit; −∞ / e^88 would stay −∞).
  return _mm512_maskz_mov_ps(~_mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ), y);
}

inline __mmask16 tail(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

inline __m512 load(const void* p, int64_t i, Elem e, __mmask16 m) {
  switch (e) {
    case Elem::f32: return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
    case Elem::bf16:
      return _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i)), 16));
    default: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i));
  }
}

inline void store(void* p, int64_t i, Elem e, __mmask16 m, __m512 v) {
  switch (e) {
    case Elem::f32: _mm512_mask_storeu_ps(static_cast<float*>(p) + i, m, v); return;
    case Elem::bf16: {
      // Round to nearest even; NaN kept quiet.
      __m512i u = _mm512_castps_si512(v);
      __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                       _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
      __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
      _mm256_mask_storeu_epi16(static_cast<uint16_t*>(p) + i, m, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
      return;
    }
    default:
      _mm256_mask_storeu_epi16(static_cast<uint16_t*>(p) + i, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
}

void gelu(const void* x, const void* mul, void* out, int64_t n, Elem e) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail(n - i);
    __m512 y = gelu16(load(x, i, e, m));
    if (mul) y = _mm512_mul_ps(y, load(mul, i, e, m));
    store(out, i, e, m, y);
  }
}

}  // namespace

GeluFn avx512_gelu() { return cpu_features().has_avx512() ? gelu : nullptr; }

}  // namespace hearth::cpu::act_detail
