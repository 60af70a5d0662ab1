#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth {
namespace {

thread_local bool tl_in_pool_task = false;

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return int(workers_.size()) + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> serial(run_mu_);  // never while a parallel region is running
    stop();
    stopping_ = false;
    // New workers must not take the last region's generation as new work (fn_ is cleared by then).
    for (int i = 0; i < n - 1; i++) workers_.emplace_back([this, i, g = generation_.load()] { worker_loop(i, g); });
  }

  void run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
    size_t max_chunks = std::max<size_t>(1, n / std::max<size_t>(1, grain));
    size_t chunks = std::min<size_t>(size_t(size()), max_chunks);
    if (chunks <= 1 || tl_in_pool_task) { fn(0, n); return; }
    std::lock_guard<std::mutex> serial(run_mu_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn; n_ = n; chunks_ = chunks; pending_.store(int(chunks) - 1); error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    run_chunk(0);
    // The other chunks usually finish within microseconds of ours: spin briefly before sleeping.
    for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) != 0; i++) pause();
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return pending_.load() == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(size_t c) {
    size_t begin = n_ * c / chunks_, end = n_ * (c + 1) / chunks_;
    tl_in_pool_task = true;
    try { (*fn_)(begin, end); } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
    tl_in_pool_task = false;
  }

  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      // A decode step runs hundreds of short parallel regions back to back: a worker that just finished one
      // spins a little for the next instead of going through a futex sleep and wake-up (tens of µs each on a
      // VM) every time; after kSpin pauses without work it sleeps.
      for (int i = 0; i < kSpin && generation_.load(std::memory_order_acquire) == seen && !stopping_.load(std::memory_order_relaxed); i++) pause();
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || generation_.load() != seen; });
      if (stopping_) return;
      seen = generation_.load();
      size_t chunk = size_t(index) + 1;
      if (chunk >= chunks_) continue;
      lk.unlock();
      run_chunk(chunk);
      lk.lock();
      if (pending_.fetch_sub(1) == 1) done_cv_.notify_one();
    }
  }

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  // ~0.2-0.5 ms of pause instructions (a pause is ~40-140 cycles depending on the core); HEARTH_POOL_SPIN=N
  // sets the count (0: always sleep, as before; for A/B measurements).
  static inline const int kSpin = [] {
    const char* v = std::getenv("HEARTH_POOL_SPIN");
    return v ? std::max(0, std::atoi(v)) : 10000;
  }();

  void stop() {
    { std::lock_guard<std::mutex> lk(mu_); stopping_ = true; }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0, chunks_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};  // also read while spinning, without the lock
  std::exception_ptr error_;
};

#ifdef __EMSCRIPTEN__
// WebAssembly: a pthread is a Web Worker that must be started before the JS thread blocks on it, so the
// loader preloads HEARTH_WASM_THREADS - 1 workers and the pool never asks for more (1 without pthreads).
int max_threads() {
#ifdef __EMSCRIPTEN_PTHREADS__
  const char* v = std::getenv("HEARTH_WASM_THREADS");
  return v ? std::max(1, std::atoi(v)) : 1;
#else
  return 1;
#endif
}
int default_threads() { return max_threads(); }
#else
int max_threads() { return 1 << 16; }
int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }
#endif

Pool& pool() {
  static Pool* p = new Pool(default_threads());  // leaked on purpose: no join at static destruction
  return *p;
}

}  // namespace

void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  pool().run(n, grain, fn);
}

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n <= 0 ? default_threads() : std::min(n, max_threads())); }

}  // namespace hearth
