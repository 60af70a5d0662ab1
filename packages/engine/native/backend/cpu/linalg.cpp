// Matmul, addmm and convolutions on the CPU. Every product is a call to the GEMM kernels (gemm.h) on
// strided views where possible, so transposed inputs (the common case in gradients) need no copy.
// Convolutions: im2col (or col2im for the input gradient) in row chunks of bounded size + one GEMM per
// chunk and group; depthwise convolutions (one input channel per group) use direct loops instead.
#include <cstring>

#include "backend/cpu/gemm.h"
#include "core/ops/layout.h"
#include "core/ops/linalg.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace {

// ---- shared helpers -------------------------------------------------------------------------------------

bool is_half(Dtype t) { return t == Dtype::bfloat16 || t == Dtype::float16; }

// C = alpha * op(A) op(B) + beta * C for any float dtype. A and B hold elements of `t` (half types as raw
// bits); C is the accumulator type: double for float64, float otherwise.
void gemm_any(Dtype t, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,
              const void* B, int64_t ldb, double beta, void* C, int64_t ldc) {
  switch (t) {
    case Dtype::float32:
      sgemm(ta, tb, M, N, K, float(alpha), static_cast<const float*>(A), lda, static_cast<const float*>(B), ldb,
            float(beta), static_cast<float*>(C), ldc);
      break;
    case Dtype::float64:
      dgemm(ta, tb, M, N, K, alpha, static_cast<const double*>(A), lda, static_cast<const double*>(B), ldb, beta,
            static_cast<double*>(C), ldc);
      break;
    case Dtype::bfloat16: case Dtype::float16:
      (t == Dtype::bfloat16 ? gemm_bf16 : gemm_f16)(ta, tb, M, N, K, float(alpha), static_cast<const uint16_t*>(A),
                                                     lda, static_cast<const uint16_t*>(B), ldb, float(beta),
                                                     static_cast<float*>(C), ldc);
      break;
    default: throw std::invalid_argument(std::string("[gemm] unsupported dtype ") + dtype_name(t));
  }
}

// float accumulators -> half storage, threaded.
void store_half(Dtype t, const float* src, uint16_t* dst, int64_t n) {
  parallel_for(size_t(n), 1 << 16, [&](size_t b, size_t e) {
    if (t == Dtype::bfloat16) for (size_t i = b; i < e; i++) dst[i] = float_to_bf16(src[i]);
    else for (size_t i = b; i < e; i++) dst[i] = float_to_f16(src[i]);
  });
}

Array dense(const Array& a) {
  if (a.contiguous()) return a;
  Array c = Array::empty(a.shape(), a.dtype());
  copy_into(a, c);
  return c;
}

// ---- matmul / addmm -------------------------------------------------------------------------------------

// How a [rows, cols] matrix with these strides can be passed to GEMM: row-major (ld = row stride) or
// transposed (column-major, ld = column stride). Anything else needs a contiguous copy.
struct MatView { bool trans; int64_t ld; bool ok; };
MatView classify(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if ((cs == 1 || cols == 1) && (rs >= cols || rows == 1)) return {false, rows == 1 ? std::max<int64_t>(cols, 1) : rs, true};
  if ((rs == 1 || rows == 1) && (cs >= rows || cols == 1)) return {true, cols == 1 ? std::max<int64_t>(rows, 1) : cs, true};
  return {false, 0, false};
}

Array make_gemmable(const Array& x) {
  int nd = x.ndim();
  MatView v = classify(x.shape(-2), x.shape(-1), x.strides()[nd - 2], x.strides()[nd - 1]);
  if (v.ok) return x;
  Array c = Array::empty(x.shape(), x.dtype());
  copy_into(x, c);
  return c;
}

