// AVX-512 decode kernels of the quantized matmul (contract in quantized_kernels.h). Compiled with -mavx512*;
// only reached after cpu_features() reports the ISA. Everything but the getter has internal linkage.
//
// 4-bit, one row of bf16 x, AVX512_BF16 ("avx512-bf16"): 32 packed bytes are widened to 16-bit lanes, and each
// lane's two nibbles become exact bf16 values through a 32-entry vpermw table (the index's bit 4 is ignored by
// the table, so no mask is needed). vdpbf16ps then takes Σ x·q over pairs: 64 codes in 6 instructions. x is
// laid out per 64-element chunk as [even elements | odd elements] to match the lanes. (vdpbf16ps issues every
// other cycle, so float x, which would need 2-3 bf16 parts, and several rows go to the float kernel.)
// Otherwise ("avx512"): codes widened to int32 and made float (the low nibble by a 16-entry vpermps table, the
// high one by shift + convert, splitting the work between the two vector ports), FMA with float x. 2, 3, 5 and
// 6 bits: 16 codes at a time by a byte shuffle + variable shift (PackedDecoder), FMA with float x.
// Dequantization (the GEMM path's tiles) uses the same decoding and rounds like mx.dequantize.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backend/cpu/quantized_kernels.h"
#include "core/cpu_features.h"

// GCC 12 flags the deliberately undefined vectors inside some AVX-512 intrinsics (as in gemm_avx512.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::quant_detail {
namespace {

#define HEARTH_INLINE inline __attribute__((always_inline))

HEARTH_INLINE float bf16_bits_to_float(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even; NaN stays NaN (quiet).
HEARTH_INLINE uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

HEARTH_INLINE float load_scalar(const void* p, int64_t i, Elem e) {
  switch (e) {
    case Elem::f32: return static_cast<const float*>(p)[i];
    case Elem::bf16: return bf16_bits_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return _cvtsh_ss(static_cast<const uint16_t*>(p)[i]);
  }
}

HEARTH_INLINE __mmask16 tail(int64_t n) {
  return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
}

// n elements of type e → float (vectorised).
void to_float(const void* src, Elem e, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail(n - i);
    __m512 v;
    if (e == Elem::f32) {
      v = _mm512_maskz_loadu_ps(m, static_cast<const float*>(src) + i);
    } else {
      __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(src) + i);
      v = e == Elem::bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
    }
    _mm512_mask_storeu_ps(dst + i, m, v);
  }
}

// Σ_g b[g] · xs[g] over G groups.
HEARTH_INLINE float dot_f32(const float* b, const float* xs, int64_t G) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; g += 16) {
    const __mmask16 m = tail(G - g);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, b + g), _mm512_maskz_loadu_ps(m, xs + g), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// Per-row scratch of a kernel call: the scales and biases of one row as float.
struct RowScratch {
  std::vector<float> s, b;
  explicit RowScratch(int64_t G) : s(size_t(G + 16)), b(size_t(G + 16)) {}
  void load(const QmvProblem& p, int64_t n, int64_t G) {
    to_float(static_cast<const char*>(p.scales) + n * G * elem_size(p.es), p.es, G, s.data());
    to_float(static_cast<const char*>(p.biases) + n * G * elem_size(p.es), p.es, G, b.data());
  }
  static int64_t elem_size(Elem e) { return e == Elem::f32 ? 4 : 2; }
};

// ---- 4-bit, one bf16 row, vdpbf16ps ----

size_t dp4_prep_bytes(int64_t M, int64_t K) { return size_t(M * K * 2); }

// Row m at [m · K, (m + 1) · K), each 64-chunk as [even | odd] elements (x is bf16: the kernel is only chosen then).
void dp4_prep(int64_t M, int64_t K, const void* x, Elem, void* dst) {
  uint16_t* out = static_cast<uint16_t*>(dst);
  const uint16_t* xb = static_cast<const uint16_t*>(x);
  for (int64_t m = 0; m < M; m++)
    for (int64_t c = m * K; c < (m + 1) * K; c += 64)
      for (int j = 0; j < 32; j++) out[c + j] = xb[c + 2 * j], out[c + 32 + j] = xb[c + 2 * j + 1];
}

