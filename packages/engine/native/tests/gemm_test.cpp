/* Standalone correctness test and benchmark for backend/cpu/gemm.* (ctest runs its tests at every ISA level:
`pnpm run test:native` in packages/engine; the manual build below still works).

Build (from packages/engine; ISA files get the same flags as in CMakeLists.txt):
  mkdir -p build/gemm && cd build/gemm && N=../../native && \
  g++ -O3 -std=c++17 -I$N -c $N/backend/cpu/gemm.cpp $N/core/threadpool.cpp $N/core/cpu_features.cpp \
      $N/core/dtype.cpp $N/tests/gemm_test.cpp && \
  g++ -O3 -std=c++17 -I$N -mavx2 -mfma -mf16c -mbmi2 -c $N/backend/cpu/gemm_avx2.cpp && \
  g++ -O3 -std=c++17 -I$N -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mavx2 \
      -mf16c -mbmi2 -c $N/backend/cpu/gemm_avx512.cpp && \
  g++ -O3 -std=c++17 -I$N -mamx-tile -mamx-bf16 -mamx-int8 -mavx512f -mavx512bw -mavx512vl -mavx512dq \
      -mavx512bf16 -mfma -mavx2 -mf16c -c $N/backend/cpu/gemm_amx.cpp && \
  g++ -pthread *.o -o gemm_test
Run every path (separate processes: cpu_features() reads HEARTH_ISA once):
  HEARTH_ISA=generic ./gemm_test --no-bench && HEARTH_ISA=avx2 ./gemm_test --no-bench && \
  HEARTH_GEMM_BF16=avx512bf16 ./gemm_test --no-bench && HEARTH_GEMM_BF16=f32 ./gemm_test --no-bench && \
  HEARTH_GEMM_PACK_MB=1 ./gemm_test --no-bench && ./gemm_test
(HEARTH_GEMM_BF16 forces a bf16 kernel; HEARTH_GEMM_PACK_MB=1 makes big products split into chunks.)
Options: --no-bench (tests only), --no-test (benchmarks only), --quick (smaller test grid), --no-numpy,
  --threads N (pool size; numpy follows OPENBLAS_NUM_THREADS).
AddressSanitizer run: add -fsanitize=address -g to every command above; run with --quick --no-bench. */
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/threadpool.h"

using namespace hearth;

namespace {

enum class T { f32, bf16, f16, f64 };
const char* tname(T t) { return t == T::f32 ? "f32" : t == T::bf16 ? "bf16" : t == T::f16 ? "f16" : "f64"; }

std::mt19937_64 rng(12345);
float uniform() { return std::uniform_real_distribution<float>(-1.f, 1.f)(rng); }

int failures = 0, cases = 0;
double worst_ratio[4] = {0, 0, 0, 0};

// Stored matrix with padding: rows × cols with leading dimension ld ≥ cols. Padding holds NaN so any use
// of it shows up in the result.
struct Mat {
  int64_t rows, cols, ld;
  std::vector<double> v;  // exact values (already rounded to the storage type)
  std::vector<float> f;
  std::vector<uint16_t> h;
  std::vector<double> d;
};

Mat make(T t, int64_t rows, int64_t cols, int64_t pad) {
  Mat m{rows, cols, cols + pad, {}, {}, {}, {}};
  size_t n = size_t(std::max<int64_t>(rows * m.ld, 1));
  m.v.assign(n, NAN);
  m.f.assign(n, NAN);
  m.h.assign(n, 0x7fc1);  // NaN in both bf16 and f16
  m.d.assign(n, NAN);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      size_t o = size_t(i * m.ld + j);
      float x = uniform();
      switch (t) {
        case T::f32: m.f[o] = x, m.v[o] = x; break;
        case T::bf16: m.h[o] = float_to_bf16(x), m.v[o] = bf16_to_float(m.h[o]); break;
        case T::f16: m.h[o] = float_to_f16(x), m.v[o] = f16_to_float(m.h[o]); break;
        case T::f64: m.d[o] = double(x) + 1e-9 * uniform(), m.v[o] = m.d[o]; break;
      }
    }
  return m;
}