// out[i] = alpha * a[i] @ b[i] + beta * c[i] over the batch; `c` (already broadcast to out's shape) may be
// null, then beta is ignored. Half types accumulate in a float32 buffer converted once at the end.
void batched_gemm(const Array& a_in, const Array& b_in, const Array* c, double alpha, double beta, Array& out) {
  out.allocate();
  if (out.size() == 0) return;
  Array a = make_gemmable(a_in), b = make_gemmable(b_in);
  const int nd = out.ndim();
  const int64_t M = out.shape(-2), N = out.shape(-1), K = a.shape(-1), batch = out.size() / (M * N);
  const Dtype t = out.dtype();
  const MatView va = classify(M, K, a.strides()[nd - 2], a.strides()[nd - 1]);
  const MatView vb = classify(K, N, b.strides()[nd - 2], b.strides()[nd - 1]);
  const Shape bshape(out.shape().begin(), out.shape().end() - 2);
  const Strides bsa(a.strides().begin(), a.strides().end() - 2), bsb(b.strides().begin(), b.strides().end() - 2);
  const bool half = is_half(t);
  Array acc = half ? Array::empty(out.shape(), Dtype::float32) : out;  // the GEMM's C, row-major
  if (c) copy_into(*c, acc);
  const double b_eff = c ? beta : 0.0;
  const size_t es = size_of(t), cs = half ? 4 : es;
  char* cbase = acc.data<char>();
  const char* abase = K > 0 ? a.data<char>() : nullptr;
  const char* bbase = K > 0 ? b.data<char>() : nullptr;
  auto item = [&](int64_t i) {
    int64_t oa = strided_offset(i, bshape, bsa), ob = strided_offset(i, bshape, bsb);
    gemm_any(t, va.trans, vb.trans, M, N, K, alpha, abase ? abase + oa * es : nullptr, va.ld,
             bbase ? bbase + ob * es : nullptr, vb.ld, b_eff, cbase + i * M * N * cs, N);
  };
  // Many small products (attention heads, tiny batches): split the batch over threads; a big product
  // threads inside the GEMM instead.
  const double work = double(M) * double(N) * double(std::max<int64_t>(K, 1));
  if (batch > 1 && work < double(1 << 20)) {
    parallel_for(size_t(batch), size_t(std::max(1.0, double(1 << 20) / work)), [&](size_t s, size_t e) {
      for (size_t i = s; i < e; i++) item(int64_t(i));
    });
  } else {
    for (int64_t i = 0; i < batch; i++) item(i);
  }
  if (half) store_half(t, acc.data<float>(), out.data<uint16_t>(), out.size());
}

// ---- convolution geometry -------------------------------------------------------------------------------

// Shapes of one convolution and, per spatial dim, the input coordinate that output o and kernel tap k read
// (-1 where that is padding or a hole of the input dilation).
struct ConvGeom {
  int D = 0;
  int64_t N = 0, C = 0, O = 0, G = 1, Cg = 0, Og = 0;
  int64_t P = 1, S = 1, Kp = 1, KC = 0;  // output positions, input positions, kernel taps, Kp * Cg
  Shape in_sp, k_sp, out_sp;
  std::vector<std::vector<int64_t>> tab;   // tab[d][o * K_d + k]
  std::vector<int64_t> ktap;               // Kp x D kernel coordinates
  Strides in_row;                          // row-major strides of the input's spatial dims (for dense dx)
  bool holes = false;                      // some taps read padding or input-dilation holes
};

ConvGeom make_geom(const Shape& xs, const Shape& ws, const Shape& ys, const ConvParams& p) {
  ConvGeom g;
  g.D = int(xs.size()) - 2;
  g.N = xs[0], g.C = xs.back(), g.O = ws[0], g.G = p.groups, g.Cg = ws.back(), g.Og = g.O / g.G;
  g.tab.resize(g.D);
  for (int d = 0; d < g.D; d++) {
    int64_t s = xs[1 + d], k = ws[1 + d], o = ys[1 + d];
    g.in_sp.push_back(s), g.k_sp.push_back(k), g.out_sp.push_back(o);
    g.P *= o, g.S *= s, g.Kp *= k;
    auto& t = g.tab[d];
    t.resize(size_t(o * k));
    for (int64_t oi = 0; oi < o; oi++)
      for (int64_t ki = 0; ki < k; ki++) {
        int64_t kk = p.flip ? k - 1 - ki : ki;
        int64_t pos = oi * p.stride[d] + kk * p.kernel_dilation[d] - p.pad_lo[d];
        int64_t idl = p.input_dilation[d];
        bool ok = pos >= 0 && pos % idl == 0 && pos / idl < s;
        t[size_t(oi * k + ki)] = ok ? pos / idl : -1;
        g.holes = g.holes || !ok;
      }
  }
  g.KC = g.Kp * g.Cg;
  g.ktap.resize(size_t(g.Kp * g.D));
  for (int64_t kp = 0; kp < g.Kp; kp++) {
    int64_t r = kp;
    for (int d = g.D - 1; d >= 0; d--) g.ktap[size_t(kp * g.D + d)] = r % g.k_sp[d], r /= g.k_sp[d];
  }
  g.in_row = row_major_strides(g.in_sp);
  return g;
}

