/* Standalone benchmark of the quantized matmul (not part of the addon build): the whole op (graph, driver,
kernels) against the dense bf16 matmul, and the machine's read bandwidth measured in the same run, so the
GB/s of weights read can be set against what the memory delivers. Timings are the best of `reps` runs.

Build (from packages/engine; ISA files get the flags CMakeLists.txt gives them):
  mkdir -p build/qbench && cd build/qbench && N=../../native && \
  for f in $(ls $N/core/*.cpp $N/core/ops/*.cpp $N/backend/cpu/*.cpp $N/io/*.cpp | grep -v -e _avx -e _amx); do \
    g++ -O3 -std=c++17 -I$N -c $f -o $(echo $f | tr / _).o; done && \
  for f in $N/backend/cpu/*_avx2.cpp; do g++ -O3 -std=c++17 -I$N -mavx2 -mfma -mf16c -mbmi2 -c $f -o $(basename $f).o; done && \
  for f in $N/backend/cpu/*_avx512.cpp; do g++ -O3 -std=c++17 -I$N -mavx512f -mavx512bw -mavx512vl -mavx512dq \
    -mavx512vnni -mavx512bf16 -mfma -mavx2 -mf16c -mbmi2 -c $f -o $(basename $f).o; done && \
  for f in $N/backend/cpu/*_amx.cpp; do g++ -O3 -std=c++17 -I$N -mamx-tile -mamx-bf16 -mamx-int8 -mavx512f \
    -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mfma -mavx2 -mf16c -c $f -o $(basename $f).o; done && \
  g++ -O3 -std=c++17 -I$N -c $N/tests/quantized_bench.cpp && g++ -pthread *.o -o quantized_bench
Run: ./quantized_bench [threads=2] [N=4096] [K=4096] [reps=50] [M list for the second part, e.g. 2,4,8,64]
HEARTH_QMV_MAX_ROWS and HEARTH_QTILE_MB override the driver's crossover and tile size. */
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "backend/cpu/gemm.h"
#include "core/cpu_features.h"
#include "core/ops/creation.h"
#include "core/ops/elementwise.h"
#include "core/ops/layout.h"
#include "core/ops/linalg.h"
#include "core/ops/quantized.h"
#include "core/threadpool.h"
#include "core/transforms.h"

using namespace hearth;
using Clock = std::chrono::steady_clock;

template <class F> double best_of(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// GB/s of summing a buffer far larger than the caches, split over `threads` threads (a read-bandwidth probe;
// an integer sum, which the compiler vectorises).
double read_bandwidth(int threads, int reps) {
  const size_t n = size_t(1) << 28;  // 1 GiB of uint32
  std::vector<uint32_t> buf(n, 1u);
  std::vector<uint32_t> part(threads);
  double t = best_of(reps, [&] {
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; i++)
      ts.emplace_back([&, i] {
        const uint32_t* p = buf.data() + n / threads * i;
        uint32_t s = 0;
        for (size_t k = 0; k < n / threads; k++) s += p[k];
        part[i] = s;
      });
    for (auto& th : ts) th.join();
  });
  if (part[0] == 42) std::printf(" ");
  return double(n) * 4 / t / 1e9;
}

Array randn_array(const Shape& shape, Dtype t, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(size_t(shape_size(shape)));
  for (auto& x : v) x = d(rng);
  Array a = astype(array_from_data(v.data(), shape, Dtype::float32), t);
  eval({a});
  return a;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int64_t N = argc > 2 ? std::atoll(argv[2]) : 4096, K = argc > 3 ? std::atoll(argv[3]) : 4096;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 50;
  std::vector<int64_t> Ms{2, 4, 8, 9, 16, 32, 64, 256};
  if (argc > 5) {  // a comma-separated list of M for the second part; "0" skips it
    Ms.clear();
    for (const char* p = argv[5]; *p;) {
      Ms.push_back(std::atoll(p));
      while (*p && *p != ',') p++;
      if (*p) p++;
    }
    if (Ms.size() == 1 && Ms[0] == 0) Ms.clear();
  }
  set_num_threads(threads);
  std::printf("threads %d, W [%lld, %lld], ISA %s, kernels %s, gemm %s\n", threads, (long long)N, (long long)K,
              cpu_isa_level(), quantized_kernel_name(), cpu::gemm_kernel_name());
  std::printf("read bandwidth (sum of 1 GiB, %d threads): %.1f GB/s\n", threads, read_bandwidth(threads, 5));
  Array w = randn_array({N, K}, Dtype::bfloat16, 1, 0.02f);
  Array wt = transpose(w);
  for (int bits : {4, 8}) {
    for (Dtype t : {Dtype::bfloat16, Dtype::float32}) {
      // Weights of the activations' dtype (scales and biases in it), as a model has them.
      std::vector<Array> q = quantize(astype(w, t), 64, bits);
      eval(q);
      const double bytes = double(q[0].nbytes() + q[1].nbytes() + q[2].nbytes());
      Array x = randn_array({1, K}, t, 2, 1.0f);
      double s = best_of(reps, [&] { Array y = quantized_matmul(x, q[0], q[1], q[2], true, 64, bits); eval({y}); });
      std::printf("M=1 %d-bit g64 x %-8s: %7.3f ms  %6.1f GB/s of weights (%.2f MB)\n", bits, dtype_name(t), s * 1e3,
                  bytes / s / 1e9, bytes / 1e6);
    }
  }
  {
    Array x = randn_array({1, K}, Dtype::bfloat16, 2, 1.0f);
    double s = best_of(reps, [&] { Array y = matmul(x, wt); eval({y}); });
    std::printf("M=1 dense bf16 matmul   : %7.3f ms  %6.1f GB/s of weights (%.2f MB)\n", s * 1e3,
                double(w.nbytes()) / s / 1e9, w.nbytes() / 1e6);
  }
  for (int bits : {4, 8}) {
    std::vector<Array> q = quantize(w, 64, bits);
    eval(q);
    for (int64_t M : Ms) {
      Array x = randn_array({M, K}, Dtype::bfloat16, 3, 1.0f);
      int r = std::max(3, std::min(reps, int(128 / M)));
      double s = best_of(r, [&] { Array y = quantized_matmul(x, q[0], q[1], q[2], true, 64, bits); eval({y}); });
      double d = best_of(r, [&] { Array y = matmul(x, wt); eval({y}); });
      std::printf("M=%-4lld %d-bit bf16: %8.3f ms (%6.1f GFLOP/s)  dense bf16 %8.3f ms (%6.1f GFLOP/s)\n", (long long)M,
                  bits, s * 1e3, 2.0 * M * N * K / s / 1e9, d * 1e3, 2.0 * M * N * K / d / 1e9);
    }
  }
  return 0;
}
