// Driver of the int8-activation quantized matvec (core/ops/qmv_int8.h): rounds each group of x to int8 once per
// call, lays it out for the kernel (qmv_int8_avx512.cpp), and splits the output columns over the thread pool.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/cpu/qmv_int8_kernels.h"
#include "core/ops/layout.h"
#include "core/ops/qmv_int8.h"
#include "kernel_utils.h"

namespace hearth {
namespace cpu::qmv_i8_detail {
__attribute__((weak)) RunFn avx512_vnni_qmv_i8() { return nullptr; }  // overridden where the AVX-512 file is built
bool kernel_available() { return avx512_vnni_qmv_i8() != nullptr; }
}  // namespace cpu::qmv_i8_detail

using namespace cpu;
namespace qi = cpu::qmv_i8_detail;

namespace {

Array dense(const Array& a) {
  if (a.contiguous()) return a;
  Array c = Array::empty(a.shape(), a.dtype());
  copy_into(a, c);
  return c;
}

template <class T> void to_float_rows(const Array& x, float* dst) {
  const T* p = x.data<T>();
  for (int64_t i = 0; i < x.size(); i++) dst[i] = float(Num<T>::load(p[i]));
}

}  // namespace

void QuantizedMatmulI8::eval_cpu(const std::vector<Array>& in, Array& out) {
  qi::RunFn run = qi::avx512_vnni_qmv_i8();
  if (!run) throw std::runtime_error("[quantizedMatmulI8] no int8 kernel on this CPU");
  const Array x = dense(in[0]), w = dense(in[1]), scales = dense(in[2]), biases = dense(in[3]);
  const int64_t K = x.shape(-1), M = x.size() / K, N = w.shape(0), gs = group_size_, G = K / gs;
  const int64_t V = bits_ == 4 ? 128 : 64, nch = K / V;
  out.allocate();
  // x in float, then per row: group sums, int8 codes (laid out for the kernel) and per-lane scales.
  std::vector<float> xf(static_cast<size_t>(M * K));
  const Dtype t = out.dtype();
  HEARTH_DISPATCH_FLOAT(t, to_float_rows<T>(x, xf.data()));
  struct Free { void operator()(void* p) const { std::free(p); } };
  std::unique_ptr<int8_t, Free> xq(static_cast<int8_t*>(std::aligned_alloc(64, size_t((M * K + 63) / 64 * 64))));
  std::unique_ptr<float, Free> xl(static_cast<float*>(std::aligned_alloc(64, size_t(M * nch * 16) * sizeof(float))));
  std::vector<float> xsum(static_cast<size_t>(M * G)), xcorr(static_cast<size_t>(M * G)), xscale(static_cast<size_t>(G));
  const float zmid = bits_ == 4 ? 8.f : 128.f;
  std::vector<int8_t> q(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; m++) {
    const float* r = xf.data() + m * K;
    for (int64_t g = 0; g < G; g++) {
      float amax = 0.f, s = 0.f;
      for (int64_t k = g * gs; k < (g + 1) * gs; k++) amax = std::max(amax, std::fabs(r[k])), s += r[k];
      xsum[m * G + g] = s;
      const float d = amax / 127.f, id = d > 0.f ? 1.f / d : 0.f;
      xscale[g] = d;
      int32_t qs = 0;
      for (int64_t k = g * gs; k < (g + 1) * gs; k++) q[k] = int8_t(std::nearbyint(r[k] * id)), qs += q[k];
      xcorr[m * G + g] = zmid * (s - d * float(qs));
    }
    int8_t* dq = xq.get() + m * K;
    if (bits_ == 4) {
      for (int64_t c = 0; c < nch; c++)
        for (int64_t j = 0; j < 64; j++) {
          dq[c * 128 + j] = q[c * 128 + 2 * j];
          dq[c * 128 + 64 + j] = q[c * 128 + 2 * j + 1];
        }
    } else {
      std::memcpy(dq, q.data(), size_t(K));
    }
    for (int64_t c = 0; c < nch; c++)
      for (int L = 0; L < 16; L++) xl.get()[(m * nch + c) * 16 + L] = xscale[(c * V + L * (V / 16)) / gs];
  }
  std::vector<float> y(static_cast<size_t>(M * N));
  const qi::Elem es = scales.dtype() == Dtype::float32 ? qi::Elem::f32
                      : scales.dtype() == Dtype::bfloat16 ? qi::Elem::bf16 : qi::Elem::f16;
  const qi::Problem p{M, N, K, bits_, int(gs), xq.get(), xl.get(), xsum.data(), xcorr.data(), w.data<uint32_t>(),
                      scales.raw(), biases.raw(), es, y.data(), N};
  // ~32 KB of codes per work item at least; each thread takes contiguous columns.
  const int64_t per_col = K * bits_ / 8, grain = std::max<int64_t>(16, (int64_t(32) << 10) / std::max<int64_t>(per_col, 1));
  parallel_for(size_t(N), size_t(grain), [&](size_t b, size_t e) { run(p, int64_t(b), int64_t(e)); });
  HEARTH_DISPATCH_FLOAT(t, {
    T* o = out.data<T>();
    for (int64_t i = 0; i < M * N; i++) o[i] = Num<T>::store(typename Num<T>::C(y[size_t(i)]));
  });
}

}  // namespace hearth
