// What the processor we run on supports, read once with cpuid (runtime dispatch picks kernels from this).
#pragma once

namespace hearth {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx_vnni = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;
  bool simd128 = false;  // WebAssembly SIMD128 (a build-time choice: the module was compiled with it)
  bool neon = false;     // aarch64 Advanced SIMD (part of the base ISA there)
  bool amd = false;      // cpuid vendor "AuthenticAMD": some memory-bound kernels tune their access pattern by vendor
  bool has_avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
};

const CpuFeatures& cpu_features();
// "avx512" | "avx2" | "neon" | "simd128" | "generic": the kernel level in use; HEARTH_ISA=avx512|avx2|generic caps
// it (for tests and benchmarks; avx512 keeps AVX-512 and takes AMX away).
const char* cpu_isa_level();

}  // namespace hearth
