// aarch64 NEON GEMM kernels: an 8×12 float32 micro-kernel (bf16/f16 are widened to float while packing, as
// on the AVX2 path) and skinny (≤ 4 rows) streaming kernels that widen bf16/f16 weights in registers.
// Advanced SIMD is part of the aarch64 base ISA, so this file needs no extra -m flags; it is compiled only
// for aarch64 (CMakeLists.txt) and picked at run time through cpu_features().neon, which HEARTH_ISA=generic
// turns off. Everything but the table getters has internal linkage (see gemm.h).
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "backend/cpu/gemm.h"

namespace hearth::cpu::gemm_detail {
namespace {

#define HEARTH_GEMM_INLINE inline __attribute__((always_inline))

HEARTH_GEMM_INLINE int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// 8 rows × 3 vectors = 24 accumulators + 3 B vectors + 2 A vectors of the 32 q registers; the A values are
// used through the by-lane multiply-add, so no broadcast register is needed.
constexpr int MR = 8, NR = 12;

void micro(int64_t k, const float* __restrict a, const float* __restrict b, float* C, int64_t ldc, float alpha,
           float beta, int mrem, int nrem) {
  float32x4_t c[MR][3];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) c[i][0] = c[i][1] = c[i][2] = vdupq_n_f32(0.f);
  for (int64_t p = 0; p < k; p++, a += MR, b += NR) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
#define HEARTH_ROW(i, av, lane)                          \
  c[i][0] = vfmaq_laneq_f32(c[i][0], b0, av, lane);      \
  c[i][1] = vfmaq_laneq_f32(c[i][1], b1, av, lane);      \
  c[i][2] = vfmaq_laneq_f32(c[i][2], b2, av, lane);
    HEARTH_ROW(0, a0, 0) HEARTH_ROW(1, a0, 1) HEARTH_ROW(2, a0, 2) HEARTH_ROW(3, a0, 3)
    HEARTH_ROW(4, a1, 0) HEARTH_ROW(5, a1, 1) HEARTH_ROW(6, a1, 2) HEARTH_ROW(7, a1, 3)
#undef HEARTH_ROW
  }
  const float32x4_t va = vdupq_n_f32(alpha);
  if (nrem == NR) {
    for (int i = 0; i < mrem; i++) {
      float* ci = C + i * ldc;
      for (int q = 0; q < 3; q++) {
        float32x4_t r = vmulq_f32(va, c[i][q]);
        if (beta != 0.f) r = vfmaq_n_f32(r, vld1q_f32(ci + 4 * q), beta);
        vst1q_f32(ci + 4 * q, r);
      }
    }
    return;
  }
  // Column edge: go through a small buffer instead of partial vectors.
  float t[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int q = 0; q < 3; q++) vst1q_f32(t[i] + 4 * q, vmulq_f32(va, c[i][q]));
  for (int i = 0; i < mrem; i++) {
    float* ci = C + i * ldc;
    for (int j = 0; j < nrem; j++) ci[j] = beta == 0.f ? t[i][j] : t[i][j] + beta * ci[j];
  }
}

void macro(int64_t m, int64_t n, int64_t k, const void* pa, const void* pb, float* C, int64_t ldc, float alpha,
           float beta) {
  const float* A = static_cast<const float*>(pa);
  const float* B = static_cast<const float*>(pb);
  for (int64_t j = 0; j < n; j += NR)
    for (int64_t i = 0; i < m; i += MR)
      micro(k, A + i * k, B + j * k, C + i * ldc + j, ldc, alpha, beta, int(imin(MR, m - i)), int(imin(NR, n - j)));
}

void pack_a(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst) {
  generic_pack_a_f32(A, i0, m, k0, k, dst, MR);
}
void pack_b(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst) {
  generic_pack_b_f32(B, k0, k, j0, n, dst, NR);
}

// A packed block of 8 × 256 floats (8 KB) stays in L1 next to the 12 KB B micro-panel on the 64 KB L1s of
// Neoverse/Apple cores; not tuned (speed on arm64 is not measured here, only checked under qemu).
const GemmKernel kGemm = {"neon-8x12", MR, NR, 8 * 16, 768, 256, 1, 4, 1.5e6, 4, pack_a, pack_b, macro};

// ---- skinny kernels (≤ 4 rows), x in float ---------------------------------------------------------------
template <Elem E> HEARTH_GEMM_INLINE float32x4_t load4(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) return vld1q_f32(static_cast<const float*>(p) + off);
  const uint16x4_t h = vld1_u16(static_cast<const uint16_t*>(p) + off);
  if constexpr (E == Elem::f16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
  return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}