void call(T t, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const Mat& A, const Mat& B, double beta,
          Mat& C) {
  switch (t) {
    case T::f32:
      cpu::sgemm(ta, tb, M, N, K, float(alpha), A.f.data(), A.ld, B.f.data(), B.ld, float(beta), C.f.data(), C.ld);
      break;
    case T::bf16:
      cpu::gemm_bf16(ta, tb, M, N, K, float(alpha), A.h.data(), A.ld, B.h.data(), B.ld, float(beta), C.f.data(), C.ld);
      break;
    case T::f16:
      cpu::gemm_f16(ta, tb, M, N, K, float(alpha), A.h.data(), A.ld, B.h.data(), B.ld, float(beta), C.f.data(), C.ld);
      break;
    case T::f64:
      cpu::dgemm(ta, tb, M, N, K, alpha, A.d.data(), A.ld, B.d.data(), B.ld, beta, C.d.data(), C.ld);
      break;
  }
}

// One product against a double-precision reference built from the same (rounded) inputs. The error of
// each element is measured against sum_k |a||b| |alpha| + |beta c|, the scale float accumulation errors
// grow with, so cancellation in the exact result doesn't make the check flaky.
void check(T t, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, double beta, int64_t pad) {
  Mat A = ta ? make(t, K, M, pad) : make(t, M, K, pad);
  Mat B = tb ? make(t, N, K, pad) : make(t, K, N, pad);
  Mat C = make(T::f32, M, N, pad);
  if (t == T::f64) C = make(T::f64, M, N, pad);
  std::vector<double> c0 = C.v;
  if (beta == 0) {  // C must not be read: fill it with NaN
    std::fill(C.f.begin(), C.f.end(), NAN);
    std::fill(C.d.begin(), C.d.end(), NAN);
  }
  std::vector<float> f_before = C.f;
  std::vector<double> d_before = C.d;
  call(t, ta, tb, M, N, K, alpha, A, B, beta, C);
  const double tol = t == T::f64 ? 1e-12 : t == T::f32 || t == T::f16 ? 1e-5 : 1e-3;
  double worst = 0;
  bool ok = true;
  for (int64_t i = 0; i < M && ok; i++) {
    for (int64_t j = 0; j < C.ld; j++) {
      size_t o = size_t(i * C.ld + j);
      double got = t == T::f64 ? C.d[o] : double(C.f[o]);
      if (j >= N) {  // padding of C must be untouched
        bool same = t == T::f64 ? std::memcmp(&C.d[o], &d_before[o], 8) == 0
                                : std::memcmp(&C.f[o], &f_before[o], 4) == 0;
        if (!same) {
          ok = false;
          std::printf("    wrote C padding at (%lld,%lld)\n", (long long)i, (long long)j);
          break;
        }
        continue;
      }
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < K; k++) {
        double a = ta ? A.v[k * A.ld + i] : A.v[i * A.ld + k];
        double b = tb ? B.v[j * B.ld + k] : B.v[k * B.ld + j];
        ref += a * b, mag += std::fabs(a * b);
      }
      ref *= alpha, mag *= std::fabs(alpha);
      if (beta != 0) ref += beta * c0[o], mag += std::fabs(beta * c0[o]);
      double err = std::fabs(got - ref), ratio = err / (mag + 1e-300);
      if (!(err <= tol * mag + 1e-30)) {
        ok = false;
        std::printf("    (%lld,%lld): got %.9g want %.9g (mag %.3g)\n", (long long)i, (long long)j, got, ref, mag);
        break;
      }
      if (mag > 0) worst = std::max(worst, ratio);
    }
  }
  worst_ratio[int(t)] = std::max(worst_ratio[int(t)], worst);
  cases++;
  if (!ok) {
    failures++;
    std::printf("FAIL %s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld\n", tname(t), ta, tb,
                (long long)M, (long long)N, (long long)K, alpha, beta, (long long)pad);
  }
}