// Walks the rows [r0, r1) of the im2col matrix (row = image n, output position p) and calls
// fn(row, n, kp, spatial offset) for every kernel tap that lands inside the input, where the offset is
// Σ i_d * sp_strides[d] for the input coordinates i; then row_done(row).
struct NoRowHook { void operator()(int64_t) const {} };
template <class F, class H = NoRowHook>
void for_each_tap(const ConvGeom& g, int64_t r0, int64_t r1, const int64_t* sp_strides, F&& fn, H&& row_done = H()) {
  std::vector<int64_t> oc(g.D);
  std::vector<const int64_t*> rowtab(g.D);
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / g.P, p = r % g.P;
    for (int d = g.D - 1; d >= 0; d--) oc[d] = p % g.out_sp[d], p /= g.out_sp[d];
    for (int d = 0; d < g.D; d++) rowtab[d] = g.tab[d].data() + oc[d] * g.k_sp[d];
    for (int64_t kp = 0; kp < g.Kp; kp++) {
      const int64_t* kc = g.ktap.data() + kp * g.D;
      int64_t off = 0;
      bool ok = true;
      for (int d = 0; d < g.D; d++) {
        int64_t i = rowtab[d][kc[d]];
        if (i < 0) { ok = false; break; }
        off += i * sp_strides[d];
      }
      if (ok) fn(r, n, kp, off);
    }
    row_done(r);
  }
}

// col[(r - r0), kp * Cg + c] = x[n, in(p, kp), grp * Cg + c] (0 outside the input). E: storage element.
template <class E>
void im2col(const ConvGeom& g, const Array& x, int64_t grp, int64_t r0, int64_t r1, E* col) {
  const Strides& xs = x.strides();
  const int64_t cs = xs.back(), ns = xs[0], Cg = g.Cg, KC = g.KC;
  const E* base = x.data<E>() + grp * Cg * cs;
  const int64_t* sps = xs.data() + 1;
  size_t grain = size_t(std::max<int64_t>(1, 8192 / std::max<int64_t>(KC, 1)));
  parallel_for(size_t(r1 - r0), grain, [&](size_t b, size_t e) {
    int64_t rb = r0 + int64_t(b), re = r0 + int64_t(e);
    if (g.holes) std::memset(col + (rb - r0) * KC, 0, size_t((re - rb) * KC) * sizeof(E));
    for_each_tap(g, rb, re, sps, [&](int64_t r, int64_t n, int64_t kp, int64_t off) {
      const E* src = base + n * ns + off;
      E* dst = col + (r - r0) * KC + kp * Cg;
      if (cs == 1) std::memcpy(dst, src, size_t(Cg) * sizeof(E));
      else for (int64_t c = 0; c < Cg; c++) dst[c] = src[c * cs];
    });
  });
}

// dx[n, in(p, kp), grp * Cg + c] += col[(r - r0), kp * Cg + c]; dx is dense [N, S..., C]. Images are
// disjoint in dx, so they split over threads; within one image, channel blocks do.
template <class A>
void col2im(const ConvGeom& g, const A* col, int64_t grp, int64_t r0, int64_t r1, A* dx) {
  const int64_t Cg = g.Cg, KC = g.KC, C = g.C;
  const int64_t n0 = r0 / g.P, n1 = (r1 - 1) / g.P + 1;
  auto run = [&](int64_t rb, int64_t re, int64_t c0, int64_t c1) {
    for_each_tap(g, rb, re, g.in_row.data(), [&](int64_t r, int64_t n, int64_t kp, int64_t off) {
      const A* src = col + (r - r0) * KC + kp * Cg;
      A* dst = dx + (n * g.S + off) * C + grp * Cg;
      for (int64_t c = c0; c < c1; c++) dst[c] += src[c];
    });
  };
  if (n1 - n0 >= 2) {
    parallel_for(size_t(n1 - n0), 1, [&](size_t b, size_t e) {
      run(std::max(r0, (n0 + int64_t(b)) * g.P), std::min(r1, (n0 + int64_t(e)) * g.P), 0, Cg);
    });
  } else if (Cg >= 64) {
    const int64_t blocks = Cg / 32;
    parallel_for(size_t(blocks), 1, [&](size_t b, size_t e) {
      run(r0, r1, int64_t(b) * Cg / blocks, int64_t(e) * Cg / blocks);
    });
  } else {
    run(r0, r1, 0, Cg);
  }
}

