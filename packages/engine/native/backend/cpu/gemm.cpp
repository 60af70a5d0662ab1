// GEMM driver: argument checks, kernel dispatch, cache blocking and threading, plus the portable kernels
// (compiled for the x86-64 baseline, written so -O3 vectorises them with SSE2) and dgemm.
//
// Blocking follows the Goto/BLIS scheme: op(A) and op(B) are packed into contiguous micro-panels (mr rows /
// nr columns per k step) so the register micro-kernel streams both with unit stride, in k blocks of kc so a
// block of A stays in L2 and a B micro-panel in L1. The threads first share the packing, then take tiles
// of C one at a time. Sizes and layouts are owned by the kernel set (GemmKernel in gemm.h); this file only
// drives them. Products with at most 4 rows (or columns) skip packing and stream the big operand instead.
#include "backend/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/threadpool.h"

namespace hearth::cpu {
namespace gemm_detail {
namespace {

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline int64_t ceil_div(int64_t x, int64_t m) { return (x + m - 1) / m; }

// Branch-free float16 -> float32 (normals, subnormals, inf, NaN), so the portable packers vectorise
// instead of calling the scalar library conversion per element.
inline float half_to_float(uint16_t h) {
  uint32_t w = uint32_t(h) << 16, sign = w & 0x80000000u, two_w = w + w;
  uint32_t nb = (two_w >> 4) + (0xE0u << 23);  // rebias exponent (scaled back below)
  float normal, denormal;
  std::memcpy(&normal, &nb, 4);
  normal *= 0x1.0p-112f;
  uint32_t db = (two_w >> 17) | (126u << 23);  // mantissa placed under 0.5's exponent
  std::memcpy(&denormal, &db, 4);
  denormal -= 0.5f;
  uint32_t nbits, dbits;
  std::memcpy(&nbits, &normal, 4);
  std::memcpy(&dbits, &denormal, 4);
  uint32_t r = sign | (two_w < (1u << 27) ? dbits : nbits);
  float f;
  std::memcpy(&f, &r, 4);
  return f;
}

template <Elem E> struct Load;
template <> struct Load<Elem::f32> {
  static float at(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
};
template <> struct Load<Elem::bf16> {
  static float at(const void* p, int64_t i) { return bf16_to_float(static_cast<const uint16_t*>(p)[i]); }
};
template <> struct Load<Elem::f16> {
  static float at(const void* p, int64_t i) { return half_to_float(static_cast<const uint16_t*>(p)[i]); }
};

// Packs rows [i0, i0+m) × k-range of a view into panels of `mr` rows, layout [panel][k][mr], zero-padding
// the last panel. Used for A (a view as is) and for B (through its transpose, so "rows" are columns).
template <Elem E>
void pack_panels(const View& X, int64_t i0, int64_t m, int64_t k0, int64_t k, float* dst, int mr) {
  const int64_t mpad = (m + mr - 1) / mr * mr;
  if (X.cs != 1) {  // rows adjacent in memory: sweep each k-row of X across all panels
    for (int64_t kk = 0; kk < k; kk++) {
      const int64_t base = (k0 + kk) * X.cs + i0;
      for (int64_t p = 0; p < mpad; p += mr) {
        float* d = dst + p * k + kk * mr;  // panel p/mr starts at (p/mr) * mr * k
        const int64_t rows = std::min<int64_t>(mr, m - p);
        for (int64_t r = 0; r < rows; r++) d[r] = Load<E>::at(X.p, base + p + r);
        for (int64_t r = rows; r < mr; r++) d[r] = 0.f;
      }
    }
    return;
  }
  for (int64_t p = 0; p < mpad; p += mr) {  // each row contiguous along k: scatter with stride mr (in cache)
    float* d = dst + p * k;
    const int64_t rows = std::min<int64_t>(mr, m - p);
    for (int64_t r = 0; r < rows; r++) {
      const int64_t base = (i0 + p + r) * X.rs + k0;
      for (int64_t kk = 0; kk < k; kk++) d[kk * mr + r] = Load<E>::at(X.p, base + kk);
    }
    for (int64_t kk = 0; kk < k; kk++)
      for (int64_t r = rows; r < mr; r++) d[kk * mr + r] = 0.f;
  }
}

void pack_any(const View& X, int64_t i0, int64_t m, int64_t k0, int64_t k, float* dst, int mr) {
  switch (X.type) {
    case Elem::f32: pack_panels<Elem::f32>(X, i0, m, k0, k, dst, mr); break;
    case Elem::bf16: pack_panels<Elem::bf16>(X, i0, m, k0, k, dst, mr); break;
    case Elem::f16: pack_panels<Elem::f16>(X, i0, m, k0, k, dst, mr); break;
  }
}

View transposed(const View& v) { return View{v.p, v.cs, v.rs, v.type}; }

// ---- portable micro-kernel ----------------------------------------------------------------------------
// 6×8 floats in GCC/Clang vector types (SSE2 on the x86-64 baseline, NEON elsewhere): 12 accumulators,
// 2 B vectors and a broadcast fit the 16 registers. Plain nested loops leave GCC spilling accumulators.
constexpr int kGMR = 6, kGNR = 8;
typedef float v4f __attribute__((vector_size(16)));

void generic_pack_a(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst) {
  pack_any(A, i0, m, k0, k, static_cast<float*>(dst), kGMR);
}
void generic_pack_b(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst) {
  pack_any(transposed(B), j0, n, k0, k, static_cast<float*>(dst), kGNR);
}

void generic_micro(int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict out) {
  v4f c[kGMR][2] = {};
  for (int64_t p = 0; p < k; p++, a += kGMR, b += kGNR) {
    v4f b0, b1;
    std::memcpy(&b0, b, 16);
    std::memcpy(&b1, b + 4, 16);
    for (int i = 0; i < kGMR; i++) {
      v4f ai = v4f{} + a[i];
      c[i][0] += ai * b0;
      c[i][1] += ai * b1;
    }
  }
  std::memcpy(out, c, sizeof c);
}

void generic_macro(int64_t m, int64_t n, int64_t k, const void* pa, const void* pb, float* C, int64_t ldc,
                   float alpha, float beta) {
  const float* A = static_cast<const float*>(pa);
  const float* B = static_cast<const float*>(pb);
  alignas(64) float t[kGMR * kGNR];
  for (int64_t j = 0; j < n; j += kGNR)
    for (int64_t i = 0; i < m; i += kGMR) {
      generic_micro(k, A + i * k, B + j * k, t);
      int64_t rows = std::min<int64_t>(kGMR, m - i), cols = std::min<int64_t>(kGNR, n - j);
      for (int64_t r = 0; r < rows; r++) {
        float* c = C + (i + r) * ldc + j;
        const float* s = t + r * kGNR;
        if (beta == 0.f)
          for (int64_t q = 0; q < cols; q++) c[q] = alpha * s[q];
        else
          for (int64_t q = 0; q < cols; q++) c[q] = alpha * s[q] + beta * c[q];
      }
    }
}

const GemmKernel kGenericGemm = {"generic-6x8", kGMR, kGNR, 120, 512, 256, 1, 4, 5e5, 4,
                                 generic_pack_a, generic_pack_b, generic_macro};

// Portable skinny kernel: W is contiguous along k (dot products) or along j (row updates).
template <Elem E>
void generic_gemv_t(int64_t rows, int64_t K, const float* x, int64_t kx, const View& W, int64_t j0, int64_t j1,
                    float* y, int64_t ldy) {
  if (W.rs == 1) {
    for (int64_t j = j0; j < j1; j++) {
      int64_t base = j * W.cs;
      for (int64_t r = 0; r < rows; r++) {
        float part[8] = {};  // independent partial sums so the loop vectorises without -ffast-math
        const float* xr = x + r * kx;
        int64_t kk = 0;
        for (; kk + 8 <= K; kk += 8)
          for (int l = 0; l < 8; l++) part[l] += xr[kk + l] * Load<E>::at(W.p, base + kk + l);
        float s = 0.f;
        for (; kk < K; kk++) s += xr[kk] * Load<E>::at(W.p, base + kk);
        for (int l = 0; l < 8; l++) s += part[l];
        y[r * ldy + j - j0] = s;
      }
    }
  } else {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = j0; j < j1; j++) y[r * ldy + j - j0] = 0.f;
    for (int64_t kk = 0; kk < K; kk++) {
      int64_t base = kk * W.rs;
      for (int64_t r = 0; r < rows; r++) {
        float xv = x[r * kx + kk];
        float* yr = y + r * ldy - j0;
        for (int64_t j = j0; j < j1; j++) yr[j] += xv * Load<E>::at(W.p, base + j);
      }
    }
  }
}

void generic_gemv(int64_t rows, int64_t K, const void* x, int64_t kx, const View& W, int64_t j0, int64_t j1,
                  float* y, int64_t ldy) {
  const float* xf = static_cast<const float*>(x);
  switch (W.type) {
    case Elem::f32: generic_gemv_t<Elem::f32>(rows, K, xf, kx, W, j0, j1, y, ldy); break;
    case Elem::bf16: generic_gemv_t<Elem::bf16>(rows, K, xf, kx, W, j0, j1, y, ldy); break;
    case Elem::f16: generic_gemv_t<Elem::f16>(rows, K, xf, kx, W, j0, j1, y, ldy); break;
  }
}

const GemvKernel kGenericGemv = {"generic", false, generic_gemv};

// ---- dispatch -----------------------------------------------------------------------------------------
struct Dispatch {
  const GemmKernel* gemm[3];
  const GemvKernel* gemv[3];
  std::string name;
};

const Dispatch& dispatch() {
  static const Dispatch d = [] {
    Dispatch d;
    const CpuFeatures& f = cpu_features();
    bool avx2 = f.avx2 && f.fma && f.f16c, avx512 = avx2 && f.has_avx512();
    // HEARTH_GEMM_BF16=amx|avx512bf16|f32 picks the bf16 kernel where supported (tests reach every path).
    const char* force = std::getenv("HEARTH_GEMM_BF16");
    std::string bf = force ? force : "";
    for (int e = 0; e < 3; e++) {
      Elem el = Elem(e);
      d.gemm[e] = &kGenericGemm;
      d.gemv[e] = &kGenericGemv;
      if (avx2) {
        if (auto* k = avx2_gemm(el)) d.gemm[e] = k;
        if (auto* k = avx2_gemv(el)) d.gemv[e] = k;
      }
      if (avx512) {
        if (auto* k = avx512_gemm(el)) d.gemm[e] = k;
        if (auto* k = avx512_gemv(el)) d.gemv[e] = k;
      }
      if (f.neon) {
        if (auto* k = neon_gemm(el)) d.gemm[e] = k;
        if (auto* k = neon_gemv(el)) d.gemv[e] = k;
      }
    }
    const int b = int(Elem::bf16);
    if (avx512 && bf == "avx512bf16") {
      if (auto* k = avx512_dpbf16_gemm()) d.gemm[b] = k;
    } else if (avx512 && bf == "f32") {
      d.gemm[b] = d.gemm[int(Elem::f32)];
    } else if (avx512 && f.amx_tile && f.amx_bf16) {
      if (auto* k = amx_gemm()) d.gemm[b] = k;  // nullptr when the OS refuses the tile state
    }
    d.name = std::string("f32:") + d.gemm[0]->name + " bf16:" + d.gemm[1]->name + " f16:" + d.gemm[2]->name +
             " gemv:" + d.gemv[0]->name + "/" + d.gemv[1]->name + "/" + d.gemv[2]->name;
    return d;
  }();
  return d;
}

// ---- blocked driver -----------------------------------------------------------------------------------
// Packed copies of op(A) and op(B), owned by the calling thread and kept between calls: reallocating tens
// of MB per product would cost more in page faults than small products take.
struct Buffer {
  void* p = nullptr;
  size_t cap = 0;
  char* get(size_t n) {
    if (n > cap) {
      std::free(p);
      cap = size_t(round_up(int64_t(n), 1 << 16));
      p = std::aligned_alloc(4096, cap);
      if (!p) {
        cap = 0;
        throw std::bad_alloc();
      }
    }
    return static_cast<char*>(p);
  }
  ~Buffer() { std::free(p); }
};
thread_local Buffer tl_pack_a, tl_pack_b;  // on the calling thread
thread_local Buffer tl_tile_b;             // on each thread running tiles

// Products whose packed operands would exceed this many bytes are done in row/column chunks (32 MB;
// HEARTH_GEMM_PACK_MB lowers it so tests reach the chunked path with small matrices).
int64_t pack_cap() {
  static const int64_t cap = [] {
    const char* e = std::getenv("HEARTH_GEMM_PACK_MB");
    int64_t mb = e ? std::atoll(e) : 0;
    return (mb > 0 ? mb : 32) << 20;
  }();
  return cap;
}

// Splits `total` into ceil(total/max) near-equal blocks that are multiples of `unit`.
inline int64_t balanced_block(int64_t total, int64_t max, int64_t unit) {
  int64_t blocks = ceil_div(total, max);
  return std::min(round_up(max, unit), round_up(ceil_div(total, blocks), unit));
}

// Spins (politely, then yielding the core) until ready() holds. PAUSE takes ~140 cycles on recent Intel
// cores, so 256 of them are ~10 µs.
template <class P> void spin_until(const P& ready) {
  for (int spins = 0; !ready(); spins++) {
    if (spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();  // maybe the thread we wait for shares this core
    }
  }
}

// Runs work(item, slot) for item in [0, n) on up to `threads` pool threads, each taking the next free item,
// so a thread that the OS (or another process) slows down simply takes fewer items. `slot` (< threads)
// identifies the thread running the item. The caller waits for the last items by spinning: a thread that
// sleeps on the pool's condition variable takes ~50 µs to wake on virtual machines, as long as a 256³
// product takes on one core.
template <class F> void run_items_slot(int64_t n, int threads, const F& work) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; i++) work(i, 0);
    return;
  }
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  parallel_for(size_t(std::min<int64_t>(threads, n)), 1, [&](size_t slot, size_t) {
    try {
      for (int64_t i; !failed.load(std::memory_order_relaxed) && (i = next.fetch_add(1)) < n;) {
        work(i, int(slot));
        done.fetch_add(1, std::memory_order_release);
      }
    } catch (...) {
      failed = true;
      throw;
    }
    if (slot == 0) spin_until([&] { return done.load(std::memory_order_acquire) >= n || failed.load(); });
  });
}
template <class F> void run_items(int64_t n, int threads, const F& work) {
  run_items_slot(n, threads, [&](int64_t i, int) { work(i); });
}