// The scale of each float lane of a chunk's accumulator: lane i holds codes 4i..4i+3 of the chunk.
template <int GS> HEARTH_INLINE __m512 chunk_scales(const float* s, int64_t c) {
  if constexpr (GS == 32) {
    const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_maskz_loadu_ps(0x3, s + 2 * c));
  } else {
    return _mm512_set1_ps(s[c * 64 / GS]);
  }
}

// Σ over one 64-code chunk c of x·q, scaled by the chunk's scales, into tot.
template <int GS>
HEARTH_INLINE __m512 dp4_chunk(const uint8_t* wrow, const uint16_t* x, const float* s, int64_t c, __m512i lut, __m512 tot) {
  const __m512i wv = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wrow + c * 32)));
  const __m512bh qlo = (__m512bh)_mm512_permutexvar_epi16(wv, lut);
  const __m512bh qhi = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(wv, 4), lut);
  __m512 acc = _mm512_dpbf16_ps(_mm512_setzero_ps(), qlo, (__m512bh)_mm512_loadu_si512(x + c * 64));
  acc = _mm512_dpbf16_ps(acc, qhi, (__m512bh)_mm512_loadu_si512(x + c * 64 + 32));
  return _mm512_fmadd_ps(acc, chunk_scales<GS>(s, c), tot);
}

template <int GS> void dp4_run_t(const QmvProblem& p, int64_t n0, int64_t n1) {
  alignas(64) uint16_t table[32];
  for (int i = 0; i < 32; i++) table[i] = float_to_bf16_bits(float(i & 15));
  const __m512i lut = _mm512_load_si512(table);
  const int64_t K = p.K, G = K / GS, C = K / 64;
  RowScratch rs(G);
  for (int64_t n = n0; n < n1; n++) {
    rs.load(p, n, G);
    const uint8_t* wrow = reinterpret_cast<const uint8_t*>(p.w + n * (K / 8));
    for (int64_t m = 0; m < p.M; m++) {
      const uint16_t* x = static_cast<const uint16_t*>(p.xp) + m * K;
      __m512 t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps();  // two chains hide the FMA latency
      int64_t c = 0;
      for (; c + 2 <= C; c += 2) {
        t0 = dp4_chunk<GS>(wrow, x, rs.s.data(), c, lut, t0);
        t1 = dp4_chunk<GS>(wrow, x, rs.s.data(), c + 1, lut, t1);
      }
      if (c < C) t0 = dp4_chunk<GS>(wrow, x, rs.s.data(), c, lut, t0);
      p.y[m * p.ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(t0, t1)) + dot_f32(rs.b.data(), p.xsum + m * G, G);
    }
  }
}

void dp4_run(const QmvProblem& p, int64_t n0, int64_t n1) {
  switch (p.gs) {
    case 32: return dp4_run_t<32>(p, n0, n1);
    case 64: return dp4_run_t<64>(p, n0, n1);
    default: return dp4_run_t<128>(p, n0, n1);
  }
}

// ---- 4-bit and 8-bit, float FMA ----

HEARTH_INLINE __m512 nibble_table() {
  return _mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
}

// 16 bytes of 4-bit codes → the 16 even-position codes (low nibbles) and 16 odd ones, as float.
HEARTH_INLINE void decode4(const uint8_t* p, __m512 table, __m512& even, __m512& odd) {
  const __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  even = _mm512_permutexvar_ps(d, table);  // vpermps reads the index's low 4 bits: the low nibble
  odd = _mm512_cvtepi32_ps(_mm512_srli_epi32(d, 4));
}

HEARTH_INLINE __m512 decode8(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// 2, 3, 5 and 6 bits: 16 consecutive codes span 2·BITS bytes (byte aligned), and code i lies within the two
// bytes from bit BITS·i. The chunk is loaded once, broadcast to the four 128-bit lanes, and an in-lane byte
// shuffle puts each code's two bytes into its 32-bit lane; a per-lane shift and a mask finish it.
template <int BITS> struct PackedDecoder {
  __m512i shuf, shift, mask;
  PackedDecoder() {
    alignas(64) int8_t sb[64];
    alignas(64) int32_t sh[16];
    for (int i = 0; i < 16; i++) {
      const int bit = BITS * i;
      sh[i] = bit & 7;
      for (int j = 0; j < 4; j++) sb[4 * i + j] = j < 2 ? int8_t((bit >> 3) + j) : int8_t(-128);  // -128: a zero byte
    }
    shuf = _mm512_load_si512(sb);
    shift = _mm512_load_si512(sh);
    mask = _mm512_set1_epi32((1 << BITS) - 1);
  }
  // 16 codes from p (2·BITS bytes read, nothing beyond) as float, in element order.
  HEARTH_INLINE __m512 decode(const uint8_t* p) const {
    const __m128i raw = _mm_maskz_loadu_epi8(__mmask16((1u << (2 * BITS)) - 1), p);
    const __m512i v = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(raw), shuf);
    return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(v, shift), mask));
  }
};

