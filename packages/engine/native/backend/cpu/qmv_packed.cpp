// Driver of the packed quantized product (core/ops/qmv_packed.h): the repacking at load, x rounded to int8 per
// group once per call, the portable kernel, and the split of the column blocks over the thread pool.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/cpu/qmv_packed_kernels.h"
#include "core/ops/layout.h"
#include "core/ops/qmv_packed.h"
#include "kernel_utils.h"

namespace hearth {
namespace cpu::qmv_packed_detail {
// Overridden where the ISA files are built.
__attribute__((weak)) RunFn avx512_vnni_packed() { return nullptr; }
__attribute__((weak)) RunFn avx2_packed() { return nullptr; }
}  // namespace cpu::qmv_packed_detail

using namespace cpu;
namespace qp = cpu::qmv_packed_detail;

namespace {

Array dense(const Array& a) {
  if (a.contiguous()) return a;
  Array c = Array::empty(a.shape(), a.dtype());
  copy_into(a, c);
  return c;
}

inline float load_elem(const uint8_t* p, int64_t i, qp::Elem e) {
  if (e == qp::Elem::f32) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return e == qp::Elem::bf16 ? bf16_to_float(h) : f16_to_float(h);
}

// The portable kernel: the same integer sums as the vector kernels (exact), the same float steps per group.
void generic_run(const qp::Problem& p, int64_t b0, int64_t b1) {
  const int64_t G = p.K / p.gs, rec = qp::record_bytes(p.gs, p.bits, p.es), cb = int64_t(16) * p.gs * p.bits / 8;
  const int64_t eb = qp::elem_bytes(p.es);
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t m = 0; m < p.M; m++) {
      float acc[16] = {};
      const int8_t* xr = p.xq + m * p.K;
      for (int64_t g = 0; g < G; g++) {
        const uint8_t* r = p.w + (b * G + g) * rec;
        const int8_t* x = xr + g * p.gs;
        int32_t d[16] = {};
        if (p.bits == 4) {
          for (int64_t v = 0; v < p.gs / 8; v++)
            for (int L = 0; L < 16; L++)
              for (int i = 0; i < 4; i++) {
                const uint8_t c = r[v * 64 + L * 4 + i];
                d[L] += int32_t(c & 15) * x[8 * v + i] + int32_t(c >> 4) * x[8 * v + 4 + i];
              }
        } else {
          for (int64_t v = 0; v < p.gs / 4; v++)
            for (int L = 0; L < 16; L++)
              for (int i = 0; i < 4; i++) d[L] += int32_t(r[v * 64 + L * 4 + i]) * x[4 * v + i];
        }
        const int64_t gi = m * G + g;
        for (int L = 0; L < 16; L++) {
          const float s = load_elem(r + cb, L, p.es), bi = load_elem(r + cb + 16 * eb, L, p.es);
          const float t = std::fma(float(d[L]), p.sx[gi], p.xcorr[gi]);
          acc[L] = std::fma(bi, p.xsum[gi], std::fma(t, s, acc[L]));
        }
      }
      for (int L = 0; L < 16; L++) p.y[m * p.ldy + b * 16 + L] = acc[L];
    }
  }
}

qp::RunFn pick(const char** name) {
  if (auto f = qp::avx512_vnni_packed()) return *name = "avx512-vnni", f;
  if (auto f = qp::avx2_packed()) return *name = "avx2", f;
  return *name = "generic", generic_run;
}

qp::RunFn kernel() {
  static const char* name = nullptr;
  static const qp::RunFn f = pick(&name);
  return f;
}

template <class T> void to_float(const Array& x, float* dst) {
  const T* p = x.data<T>();
  for (int64_t i = 0; i < x.size(); i++) dst[i] = float(Num<T>::load(p[i]));
}