// Per chunk of C, one parallel region runs two kinds of items: first packing (op(A) rows and op(B) columns
// for every k block, in groups of panels), then tiles of C (about mc × nc), each looping over the k blocks
// of the shared packed data. A thread that takes a tile before all packing is finished waits for it; the
// packing items were all taken already by running threads, so this cannot deadlock (and one thread alone
// simply runs them in order). Packed block p of an operand with `len` padded rows holds its panels (stride
// mr × kpad_p elements) at offset len × p × kc elements: all but the last k block have kc = kpad.
void gemm_blocked(const GemmKernel& g, const View& A, const View& B, int64_t M, int64_t N, int64_t K, float alpha,
                  float beta, float* C, int64_t ldc) {
  const int64_t kc = balanced_block(K, g.kc, g.ku), nk = ceil_div(K, kc);
  const int64_t kpad_all = (nk - 1) * kc + round_up(K - (nk - 1) * kc, g.ku), es = g.esize;
  const int64_t mch = std::max<int64_t>(g.mr, pack_cap() / (es * kpad_all) / g.mr * g.mr);
  const int64_t nch = std::max<int64_t>(g.nr, pack_cap() / (es * kpad_all) / g.nr * g.nr);
  int threads = num_threads();
  if (double(M) * double(N) * double(K) < g.par_macs) threads = 1;
  auto kblock = [&](int64_t p, int64_t* kb, int64_t* kpad) {
    *kb = std::min(kc, K - p * kc), *kpad = round_up(*kb, g.ku);
  };
  constexpr int64_t kGroup = 8;  // panels per packing item
  for (int64_t m0 = 0; m0 < M; m0 += mch) {
    const int64_t ml = std::min(mch, M - m0), mpad = round_up(ml, g.mr), pm = mpad / g.mr;
    char* pa = tl_pack_a.get(size_t(mpad * kpad_all * es));
    for (int64_t n0 = 0; n0 < N; n0 += nch) {
      const int64_t nl = std::min(nch, N - n0), npad = round_up(nl, g.nr), pn = npad / g.nr;
      // Tiles of about mc × nc, split further (down to min_split micro-tiles a side) until there are at
      // least four per thread and a multiple of the thread count, so the threads finish together even
      // when a core is shared with other work; then evened out over the extent. Up to 2 mc rows stay one
      // row of tiles, so that B need not be shared (below).
      int64_t tiles_m = ml <= 2 * g.mc ? 1 : ceil_div(ml, g.mc), tiles_n = ceil_div(nl, g.nc);
      auto can_m = [&] { return ceil_div(ml, tiles_m + 1) >= g.min_split * g.mr; };
      auto can_n = [&] { return ceil_div(nl, tiles_n + 1) >= g.min_split * g.nr; };
      while (threads > 1 && (tiles_m * tiles_n < 4 * threads || tiles_m * tiles_n % threads)) {
        bool n_wider = ceil_div(nl, tiles_n) / g.nr >= ceil_div(ml, tiles_m) / g.mr;  // split the longer side
        if (can_n() && (n_wider || !can_m())) tiles_n++;
        else if (can_m()) tiles_m++;
        else break;
      }
      const int64_t tm = round_up(ceil_div(ml, tiles_m), g.mr), tn = round_up(ceil_div(nl, tiles_n), g.nr);
      const int64_t cols = ceil_div(nl, tn), ntiles = ceil_div(ml, tm) * cols;
      // With a single row of tiles (few rows in A) each part of B is used once: the tile packs it into a
      // small per-thread buffer right before use, instead of a round trip through the shared copy.
      const bool b_in_tile = ntiles == cols;
      char* pb = b_in_tile ? nullptr : tl_pack_b.get(size_t(npad * kpad_all * es));
      // Packing items; A is packed once per row chunk and reused for every column chunk.
      const int64_t ga = n0 == 0 ? ceil_div(pm, kGroup) : 0, gb = b_in_tile ? 0 : ceil_div(pn, kGroup);
      const int64_t npack = nk * (ga + gb);
      std::atomic<int64_t> packed{0};
      run_items(npack + ntiles, threads, [&](int64_t it) {
        if (it < npack) {
          int64_t p = it / (ga + gb), q = it % (ga + gb), kb, kpad;
          kblock(p, &kb, &kpad);
          if (q < ga) {
            int64_t r = q * kGroup * g.mr;
            g.pack_a(A, m0 + r, std::min(kGroup * g.mr, ml - r), p * kc, kb, pa + (mpad * p * kc + r * kpad) * es);
          } else {
            int64_t c = (q - ga) * kGroup * g.nr;
            g.pack_b(B, p * kc, kb, n0 + c, std::min(kGroup * g.nr, nl - c), pb + (npad * p * kc + c * kpad) * es);
          }
          packed.fetch_add(1, std::memory_order_release);
          return;
        }
        spin_until([&] { return packed.load(std::memory_order_acquire) == npack; });
        const int64_t t = it - npack, i = t / cols * tm, j = t % cols * tn;
        const int64_t mb = std::min(tm, ml - i), nb = std::min(tn, nl - j);
        char* tile_b = b_in_tile ? tl_tile_b.get(size_t(round_up(nb, g.nr) * round_up(kc, g.ku) * es)) : nullptr;
        for (int64_t p = 0; p < nk; p++) {
          int64_t kb, kpad;
          kblock(p, &kb, &kpad);
          const char* b = tile_b;
          if (b_in_tile) g.pack_b(B, p * kc, kb, n0 + j, nb, tile_b);
          else b = pb + (npad * p * kc + j * kpad) * es;
          g.macro(mb, nb, kb, pa + (mpad * p * kc + i * kpad) * es, b, C + (m0 + i) * ldc + n0 + j, ldc, alpha,
                  p == 0 ? beta : 1.f);
        }
      });
    }
  }
}

