// AVX2 kernel of the packed quantized product (layout and contract in qmv_packed_kernels.h), for CPUs without
// AVX-512: each 64-byte vector of a record is two 32-byte halves (columns 0-7 and 8-15). u8×s8 products go
// through vpmaddubsw (pairs into int16) and vpmaddwd by ones (into int32 lanes); 4-bit codes cannot saturate
// the int16 pairs (2·15·127), 8-bit codes are split into nibbles first (2·255·127 would) and recombined as
// 16·hi + lo by the vpmaddwd weights. Up to 4 rows of x share each decoded vector.
#include <immintrin.h>

#include "backend/cpu/qmv_packed_kernels.h"
#include "core/cpu_features.h"

namespace hearth::cpu::qmv_packed_detail {
namespace {

inline __m256 load8(const uint8_t* p, Elem e) {
  switch (e) {
    case Elem::f32: return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    case Elem::bf16:
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
    default: return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
}

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int BITS, int MR>
void rows(const Problem& p, int64_t b, int64_t m0) {
  const int64_t G = p.K / p.gs, rec = record_bytes(p.gs, p.bits, p.es), cb = int64_t(16) * p.gs * BITS / 8;
  const int64_t eb = elem_bytes(p.es), nv = cb / 64;
  const __m256i nib = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
  const uint8_t* wb = p.w + b * G * rec;
  __m256 acc[MR][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < G; g++) {
    const uint8_t* wr = wb + g * rec;
    const int8_t* x[MR];
    for (int r = 0; r < MR; r++) x[r] = p.xq + (m0 + r) * p.K + g * p.gs;
    __m256i d[MR][2];
    for (int r = 0; r < MR; r++) d[r][0] = d[r][1] = _mm256_setzero_si256();
    for (int64_t v = 0; v < nv; v++) {
      for (int h = 0; h < 2; h++) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + v * 64 + h * 32));
        const __m256i lo = _mm256_and_si256(w, nib), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), nib);
        for (int r = 0; r < MR; r++) {
          __m256i t;
          if constexpr (BITS == 4) {
            // low nibbles: k = 8v + i; high nibbles: k = 8v + 4 + i
            t = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(x[r] + 8 * v)), _mm256_maddubs_epi16(hi, bcast4(x[r] + 8 * v + 4)));
            t = _mm256_madd_epi16(t, one);
          } else {
            const __m256i xv = bcast4(x[r] + 4 * v);
            t = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(hi, xv), sixteen),
                                 _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xv), one));
          }
          d[r][h] = _mm256_add_epi32(d[r][h], t);
        }
      }
    }
    for (int h = 0; h < 2; h++) {
      const __m256 sc = load8(wr + cb + h * 8 * eb, p.es), bi = load8(wr + cb + 16 * eb + h * 8 * eb, p.es);
      for (int r = 0; r < MR; r++) {
        const int64_t gi = (m0 + r) * G + g;
        const __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d[r][h]), _mm256_set1_ps(p.sx[gi]), _mm256_set1_ps(p.xcorr[gi]));
        acc[r][h] = _mm256_fmadd_ps(bi, _mm256_set1_ps(p.xsum[gi]), _mm256_fmadd_ps(t, sc, acc[r][h]));
      }
    }
  }
  for (int r = 0; r < MR; r++)
    for (int h = 0; h < 2; h++) _mm256_storeu_ps(p.y + (m0 + r) * p.ldy + b * 16 + h * 8, acc[r][h]);
}

template <int BITS>
void run(const Problem& p, int64_t b0, int64_t b1) {
  const int64_t nblk = (p.M + 3) / 4;
  for (int64_t b = b0; b < b1; b++)
    for (int64_t i = 0, m0 = 0; i < nblk; i++) {
      const int64_t mr = (p.M - m0) / (nblk - i);
      switch (mr) {
        case 1: rows<BITS, 1>(p, b, m0); break;
        case 2: rows<BITS, 2>(p, b, m0); break;
        case 3: rows<BITS, 3>(p, b, m0); break;
        default: rows<BITS, 4>(p, b, m0); break;
      }
      m0 += mr;
    }
}

void run_any(const Problem& p, int64_t b0, int64_t b1) {
  if (p.bits == 4) run<4>(p, b0, b1);
  else run<8>(p, b0, b1);
}

}  // namespace

RunFn avx2_packed() {
  const auto& f = cpu_features();
  return f.avx2 && f.fma && f.f16c ? run_any : nullptr;
}

}  // namespace hearth::cpu::qmv_packed_detail
