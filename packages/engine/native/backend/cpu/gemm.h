// CPU matrix multiplication (BLAS-style GEMM) for float32, bfloat16, float16 and float64.
//
// All matrices are row-major with leading dimensions in elements. `trans_x` means the operand is stored
// transposed, as in BLAS on row-major data: op(A) = A (stored M×K, lda ≥ K) or A^T (stored K×M, lda ≥ M);
// likewise op(B) is K×N, stored K×N (ldb ≥ N) or N×K (ldb ≥ K). C is M×N with ldc ≥ N.
//   C = alpha * op(A) · op(B) + beta * C
// beta == 0 overwrites C without reading it (C may hold NaN garbage); alpha == 0 or K == 0 never reads A
// or B. Negative sizes or leading dimensions shorter than a row throw std::invalid_argument. Kernels are
// chosen at run time from cpu_features() (HEARTH_ISA caps them), and large products are split over the
// thread pool. Packed copies of the operands (at most 2 × 32 MB, larger products go in chunks) stay
// allocated per calling thread between calls. Safe to call concurrently and from inside parallel_for
// (then it runs on the calling thread).
#pragma once
#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// bfloat16 / float16 inputs as raw bits; products accumulate in float32 and C is float32.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
               int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_f16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
              int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// The active kernels, e.g. "f32:avx512 bf16:amx f16:avx512" (for benchmarks and logs).
const char* gemm_kernel_name();

// ---- Internal: the contract between the driver (gemm.cpp) and the per-ISA kernel files. ----------------
// Only plain structs and function pointers cross the boundary: the ISA files are compiled with wider -m
// flags, so any inline function or template they shared with baseline files could be merged by the linker
// into the wrong ISA's copy. Everything else in those files lives in an anonymous namespace.
namespace gemm_detail {

enum class Elem : uint8_t { f32, bf16, f16 };

// A logical rows×cols view op(X): element (r, c) is at p[r * rs + c * cs] (one of rs, cs is 1).
struct View {
  const void* p;
  int64_t rs, cs;
  Elem type;
};

// Blocked GEMM kernel set (Goto/BLIS scheme). Per chunk of the product the driver packs op(A) for every k
// block of kc once (threads share the packing), then threads take tiles of C (about mc × nc; up to 2 mc
// rows when that avoids a second row of tiles) and call `macro` once per k block. op(B) is packed up front
// and shared when several rows of tiles use it, else by each tile just before use.
//  - pack_a packs op(A)[i0:i0+m, k0:k0+k] into panels of mr rows; pack_b packs op(B)[k0:k0+k, j0:j0+n] into
//    panels of nr columns. Both zero-pad rows/columns to mr/nr and k to a multiple of ku, in the kernel's
//    own layout, with elements of `esize` bytes. Panel p of A starts at byte p * mr * kpad * esize
//    (kpad = k rounded up to ku); likewise for B with nr.
//  - macro computes C[0:m, 0:n] = alpha * Apacked · Bpacked + beta * C (beta == 0: C is not read) for
//    k ≤ kc: the packed A block is meant to stay in L2 and each B micro-panel in L1.
struct GemmKernel {
  const char* name;
  int mr, nr;
  int mc, nc, kc;  // multiples of mr, nr, ku
  int ku, esize;
  double par_macs;  // M·N·K below which one thread is faster (thread hand-off vs work; measured)
  int min_split;    // when splitting C for threads, tiles keep at least this many micro-tiles per side
  void (*pack_a)(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst);
  void (*pack_b)(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst);
  void (*macro)(int64_t m, int64_t n, int64_t k, const void* pa, const void* pb, float* C, int64_t ldc,
                float alpha, float beta);
};

// Skinny kernel for op(A) with at most 4 rows. x holds those rows contiguously (row stride kx elements,
// zero-padded from K to kx, a multiple of 32): float32, or bfloat16 when the kernel's x_bf16 is set. It
// writes the raw dot products y[r * ldy + (j - j0)] = sum_k x[r][k] * W(k, j) for j in [j0, j1), where
// W = op(B) (any Elem).
struct GemvKernel {
  const char* name;
  bool x_bf16;
  void (*run)(int64_t rows, int64_t K, const void* x, int64_t kx, const View& W, int64_t j0, int64_t j1,
              float* y, int64_t ldy);
};

// Returns nullptr where the ISA/format is not supported by that file's kernels.
const GemmKernel* avx2_gemm(Elem e);
const GemmKernel* avx512_gemm(Elem e);
const GemmKernel* avx512_dpbf16_gemm();  // the vdpbf16ps kernel where supported (for tests and overrides)
const GemmKernel* amx_gemm();  // bf16 only; also requests AMX permission from the OS, nullptr if refused
const GemvKernel* avx2_gemv(Elem e);
const GemvKernel* avx512_gemv(Elem e);
const GemmKernel* neon_gemm(Elem e);  // aarch64 (gemm_neon.cpp)
const GemvKernel* neon_gemv(Elem e);

// Portable packers (gemm.cpp), used by the ISA files for the layouts they don't special-case: f32 panels,
// elements converted from any Elem.
void generic_pack_a_f32(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst, int mr);
void generic_pack_b_f32(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst, int nr);

}  // namespace gemm_detail
}  // namespace hearth::cpu