// Rows per im2col chunk: about 4M elements of columns, at least one row.
int64_t chunk_rows(const ConvGeom& g) {
  return std::max<int64_t>(1, std::min<int64_t>(g.N * g.P, (int64_t(1) << 22) / std::max<int64_t>(g.KC, 1)));
}

// ---- convolution: im2col + GEMM -------------------------------------------------------------------------

template <class E>
void conv_forward(const ConvGeom& g, const Array& x, const Array& w_in, Array& out) {
  const Dtype t = out.dtype();
  const bool half = is_half(t);
  using A = std::conditional_t<std::is_same_v<E, double>, double, float>;
  Array w = dense(w_in);
  const int64_t rows = g.N * g.P, R = chunk_rows(g), O = g.O;
  std::vector<E> col(size_t(R * g.KC));
  std::vector<float> tmp(half ? size_t(R * O) : 0);
  for (int64_t r0 = 0; r0 < rows; r0 += R) {
    const int64_t r1 = std::min(rows, r0 + R), m = r1 - r0;
    A* y = half ? reinterpret_cast<A*>(tmp.data()) : out.data<A>() + r0 * O;
    for (int64_t grp = 0; grp < g.G; grp++) {
      im2col<E>(g, x, grp, r0, r1, col.data());
      gemm_any(t, false, true, m, g.Og, g.KC, 1.0, col.data(), g.KC, w.data<E>() + grp * g.Og * g.KC, g.KC, 0.0,
               y + grp * g.Og, O);
    }
    if (half) store_half(t, tmp.data(), out.data<uint16_t>() + r0 * O, m * O);
  }
}

template <class E>
void conv_grad_weight(const ConvGeom& g, const Array& x, const Array& dy_in, Array& out) {
  const Dtype t = out.dtype();
  const bool half = is_half(t);
  using A = std::conditional_t<std::is_same_v<E, double>, double, float>;
  Array dy = dense(dy_in);
  const int64_t rows = g.N * g.P, R = chunk_rows(g), O = g.O;
  std::vector<E> col(size_t(R * g.KC));
  std::vector<float> tmp(half ? size_t(out.size()) : 0);
  A* dw = half ? reinterpret_cast<A*>(tmp.data()) : out.data<A>();
  if (rows == 0) std::fill(dw, dw + out.size(), A(0));
  for (int64_t r0 = 0; r0 < rows; r0 += R) {
    const int64_t r1 = std::min(rows, r0 + R), m = r1 - r0;
    for (int64_t grp = 0; grp < g.G; grp++) {
      im2col<E>(g, x, grp, r0, r1, col.data());
      gemm_any(t, true, false, g.Og, g.KC, m, 1.0, dy.data<E>() + r0 * O + grp * g.Og, O, col.data(), g.KC,
               r0 == 0 ? 0.0 : 1.0, dw + grp * g.Og * g.KC, g.KC);
    }
  }
  if (half) store_half(t, tmp.data(), out.data<uint16_t>(), out.size());
}

template <class E>
void conv_grad_input(const ConvGeom& g, const Array& dy_in, const Array& w_in, Array& out) {
  const Dtype t = out.dtype();
  const bool half = is_half(t);
  using A = std::conditional_t<std::is_same_v<E, double>, double, float>;
  Array dy = dense(dy_in), w = dense(w_in);
  const int64_t rows = g.N * g.P, R = chunk_rows(g), O = g.O;
  std::vector<A> colg(size_t(R * g.KC));
  std::vector<float> tmp(half ? size_t(out.size()) : 0);
  A* dx = half ? reinterpret_cast<A*>(tmp.data()) : out.data<A>();
  std::fill(dx, dx + out.size(), A(0));
  for (int64_t r0 = 0; r0 < rows; r0 += R) {
    const int64_t r1 = std::min(rows, r0 + R), m = r1 - r0;
    for (int64_t grp = 0; grp < g.G; grp++) {
      gemm_any(t, false, false, m, g.KC, g.Og, 1.0, dy.data<E>() + r0 * O + grp * g.Og, O,
               w.data<E>() + grp * g.Og * g.KC, g.KC, 0.0, colg.data(), g.KC);
      col2im<A>(g, colg.data(), grp, r0, r1, dx);
    }
  }
  if (half) store_half(t, tmp.data(), out.data<uint16_t>(), out.size());
}