void run_tests(bool quick) {
  const double ab[][2] = {{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {2, 0.25}, {0, 0.5}};  // alpha, beta
  std::vector<int64_t> sizes = {0, 1, 2, 3, 4, 5, 7, 13, 14, 15, 16, 17, 29, 32, 33, 47, 65, 100};
  std::vector<int64_t> ks = {0, 1, 2, 3, 7, 16, 17, 31, 64, 100, 257};
  if (quick) sizes = {0, 1, 3, 4, 5, 14, 15, 17, 33, 47}, ks = {0, 1, 2, 17, 33, 64};
  int n = 0;
  for (T t : {T::f32, T::bf16, T::f16, T::f64})
    for (int64_t M : sizes)
      for (int64_t N : sizes)
        for (int64_t K : ks) {
          n++;
          int tr = n % 4;
          const double* p = ab[(n / 4) % 6];  // every transpose pair meets every alpha/beta
          check(t, tr & 1, tr >> 1, M, N, K, p[0], p[1], (n / 7) % 3 == 0 ? 3 : 0);
        }
  // Larger shapes: several cache blocks in every dimension, threading, big K, skinny shapes.
  struct S { int64_t M, N, K; };
  std::vector<S> big = {{300, 500, 700}, {257, 383, 519}, {2, 1000, 3000}, {1, 777, 4097}, {4, 3001, 65},
                        {1000, 3, 700}, {37, 41, 5000}, {515, 4100, 33}, {129, 130, 1030}, {700, 90, 2000},
                        {1, 515, 2048}, {3, 300, 1100}, {1, 300, 3000}, {1, 257, 4096}};
  // {1, 515, 2048}: one row over 16-bit columns of exactly 4 KB, the largest read as one stream (f32 never is);
  // {1, 300, 3000} and {1, 257, 4096} (6 and 8 KB): streamed on AMD only, interleaved elsewhere;
  // {1, 1000, 1100} the streamed decode kernel with a k tail; {1, 777, 4097}, {2, 1000, 3000} the interleaved ones.
  if (quick) big = {{120, 150, 530}, {1, 1000, 1100}, {1100, 2, 1000}, {70, 80, 1100}, {400, 70, 90}, {530, 40, 70},
                    {1, 515, 2048}, {1, 300, 4100}, {3, 300, 1100}, {1, 300, 3000}, {1, 257, 4096}};
  for (T t : {T::f32, T::bf16, T::f16, T::f64})
    for (const S& s : big)
      for (int tr = 0; tr < 4; tr++)  // alpha = 1 with beta = 0/1 takes the kernels' direct C paths
        check(t, tr & 1, tr >> 1, s.M, s.N, s.K, tr >= 2 ? 1.0 : 1.25, tr == 2 ? 0.5 : tr == 3 ? 1.0 : 0,
              tr == 1 ? 5 : 0);
  // Bad arguments.
  bool threw = false;
  try {
    cpu::sgemm(false, false, -1, 2, 2, 1.f, nullptr, 2, nullptr, 2, 0.f, nullptr, 2);
  } catch (const std::invalid_argument&) { threw = true; }
  cases++;
  if (!threw) failures++, std::printf("FAIL negative size did not throw\n");
}

// ---- benchmarks -----------------------------------------------------------------------------------------
double seconds(const std::function<void()>& f, double min_time = 0.3, int min_reps = 3) {
  f();  // warm-up: buffers, thread pool, page faults
  double best = 1e30, total = 0;
  for (int r = 0; r < min_reps || total < min_time; r++) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s), total += s;
    if (r > 200) break;
  }
  return best;
}

// numpy (OpenBLAS) on the same machine, run between our own measurements so both see similar load. The
// machine exports OpenBLAS tuning variables that halve its speed, hence env -u. Returns GFLOP/s (GB/s for
// n = 0: the 1×4096 · (4096×4096)^T product), or -1.
double numpy_rate(int64_t n) {
  std::string cmd =
      "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 -c '\n"
      "import numpy as np, time\n"
      "def best(f, t=0.3):\n"
      "    f(); b=1e9; tot=0; r=0\n"
      "    while r < 3 or tot < t:\n"
      "        s=time.perf_counter(); f(); d=time.perf_counter()-s; b=min(b,d); tot+=d; r+=1\n"
      "    return b\n"
      "n=" + std::to_string(n) + "\n"
      "if n:\n"
      "    a=np.random.rand(n,n).astype(np.float32); b=np.random.rand(n,n).astype(np.float32)\n"
      "    print(2*n**3/best(lambda: a@b)/1e9)\n"
      "else:\n"
      "    w=np.random.rand(4096,4096).astype(np.float32); x=np.random.rand(1,4096).astype(np.float32)\n"
      "    print(w.nbytes/best(lambda: x@w.T)/1e9)\n"
      "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  double v = -1;
  if (std::fscanf(p, "%lf", &v) != 1) v = -1;
  pclose(p);
  return v;
}

