// AVX-512 streaming read kernel for the bandwidth probe: 8 independent accumulators of 16 floats so the loop is
// bound by loads, not by the add latency chain. Only a function pointer leaves this file (see gemm.h on ISA files).
#include <immintrin.h>

#include "backend/cpu/bandwidth.h"
#include "core/cpu_features.h"

namespace hearth::cpu::bandwidth_detail {
namespace {

float read_sum(const float* p, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (size_t i = 0; i < n; i += 128) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    a4 = _mm512_add_ps(a4, _mm512_load_ps(p + i + 64));
    a5 = _mm512_add_ps(a5, _mm512_load_ps(p + i + 80));
    a6 = _mm512_add_ps(a6, _mm512_load_ps(p + i + 96));
    a7 = _mm512_add_ps(a7, _mm512_load_ps(p + i + 112));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  alignas(64) float lanes[16];  // (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized)
  _mm512_store_ps(lanes, s);
  float t = 0.f;
  for (float v : lanes) t += v;
  return t;
}

}  // namespace

ReadSumFn avx512_read_sum() { return cpu_features().has_avx512() ? read_sum : nullptr; }

}  // namespace hearth::cpu::bandwidth_detail
