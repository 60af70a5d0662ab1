// GEMV A/B bench: y[1, N] = x[1, K] · W^T for the 1B/4B decode shapes, bf16 and f32, 2 threads, cycling ~1.5 GB of
// W so nothing stays in cache; prints GB/s of weight reads (median of 7 passes). Not built by CMake or CI: it was
// linked statically against the engine's C++ objects of two versions of the GEMV kernels and run alternately
// (docs/bench-results/2026-12-07-xeon-gemv-ab.txt). Build, from packages/engine after `pnpm run test:native`:
//   g++ -O3 -std=gnu++17 -Inative -c bench/gemv-ab.cpp -o /tmp/gemv-ab.o
//   g++ -static -pthread -o /tmp/gemv-ab /tmp/gemv-ab.o $(find build-tests/CMakeFiles/hearth_core.dir -name '*.o')
//   /tmp/gemv-ab label            # HEARTH_ISA=avx2 /tmp/gemv-ab label for the AVX2 kernels
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>
#include "backend/cpu/gemm.h"
#include "core/threadpool.h"
using namespace hearth;
int main(int argc, char** argv) {
  set_num_threads(2);
  struct S { long N, K; };
  for (S s : {S{6912, 1152}, S{1152, 6912}, S{262144, 1152}, S{1024, 1152}, S{10240, 2560}, S{2560, 10240}}) {
    for (int f32 = 0; f32 < 2; f32++) {
      const long es = f32 ? 4 : 2, per = s.N * s.K * es;
      const int nm = std::max<long>(1, 1500000000L / per);
      std::vector<std::vector<uint16_t>> wh; std::vector<std::vector<float>> wf;
      for (int i = 0; i < nm; i++) { if (f32) wf.emplace_back(s.N * s.K, 0.01f); else wh.emplace_back(s.N * s.K, 0x3c00); }
      std::vector<float> x(s.K, 1.f), y(s.N); std::vector<uint16_t> xh(s.K, 0x3f80);
      auto run = [&] { for (int i = 0; i < nm; i++) { if (f32) cpu::sgemm(false, true, 1, s.N, s.K, 1.f, x.data(), s.K, wf[i].data(), s.K, 0.f, y.data(), s.N);
        else cpu::gemm_bf16(false, true, 1, s.N, s.K, 1.f, xh.data(), s.K, wh[i].data(), s.K, 0.f, y.data(), s.N); } };
      run();
      std::vector<double> t;
      for (int r = 0; r < 7; r++) { auto a = std::chrono::steady_clock::now(); run(); t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count()); }
      std::sort(t.begin(), t.end());
      std::printf("%s N=%ld K=%ld %s %.1f GB/s\n", argc > 1 ? argv[1] : "?", s.N, s.K, f32 ? "f32" : "bf16", double(per) * nm / t[3] / 1e9);
    }
  }
}
