// AMX bfloat16 GEMM kernel: 32×32 blocks of C held in four 16×16 float tiles, fed by two A tiles (16 rows ×
// 32 k) and two B tiles (16 k-pairs × 16 columns, "VNNI" pair-interleaved) per 32-k step. Packing and the C
// update use AVX-512. Compiled with -mamx-*/-mavx512*; only reached after cpu_features() reports AMX and the
// kernel has granted this process the tile state (Linux asks for it with arch_prctl). Everything but
// amx_gemm() has internal linkage (see gemm.h). Products of bf16 are exact and accumulate in float; like
// vdpbf16ps, the tiles treat denormal inputs and results as zero.
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/gemm.h"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace hearth::cpu::gemm_detail {
namespace {

#define HEARTH_GEMM_INLINE inline __attribute__((always_inline))

HEARTH_GEMM_INLINE int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
HEARTH_GEMM_INLINE __mmask16 mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? 0 : __mmask16((1u << n) - 1);
}
HEARTH_GEMM_INLINE __mmask32 mask32(int64_t n) {
  return n >= 32 ? ~__mmask32(0) : n <= 0 ? 0 : __mmask32((1u << n) - 1);
}

constexpr int MR = 32, NR = 32, KT = 32;  // KT: k per tile step (16 pairs of bf16 = 64-byte tile rows)
constexpr int kTileElems = 16 * KT;       // bf16 elements in one 1 KB A or B tile

// Tile layout for palette 1: tiles 0-3 are C (16 × 16 floats), 4-5 A, 6-7 B; all 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

void configure_tiles() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  _tile_loadconfig(&cfg);
}