void run_bench(bool numpy) {
  std::printf("\nbenchmarks: %d threads, best of several runs, two rounds (ours, numpy) per size; the machine is "
              "shared, so expect noise\n", num_threads());
  const int rounds = numpy ? 2 : 1;
  auto best_of = [&](double& s, const std::function<void()>& f) { s = std::min(s, seconds(f)); };
  for (int64_t n : {512, 1024, 2048}) {
    std::vector<float> a(n * n), b(n * n), c(n * n);
    std::vector<uint16_t> ah(n * n), bh(n * n);
    for (int64_t i = 0; i < n * n; i++)
      a[i] = uniform(), b[i] = uniform(), ah[i] = float_to_bf16(a[i]), bh[i] = float_to_bf16(b[i]);
    auto f32 = [&] { cpu::sgemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n); };
    auto bf16 = [&](bool tb) {
      cpu::gemm_bf16(false, tb, n, n, n, 1.f, ah.data(), n, bh.data(), n, 0.f, c.data(), n);
    };
    auto f16 = [&] { cpu::gemm_f16(false, false, n, n, n, 1.f, ah.data(), n, bh.data(), n, 0.f, c.data(), n); };
    double s32 = 1e30, sbf = 1e30, sbt = 1e30, sf16 = 1e30, np = -1;
    for (int r = 0; r < rounds; r++) {
      best_of(s32, f32);
      best_of(sbf, [&] { bf16(false); });
      best_of(sbt, [&] { bf16(true); });
      best_of(sf16, f16);
      if (numpy) np = std::max(np, numpy_rate(n));
    }
    double flop = 2.0 * n * n * n;
    std::printf("  %4lld^3  f32 %6.1f GFLOP/s", (long long)n, flop / s32 / 1e9);
    if (np > 0) std::printf(" (numpy %6.1f, ratio %.2f)", np, flop / s32 / 1e9 / np);
    std::printf("   bf16 %7.1f (B^T %7.1f)   f16 %6.1f\n", flop / sbf / 1e9, flop / sbt / 1e9, flop / sf16 / 1e9);
  }
  // LLM decode: y[1, N] = x[1, K] · W^T with W stored [N, K]; also W stored [K, N] (trans_b = false).
  const int64_t N = 4096, K = 4096;
  std::vector<float> x(K), w(N * K), y(N);
  std::vector<uint16_t> xh(K), wh(N * K);
  for (int64_t i = 0; i < K; i++) x[i] = uniform(), xh[i] = float_to_bf16(x[i]);
  for (int64_t i = 0; i < N * K; i++) w[i] = uniform(), wh[i] = float_to_bf16(w[i]);
  auto f32 = [&](bool tb) { cpu::sgemm(false, tb, 1, N, K, 1.f, x.data(), K, w.data(), tb ? K : N, 0.f, y.data(), N); };
  auto bf16 = [&](bool tb) {
    cpu::gemm_bf16(false, tb, 1, N, K, 1.f, xh.data(), K, wh.data(), tb ? K : N, 0.f, y.data(), N);
  };
  double s32 = 1e30, sbf = 1e30, s32n = 1e30, sbfn = 1e30, np = -1;
  for (int r = 0; r < rounds; r++) {
    best_of(s32, [&] { f32(true); });
    best_of(sbf, [&] { bf16(true); });
    best_of(s32n, [&] { f32(false); });
    best_of(sbfn, [&] { bf16(false); });
    if (numpy) np = std::max(np, numpy_rate(0));
  }
  std::printf("  gemv 1x4096 · (4096x4096)^T weight reads: f32 %5.1f GB/s", N * K * 4 / s32 / 1e9);
  if (np > 0) std::printf(" (numpy %5.1f)", np);
  std::printf("  bf16 %5.1f GB/s;  W not transposed: f32 %5.1f, bf16 %5.1f\n", N * K * 2 / sbf / 1e9,
              N * K * 4 / s32n / 1e9, N * K * 2 / sbfn / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  bool test = true, bench = true, quick = false, numpy = true;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--no-bench") bench = false;
    else if (a == "--no-test") test = false;
    else if (a == "--quick") quick = true;
    else if (a == "--no-numpy") numpy = false;
    else if (a == "--threads" && i + 1 < argc) set_num_threads(std::atoi(argv[++i]));
  }
  const char* isa = std::getenv("HEARTH_ISA");
  std::printf("HEARTH_ISA=%s  isa level: %s\nkernels: %s\n", isa ? isa : "(unset)", cpu_isa_level(),
              cpu::gemm_kernel_name());
  if (test) {
    auto t0 = std::chrono::steady_clock::now();
    run_tests(quick);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%d cases, %d failures (%.1f s). worst error / (sum|a*b|): f32 %.2g  bf16 %.2g  f16 %.2g  f64 %.2g\n",
                cases, failures, s, worst_ratio[0], worst_ratio[1], worst_ratio[2], worst_ratio[3]);
  }
  if (bench) run_bench(numpy);
  return failures ? 1 : 0;
}
