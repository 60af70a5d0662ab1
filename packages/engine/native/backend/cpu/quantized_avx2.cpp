// AVX2/FMA decode kernels of the quantized matmul for 4-bit and 8-bit codes (contract in quantized_kernels.h):
// codes widened to int32, converted to float and FMA'd with float x, as the AVX-512 float kernels with 8 lanes.
// 4-bit x is laid out per 16-element chunk as [8 even | 8 odd] elements, matching the two nibbles of 8 bytes.
// Compiled with -mavx2 -mfma -mf16c; only reached after cpu_features() reports them.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "backend/cpu/quantized_kernels.h"
#include "core/cpu_features.h"

namespace hearth::cpu::quant_detail {
namespace {

#define HEARTH_INLINE inline __attribute__((always_inline))

HEARTH_INLINE float load_scalar(const void* p, int64_t i, Elem e) {
  if (e == Elem::f32) return static_cast<const float*>(p)[i];
  const uint16_t h = static_cast<const uint16_t*>(p)[i];
  if (e == Elem::f16) return _cvtsh_ss(h);
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void to_float(const void* src, Elem e, int64_t n, float* dst) {
  int64_t i = 0;
  if (e == Elem::f32) {
    std::memcpy(dst, src, size_t(n) * 4);
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m256 v = e == Elem::bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                                     : _mm256_cvtph_ps(h);
    _mm256_storeu_ps(dst + i, v);
  }
  for (; i < n; i++) dst[i] = load_scalar(src, i, e);
}

HEARTH_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float dot_f32(const float* b, const float* xs, int64_t G) {
  __m256 acc = _mm256_setzero_ps();
  int64_t g = 0;
  for (; g + 8 <= G; g += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(b + g), _mm256_loadu_ps(xs + g), acc);
  float t = hsum(acc);
  for (; g < G; g++) t += b[g] * xs[g];
  return t;
}

size_t prep_bytes(int64_t M, int64_t K) { return size_t(M * K * 4); }

template <int BITS> void prep(int64_t M, int64_t K, const void* x, Elem ex, void* dst) {
  float* out = static_cast<float*>(dst);
  const int64_t es = ex == Elem::f32 ? 4 : 2;
  if (BITS == 8) {
    to_float(x, ex, M * K, out);
    return;
  }
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; m++) {
    to_float(static_cast<const char*>(x) + m * K * es, ex, K, row.data());
    float* o = out + m * K;
    for (int64_t c = 0; c < K; c += 16)
      for (int j = 0; j < 8; j++) o[c + j] = row[size_t(c + 2 * j)], o[c + 8 + j] = row[size_t(c + 2 * j + 1)];
  }
}

// One group of GS codes against MB rows of x (fully unrolled), then tot += Σ x·q · scale.
template <int MB, int BITS, int GS>
HEARTH_INLINE void group(const uint8_t* wg, const float* xg, int64_t K, float scale, __m256 (&tot)[MB]) {
  const __m256i low4 = _mm256_set1_epi32(15);
  __m256 acc[MB];
  for (int r = 0; r < MB; r++) acc[r] = _mm256_setzero_ps();  // overwritten at i == 0 (quiets GCC)
  for (int i = 0; i < GS / 8; i += (BITS == 8 ? 1 : 2)) {
    __m256 q0, q1;
    if constexpr (BITS == 8) {
      q0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wg + 8 * i))));
    } else {
      const __m256i d = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wg + 4 * i)));
      q0 = _mm256_cvtepi32_ps(_mm256_and_si256(d, low4));
      q1 = _mm256_cvtepi32_ps(_mm256_srli_epi32(d, 4));
    }
    for (int r = 0; r < MB; r++) {
      const __m256 x0 = _mm256_loadu_ps(xg + r * K + 8 * i);
      acc[r] = i == 0 ? _mm256_mul_ps(q0, x0) : _mm256_fmadd_ps(q0, x0, acc[r]);
      if constexpr (BITS == 4) acc[r] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(xg + r * K + 8 * i + 8), acc[r]);
    }
  }
  const __m256 sv = _mm256_set1_ps(scale);
  for (int r = 0; r < MB; r++) tot[r] = _mm256_fmadd_ps(acc[r], sv, tot[r]);
}

template <int MB, int BITS, int GS>
HEARTH_INLINE void rows(const QmvProblem& p, int64_t n, int64_t m0, const float* sbuf, const float* bbuf) {
  const int64_t K = p.K, G = K / GS;
  constexpr int64_t WB = GS * BITS / 8;
  const uint8_t* wrow = reinterpret_cast<const uint8_t*>(p.w + n * (K * BITS / 32));
  const float* x = static_cast<const float*>(p.xp) + m0 * K;
  __m256 t0[MB], t1[MB];  // even and odd groups: two chains hide the FMA latency
  for (int r = 0; r < MB; r++) t0[r] = t1[r] = _mm256_setzero_ps();
  int64_t g = 0;
  for (; g + 2 <= G; g += 2) {
    group<MB, BITS, GS>(wrow + g * WB, x + g * GS, K, sbuf[g], t0);
    group<MB, BITS, GS>(wrow + (g + 1) * WB, x + (g + 1) * GS, K, sbuf[g + 1], t1);
  }
  if (g < G) group<MB, BITS, GS>(wrow + g * WB, x + g * GS, K, sbuf[g], t0);
  for (int r = 0; r < MB; r++)
    p.y[(m0 + r) * p.ldy + n] = hsum(_mm256_add_ps(t0[r], t1[r])) + dot_f32(bbuf, p.xsum + (m0 + r) * G, G);
}

template <int BITS, int GS> void run_t(const QmvProblem& p, int64_t n0, int64_t n1) {
  const int64_t G = p.K / GS, es = p.es == Elem::f32 ? 4 : 2;
  std::vector<float> sbuf(static_cast<size_t>(G)), bbuf(static_cast<size_t>(G));
  for (int64_t n = n0; n < n1; n++) {
    to_float(static_cast<const char*>(p.scales) + n * G * es, p.es, G, sbuf.data());
    to_float(static_cast<const char*>(p.biases) + n * G * es, p.es, G, bbuf.data());
    int64_t m = 0;
    for (; m + 4 <= p.M; m += 4) rows<4, BITS, GS>(p, n, m, sbuf.data(), bbuf.data());
    switch (p.M - m) {
      case 3: rows<3, BITS, GS>(p, n, m, sbuf.data(), bbuf.data()); break;
      case 2: rows<2, BITS, GS>(p, n, m, sbuf.data(), bbuf.data()); break;
      case 1: rows<1, BITS, GS>(p, n, m, sbuf.data(), bbuf.data()); break;
      default: break;
    }
  }
}

template <int BITS> void run(const QmvProblem& p, int64_t n0, int64_t n1) {
  switch (p.gs) {
    case 32: return run_t<BITS, 32>(p, n0, n1);
    case 64: return run_t<BITS, 64>(p, n0, n1);
    default: return run_t<BITS, 128>(p, n0, n1);
  }
}

const QmvKernel kQ4 = {"avx2", prep_bytes, prep<4>, run<4>};
const QmvKernel kQ8 = {"avx2", prep_bytes, prep<8>, run<8>};

}  // namespace

// Reads the feature fields directly: CpuFeatures' inline helpers must not be instantiated with AVX2 flags.
const QmvKernel* avx2_qmv(int bits, Elem, int64_t) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) return nullptr;
  return bits == 4 ? &kQ4 : bits == 8 ? &kQ8 : nullptr;
}

}  // namespace hearth::cpu::quant_detail
