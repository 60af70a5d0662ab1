// Buffer allocation with accounting (active, peak), a size-bucketed cache of freed blocks and a hard limit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace hearth {

// One block of array storage. Owned blocks come from the allocator; external ones (memory-mapped files)
// carry their own release function and are not counted as allocator memory.
class Buffer {
 public:
  static std::shared_ptr<Buffer> allocate(size_t bytes);  // throws "[malloc] ..." past the memory limit
  static std::shared_ptr<Buffer> external(void* ptr, size_t bytes, std::function<void()> release);
  ~Buffer();
  void* data() const { return ptr_; }
  size_t size() const { return size_; }
  // Allocator-owned and writable (memory-mapped files are neither): an output may reuse it.
  bool owned() const { return !release_; }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

 private:
  Buffer() = default;
  void* ptr_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
  std::function<void()> release_;
};

namespace memory {
size_t active();
size_t peak();
void reset_peak();
size_t cache();
size_t set_cache_limit(size_t bytes);   // returns the previous limit
size_t set_memory_limit(size_t bytes);  // 0 = no limit; returns the previous limit
size_t memory_limit();
void clear_cache();
}  // namespace memory

}  // namespace hearth
