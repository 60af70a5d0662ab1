// AVX512-VNNI kernel of the packed quantized product (layout and contract in qmv_packed_kernels.h). Per 64-byte
// vector of a (16-column block, group) record: 4-bit codes are split into low and high nibbles (two u8 vectors)
// and each meets 4 int8 values of x broadcast to all 16 lanes in one vpdpbusd; lane L accumulates column L in
// int32 over the whole group. Then per group and row: one convert and three FMAs (the x-side terms d·sx + centring,
// times the scale, plus bias·Σx). Up to 8 rows of x share each decoded vector.
#include <immintrin.h>

#include "backend/cpu/qmv_packed_kernels.h"
#include "core/cpu_features.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::qmv_packed_detail {
namespace {

inline __m512 load16(const uint8_t* p, Elem e) {
  switch (e) {
    case Elem::f32: return _mm512_loadu_ps(p);
    case Elem::bf16:
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
    default: return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
}

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

constexpr int64_t PF = 2048;  // prefetch distance in bytes of the record stream

template <int BITS, int MR>
void rows(const Problem& p, int64_t b, int64_t m0) {
  const int64_t G = p.K / p.gs, rec = record_bytes(p.gs, p.bits, p.es), cb = int64_t(16) * p.gs * BITS / 8;
  const int64_t eb = elem_bytes(p.es), nv = cb / 64;
  const __m512i nib = _mm512_set1_epi8(0x0F);
  const uint8_t* wb = p.w + b * G * rec;
  const bool pf = m0 == 0;  // later row blocks find the records in cache
  __m512 acc[MR];
  for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; g++) {
    const uint8_t* wr = wb + g * rec;
    const int8_t* x[MR];
    for (int r = 0; r < MR; r++) x[r] = p.xq + (m0 + r) * p.K + g * p.gs;
    // Up to 5 rows: two int32 chains per row (vpdpbusd's latency is 4-5 cycles at 1-2 per cycle); more rows are
    // enough chains, and one chain each keeps 8 rows in registers.
    constexpr int CH = MR <= 5 ? 2 : 1;
    __m512i d[CH][MR];
    for (int c = 0; c < CH; c++)
      for (int r = 0; r < MR; r++) d[c][r] = _mm512_setzero_si512();
    if constexpr (BITS == 4) {
      for (int64_t v = 0; v < nv; v++) {
        if (pf) _mm_prefetch(reinterpret_cast<const char*>(wr + v * 64 + PF), _MM_HINT_T0);
        const __m512i w = _mm512_loadu_si512(wr + v * 64);
        const __m512i lo = _mm512_and_si512(w, nib), hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), nib);
        for (int r = 0; r < MR; r++) {
          d[0][r] = _mm512_dpbusd_epi32(d[0][r], lo, bcast4(x[r] + 8 * v));
          d[CH - 1][r] = _mm512_dpbusd_epi32(d[CH - 1][r], hi, bcast4(x[r] + 8 * v + 4));
        }
      }
    } else {
      for (int64_t v = 0; v < nv; v += 2) {
        if (pf) {
          _mm_prefetch(reinterpret_cast<const char*>(wr + v * 64 + PF), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(wr + v * 64 + 64 + PF), _MM_HINT_T0);
        }
        const __m512i w0 = _mm512_loadu_si512(wr + v * 64), w1 = _mm512_loadu_si512(wr + v * 64 + 64);
        for (int r = 0; r < MR; r++) {
          d[0][r] = _mm512_dpbusd_epi32(d[0][r], w0, bcast4(x[r] + 4 * v));
          d[CH - 1][r] = _mm512_dpbusd_epi32(d[CH - 1][r], w1, bcast4(x[r] + 4 * v + 4));
        }
      }
    }
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(wr + cb + PF), _MM_HINT_T0);
    const __m512 sc = load16(wr + cb, p.es), bi = load16(wr + cb + 16 * eb, p.es);
    // scale·(d·sx + xcorr) + bias·Σx: the x-side terms first (scalars per row), three FMAs per row and group.
    for (int r = 0; r < MR; r++) {
      const int64_t gi = (m0 + r) * G + g;
      const __m512 t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(CH == 2 ? _mm512_add_epi32(d[0][r], d[CH - 1][r]) : d[0][r]),
                                       _mm512_set1_ps(p.sx[gi]),
                                       _mm512_set1_ps(p.xcorr[gi]));
      acc[r] = _mm512_fmadd_ps(bi, _mm512_set1_ps(p.xsum[gi]), _mm512_fmadd_ps(t, sc, acc[r]));
    }
  }
  for (int r = 0; r < MR; r++) _mm512_storeu_ps(p.y + (m0 + r) * p.ldy + b * 16, acc[r]);
}

template <int BITS>
void run(const Problem& p, int64_t b0, int64_t b1) {
  // Row blocks of near-equal size, at most 8 rows (8 int32 chains + 8 float accumulators in registers): each
  // decoded weight vector then serves up to 16 dot instructions.
  const int64_t nblk = (p.M + 7) / 8;
  for (int64_t b = b0; b < b1; b++)
    for (int64_t i = 0, m0 = 0; i < nblk; i++) {
      const int64_t mr = (p.M - m0) / (nblk - i);
      switch (mr) {
        case 1: rows<BITS, 1>(p, b, m0); break;
        case 2: rows<BITS, 2>(p, b, m0); break;
        case 3: rows<BITS, 3>(p, b, m0); break;
        case 4: rows<BITS, 4>(p, b, m0); break;
        case 5: rows<BITS, 5>(p, b, m0); break;
        case 6: rows<BITS, 6>(p, b, m0); break;
        case 7: rows<BITS, 7>(p, b, m0); break;
        default: rows<BITS, 8>(p, b, m0); break;
      }
      m0 += mr;
    }
}

void run_any(const Problem& p, int64_t b0, int64_t b1) {
  if (p.bits == 4) run<4>(p, b0, b1);
  else run<8>(p, b0, b1);
}

}  // namespace

RunFn avx512_vnni_packed() {
  const auto& f = cpu_features();
  return f.has_avx512() && f.avx512_vnni ? run_any : nullptr;
}

}  // namespace hearth::cpu::qmv_packed_detail
