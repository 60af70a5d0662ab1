// The kernel thread pool: one worker per core, the calling thread included.
#pragma once
#include <cstddef>
#include <functional>

namespace hearth {

// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous chunks of at least `grain`
// items. The caller runs one chunk itself and returns when all are done. Exceptions from a chunk are
// rethrown on the caller. Nested calls from inside a chunk run serially.
void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);
int num_threads();
void set_num_threads(int n);  // 0 = one per core

}  // namespace hearth
