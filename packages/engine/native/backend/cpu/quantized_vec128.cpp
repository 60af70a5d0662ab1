// Quantized matvec decode kernels on 128-bit vectors, for WebAssembly SIMD128 and aarch64 NEON. They are
// written once with GCC/Clang vector extensions, which both compilers lower to the target's 128-bit
// instructions (f32x4/i32x4 on wasm, q registers on NEON); this file is compiled only for those two targets
// (CMakeLists.txt, wasm/Makefile) and is picked at run time through cpu_features().simd128 / .neon, which
// HEARTH_ISA=generic turns off.
//
// Layout trick: with codes of `bits` packed little-endian along k, a 128-bit load of the weights holds 4 lanes
// of L consecutive codes each (one 32-bit word for 2/4/8 bits, one 24-bit triple for 3 bits). Shifting every
// lane by bits·j and masking yields codes k = L·i + j for the 4 lanes i at once, so prep() reorders each block
// of 4·L elements of x to match (x'[j][i] = x[L·i + j]) and the inner loop is shift, mask, convert, multiply-add.
#include <cstring>

#include "core/cpu_features.h"
#include "kernel_utils.h"
#include "quantized_kernels.h"

namespace hearth::cpu::quant_detail {
namespace {

typedef float f4 __attribute__((vector_size(16)));
typedef uint32_t u4 __attribute__((vector_size(16)));
typedef uint8_t u16b __attribute__((vector_size(16)));

constexpr int kMaxRows = 8;

inline float hsum(f4 v) { return (v[0] + v[2]) + (v[1] + v[3]); }

inline float load_elem(const void* p, int64_t i, Elem e) {
  switch (e) {
    case Elem::f32: return static_cast<const float*>(p)[i];
    case Elem::bf16: return Num<bf16>::load(static_cast<const bf16*>(p)[i]);
    default: return Num<f16>::load(static_cast<const f16*>(p)[i]);
  }
}

// Four lanes of L codes each from the start of a block.
template <int BITS> inline u4 load_lanes(const uint8_t* p) {
  if constexpr (BITS == 3) {
    u16b b = {};
    std::memcpy(&b, p, 12);  // 4 triples; the rest stays zero and fills each lane's top byte
#if defined(__clang__)
    u16b s = __builtin_shufflevector(b, b, 0, 1, 2, 12, 3, 4, 5, 13, 6, 7, 8, 14, 9, 10, 11, 15);
#else
    u16b s = __builtin_shuffle(b, u16b{0, 1, 2, 12, 3, 4, 5, 13, 6, 7, 8, 14, 9, 10, 11, 15});
#endif
    u4 v;
    std::memcpy(&v, &s, 16);
    return v;
  } else {
    u4 v;
    std::memcpy(&v, p, 16);
    return v;
  }
}

template <int BITS> struct Geo {
  static constexpr int L = BITS == 3 ? 8 : 32 / BITS;  // codes per lane
  static constexpr int KB = 4 * L;                     // elements of k per block
  static constexpr int BYTES = BITS == 3 ? 12 : 16;    // weight bytes per block
};

template <int BITS> size_t prep_bytes(int64_t M, int64_t K) { return size_t(M * K) * sizeof(float); }

template <int BITS> void prep(int64_t M, int64_t K, const void* x, Elem ex, void* dst) {
  constexpr int L = Geo<BITS>::L, KB = Geo<BITS>::KB;
  float* out = static_cast<float*>(dst);
  for (int64_t m = 0; m < M; m++)
    for (int64_t b = 0; b < K; b += KB)
      for (int j = 0; j < L; j++)
        for (int i = 0; i < 4; i++) out[m * K + b + j * 4 + i] = load_elem(x, m * K + b + i * L + j, ex);
}

template <int BITS> void run(const QmvProblem& p, int64_t n0, int64_t n1) {
  constexpr int L = Geo<BITS>::L, KB = Geo<BITS>::KB, BYTES = Geo<BITS>::BYTES;
  const int64_t M = p.M, K = p.K, G = K / p.gs, blocks_per_group = p.gs / KB;
  const int64_t row_bytes = K * BITS / 8;
  const float* xp = static_cast<const float*>(p.xp);
  const u4 mask = u4{} + ((1u << BITS) - 1);
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = reinterpret_cast<const uint8_t*>(p.w) + n * row_bytes;
    float acc[kMaxRows] = {};
    for (int64_t g = 0; g < G; g++) {
      f4 dot[kMaxRows];
      for (int64_t m = 0; m < M; m++) dot[m] = f4{};
      for (int64_t bb = 0; bb < blocks_per_group; bb++) {
        const int64_t blk = g * blocks_per_group + bb;
        const u4 v = load_lanes<BITS>(row + blk * BYTES);
        f4 q[L];
        for (int j = 0; j < L; j++) q[j] = __builtin_convertvector((v >> (BITS * j)) & mask, f4);
        for (int64_t m = 0; m < M; m++) {
          const float* xb = xp + m * K + blk * KB;
          f4 d = dot[m];
          for (int j = 0; j < L; j++) {
            f4 xv;
            std::memcpy(&xv, xb + j * 4, 16);
            d += q[j] * xv;
          }
          dot[m] = d;
        }
      }
      const float sc = load_elem(p.scales, n * G + g, p.es), bi = load_elem(p.biases, n * G + g, p.es);
      for (int64_t m = 0; m < M; m++) acc[m] += sc * hsum(dot[m]) + bi * p.xsum[m * G + g];
    }
    for (int64_t m = 0; m < M; m++) p.y[m * p.ldy + n] = acc[m];
  }
}

template <int BITS> const QmvKernel* kernel() {
  static const QmvKernel k{
#if defined(__wasm_simd128__)
      "simd128",
#else
      "neon",
#endif
      prep_bytes<BITS>, prep<BITS>, run<BITS>};
  return &k;
}

}  // namespace

// Kernels for 2, 3, 4 and 8 bits when the group size is a whole number of blocks (every MLX group size is for
// 3/4/8 bits; 2 bits needs groups of 64 or more); nullptr sends the driver to its portable kernel.
const QmvKernel* vec128_qmv(int bits, Elem, int64_t M, int gs) {
  const CpuFeatures& f = cpu_features();
  if (!(f.simd128 || f.neon) || M > kMaxRows) return nullptr;
  switch (bits) {
    case 2: return gs % Geo<2>::KB == 0 ? kernel<2>() : nullptr;
    case 3: return gs % Geo<3>::KB == 0 ? kernel<3>() : nullptr;
    case 4: return gs % Geo<4>::KB == 0 ? kernel<4>() : nullptr;
    case 8: return gs % Geo<8>::KB == 0 ? kernel<8>() : nullptr;
    default: return nullptr;
  }
}

}  // namespace hearth::cpu::quant_detail
