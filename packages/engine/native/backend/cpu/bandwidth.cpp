// Read-bandwidth probe (portable driver and fallback kernel). The buffer is touched before timing so page faults
// are not measured; each pass splits it over the kernel thread pool and the pass time is the slowest thread's.
#include "backend/cpu/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/cpu_features.h"
#include "core/threadpool.h"

namespace hearth::cpu {
namespace bandwidth_detail {
// Overridden by bandwidth_avx512.cpp where it is built (x86-64).
__attribute__((weak)) ReadSumFn avx512_read_sum() { return nullptr; }
}  // namespace bandwidth_detail

namespace {
// Portable fallback: 16 independent partial sums so -O3 vectorises it with the baseline ISA.
float generic_read_sum(const float* p, size_t n) {
  float acc[16] = {};
  for (size_t i = 0; i < n; i += 16)
    for (int l = 0; l < 16; l++) acc[l] += p[i + l];
  float s = 0.f;
  for (float v : acc) s += v;
  return s;
}
}  // namespace

BandwidthResult measure_read_bandwidth(size_t bytes, int repeats) {
  if (bytes < (1u << 20)) throw std::invalid_argument("[measureReadBandwidth] bytes must be at least 1 MiB");
  if (repeats < 1 || repeats > 1000) throw std::invalid_argument("[measureReadBandwidth] repeats must be in [1, 1000]");
  auto fn = bandwidth_detail::avx512_read_sum();
  const char* kernel = fn ? "avx512" : "generic";
  if (!fn) fn = generic_read_sum;
  const size_t chunk = 64 * 1024;  // per-thread pieces are whole 64 KiB chunks (a multiple of 128 floats)
  const size_t nchunks = bytes / chunk;
  const size_t nbytes = nchunks * chunk;
  float* buf = static_cast<float*>(std::aligned_alloc(64, nbytes));
  if (!buf) throw std::runtime_error("[measureReadBandwidth] cannot allocate the buffer");
  std::unique_ptr<float, decltype(&std::free)> hold(buf, &std::free);
  const size_t nfloats = nbytes / sizeof(float);
  for (size_t i = 0; i < nfloats; i++) buf[i] = float(i & 7);  // touch every page (and not a zero page)
  const int threads = num_threads();
  std::vector<double> gbs;
  volatile float sink = 0.f;
  for (int r = 0; r < repeats + 1; r++) {
    std::vector<float> partial(threads, 0.f);
    auto t0 = std::chrono::steady_clock::now();
    parallel_for(size_t(threads), 1, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; t++) {
        size_t c0 = nchunks * t / threads, c1 = nchunks * (t + 1) / threads;
        partial[t] = fn(buf + c0 * (chunk / 4), (c1 - c0) * (chunk / 4));
      }
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (float v : partial) sink = sink + v;
    if (r > 0) gbs.push_back(double(nbytes) / s / 1e9);  // the first pass warms the TLB and the pool
  }
  std::sort(gbs.begin(), gbs.end());
  return BandwidthResult{gbs.back(), gbs[gbs.size() / 2], threads, kernel};
}

}  // namespace hearth::cpu
