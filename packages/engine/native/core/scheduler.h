// The engine thread: asynchronous evaluations run here, one task at a time, so graph evaluation never races
// with itself. A synchronous evaluation runs on the calling thread when the engine thread has nothing queued or
// running (under the same one-at-a-time lock), otherwise it queues behind the pending work and waits.
#pragma once
#include <functional>
#include <string>

namespace hearth {

// Runs fn (inline when the engine thread is idle, else on it) and waits for it; exceptions are rethrown here.
void run_on_engine_sync(std::function<void()> fn);
// Queues fn on the engine thread; done(error_message_or_empty) is called on the engine thread afterwards.
void run_on_engine_async(std::function<void()> fn, std::function<void(const std::string*)> done);
bool on_engine_thread();

}  // namespace hearth