struct NoPackedDecoder {};

// The decoding constants of a width, built once per kernel call and passed down (kept in registers once inlined).
template <int BITS> struct Decoder {
  __m512 table = nibble_table();  // 4-bit
  std::conditional_t<BITS == 4 || BITS == 8, NoPackedDecoder, PackedDecoder<BITS>> packed;  // 2, 3, 5, 6 bits
};

size_t f32_prep_bytes(int64_t M, int64_t K) { return size_t(M * K * 4); }

// 4-bit: each 32-element chunk as [16 even | 16 odd] elements (the two nibbles of 16 bytes). Other widths: x as
// float.
template <int BITS> void f32_prep(int64_t M, int64_t K, const void* x, Elem ex, void* dst) {
  float* out = static_cast<float*>(dst);
  const int64_t es = ex == Elem::f32 ? 4 : 2;
  if (BITS != 4) {
    to_float(x, ex, M * K, out);
    return;
  }
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; m++) {
    to_float(static_cast<const char*>(x) + m * K * es, ex, K, row.data());
    float* o = out + m * K;
    for (int64_t c = 0; c < K; c += 32)
      for (int j = 0; j < 16; j++) o[c + j] = row[size_t(c + 2 * j)], o[c + 16 + j] = row[size_t(c + 2 * j + 1)];
  }
}

// MB float accumulators, passed by value so that they stay in registers once inlined.
template <int MB> struct Acc {
  __m512 v[MB];
};

// One group of GS codes against MB rows of x: Σ x·q per row (GS/16 vectors, fully unrolled), then
// tot + Σ · scale.
template <int MB, int BITS, int GS>
HEARTH_INLINE Acc<MB> f32_group(const uint8_t* wg, const float* xg, int64_t K, float scale, const Decoder<BITS>& dec,
                                Acc<MB> tot) {
  constexpr int NQ = GS / 16;
  Acc<MB> acc;
  for (int i = 0; i < NQ; i += (BITS == 4 ? 2 : 1)) {
    __m512 q0, q1;
    if constexpr (BITS == 8) q0 = decode8(wg + 16 * i);
    else if constexpr (BITS == 4) decode4(wg + 8 * i, dec.table, q0, q1);
    else q0 = dec.packed.decode(wg + 2 * BITS * i);
    for (int r = 0; r < MB; r++) {
      const __m512 x0 = _mm512_loadu_ps(xg + r * K + 16 * i);
      acc.v[r] = i == 0 ? _mm512_mul_ps(q0, x0) : _mm512_fmadd_ps(q0, x0, acc.v[r]);
      if constexpr (BITS == 4) acc.v[r] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(xg + r * K + 16 * i + 16), acc.v[r]);
    }
  }
  const __m512 sv = _mm512_set1_ps(scale);
  for (int r = 0; r < MB; r++) tot.v[r] = _mm512_fmadd_ps(acc.v[r], sv, tot.v[r]);
  return tot;
}

// Groups [g0, g1) of W row n against x rows m0..m0+MB: y = (or +=, after the first block) Σ, plus the bias
// term Σ_g bias_g · Σx_g once, with the first block.
template <int MB, int BITS, int GS>
HEARTH_INLINE void f32_rows(const QmvProblem& p, int64_t n, int64_t m0, const RowScratch& rs, int64_t g0, int64_t g1,
                            const Decoder<BITS>& dec) {
  const int64_t K = p.K, G = K / GS;
  const uint8_t* wrow = reinterpret_cast<const uint8_t*>(p.w + n * (K * BITS / 32));
  const float* x = static_cast<const float*>(p.xp) + m0 * K;
  Acc<MB> t0, t1;  // even and odd groups: two chains hide the FMA latency
  for (int r = 0; r < MB; r++) t0.v[r] = t1.v[r] = _mm512_setzero_ps();
  constexpr int64_t WB = GS * BITS / 8;  // packed bytes per group
  const float* sc = rs.s.data();
  int64_t g = g0;
  for (; g + 2 <= g1; g += 2) {
    t0 = f32_group<MB, BITS, GS>(wrow + g * WB, x + g * GS, K, sc[g], dec, t0);
    t1 = f32_group<MB, BITS, GS>(wrow + (g + 1) * WB, x + (g + 1) * GS, K, sc[g + 1], dec, t1);
  }
  if (g < g1) t0 = f32_group<MB, BITS, GS>(wrow + g * WB, x + g * GS, K, sc[g], dec, t0);
  for (int r = 0; r < MB; r++) {
    float& y = p.y[(m0 + r) * p.ldy + n];
    const float part = _mm512_reduce_add_ps(_mm512_add_ps(t0.v[r], t1.v[r]));
    if (g0 == 0) y = part + dot_f32(rs.b.data(), p.xsum + (m0 + r) * G, G);
    else y += part;
  }
}

