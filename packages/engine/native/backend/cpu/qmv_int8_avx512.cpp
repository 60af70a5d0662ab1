// AVX512-VNNI kernel of the int8-activation quantized matvec (contract in qmv_int8_kernels.h). Per chunk of 128
// 4-bit codes (64 packed bytes): low nibbles and high nibbles are masked out as u8 and meet the matching int8 x
// (laid out [even | odd]) in two vpdpbusd; 8-bit codes take one vpdpbusd per 64. The 16 int32 lanes are scaled by
// (weight scale × x scale) of their group and accumulated in float; the bias term is Σ_g bias_g · Σx_g.
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/qmv_int8_kernels.h"
#include "core/cpu_features.h"

// GCC 12 flags the deliberately undefined vectors inside some AVX-512 intrinsics (as in gemm_avx512.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::qmv_i8_detail {
namespace {

inline __mmask16 tail(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// n ≤ 16 consecutive group values (scales or biases) as float lanes 0..n-1.
inline __m512 load_groups(const void* p, int64_t i, int64_t n, Elem e) {
  const __mmask16 m = tail(n);
  switch (e) {
    case Elem::f32: return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
    case Elem::bf16:
      return _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i)), 16));
    default: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i));
  }
}

inline float hsum(__m512 v) {
  __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

template <int BITS>
void run(const Problem& p, int64_t n0, int64_t n1) {
  constexpr int64_t V = BITS == 4 ? 128 : 64;  // values per chunk
  const int64_t K = p.K, G = K / p.gs, nch = K / V, wbytes = K * BITS / 8;
  // Lane L's group, relative to the chunk's first group.
  const int64_t gpc = V >= p.gs ? V / p.gs : 1;  // groups starting in a chunk
  alignas(64) int32_t lane_group[16];
  for (int L = 0; L < 16; L++) lane_group[L] = int32_t((L * (V / 16)) / p.gs);
  const __m512i idx = _mm512_load_si512(lane_group);
  const __m512i nib = _mm512_set1_epi8(0x0F);
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* wr = reinterpret_cast<const uint8_t*>(p.w) + n * wbytes;
    for (int64_t m = 0; m < p.M; m++) {
      const int8_t* xq = p.xq + m * K;
      const float* xl = p.xlane + m * nch * 16;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      for (int64_t c = 0; c < nch; c++) {
        const __m512i v = _mm512_loadu_si512(wr + c * 64);
        __m512i d;
        if constexpr (BITS == 4) {
          const __m512i lo = _mm512_and_si512(v, nib), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
          d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_load_si512(xq + c * V));
          d = _mm512_dpbusd_epi32(d, hi, _mm512_load_si512(xq + c * V + 64));
        } else {
          d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_load_si512(xq + c * V));
        }
        const int64_t g0 = (c * V) / p.gs;
        const __m512 sw = _mm512_permutexvar_ps(idx, load_groups(p.scales, n * G + g0, gpc, p.es));
        const __m512 s = _mm512_mul_ps(sw, _mm512_load_ps(xl + c * 16));
        if (c & 1) acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc1);
        else acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc0);
      }
      // Σ_g bias_g · Σx_g + scale_g · xcorr_g (see Problem::xcorr)
      const float* xs = p.xsum + m * G;
      const float* xc = p.xcorr + m * G;
      for (int64_t g = 0; g < G; g += 16) {
        const int64_t cnt = G - g < 16 ? G - g : 16;
        const __mmask16 t = tail(cnt);
        acc0 = _mm512_fmadd_ps(load_groups(p.biases, n * G + g, cnt, p.es), _mm512_maskz_loadu_ps(t, xs + g), acc0);
        acc1 = _mm512_fmadd_ps(load_groups(p.scales, n * G + g, cnt, p.es), _mm512_maskz_loadu_ps(t, xc + g), acc1);
      }
      p.y[m * p.N + n] = hsum(_mm512_add_ps(acc0, acc1));
    }
  }
}

void run_any(const Problem& p, int64_t n0, int64_t n1) {
  if (p.bits == 4) run<4>(p, n0, n1);
  else run<8>(p, n0, n1);
}

}  // namespace

RunFn avx512_vnni_qmv_i8() {
  const auto& f = cpu_features();
  return f.has_avx512() && f.avx512_vnni ? run_any : nullptr;
}

}  // namespace hearth::cpu::qmv_i8_detail