// ---- depthwise convolution (C/G == 1): direct loops, output channel o reads input channel o / mult ----

template <class T> using Acc = typename std::conditional_t<std::is_same_v<T, double>, double, float>;

template <class T>
void depthwise_forward(const ConvGeom& g, const Array& x, const Array& w_in, Array& out) {
  using A = Acc<T>;
  const int64_t O = g.O, mult = g.Og, Kp = g.Kp, cs = x.strides().back(), ns = x.strides()[0];
  Array w = dense(w_in);
  std::vector<A> wt(size_t(Kp * O));  // [Kp, O] so the inner loop runs over contiguous channels
  for (int64_t o = 0; o < O; o++)
    for (int64_t k = 0; k < Kp; k++) wt[size_t(k * O + o)] = A(Num<T>::load(w.data<T>()[o * Kp + k]));
  const T* xb = x.data<T>();
  T* y = out.data<T>();
  size_t grain = size_t(std::max<int64_t>(1, 4096 / std::max<int64_t>(Kp * O, 1)));
  parallel_for(size_t(g.N * g.P), grain, [&](size_t b, size_t e) {
    std::vector<A> acc(size_t(O), A(0));
    for_each_tap(
        g, int64_t(b), int64_t(e), x.strides().data() + 1,
        [&](int64_t, int64_t n, int64_t kp, int64_t off) {
          const T* xp = xb + n * ns + off;
          const A* wk = wt.data() + kp * O;
          if (mult == 1 && cs == 1) for (int64_t o = 0; o < O; o++) acc[o] += A(Num<T>::load(xp[o])) * wk[o];
          else for (int64_t o = 0; o < O; o++) acc[o] += A(Num<T>::load(xp[(o / mult) * cs])) * wk[o];
        },
        [&](int64_t r) {
          for (int64_t o = 0; o < O; o++) y[r * O + o] = Num<T>::store(typename Num<T>::C(acc[o])), acc[o] = A(0);
        });
  });
}

// Channels per work item of the depthwise gradients: a few items per thread, vector-friendly sizes.
int64_t channel_block(int64_t C) {
  int64_t b = (C + 2 * num_threads() - 1) / (2 * num_threads());
  return std::min<int64_t>(C, std::max<int64_t>(16, std::min<int64_t>(256, (b + 15) / 16 * 16)));
}

// Work items (image, channel block) write disjoint parts of dx.
template <class T>
void depthwise_grad_input(const ConvGeom& g, const Array& dy_in, const Array& w_in, Array& out) {
  using A = Acc<T>;
  const int64_t O = g.O, C = g.C, mult = g.Og, Kp = g.Kp;
  Array dy = dense(dy_in), w = dense(w_in);
  std::vector<A> wt(size_t(Kp * O)), dx(size_t(out.size()), A(0));  // wt: [Kp, O]
  for (int64_t o = 0; o < O; o++)
    for (int64_t k = 0; k < Kp; k++) wt[size_t(k * O + o)] = A(Num<T>::load(w.data<T>()[o * Kp + k]));
  const T* d = dy.data<T>();
  const int64_t cb = channel_block(C), nb = (C + cb - 1) / cb;
  parallel_for(size_t(g.N * nb), 1, [&](size_t b, size_t e) {
    for (size_t item = b; item < e; item++) {
      const int64_t n = int64_t(item) / nb, c0 = int64_t(item) % nb * cb, c1 = std::min(C, c0 + cb);
      for_each_tap(g, n * g.P, (n + 1) * g.P, g.in_row.data(), [&](int64_t r, int64_t, int64_t kp, int64_t off) {
        A* dst = dx.data() + (n * g.S + off) * C;
        const T* src = d + r * O;
        const A* wk = wt.data() + kp * O;
        if (mult == 1) {
          for (int64_t c = c0; c < c1; c++) dst[c] += A(Num<T>::load(src[c])) * wk[c];
        } else {
          for (int64_t c = c0; c < c1; c++)
            for (int64_t j = c * mult; j < (c + 1) * mult; j++) dst[c] += A(Num<T>::load(src[j])) * wk[j];
        }
      });
    }
  });
  T* o = out.data<T>();
  for (int64_t i = 0; i < out.size(); i++) o[i] = Num<T>::store(typename Num<T>::C(dx[size_t(i)]));
}