// K is taken in blocks whose slice of x (all M rows) stays in L1 while every W row of the range passes over
// it; W is still read once.
template <int BITS, int GS> void f32_run_t(const QmvProblem& p, int64_t n0, int64_t n1) {
  const int64_t G = p.K / GS;
  const int64_t GB = std::max<int64_t>(1, (int64_t(24) << 10) / (4 * GS * p.M));  // groups per block: ~24 KB of x
  RowScratch rs(G);
  const Decoder<BITS> dec;
  for (int64_t g0 = 0; g0 < G; g0 += GB) {
    const int64_t g1 = std::min(G, g0 + GB);
    for (int64_t n = n0; n < n1; n++) {
      rs.load(p, n, G);
      int64_t m = 0;
      for (; m + 4 <= p.M; m += 4) f32_rows<4, BITS, GS>(p, n, m, rs, g0, g1, dec);
      switch (p.M - m) {
        case 3: f32_rows<3, BITS, GS>(p, n, m, rs, g0, g1, dec); break;
        case 2: f32_rows<2, BITS, GS>(p, n, m, rs, g0, g1, dec); break;
        case 1: f32_rows<1, BITS, GS>(p, n, m, rs, g0, g1, dec); break;
        default: break;
      }
    }
  }
}

template <int BITS> void f32_run(const QmvProblem& p, int64_t n0, int64_t n1) {
  switch (p.gs) {
    case 32: return f32_run_t<BITS, 32>(p, n0, n1);
    case 64: return f32_run_t<BITS, 64>(p, n0, n1);
    default: return f32_run_t<BITS, 128>(p, n0, n1);
  }
}

// ---- dequantization with mx.dequantize's roundings ----

// Float lanes rounded to bf16 (nearest even, NaN kept quiet), still as float bit patterns.
HEARTH_INLINE __m512i round_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  const __m512i out = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
  return _mm512_and_si512(out, _mm512_set1_epi32(int(0xffff0000u)));
}

