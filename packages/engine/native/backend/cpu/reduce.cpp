// CPU reductions. Two loop orders: when the innermost input axis is reduced, each output element reduces
// a run; when it is kept, whole rows are accumulated into a vector of outputs so reads stay sequential.
#include <cmath>

#include "core/ops/reduce.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace {

template <class T> struct Acc { using type = typename Num<T>::C; };
template <> struct Acc<bool> { using type = bool; };

template <ReduceOp OP, class A> inline A identity() {
  if constexpr (OP == ReduceOp::sum) return A(0);
  else if constexpr (OP == ReduceOp::prod) return A(1);
  else if constexpr (OP == ReduceOp::all) return A(1);
  else if constexpr (OP == ReduceOp::any) return A(0);
  else if constexpr (OP == ReduceOp::max) {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  } else {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
}

template <ReduceOp OP, class A> inline A combine(A acc, A v) {
  if constexpr (OP == ReduceOp::sum) return A(acc + v);
  else if constexpr (OP == ReduceOp::prod) return A(acc * v);
  else if constexpr (OP == ReduceOp::all) return A(acc && v);
  else if constexpr (OP == ReduceOp::any) return A(acc || v);
  else if constexpr (OP == ReduceOp::max) {
    if constexpr (std::is_floating_point_v<A>) return (acc != acc || v != v) ? A(NAN) : (v > acc ? v : acc);
    else return v > acc ? v : acc;
  } else {
    if constexpr (std::is_floating_point_v<A>) return (acc != acc || v != v) ? A(NAN) : (v < acc ? v : acc);
    else return v < acc ? v : acc;
  }
}

// Walks the reduced axes' multi-index; calls fn(offset) for each run start of the innermost reduced axis.
struct Odometer {
  Shape shape;
  Strides strides;
  template <class F> void runs(int64_t base, F&& fn) const {
    int nd = int(shape.size());
    if (nd == 0) { fn(base); return; }
    int64_t outer = 1;
    for (int d = 0; d < nd - 1; d++) outer *= shape[d];
    std::vector<int64_t> idx(nd, 0);
    int64_t off = base;
    for (int64_t r = 0; r < outer; r++) {
      fn(off);
      for (int d = nd - 2; d >= 0; d--) {
        idx[d]++;
        off += strides[d];
        if (idx[d] < shape[d]) break;
        off -= idx[d] * strides[d];
        idx[d] = 0;
      }
    }
  }
};

template <ReduceOp OP, class T> void reduce_kernel(const Array& in, Array& out, const std::vector<int>& axes) {
  using A = typename Acc<T>::type;
  using O = T;
  const T* x = in.data<T>();
  O* y = out.data<O>();
  int nd = in.ndim();
  std::vector<bool> reduced(nd, false);
  for (int a : axes) reduced[a] = true;
  Odometer red;  // the reduced axes, in input order
  Shape kshape;
  Strides kstrides;
  for (int d = 0; d < nd; d++) {
    if (reduced[d]) { red.shape.push_back(in.shape(d)); red.strides.push_back(in.strides()[d]); }
    else { kshape.push_back(in.shape(d)); kstrides.push_back(in.strides()[d]); }
  }
  int64_t nout = out.size();
  if (nout == 0) return;
  bool last_kept = nd > 0 && !reduced[nd - 1] && in.strides()[nd - 1] == 1 && in.shape(nd - 1) > 1;
  if (last_kept) {
    // out viewed as [P, J]: accumulate whole contiguous rows of J.
    int64_t J = in.shape(nd - 1), P = nout / J;
    Shape pshape(kshape.begin(), kshape.end() - 1);
    Strides pstrides(kstrides.begin(), kstrides.end() - 1);
    Odometer walk = red;
    walk.shape.push_back(1);  // the run callback fires once per reduced multi-index
    walk.strides.push_back(0);
    parallel_for(size_t(P), size_t(std::max<int64_t>(1, 4096 / J)), [&](size_t b, size_t e) {
      std::vector<A> acc(J);
      for (size_t p = b; p < e; p++) {
        int64_t base = strided_offset(int64_t(p), pshape, pstrides);
        std::fill(acc.begin(), acc.end(), identity<OP, A>());
        walk.runs(base, [&](int64_t off) {
          const T* row = x + off;
          for (int64_t j = 0; j < J; j++) acc[j] = combine<OP, A>(acc[j], A(Num<T>::load(row[j])));
        });
        for (int64_t j = 0; j < J; j++) y[int64_t(p) * J + j] = Num<O>::store(typename Num<O>::C(acc[j]));
      }
    });
    return;
  }
  int64_t inner = red.shape.empty() ? 1 : red.shape.back();
  int64_t istride = red.strides.empty() ? 0 : red.strides.back();
  int64_t total_red = 1;
  for (auto s : red.shape) total_red *= s;
  parallel_for(size_t(nout), size_t(std::max<int64_t>(1, 32768 / std::max<int64_t>(1, total_red))),
               [&](size_t b, size_t e) {
    for (size_t o = b; o < e; o++) {
      int64_t base = strided_offset(int64_t(o), kshape, kstrides);
      // Several partial accumulators: better float accuracy and lets the loop vectorise.
      A acc[8];
      for (auto& v : acc) v = identity<OP, A>();
      red.runs(base, [&](int64_t off) {
        const T* run = x + off;
        int64_t i = 0;
        if (istride == 1)
          for (; i + 8 <= inner; i += 8)
            for (int k = 0; k < 8; k++) acc[k] = combine<OP, A>(acc[k], A(Num<T>::load(run[i + k])));
        for (; i < inner; i++) acc[0] = combine<OP, A>(acc[0], A(Num<T>::load(run[i * istride])));
      });
      A r = acc[0];
      for (int k = 1; k < 8; k++) r = combine<OP, A>(r, acc[k]);
      y[o] = Num<O>::store(typename Num<O>::C(r));
    }
  });
}

template <ReduceOp OP> void reduce_dispatch(const Array& in, Array& out, const std::vector<int>& axes) {
  HEARTH_DISPATCH_ALL(in.dtype(), reduce_kernel<OP, T>(in, out, axes));
}

template <class T> void arg_kernel(const Array& in, Array& out, int axis, bool is_max) {
  using C = typename Num<T>::C;
  const T* x = in.data<T>();
  uint32_t* y = out.data<uint32_t>();
  Shape kshape = in.shape();
  Strides kstrides = in.strides();
  int64_t len = in.shape(axis), st = in.strides()[axis];
  kshape.erase(kshape.begin() + axis);
  kstrides.erase(kstrides.begin() + axis);
  parallel_for(size_t(out.size()), size_t(std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1))),
               [&](size_t b, size_t e) {
    for (size_t o = b; o < e; o++) {
      const T* run = x + strided_offset(int64_t(o), kshape, kstrides);
      C best = Num<T>::load(run[0]);
      uint32_t bi = 0;
      for (int64_t i = 1; i < len; i++) {
        if constexpr (std::is_floating_point_v<C>)
          if (best != best) break;  // the first NaN wins, as in NumPy
        C v = Num<T>::load(run[i * st]);
        bool better = is_max ? v > best : v < best;
        if constexpr (std::is_floating_point_v<C>) better = better || v != v;
        if (better) { best = v; bi = uint32_t(i); }
      }
      y[o] = bi;
    }
  });
}

}  // namespace

void Reduce::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  switch (op_) {
    case ReduceOp::sum: reduce_dispatch<ReduceOp::sum>(in[0], out, axes_); break;
    case ReduceOp::prod: reduce_dispatch<ReduceOp::prod>(in[0], out, axes_); break;
    case ReduceOp::max: reduce_dispatch<ReduceOp::max>(in[0], out, axes_); break;
    case ReduceOp::min: reduce_dispatch<ReduceOp::min>(in[0], out, axes_); break;
    case ReduceOp::all: reduce_dispatch<ReduceOp::all>(in[0], out, axes_); break;
    case ReduceOp::any: reduce_dispatch<ReduceOp::any>(in[0], out, axes_); break;
  }
}

void ArgReduce::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  HEARTH_DISPATCH_ALL(in[0].dtype(), arg_kernel<T>(in[0], out, axis_, is_max_));
}

}  // namespace hearth
