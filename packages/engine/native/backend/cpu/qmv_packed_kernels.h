// Contract between the packed quantized product's driver (qmv_packed.cpp) and its ISA kernels
// (qmv_packed_avx512.cpp, qmv_packed_avx2.cpp). Plain structs and function pointers only (see gemm.h on ISA files).
//
// The packed layout (core/ops/qmv_packed.h) keeps, per block of 16 output columns and per group of gs values
// along K, one contiguous record: the codes of the 16 columns interleaved so that 32-bit lane L of a 64-byte
// vector holds column L's codes, then the 16 scales, then the 16 biases (in the scales' dtype):
//   4-bit: gs/8 vectors; vector v, lane L, byte i: low nibble = code of k = 8v + i, high nibble = code of 8v + 4 + i
//   8-bit: gs/4 vectors; vector v, lane L, byte i: code of k = 4v + i
// (k counted from the group's start). One u8×s8 dot per vector then adds 4 (or 8) products into each column's
// lane against x's int8 values broadcast to every lane, and the lanes stay in int32 across the whole group: the
// float work is per group, not per vector, and the weights are one sequential stream.
#pragma once
#include <cstdint>

namespace hearth::cpu::qmv_packed_detail {

enum class Elem : uint8_t { f32, bf16, f16 };

inline int64_t elem_bytes(Elem e) { return e == Elem::f32 ? 4 : 2; }
// Bytes of one (16-column block, group) record.
inline int64_t record_bytes(int gs, int bits, Elem e) { return int64_t(16) * gs * bits / 8 + 32 * elem_bytes(e); }

struct Problem {
  int64_t M, N, K;
  int bits, gs;
  const int8_t* xq;    // [M, K] x rounded to int8 per group (scale sx)
  const float* sx;     // [M, G] x's group scales max|x|/127
  const float* xsum;   // [M, G] exact group sums of x
  const float* xcorr;  // [M, G] z·(Σx − sx·Σqx), z the codes' midpoint (8 or 128), as in qmv_int8_kernels.h
  const uint8_t* w;    // [N/16, G, record]
  Elem es;
  float* y;            // y[m·ldy + n]
  int64_t ldy;
};

// Columns blocks [b0, b1) (16 columns each) for every row of x.
using RunFn = void (*)(const Problem& p, int64_t b0, int64_t b1);
// nullptr where not built or the CPU lacks the ISA.
RunFn avx512_vnni_packed();
RunFn avx2_packed();

}  // namespace hearth::cpu::qmv_packed_detail