// Skinny products: X (rows ≤ 4, × K) times W (K × cols), written to C at C[r * crs + j * ccs].
void gemm_skinny(const GemvKernel& g, const View& X, const View& W, int64_t rows, int64_t cols, int64_t K,
                 float alpha, float beta, float* C, int64_t crs, int64_t ccs) {
  // Gather X's rows contiguously once, in the kernel's input format.
  int64_t kx = round_up(K, 32);
  std::vector<float> xf;
  std::vector<uint16_t> xh;
  const void* x;
  if (g.x_bf16) {  // only offered for bf16 inputs
    xh.assign(size_t(rows * kx), 0);
    const uint16_t* s = static_cast<const uint16_t*>(X.p);
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < K; k++) xh[r * kx + k] = s[r * X.rs + k * X.cs];
    x = xh.data();
  } else {
    xf.assign(size_t(rows * kx), 0.f);
    for (int64_t r = 0; r < rows; r++) {
      float* d = xf.data() + r * kx;
      switch (X.type) {
        case Elem::f32: for (int64_t k = 0; k < K; k++) d[k] = Load<Elem::f32>::at(X.p, r * X.rs + k * X.cs); break;
        case Elem::bf16: for (int64_t k = 0; k < K; k++) d[k] = Load<Elem::bf16>::at(X.p, r * X.rs + k * X.cs); break;
        case Elem::f16: for (int64_t k = 0; k < K; k++) d[k] = Load<Elem::f16>::at(X.p, r * X.rs + k * X.cs); break;
      }
    }
    x = xf.data();
  }
  constexpr int64_t kChunk = 256;  // most columns per kernel call (its y block stays in L1)
  const int64_t wbytes = W.type == Elem::f32 ? 4 : 2, xbytes = g.x_bf16 ? 2 : 4;
  // Threads for more than ~2 MB of weights: below that, waking a sleeping worker costs about as much.
  const int threads = double(cols) * double(K) * double(wbytes) < 2.0e6 ? 1 : num_threads();
  auto store = [&](int64_t r, int64_t j, float v) {
    float* c = C + r * crs + j * ccs;
    *c = beta == 0.f ? alpha * v : alpha * v + beta * *c;
  };
  if (W.rs == 1) {
    // W contiguous along k: blocks of whole columns (~256 KB of W each), handed out dynamically.
    const int64_t block = std::min<int64_t>(kChunk, std::max<int64_t>(16, (int64_t(1) << 18) / (wbytes * K) / 16 * 16));
    run_items(ceil_div(cols, block), threads, [&](int64_t it) {
      alignas(64) float y[4 * kChunk];
      const int64_t j0 = it * block, j1 = std::min(cols, j0 + block);
      g.run(rows, K, x, kx, W, j0, j1, y, kChunk);
      for (int64_t r = 0; r < rows; r++)
        for (int64_t j = j0; j < j1; j++) store(r, j, y[r * kChunk + j - j0]);
    });
    return;
  }
  // W contiguous along j: split k instead, so each item streams whole rows of W (up to 4096 columns) and
  // the hardware prefetchers see long runs; every thread slot sums its items into a private copy of y,
  // added up at the end.
  const int64_t cw = std::min<int64_t>(cols, 4096);
  const int64_t kb = std::max<int64_t>(8, (int64_t(1) << 18) / (wbytes * cw));
  const int64_t nkb = ceil_div(K, kb), ncb = ceil_div(cols, cw), slots = std::min<int64_t>(threads, nkb * ncb);
  std::vector<float> partial(size_t(slots * rows * cols), 0.f), scratch(size_t(slots * rows * cw));
  run_items_slot(nkb * ncb, int(slots), [&](int64_t it, int slot) {
    const int64_t k0 = it / ncb * kb, k1 = std::min(K, k0 + kb);
    const int64_t j0 = it % ncb * cw, j1 = std::min(cols, j0 + cw);
    float* y = scratch.data() + slot * rows * cw;
    View Wk = W;
    Wk.p = static_cast<const char*>(W.p) + k0 * W.rs * wbytes;
    g.run(rows, k1 - k0, static_cast<const char*>(x) + k0 * xbytes, kx, Wk, j0, j1, y, cw);
    float* part = partial.data() + slot * rows * cols;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = j0; j < j1; j++) part[r * cols + j] += y[r * cw + j - j0];
  });
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < cols; j++) {
      float v = 0.f;
      for (int64_t t = 0; t < slots; t++) v += partial[size_t((t * rows + r) * cols + j)];
      store(r, j, v);
    }
}