struct Free {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

const char* packed_quantized_kernel_name() {
  const char* name = nullptr;
  pick(&name);
  return name;
}

void QuantizedPack16::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Array wq = dense(in[0]), scales = dense(in[1]), biases = dense(in[2]);
  const int gs = group_size_, bits = bits_;
  const int64_t N = wq.shape(0), K = wq.shape(1) * 32 / bits, G = K / gs;
  const qp::Elem e = scales.dtype() == Dtype::float32 ? qp::Elem::f32
                     : scales.dtype() == Dtype::bfloat16 ? qp::Elem::bf16 : qp::Elem::f16;
  const int64_t rec = qp::record_bytes(gs, bits, e), cb = int64_t(16) * gs * bits / 8, eb = qp::elem_bytes(e);
  const uint8_t* w = reinterpret_cast<const uint8_t*>(wq.data<uint32_t>());  // little-endian code stream per row
  const uint8_t* sp = static_cast<const uint8_t*>(scales.raw());
  const uint8_t* bp = static_cast<const uint8_t*>(biases.raw());
  uint8_t* o = out.data<uint8_t>();
  const int64_t rowb = K * bits / 8;
  auto code = [&](int64_t n, int64_t k) -> uint8_t {
    return bits == 8 ? w[n * rowb + k] : uint8_t((w[n * rowb + k / 2] >> ((k & 1) * 4)) & 15);
  };
  parallel_for(size_t(N / 16), 16, [&](size_t b0, size_t b1) {
    for (int64_t b = int64_t(b0); b < int64_t(b1); b++)
      for (int64_t g = 0; g < G; g++) {
        uint8_t* r = o + (b * G + g) * rec;
        const int64_t k0 = g * gs;
        for (int L = 0; L < 16; L++) {
          const int64_t n = b * 16 + L;
          if (bits == 4) {
            for (int64_t v = 0; v < gs / 8; v++)
              for (int i = 0; i < 4; i++)
                r[v * 64 + L * 4 + i] = uint8_t(code(n, k0 + 8 * v + i) | (code(n, k0 + 8 * v + 4 + i) << 4));
          } else {
            for (int64_t v = 0; v < gs / 4; v++)
              for (int i = 0; i < 4; i++) r[v * 64 + L * 4 + i] = code(n, k0 + 4 * v + i);
          }
          std::memcpy(r + cb + L * eb, sp + (n * G + g) * eb, size_t(eb));
          std::memcpy(r + cb + 16 * eb + L * eb, bp + (n * G + g) * eb, size_t(eb));
        }
      }
  });
}

void PackedQuantizedMatmul::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array x = dense(in[0]), w = dense(in[1]);
  out.allocate();
  const int64_t K = x.shape(-1), M = K ? x.size() / K : 0, N = w.shape(0) * 16, gs = group_size_, G = K / gs;
  if (M == 0 || N == 0) return;
  const Dtype t = out.dtype();
  std::vector<float> xf(size_t(M * K));
  HEARTH_DISPATCH_FLOAT(t, to_float<T>(x, xf.data()));
  std::unique_ptr<int8_t, Free> xq(static_cast<int8_t*>(std::aligned_alloc(64, size_t((M * K + 63) / 64 * 64))));
  std::vector<float> sx(size_t(M * G)), xsum(size_t(M * G)), xcorr(size_t(M * G));
  const float zmid = bits_ == 4 ? 8.f : 128.f;
  // The same rounding as quantized_matmul_i8's driver (core/ops/qmv_int8.h): scale max|x|/127 per group.
  // Threaded over rows: with many rows (prefill-sized x) this loop would otherwise be serial work.
  parallel_for(size_t(M), size_t(std::max<int64_t>(1, 16384 / K)), [&](size_t m0, size_t m1) {
  for (int64_t m = int64_t(m0); m < int64_t(m1); m++)
    for (int64_t g = 0; g < G; g++) {
      const float* r = xf.data() + m * K + g * gs;
      float amax = 0.f, s = 0.f;
      for (int64_t k = 0; k < gs; k++) amax = std::max(amax, std::fabs(r[k])), s += r[k];
      const float d = amax / 127.f, id = d > 0.f ? 1.f / d : 0.f;
      int32_t qs = 0;
      int8_t* q = xq.get() + m * K + g * gs;
      for (int64_t k = 0; k < gs; k++) q[k] = int8_t(std::nearbyint(r[k] * id)), qs += q[k];
      sx[size_t(m * G + g)] = d;
      xsum[size_t(m * G + g)] = s;
      xcorr[size_t(m * G + g)] = zmid * (s - d * float(qs));
    }
  });
  const qp::Elem es = sdt_ == Dtype::float32 ? qp::Elem::f32 : sdt_ == Dtype::bfloat16 ? qp::Elem::bf16 : qp::Elem::f16;
  const bool direct = t == Dtype::float32;
  std::vector<float> ybuf(direct ? 0 : size_t(M * N));
  float* y = direct ? out.data<float>() : ybuf.data();
  const qp::Problem p{M, N, K, bits_, int(gs), xq.get(), sx.data(), xsum.data(), xcorr.data(), w.data<uint8_t>(),
                      es, y, N};
  // ~32 KB of packed weights per work item at least.
  const int64_t per_block = w.shape(1), grain = std::max<int64_t>(1, (int64_t(32) << 10) / std::max<int64_t>(per_block, 1));
  const qp::RunFn run = kernel();
  parallel_for(size_t(N / 16), size_t(grain), [&](size_t b, size_t e) { run(p, int64_t(b), int64_t(e)); });
  if (!direct) {
    HEARTH_DISPATCH_FLOAT(t, {
      if constexpr (!std::is_same_v<T, float>) {
        T* o = out.data<T>();
        for (int64_t i = 0; i < M * N; i++) o[i] = Num<T>::store(static_cast<typename Num<T>::C>(y[size_t(i)]));
      }
    });
  }
}

}  // namespace hearth
