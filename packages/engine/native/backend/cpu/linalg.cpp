// Matmul on the CPU: each batch item is one GEMM call on strided views, so transposed inputs (the common
// case in gradients) need no copy.
#include "backend/cpu/gemm.h"
#include "core/ops/layout.h"
#include "core/ops/linalg.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace {

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

}  // namespace

void Matmul::eval_cpu(const std::vector<Array>& in, Array& out) {
  Array a = make_gemmable(in[0]), b = make_gemmable(in[1]);
  out.allocate();
  int nd = out.ndim();
  int64_t M = out.shape(-2), N = out.shape(-1), K = a.shape(-1);
  int64_t batch = out.size() / std::max<int64_t>(M * N, 1);
  if (out.size() == 0) return;
  MatView va = classify(M, K, a.strides()[nd - 2], a.strides()[nd - 1]);
  MatView vb = classify(K, N, b.strides()[nd - 2], b.strides()[nd - 1]);
  Shape bshape(out.shape().begin(), out.shape().end() - 2);
  Strides bsa(a.strides().begin(), a.strides().end() - 2), bsb(b.strides().begin(), b.strides().end() - 2);
  Dtype t = out.dtype();
  std::vector<float> tmp;
  if ((t == Dtype::bfloat16 || t == Dtype::float16)) tmp.resize(size_t(M * N));
  for (int64_t i = 0; i < batch; i++) {
    int64_t oa = strided_offset(i, bshape, bsa), ob = strided_offset(i, bshape, bsb);
    if (K == 0) {
      HEARTH_DISPATCH_FLOAT(t, {
        T* o = out.data<T>() + i * M * N;
        for (int64_t j = 0; j < M * N; j++) o[j] = Num<T>::store(0);
      });
      continue;
    }
    switch (t) {
      case Dtype::float32:
        sgemm(va.trans, vb.trans, M, N, K, 1.f, a.data<float>() + oa, va.ld, b.data<float>() + ob, vb.ld, 0.f,
              out.data<float>() + i * M * N, N);
        break;
      case Dtype::float64:
        dgemm(va.trans, vb.trans, M, N, K, 1.0, a.data<double>() + oa, va.ld, b.data<double>() + ob, vb.ld, 0.0,
              out.data<double>() + i * M * N, N);
        break;
      case Dtype::bfloat16: case Dtype::float16: {
        auto fn = t == Dtype::bfloat16 ? gemm_bf16 : gemm_f16;
        fn(va.trans, vb.trans, M, N, K, 1.f, a.data<uint16_t>() + oa, va.ld, b.data<uint16_t>() + ob, vb.ld, 0.f,
           tmp.data(), N);
        uint16_t* o = out.data<uint16_t>() + i * M * N;
        if (t == Dtype::bfloat16) for (int64_t j = 0; j < M * N; j++) o[j] = float_to_bf16(tmp[j]);
        else for (int64_t j = 0; j < M * N; j++) o[j] = float_to_f16(tmp[j]);
        break;
      }
      default: throw std::invalid_argument("[matmul] unsupported dtype");
    }
  }
}

}  // namespace hearth