void check_sizes(const char* fn, int64_t M, int64_t N, int64_t K, bool ta, bool tb, int64_t lda, int64_t ldb,
                 int64_t ldc) {
  if (M < 0 || N < 0 || K < 0) throw std::invalid_argument(std::string(fn) + ": negative matrix size");
  if (M == 0 || N == 0) return;
  if (ldc < N || (K > 0 && (lda < (ta ? M : K) || ldb < (tb ? K : N))))
    throw std::invalid_argument(std::string(fn) + ": leading dimension smaller than the row length");
}

template <class T> void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    T* c = C + i * ldc;
    if (beta == T(0)) std::fill(c, c + N, T(0));
    else if (beta != T(1)) for (int64_t j = 0; j < N; j++) c[j] *= beta;
  }
}

void gemm_any(const char* fn, Elem e, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
              const void* A, int64_t lda, const void* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check_sizes(fn, M, N, K, ta, tb, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) return scale_c(M, N, beta, C, ldc);
  View a = ta ? View{A, 1, lda, e} : View{A, lda, 1, e};
  View b = tb ? View{B, 1, ldb, e} : View{B, ldb, 1, e};
  const Dispatch& d = dispatch();
  // Few rows (LLM decode) or few columns: stream the big operand once instead of packing it.
  if (M <= 4) return gemm_skinny(*d.gemv[int(e)], a, b, M, N, K, alpha, beta, C, ldc, 1);
  if (N <= 4) return gemm_skinny(*d.gemv[int(e)], transposed(b), transposed(a), N, M, K, alpha, beta, C, 1, ldc);
  gemm_blocked(*d.gemm[int(e)], a, b, M, N, K, alpha, beta, C, ldc);
}

}  // namespace