// 16×16 transpose of 32-bit elements (rows in r[], result in r[]).
HEARTH_GEMM_INLINE void transpose16x16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// Interleaves two rows of 32 bf16 (row0[c], row1[c]) into pairs: lo holds columns 0-15, hi 16-31.
HEARTH_GEMM_INLINE void interleave_rows(__m512i r0, __m512i r1, __m512i& lo, __m512i& hi) {
  alignas(64) static const uint16_t kLo[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                               8,  40, 9,  41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  alignas(64) static const uint16_t kHi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                               24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
  lo = _mm512_permutex2var_epi16(r0, _mm512_load_si512(kLo), r1);
  hi = _mm512_permutex2var_epi16(r0, _mm512_load_si512(kHi), r1);
}

// Loads up to 32 bf16 of logical row `row` (< rows, else zeros), columns [c0, c0 + cols) of a view that is
// contiguous along columns (cs == 1).
HEARTH_GEMM_INLINE __m512i load_row32(const View& X, int64_t row, int64_t rows, int64_t c0, int64_t cols) {
  if (row >= rows) return _mm512_setzero_si512();
  return _mm512_maskz_loadu_epi16(mask32(cols), static_cast<const uint16_t*>(X.p) + row * X.rs + c0);
}

// ---- packing ------------------------------------------------------------------------------------------
// A panel (32 rows) per 32-k step: two tiles of 16 rows × 32 k. B panel (32 columns) per step: two tiles of
// 16 k-pairs × 16 columns. Rows/columns past the matrix and k past its end are zero.

void pack_a(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  const int64_t nkt = (k + KT - 1) / KT;
  if (A.cs == 1) {  // rows contiguous along k: each tile row is a 64-byte copy
    for (int64_t i = 0; i < m; i += MR)
      for (int64_t t = 0; t < nkt; t++, d += 2 * kTileElems) {
        const int64_t kk = k0 + t * KT, kn = k - t * KT;
        for (int r = 0; r < MR; r++)
          _mm512_storeu_si512(d + r * KT, load_row32(A, i0 + i + r, i0 + m, kk, kn));
      }
    return;
  }
  // Transposed A (contiguous along m): interleave k-row pairs over 32 m, then transpose 16×16 pair blocks.
  const View At{A.p, A.cs, A.rs, A.type};  // rows = k, columns = m
  for (int64_t i = 0; i < m; i += MR)
    for (int64_t t = 0; t < nkt; t++, d += 2 * kTileElems) {
      __m512i lo[16], hi[16];
      for (int p = 0; p < 16; p++) {
        const int64_t kr = t * KT + 2 * p;
        __m512i r0 = load_row32(At, k0 + kr, k0 + k, i0 + i, m - i);
        __m512i r1 = load_row32(At, k0 + kr + 1, k0 + k, i0 + i, m - i);
        interleave_rows(r0, r1, lo[p], hi[p]);  // lo[p] = pair p for m 0-15
      }
      transpose16x16(lo);
      transpose16x16(hi);
      for (int r = 0; r < 16; r++) {
        _mm512_storeu_si512(d + r * KT, lo[r]);
        _mm512_storeu_si512(d + kTileElems + r * KT, hi[r]);
      }
    }
}

void pack_b(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  const int64_t nkt = (k + KT - 1) / KT;
  if (B.cs == 1) {  // row-major K×N: interleave pairs of k rows, sweeping each row across all panels
    const int64_t panel = int64_t(NR) * nkt * KT;
    for (int64_t t = 0; t < nkt; t++)
      for (int p = 0; p < 16; p++) {
        const int64_t kr = t * KT + 2 * p;
        for (int64_t j = 0; j < n; j += NR) {
          __m512i r0 = load_row32(B, k0 + kr, k0 + k, j0 + j, n - j);
          __m512i r1 = load_row32(B, k0 + kr + 1, k0 + k, j0 + j, n - j);
          __m512i lo, hi;
          interleave_rows(r0, r1, lo, hi);
          uint16_t* o = d + j / NR * panel + t * 2 * kTileElems + p * KT;
          _mm512_storeu_si512(o, lo);
          _mm512_storeu_si512(o + kTileElems, hi);
        }
      }
    return;
  }
  // B stored N×K (e.g. weights W[N,K]): a k-pair is one 32-bit word, so a tile is a 16×16 word transpose.
  const View Bt{B.p, B.cs, B.rs, B.type};  // rows = n, columns = k
  for (int64_t j = 0; j < n; j += NR)
    for (int64_t t = 0; t < nkt; t++, d += 2 * kTileElems)
      for (int h = 0; h < 2; h++) {
        __m512i r[16];
        for (int c = 0; c < 16; c++) r[c] = load_row32(Bt, j0 + j + 16 * h + c, j0 + n, k0 + t * KT, k - t * KT);
        transpose16x16(r);
        for (int p = 0; p < 16; p++) _mm512_storeu_si512(d + h * kTileElems + p * KT, r[p]);
      }
}

// ---- compute ------------------------------------------------------------------------------------------
void micro(int64_t nkt, const uint16_t* a, const uint16_t* b, float* C, int64_t ldc, float alpha, float beta, int mrem,
           int nrem) {
  // Full blocks with alpha = 1 and beta ∈ {0, 1} (every k block after the first has beta = 1) move C
  // straight between memory and the tiles; anything else goes through a buffer and vector code.
  const bool direct = mrem == MR && nrem == NR && alpha == 1.f && (beta == 0.f || beta == 1.f);
  const int64_t cs = ldc * 4;
  if (direct && beta == 1.f) {
    _tile_loadd(0, C, cs);
    _tile_loadd(1, C + 16, cs);
    _tile_loadd(2, C + 16 * ldc, cs);
    _tile_loadd(3, C + 16 * ldc + 16, cs);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t t = 0; t < nkt; t++, a += 2 * kTileElems, b += 2 * kTileElems) {
    _tile_loadd(4, a, 64);
    _tile_loadd(6, b, 64);
    _tile_loadd(5, a + kTileElems, 64);
    _tile_loadd(7, b + kTileElems, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  if (direct) {
    _tile_stored(0, C, cs);
    _tile_stored(1, C + 16, cs);
    _tile_stored(2, C + 16 * ldc, cs);
    _tile_stored(3, C + 16 * ldc + 16, cs);
    return;
  }
  alignas(64) float t[MR][NR];
  _tile_stored(0, &t[0][0], NR * 4);
  _tile_stored(1, &t[0][16], NR * 4);
  _tile_stored(2, &t[16][0], NR * 4);
  _tile_stored(3, &t[16][16], NR * 4);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = mask16(nrem), m1 = mask16(nrem - 16);
  for (int i = 0; i < mrem; i++) {
    float* c = C + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, _mm512_load_ps(t[i])), r1 = _mm512_mul_ps(va, _mm512_load_ps(t[i] + 16));
    if (beta != 0.f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), r1);
    }
    _mm512_mask_storeu_ps(c, m0, r0);
    _mm512_mask_storeu_ps(c + 16, m1, r1);
  }
}

void macro(int64_t m, int64_t n, int64_t k, const void* pa, const void* pb, float* C, int64_t ldc, float alpha,
           float beta) {
  const int64_t nkt = (k + KT - 1) / KT, panel = int64_t(MR) * nkt * KT;  // elements per packed panel
  const uint16_t* A = static_cast<const uint16_t*>(pa);
  const uint16_t* B = static_cast<const uint16_t*>(pb);
  configure_tiles();  // per call: tile state is per thread, and released below
  for (int64_t j = 0; j < n; j += NR)
    for (int64_t i = 0; i < m; i += MR)
      micro(nkt, A + i / MR * panel, B + j / NR * panel, C + i * ldc + j, ldc, alpha, beta, int(imin(MR, m - i)),
            int(imin(NR, n - j)));
  _tile_release();
}

// A 256 × kc block (512 KB at kc = 1024) and the current B micro-panel (64 KB) stay in L2. A long kc keeps
// C traffic low, which matters more at AMX speed than L1 residency (measured: kc 1024 beat 512). Tiles
// under 256 × 256 move too little work per byte to keep up with the tiles, hence min_split 8; threads pay
// off from about 300³.
const GemmKernel kAmx = {"amx-bf16-32x32", MR, NR, 256, 1024, 1024, KT, 2, 3e7, 8, pack_a, pack_b, macro};

bool request_tile_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

const GemmKernel* amx_gemm() {
  static const bool ok = request_tile_permission();
  return ok ? &kAmx : nullptr;
}

}  // namespace hearth::cpu::gemm_detail
