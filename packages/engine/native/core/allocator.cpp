#include "allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace hearth {
namespace {

// Blocks are rounded up so that similar sizes share cache entries; 64-byte alignment suits AVX-512 loads.
size_t round_size(size_t bytes) {
  if (bytes <= 4096) return (bytes + 63) & ~size_t(63);
  if (bytes <= (size_t(1) << 20)) return (bytes + 4095) & ~size_t(4095);
  return (bytes + 65535) & ~size_t(65535);
}

struct State {
  std::mutex mu;
  size_t active = 0, peak = 0, cached = 0;
  size_t cache_limit = size_t(1) << 30, memory_limit = 0;
  std::multimap<size_t, void*> free_blocks;  // capacity -> block

  void trim_to(size_t limit) {  // frees the largest cached blocks first; mu held
    while (cached > limit && !free_blocks.empty()) {
      auto it = std::prev(free_blocks.end());
      cached -= it->first;
      std::free(it->second);
      free_blocks.erase(it);
    }
  }
};

State& state() {
  static State* s = new State();
  return *s;
}

std::string mb(size_t b) { return std::to_string((b + (1 << 19)) >> 20) + " MB"; }

}  // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  State& s = state();
  size_t cap = round_size(bytes == 0 ? 1 : bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (s.memory_limit && s.active + cap > s.memory_limit) {
      s.trim_to(0);
      throw std::runtime_error("[malloc] allocating " + mb(cap) + " would exceed the memory limit of " +
                               mb(s.memory_limit) + " (" + mb(s.active) +
                               " in use); free arrays or raise it with mx.setMemoryLimit()");
    }
    auto it = s.free_blocks.lower_bound(cap);
    if (it != s.free_blocks.end() && it->first <= cap + cap / 4) {  // reuse only a near fit
      cap = it->first;
      p = it->second;
      s.cached -= cap;
      s.free_blocks.erase(it);
    }
    s.active += cap;
    if (s.active > s.peak) s.peak = s.active;
  }
  if (!p) {
    p = std::aligned_alloc(64, cap);
    if (!p) {
      std::lock_guard<std::mutex> lk(s.mu);
      s.trim_to(0);
      p = std::aligned_alloc(64, cap);
      if (!p) {
        s.active -= cap;
        throw std::runtime_error("[malloc] out of memory allocating " + mb(cap));
      }
    }
  }
  auto b = std::shared_ptr<Buffer>(new Buffer());
  b->ptr_ = p;
  b->size_ = bytes;
  b->capacity_ = cap;
  return b;
}

std::shared_ptr<Buffer> Buffer::external(void* ptr, size_t bytes, std::function<void()> release) {
  auto b = std::shared_ptr<Buffer>(new Buffer());
  b->ptr_ = ptr;
  b->size_ = bytes;
  b->release_ = std::move(release);
  return b;
}

Buffer::~Buffer() {
  if (release_) { release_(); return; }
  if (!ptr_) return;
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  s.active -= capacity_;
  if (capacity_ <= s.cache_limit) {
    s.free_blocks.emplace(capacity_, ptr_);
    s.cached += capacity_;
    s.trim_to(s.cache_limit);
  } else {
    std::free(ptr_);
  }
}

namespace memory {
size_t active() { std::lock_guard<std::mutex> lk(state().mu); return state().active; }
size_t peak() { std::lock_guard<std::mutex> lk(state().mu); return state().peak; }
void reset_peak() { std::lock_guard<std::mutex> lk(state().mu); state().peak = state().active; }
size_t cache() { std::lock_guard<std::mutex> lk(state().mu); return state().cached; }
size_t set_cache_limit(size_t bytes) {
  std::lock_guard<std::mutex> lk(state().mu);
  size_t old = state().cache_limit;
  state().cache_limit = bytes;
  state().trim_to(bytes);
  return old;
}
size_t set_memory_limit(size_t bytes) {
  std::lock_guard<std::mutex> lk(state().mu);
  size_t old = state().memory_limit;
  state().memory_limit = bytes;
  return old;
}
size_t memory_limit() { std::lock_guard<std::mutex> lk(state().mu); return state().memory_limit; }
void clear_cache() { std::lock_guard<std::mutex> lk(state().mu); state().trim_to(0); }
}  // namespace memory

}  // namespace hearth