// 16 codes (as float) of one group → 16 outputs of type E at dst.
template <Elem E> HEARTH_INLINE void dq_store(__m512 q, __m512 s, __m512 b, void* dst, int64_t off) {
  if constexpr (E == Elem::f32) {
    __m512 p = _mm512_mul_ps(q, s);
    __asm__("" : "+v"(p));  // rounded on its own, as MLX's multiply then add: no contraction into an FMA
    _mm512_storeu_ps(static_cast<float*>(dst) + off, _mm512_add_ps(p, b));
  } else if constexpr (E == Elem::bf16) {
    const __m512 p = _mm512_castsi512_ps(round_bf16(_mm512_mul_ps(q, s)));
    const __m512i v = _mm512_srli_epi32(round_bf16(_mm512_add_ps(p, b)), 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(dst) + off), _mm512_cvtepi32_epi16(v));
  } else {
    const __m512 p = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(q, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(dst) + off),
                        _mm512_cvtps_ph(_mm512_add_ps(p, b), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

template <int BITS, Elem E>
void dequant_rows_t(const uint32_t* w, const void* scales, const void* biases, int64_t rows, int64_t K, int gs,
                    void* out) {
  const int64_t G = K / gs;
  const Decoder<BITS> dec;
  // Interleaves 16 even and 16 odd codes back into element order.
  const __m512i lo_idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi_idx = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  std::vector<float> sf(static_cast<size_t>(G)), bf(static_cast<size_t>(G));
  for (int64_t r = 0; r < rows; r++) {
    to_float(static_cast<const char*>(scales) + r * G * (E == Elem::f32 ? 4 : 2), E, G, sf.data());
    to_float(static_cast<const char*>(biases) + r * G * (E == Elem::f32 ? 4 : 2), E, G, bf.data());
    const uint8_t* wr = reinterpret_cast<const uint8_t*>(w + r * (K * BITS / 32));
    for (int64_t g = 0; g < G; g++) {
      const __m512 s = _mm512_set1_ps(sf[size_t(g)]), b = _mm512_set1_ps(bf[size_t(g)]);
      for (int64_t k = g * gs; k < (g + 1) * gs; k += (BITS == 4 ? 32 : 16)) {
        if constexpr (BITS == 8) {
          dq_store<E>(decode8(wr + k), s, b, out, r * K + k);
        } else if constexpr (BITS != 4) {
          dq_store<E>(dec.packed.decode(wr + k * BITS / 8), s, b, out, r * K + k);
        } else {
          __m512 qe, qo;
          decode4(wr + k / 2, dec.table, qe, qo);
          dq_store<E>(_mm512_permutex2var_ps(qe, lo_idx, qo), s, b, out, r * K + k);
          dq_store<E>(_mm512_permutex2var_ps(qe, hi_idx, qo), s, b, out, r * K + k + 16);
        }
      }
    }
  }
}

template <int BITS>
void dequant_rows(const uint32_t* w, const void* scales, const void* biases, Elem e, int64_t rows, int64_t K, int gs,
                  void* out) {
  switch (e) {
    case Elem::f32: return dequant_rows_t<BITS, Elem::f32>(w, scales, biases, rows, K, gs, out);
    case Elem::bf16: return dequant_rows_t<BITS, Elem::bf16>(w, scales, biases, rows, K, gs, out);
    default: return dequant_rows_t<BITS, Elem::f16>(w, scales, biases, rows, K, gs, out);
  }
}

const QmvKernel kDp4 = {"avx512-bf16", dp4_prep_bytes, dp4_prep, dp4_run};
const QmvKernel kF32_4 = {"avx512", f32_prep_bytes, f32_prep<4>, f32_run<4>};
const QmvKernel kF32_8 = {"avx512", f32_prep_bytes, f32_prep<8>, f32_run<8>};
const QmvKernel kF32_2 = {"avx512", f32_prep_bytes, f32_prep<2>, f32_run<2>};
const QmvKernel kF32_3 = {"avx512", f32_prep_bytes, f32_prep<3>, f32_run<3>};
const QmvKernel kF32_5 = {"avx512", f32_prep_bytes, f32_prep<5>, f32_run<5>};
const QmvKernel kF32_6 = {"avx512", f32_prep_bytes, f32_prep<6>, f32_run<6>};
const DequantKernel kDequant4 = {"avx512", dequant_rows<4>};
const DequantKernel kDequant8 = {"avx512", dequant_rows<8>};
const DequantKernel kDequant2 = {"avx512", dequant_rows<2>};
const DequantKernel kDequant3 = {"avx512", dequant_rows<3>};
const DequantKernel kDequant5 = {"avx512", dequant_rows<5>};
const DequantKernel kDequant6 = {"avx512", dequant_rows<6>};

// Reads the feature fields directly: CpuFeatures' inline helpers must not be instantiated with AVX-512 flags.
bool has_avx512() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
}

}  // namespace

const QmvKernel* avx512_qmv(int bits, Elem ex, int64_t M) {
  if (!has_avx512()) return nullptr;
  if (bits == 4) return ex == Elem::bf16 && M == 1 && cpu_features().avx512_bf16 ? &kDp4 : &kF32_4;
  switch (bits) {
    case 8: return &kF32_8;
    case 2: return &kF32_2;
    case 3: return &kF32_3;
    case 5: return &kF32_5;
    case 6: return &kF32_6;
    default: return nullptr;
  }
}

const DequantKernel* avx512_dequant(int bits) {
  if (!has_avx512()) return nullptr;
  switch (bits) {
    case 4: return &kDequant4;
    case 8: return &kDequant8;
    case 2: return &kDequant2;
    case 3: return &kDequant3;
    case 5: return &kDequant5;
    case 6: return &kDequant6;
    default: return nullptr;
  }
}

}  // namespace hearth::cpu::quant_detail