void generic_pack_a_f32(const View& A, int64_t i0, int64_t m, int64_t k0, int64_t k, void* dst, int mr) {
  pack_any(A, i0, m, k0, k, static_cast<float*>(dst), mr);
}
void generic_pack_b_f32(const View& B, int64_t k0, int64_t k, int64_t j0, int64_t n, void* dst, int nr) {
  pack_any(transposed(B), j0, n, k0, k, static_cast<float*>(dst), nr);
}

// Without the ISA files (non-x86 builds) these weak stand-ins report "not available".
__attribute__((weak)) const GemmKernel* avx2_gemm(Elem) { return nullptr; }
__attribute__((weak)) const GemmKernel* avx512_gemm(Elem) { return nullptr; }
__attribute__((weak)) const GemmKernel* avx512_dpbf16_gemm() { return nullptr; }
__attribute__((weak)) const GemmKernel* amx_gemm() { return nullptr; }
__attribute__((weak)) const GemvKernel* avx2_gemv(Elem) { return nullptr; }
__attribute__((weak)) const GemvKernel* avx512_gemv(Elem) { return nullptr; }
__attribute__((weak)) const GemmKernel* neon_gemm(Elem) { return nullptr; }
__attribute__((weak)) const GemvKernel* neon_gemv(Elem) { return nullptr; }

}  // namespace gemm_detail