template <Elem E> HEARTH_GEMM_INLINE float load1(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) return static_cast<const float*>(p)[off];
  const uint16_t h = static_cast<const uint16_t*>(p)[off];
  if constexpr (E == Elem::f16) {
    __fp16 v;
    std::memcpy(&v, &h, 2);
    return float(v);
  }
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Q columns of W contiguous along k, two vectors of k per step so each accumulator chain has slack.
template <int R, int Q, Elem E>
void dot_cols(int64_t K, const float* x, int64_t kx, const View& W, int64_t j, float* y, int64_t ldy) {
  float32x4_t acc[R][Q][2];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) acc[r][q][0] = acc[r][q][1] = vdupq_n_f32(0.f);
  const int64_t kv = K & ~int64_t(7);
  for (int64_t k = 0; k < kv; k += 8) {
    float32x4_t w[Q][2];
    for (int q = 0; q < Q; q++) {
      w[q][0] = load4<E>(W.p, (j + q) * W.cs + k);
      w[q][1] = load4<E>(W.p, (j + q) * W.cs + k + 4);
    }
    for (int r = 0; r < R; r++) {
      const float32x4_t x0 = vld1q_f32(x + r * kx + k), x1 = vld1q_f32(x + r * kx + k + 4);
      for (int q = 0; q < Q; q++) {
        acc[r][q][0] = vfmaq_f32(acc[r][q][0], x0, w[q][0]);
        acc[r][q][1] = vfmaq_f32(acc[r][q][1], x1, w[q][1]);
      }
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Q; q++) {
      float s = vaddvq_f32(vaddq_f32(acc[r][q][0], acc[r][q][1]));
      for (int64_t k = kv; k < K; k++) s += x[r * kx + k] * load1<E>(W.p, (j + q) * W.cs + k);
      y[r * ldy + q] = s;
    }
}

// W contiguous along j: y[r] += x[r][k] · W[k, :] row by row.
template <int R, Elem E>
void axpy_rows(int64_t K, const float* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y, int64_t ldy) {
  const int64_t n = j1 - j0, nv = n & ~int64_t(3);
  for (int r = 0; r < R; r++)
    for (int64_t j = 0; j < n; j++) y[r * ldy + j] = 0.f;
  for (int64_t k = 0; k < K; k++) {
    const int64_t o = k * W.rs + j0;
    float xs[R];
    for (int r = 0; r < R; r++) xs[r] = x[r * kx + k];
    for (int64_t j = 0; j < nv; j += 4) {
      const float32x4_t w = load4<E>(W.p, o + j);
      for (int r = 0; r < R; r++) {
        float* yr = y + r * ldy + j;
        vst1q_f32(yr, vfmaq_n_f32(vld1q_f32(yr), w, xs[r]));
      }
    }
    for (int64_t j = nv; j < n; j++) {
      const float w = load1<E>(W.p, o + j);
      for (int r = 0; r < R; r++) y[r * ldy + j] += xs[r] * w;
    }
  }
}

template <int R, Elem E>
void gemv_rows(int64_t K, const float* x, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y, int64_t ldy) {
  if (W.rs != 1) return axpy_rows<R, E>(K, x, kx, W, j0, j1, y, ldy);
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) dot_cols<R, 4, E>(K, x, kx, W, j, y + (j - j0), ldy);
  for (; j < j1; j++) dot_cols<R, 1, E>(K, x, kx, W, j, y + (j - j0), ldy);
}

template <Elem E>
void gemv(int64_t rows, int64_t K, const void* xv, int64_t kx, const View& W, int64_t j0, int64_t j1, float* y,
          int64_t ldy) {
  const float* x = static_cast<const float*>(xv);
  switch (rows) {
    case 1: return gemv_rows<1, E>(K, x, kx, W, j0, j1, y, ldy);
    case 2: return gemv_rows<2, E>(K, x, kx, W, j0, j1, y, ldy);
    case 3: return gemv_rows<3, E>(K, x, kx, W, j0, j1, y, ldy);
    default: return gemv_rows<4, E>(K, x, kx, W, j0, j1, y, ldy);
  }
}

const GemvKernel kGemv[3] = {{"neon", false, gemv<Elem::f32>},
                             {"neon", false, gemv<Elem::bf16>},
                             {"neon", false, gemv<Elem::f16>}};

}  // namespace

const GemmKernel* neon_gemm(Elem) { return &kGemm; }
const GemvKernel* neon_gemv(Elem e) { return &kGemv[int(e)]; }

}  // namespace hearth::cpu::gemm_detail
#endif  // __aarch64__