// Work items (output channel blocks) own disjoint rows of dw; each sums into a local [Kp, block] buffer.
template <class T>
void depthwise_grad_weight(const ConvGeom& g, const Array& x, const Array& dy_in, Array& out) {
  using A = Acc<T>;
  const int64_t O = g.O, mult = g.Og, Kp = g.Kp, cs = x.strides().back(), ns = x.strides()[0];
  Array dy = dense(dy_in);
  std::vector<A> dw(size_t(O * Kp), A(0));
  const T* d = dy.data<T>();
  const T* xb = x.data<T>();
  const int64_t ob = channel_block(O), nb = (O + ob - 1) / ob;
  parallel_for(size_t(nb), 1, [&](size_t b, size_t e) {
    std::vector<A> local(size_t(Kp * ob));
    for (size_t item = b; item < e; item++) {
      const int64_t o0 = int64_t(item) * ob, o1 = std::min(O, o0 + ob), len = o1 - o0;
      std::fill(local.begin(), local.end(), A(0));
      for_each_tap(g, 0, g.N * g.P, x.strides().data() + 1, [&](int64_t r, int64_t n, int64_t kp, int64_t off) {
        const T* xp = xb + n * ns + off;
        const T* src = d + r * O + o0;
        A* acc = local.data() + kp * len;
        if (mult == 1 && cs == 1) {
          const T* xo = xp + o0;
          for (int64_t i = 0; i < len; i++) acc[i] += A(Num<T>::load(src[i])) * A(Num<T>::load(xo[i]));
        } else {
          for (int64_t i = 0; i < len; i++) acc[i] += A(Num<T>::load(src[i])) * A(Num<T>::load(xp[((o0 + i) / mult) * cs]));
        }
      });
      for (int64_t k = 0; k < Kp; k++)
        for (int64_t i = 0; i < len; i++) dw[size_t((o0 + i) * Kp + k)] = local[size_t(k * len + i)];
    }
  });
  T* o = out.data<T>();
  for (int64_t i = 0; i < out.size(); i++) o[i] = Num<T>::store(typename Num<T>::C(dw[size_t(i)]));
}

}  // namespace

void Matmul::eval_cpu(const std::vector<Array>& in, Array& out) { batched_gemm(in[0], in[1], nullptr, 1.0, 0.0, out); }

void AddMM::eval_cpu(const std::vector<Array>& in, Array& out) { batched_gemm(in[1], in[2], &in[0], alpha_, beta_, out); }

void Convolution::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  // Shapes of (x, w, y) for this mode's (inputs, output).
  const Array *x = nullptr, *w = nullptr, *y = nullptr;
  switch (mode_) {
    case ConvMode::forward: x = &in[0], w = &in[1], y = &out; break;
    case ConvMode::grad_input: x = &out, w = &in[1], y = &in[0]; break;
    case ConvMode::grad_weight: x = &in[0], w = &out, y = &in[1]; break;
  }
  ConvGeom g = make_geom(x->shape(), w->shape(), y->shape(), p_);
  if (out.size() == 0) return;
  const Dtype t = out.dtype();
  if (g.Cg == 1 && g.G > 1) {  // depthwise
    HEARTH_DISPATCH_FLOAT(t, {
      switch (mode_) {
        case ConvMode::forward: depthwise_forward<T>(g, in[0], in[1], out); break;
        case ConvMode::grad_input: depthwise_grad_input<T>(g, in[0], in[1], out); break;
        case ConvMode::grad_weight: depthwise_grad_weight<T>(g, in[0], in[1], out); break;
      }
    });
    return;
  }
  auto run = [&](auto tag) {
    using E = decltype(tag);
    switch (mode_) {
      case ConvMode::forward: conv_forward<E>(g, in[0], in[1], out); break;
      case ConvMode::grad_input: conv_grad_input<E>(g, in[0], in[1], out); break;
      case ConvMode::grad_weight: conv_grad_weight<E>(g, in[0], in[1], out); break;
    }
  };
  switch (t) {
    case Dtype::float32: run(float{}); break;
    case Dtype::float64: run(double{}); break;
    case Dtype::bfloat16: case Dtype::float16: run(uint16_t{}); break;
    default: throw std::invalid_argument(std::string("[conv] unsupported dtype ") + dtype_name(t));
  }
}

}  // namespace hearth
