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

// NC output columns × MR rows of x at once. Per chunk the codes of each column are loaded and unpacked once and
// meet the MR rows' int8 x (so a batch of rows reads and decodes every weight once: the server's continuous
// batching runs all its sequences through one product). Weight scales are loaded 16 groups at a time and spread
// to the lanes of each chunk by a per-chunk permutation (idx[c % period]).
constexpr int64_t PF = 3072;  // prefetch distance in bytes of codes per column

template <int BITS, int NC, int MR>
void block(const Problem& p, int64_t n, int64_t m0, const __m512i* idx, int64_t period) {
  constexpr int64_t V = BITS == 4 ? 128 : 64;  // values per chunk
  const int64_t K = p.K, G = K / p.gs, nch = K / V, wbytes = K * BITS / 8;
  const __m512i nib = _mm512_set1_epi8(0x0F);
  const uint8_t* wr[NC];
  for (int j = 0; j < NC; j++) wr[j] = reinterpret_cast<const uint8_t*>(p.w) + (n + j) * wbytes;
  const int8_t* xq[MR];
  const float* xl[MR];
  for (int r = 0; r < MR; r++) xq[r] = p.xq + (m0 + r) * K, xl[r] = p.xlane + (m0 + r) * nch * 16;
  __m512 acc[NC][MR], sw16[NC];
  for (int j = 0; j < NC; j++) {
    sw16[j] = _mm512_setzero_ps();
    for (int r = 0; r < MR; r++) acc[j][r] = _mm512_setzero_ps();
  }
  // Later row blocks find the codes in cache: only the first one prefetches.
  const bool pf = m0 == 0;
  // ci = c % period, kept as a counter: a division per chunk costs as much as the chunk's arithmetic.
  for (int64_t c = 0, ci = 0; c < nch; c++, ci = ci + 1 == period ? 0 : ci + 1) {
    if (ci == 0) {
      const int64_t g = (c * V) / p.gs, cnt = G - g < 16 ? G - g : 16;
      for (int j = 0; j < NC; j++) sw16[j] = load_groups(p.scales, (n + j) * G + g, cnt, p.es);
    }
    // The loads of the codes are where a lone row's time goes (the dot products wait on them): more in flight.
    if (pf)
      for (int j = 0; j < NC; j++) _mm_prefetch(reinterpret_cast<const char*>(wr[j] + c * 64 + PF), _MM_HINT_T0);
    for (int j = 0; j < NC; j++) {
      const __m512 ws = _mm512_permutexvar_ps(idx[ci], sw16[j]);
      const __m512i v = _mm512_loadu_si512(wr[j] + c * 64);
      if constexpr (BITS == 4) {
        const __m512i lo = _mm512_and_si512(v, nib), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
        for (int r = 0; r < MR; r++) {
          __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_load_si512(xq[r] + c * V));
          d = _mm512_dpbusd_epi32(d, hi, _mm512_load_si512(xq[r] + c * V + 64));
          const __m512 s = _mm512_mul_ps(ws, _mm512_load_ps(xl[r] + c * 16));
          acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc[j][r]);
        }
      } else {
        for (int r = 0; r < MR; r++) {
          const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_load_si512(xq[r] + c * V));
          const __m512 s = _mm512_mul_ps(ws, _mm512_load_ps(xl[r] + c * 16));
          acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc[j][r]);
        }
      }
    }
  }
  // Σ_g bias_g · Σx_g + scale_g · xcorr_g (see Problem::xcorr)
  for (int64_t g = 0; g < G; g += 16) {
    const int64_t cnt = G - g < 16 ? G - g : 16;
    const __mmask16 t = tail(cnt);
    for (int j = 0; j < NC; j++) {
      const __m512 bj = load_groups(p.biases, (n + j) * G + g, cnt, p.es), sj = load_groups(p.scales, (n + j) * G + g, cnt, p.es);
      for (int r = 0; r < MR; r++) {
        const __m512 a = _mm512_maskz_loadu_ps(t, p.xsum + (m0 + r) * G + g), b = _mm512_maskz_loadu_ps(t, p.xcorr + (m0 + r) * G + g);
        acc[j][r] = _mm512_fmadd_ps(bj, a, acc[j][r]);
        acc[j][r] = _mm512_fmadd_ps(sj, b, acc[j][r]);
      }
    }
  }
  for (int j = 0; j < NC; j++)
    for (int r = 0; r < MR; r++) p.y[(m0 + r) * p.ldy + n + j] = hsum(acc[j][r]);
}

// All rows of x for columns [n, n + NC): blocks of up to 4 rows (4 columns × 4 rows = 16 accumulators).
template <int BITS, int NC>
void columns(const Problem& p, int64_t n, const __m512i* idx, int64_t period) {
  int64_t m = 0;
  for (; m + 4 <= p.M; m += 4) block<BITS, NC, 4>(p, n, m, idx, period);
  switch (p.M - m) {
    case 3: block<BITS, NC, 3>(p, n, m, idx, period); break;
    case 2: block<BITS, NC, 2>(p, n, m, idx, period); break;
    case 1: block<BITS, NC, 1>(p, n, m, idx, period); break;
    default: break;
  }
}

template <int BITS>
void run(const Problem& p, int64_t n0, int64_t n1) {
  constexpr int64_t V = BITS == 4 ? 128 : 64;
  // Chunks per 16 groups, and for each chunk of that period the group (0..15) of each of its 16 lanes.
  const int64_t period = 16 * p.gs / V;
  alignas(64) int32_t table[32][16];
  __m512i idx[32];
  for (int64_t c = 0; c < period; c++) {
    for (int L = 0; L < 16; L++) table[c][L] = int32_t((c * V + L * (V / 16)) / p.gs);
    idx[c] = _mm512_load_si512(table[c]);
  }
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) columns<BITS, 4>(p, n, idx, period);
  for (; n < n1; n++) columns<BITS, 1>(p, n, idx, period);
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
