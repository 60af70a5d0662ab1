// Memory read bandwidth probe for benchmarks: the decode speed limit of a bandwidth-bound model is
// (bytes read per token) / (this number).
#pragma once
#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

struct BandwidthResult {
  double best_gbs;    // fastest pass, GB/s (1e9 bytes per second)
  double median_gbs;  // median pass
  int threads;
  const char* kernel;
};

// Streams a `bytes` buffer (allocated and touched first, freed after) `repeats` times with a vector read-sum
// split over the kernel thread pool.
BandwidthResult measure_read_bandwidth(size_t bytes, int repeats);

namespace bandwidth_detail {
// Sum of n floats (n a multiple of 64, p 64-byte aligned), read with 512-bit loads and 8 accumulators.
// nullptr where not built or the CPU lacks AVX-512.
using ReadSumFn = float (*)(const float* p, size_t n);
ReadSumFn avx512_read_sum();
}  // namespace bandwidth_detail

}  // namespace hearth::cpu
