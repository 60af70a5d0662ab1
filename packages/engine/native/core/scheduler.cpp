#include "scheduler.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace hearth {
namespace {

thread_local bool tl_engine = false;

class EngineThread {
 public:
  EngineThread() : thread_([this] { loop(); }) {}
  void post(std::function<void()> task) {
    { std::lock_guard<std::mutex> lk(mu_); q_.push_back(std::move(task)); }
    cv_.notify_one();
  }
  // Runs fn on the calling thread when nothing is queued or running here (the usual case: a synchronous eval
  // from JS with no asyncEval in flight), which saves the two thread hand-offs (~5-10 µs, far more on a busy
  // machine) that a trip through the engine thread costs every eval. exec_ keeps evaluations one at a time.
  bool try_inline(const std::function<void()>& fn) {
    std::unique_lock<std::mutex> ex(exec_, std::defer_lock);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!q_.empty() || busy_ || !ex.try_lock()) return false;
    }
    struct Flag {
      Flag() { tl_engine = true; }
      ~Flag() { tl_engine = false; }
    } flag;
    fn();
    return true;
  }

 private:
  void loop() {
    tl_engine = true;
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return !q_.empty(); });
        task = std::move(q_.front());
        q_.pop_front();
        busy_ = true;  // set with the pop, so no inline eval overtakes a task already taken
      }
      {
        std::lock_guard<std::mutex> ex(exec_);
        task();
      }
      std::lock_guard<std::mutex> lk(mu_);
      busy_ = false;
    }
  }
  std::mutex mu_;
  std::mutex exec_;  // held by whoever evaluates: this thread for queued tasks, or a caller running inline
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool busy_ = false;
  std::thread thread_;
};

EngineThread& engine() {
  static EngineThread* e = [] {
    auto* t = new EngineThread();  // never joined: lives as long as the process
    return t;
  }();
  return *e;
}

}  // namespace

bool on_engine_thread() { return tl_engine; }

#ifdef __EMSCRIPTEN__
// WebAssembly: the calling JS thread is the engine thread. A dedicated pthread would cost a Web Worker and
// the JS side waits for eval anyway; async work completes before the promise is returned.
namespace {
struct InlineEngine {
  bool was = tl_engine;
  InlineEngine() { tl_engine = true; }
  ~InlineEngine() { tl_engine = was; }
};
}  // namespace
void run_on_engine_sync(std::function<void()> fn) {
  InlineEngine scope;
  fn();
}
void run_on_engine_async(std::function<void()> fn, std::function<void(const std::string*)> done) {
  std::string msg;
  {
    InlineEngine scope;
    try {
      fn();
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
      msg = "[eval] unknown error";
    }
  }
  done(msg.empty() ? nullptr : &msg);
}
#else

void run_on_engine_sync(std::function<void()> fn) {
  if (tl_engine) { fn(); return; }
  if (engine().try_inline(fn)) return;
  std::promise<void> done;
  auto fut = done.get_future();
  engine().post([&] {
    try { fn(); done.set_value(); } catch (...) { done.set_exception(std::current_exception()); }
  });
  fut.get();
}

void run_on_engine_async(std::function<void()> fn, std::function<void(const std::string*)> done) {
  engine().post([fn = std::move(fn), done = std::move(done)]() mutable {
    std::string msg;
    bool failed = true;
    try {
      fn();
      failed = false;
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
      msg = "[eval] unknown error";
    }
    // What the task captured (the evaluated arrays) is dropped before JS hears it is done: otherwise a cache the
    // caller frees right after the await stays counted until this thread gets the CPU back (seen on a busy machine).
    fn = nullptr;
    done(failed ? &msg : nullptr);
  });
}

#endif  // __EMSCRIPTEN__

}  // namespace hearth
