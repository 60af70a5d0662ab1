#include "cpu_features.h"

#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace hearth {

#if defined(__x86_64__)
static unsigned long long xgetbv0() {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (unsigned long long)hi << 32 | lo;
}
#endif

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d)) f.amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "AuthenticAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & (1u << 27);
  if (!osxsave) return f;
  unsigned long long xcr0 = xgetbv0();
  bool ymm_os = (xcr0 & 6) == 6, zmm_os = (xcr0 & 0xe6) == 0xe6, amx_os = (xcr0 & (3ull << 17)) == (3ull << 17);
  f.fma = ymm_os && (c & (1u << 12));
  f.f16c = ymm_os && (c & (1u << 29));
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = ymm_os && (b & (1u << 5));
  f.avx512f = zmm_os && (b & (1u << 16));
  f.avx512dq = zmm_os && (b & (1u << 17));
  f.avx512bw = zmm_os && (b & (1u << 30));
  f.avx512vl = zmm_os && (b & (1u << 31));
  f.avx512_vnni = zmm_os && (c & (1u << 11));
  f.amx_bf16 = amx_os && (d & (1u << 22));
  f.amx_tile = amx_os && (d & (1u << 24));
  f.amx_int8 = amx_os && (d & (1u << 25));
  __cpuid_count(7, 1, a, b, c, d);
  f.avx_vnni = ymm_os && (a & (1u << 4));
  f.avx512_bf16 = zmm_os && (a & (1u << 5));
#endif
#if defined(__wasm_simd128__)
  f.simd128 = true;
#endif
#if defined(__aarch64__) && defined(__linux__)
  f.neon = getauxval(AT_HWCAP) & (1ul << 1);  // HWCAP_ASIMD: Advanced SIMD, present on every Linux aarch64 core
#elif defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static CpuFeatures f = [] {
    CpuFeatures d = detect();
    const char* cap = std::getenv("HEARTH_ISA");
    // HEARTH_ISA=avx512 takes AMX away (the path of AVX-512 CPUs without it, e.g. AMD Zen 4/5).
    if (cap && !std::strcmp(cap, "avx512")) d.amx_tile = d.amx_bf16 = d.amx_int8 = false;
    if (cap && (!std::strcmp(cap, "avx2") || !std::strcmp(cap, "generic"))) {
      d.avx512f = d.avx512bw = d.avx512vl = d.avx512dq = d.avx512_vnni = d.avx512_bf16 = false;
      d.amx_tile = d.amx_bf16 = d.amx_int8 = false;
      if (!std::strcmp(cap, "generic")) d.avx2 = d.fma = d.avx_vnni = d.simd128 = d.neon = false;
    }
    return d;
  }();
  return f;
}

const char* cpu_isa_level() {
  const CpuFeatures& f = cpu_features();
  if (f.has_avx512()) return "avx512";
  if (f.avx2 && f.fma) return "avx2";
  if (f.neon) return "neon";
  if (f.simd128) return "simd128";
  return "generic";
}

}  // namespace hearth