using namespace gemm_detail;

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_any("sgemm", Elem::f32, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
               int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_any("gemm_bf16", Elem::bf16, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm_f16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
              int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_any("gemm_f16", Elem::f16, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_kernel_name() { return dispatch().name.c_str(); }

// Double precision serves gradient checks: a cache-blocked row-update loop (vectorises over j), threaded
// over rows of C, with op(B) copied row-major first when it is stored transposed.
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  check_sizes("dgemm", M, N, K, trans_a, trans_b, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0) return scale_c(M, N, beta, C, ldc);
  std::vector<double> bt;
  if (trans_b) {
    bt.resize(size_t(K * N));
    for (int64_t j = 0; j < N; j++)
      for (int64_t k = 0; k < K; k++) bt[k * N + j] = B[j * ldb + k];
    B = bt.data(), ldb = N;
  }
  constexpr int64_t kKB = 128, kNB = 1024;
  // Rows per thread chunk: at least ~4M multiply-adds, so small products stay on one thread.
  size_t grain = size_t(std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(1, N * K)));
  parallel_for(size_t(M), grain, [&](size_t i0, size_t i1) {
    scale_c(int64_t(i1 - i0), N, beta, C + int64_t(i0) * ldc, ldc);
    for (int64_t j0 = 0; j0 < N; j0 += kNB) {
      int64_t j1 = std::min(N, j0 + kNB);
      for (int64_t k0 = 0; k0 < K; k0 += kKB) {
        int64_t k1 = std::min(K, k0 + kKB);
        for (int64_t i = int64_t(i0); i < int64_t(i1); i++) {
          double* c = C + i * ldc;
          for (int64_t k = k0; k < k1; k++) {
            double a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
            const double* b = B + k * ldb;
            for (int64_t j = j0; j < j1; j++) c[j] += a * b[j];
          }
        }
      }
    }
  });
}

}  // namespace hearth::cpu
