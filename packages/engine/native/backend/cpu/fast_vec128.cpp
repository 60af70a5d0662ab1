// Attention decode kernels (see fast_kernels.h) on 128-bit vectors, for WebAssembly SIMD128 and aarch64 NEON:
// the blocking of fast_avx2.cpp with 4-lane vectors, written once with GCC/Clang vector extensions (as
// quantized_vec128.cpp). Scores hold several keys' dot products in registers so each query load serves all of
// them; accumulate keeps a strip of output columns in registers across the block's keys. Compiled only for
// those targets (CMakeLists.txt, wasm/Makefile); picked through cpu_features().simd128 / .neon.
#include <cstring>

#include "backend/cpu/fast_kernels.h"
#include "core/cpu_features.h"

namespace hearth::cpu::fast_detail {
namespace {

typedef float f4 __attribute__((vector_size(16)));
typedef uint32_t u4 __attribute__((vector_size(16)));

#define HEARTH_INLINE inline __attribute__((always_inline))

// float16 bits -> float32 bits for 4 lanes (normals, subnormals, inf, NaN), branch-free.
HEARTH_INLINE f4 half4(u4 h) {
  const u4 sign = (h & 0x8000u) << 16;
  const u4 em = h & 0x7fffu;
  // Normal and inf/NaN: rebias the exponent; subnormals: scale the mantissa as a float by 2^-24.
  const u4 infnan = (u4)(em >= 0x7c00u), subnormal = (u4)(em < 0x0400u);  // all-ones lanes where true
  const u4 norm = (em << 13) + ((127u - 15u) << 23) + (infnan & ((128u - 16u) << 23));  // inf/NaN: exponent 255
  const f4 sub = __builtin_convertvector(em, f4) * (1.0f / 16777216.0f);
  u4 subu;
  std::memcpy(&subu, &sub, 16);
  const u4 r = (subu & subnormal) | (norm & ~subnormal) | sign;
  f4 out;
  std::memcpy(&out, &r, 16);
  return out;
}

template <Elem E> HEARTH_INLINE f4 load4(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) {
    f4 v;
    std::memcpy(&v, static_cast<const float*>(p) + off, 16);
    return v;
  } else {
    uint16_t h[4];
    std::memcpy(h, static_cast<const uint16_t*>(p) + off, 8);
    const u4 w = {h[0], h[1], h[2], h[3]};
    if constexpr (E == Elem::bf16) {
      const u4 b = w << 16;
      f4 v;
      std::memcpy(&v, &b, 16);
      return v;
    } else {
      return half4(w);
    }
  }
}

template <Elem E> HEARTH_INLINE float load1(const void* p, int64_t off) {
  if constexpr (E == Elem::f32) {
    return static_cast<const float*>(p)[off];
  } else {
    const uint32_t w = static_cast<const uint16_t*>(p)[off];
    if constexpr (E == Elem::bf16) {
      const uint32_t u = w << 16;
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    } else {
      return half4(u4{w, 0, 0, 0})[0];
    }
  }
}

HEARTH_INLINE float hsum(f4 v) { return (v[0] + v[2]) + (v[1] + v[3]); }

template <int R, int Q, Elem E>
HEARTH_INLINE void dots(int64_t D, const float* q, const void* K, int64_t ldk, int64_t j, float* S, int64_t lds) {
  f4 acc[R][Q];
  for (int r = 0; r < R; r++)
    for (int k = 0; k < Q; k++) acc[r][k] = f4{};
  const int64_t D4 = D / 4 * 4;
  for (int64_t d = 0; d < D4; d += 4) {
    f4 kv[Q];
    for (int k = 0; k < Q; k++) kv[k] = load4<E>(K, (j + k) * ldk + d);
    for (int r = 0; r < R; r++) {
      f4 x;
      std::memcpy(&x, q + r * D + d, 16);
      for (int k = 0; k < Q; k++) acc[r][k] += x * kv[k];
    }
  }
  for (int r = 0; r < R; r++)
    for (int k = 0; k < Q; k++) {
      float s = hsum(acc[r][k]);
      for (int64_t d = D4; d < D; d++) s += q[r * D + d] * load1<E>(K, (j + k) * ldk + d);
      S[r * lds + j + k] = s;
    }
}

template <int R, Elem E>
void scores_rows(int64_t n, int64_t D, const float* q, const void* K, int64_t ldk, float* S, int64_t lds) {
  constexpr int Q = R == 1 ? 4 : 2;  // accumulators + loads within 16 registers (NEON has 32, wasm engines ~16)
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

// O[r, c..c+16) += Σ_j P[r, j] V[j, c..c+16), the strip in registers over the block's keys.
template <int R, Elem E>
void accumulate_rows(int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv, float* O) {
  constexpr int U = 4;
  const int64_t D4 = Dv / 4 * 4;
  int64_t c = 0;
  for (; c + 4 * U <= D4; c += 4 * U) {
    f4 acc[R][U];
    for (int r = 0; r < R; r++)
      for (int u = 0; u < U; u++) std::memcpy(&acc[r][u], O + r * Dv + c + 4 * u, 16);
    for (int64_t j = 0; j < n; j++) {
      f4 v[U];
      for (int u = 0; u < U; u++) v[u] = load4<E>(V, j * ldv + c + 4 * u);
      for (int r = 0; r < R; r++) {
        const float p = P[r * ldp + j];
        for (int u = 0; u < U; u++) acc[r][u] += p * v[u];
      }
    }
    for (int r = 0; r < R; r++)
      for (int u = 0; u < U; u++) std::memcpy(O + r * Dv + c + 4 * u, &acc[r][u], 16);
  }
  for (; c < D4; c += 4) {
    f4 acc[R];
    for (int r = 0; r < R; r++) std::memcpy(&acc[r], O + r * Dv + c, 16);
    for (int64_t j = 0; j < n; j++) {
      const f4 v = load4<E>(V, j * ldv + c);
      for (int r = 0; r < R; r++) acc[r] += P[r * ldp + j] * v;
    }
    for (int r = 0; r < R; r++) std::memcpy(O + r * Dv + c, &acc[r], 16);
  }
  for (int r = 0; r < R; r++)
    for (int64_t j = 0; j < n; j++)
      for (int64_t cc = D4; cc < Dv; cc++) O[r * Dv + cc] += P[r * ldp + j] * load1<E>(V, j * ldv + cc);
}

template <Elem E>
void accumulate_e(int64_t R, int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv,
                  float* O) {
  for (int64_t r0 = 0; r0 < R; r0 += 2) {
    const float* p = P + r0 * ldp;
    float* o = O + r0 * Dv;
    if (R - r0 == 1) accumulate_rows<1, E>(n, Dv, p, ldp, V, ldv, o);
    else accumulate_rows<2, E>(n, Dv, p, ldp, V, ldv, o);
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

const AttnKernels kVec128 = {
#if defined(__wasm_simd128__)
    "simd128",
#else
    "neon",
#endif
    scores, accumulate};

}  // namespace

const AttnKernels* vec128_attn() {
  const CpuFeatures& f = cpu_features();
  return f.simd128 || f.neon ? &kVec128 : nullptr;
}

}  // namespace hearth::cpu::fast_detail
