// The engine thread: every evaluation runs here, one task at a time, so graph evaluation never races
// with itself and the JS thread only builds graphs.
#pragma once
#include <functional>
#include <string>

namespace hearth {

// Runs fn on the engine thread and waits for it; exceptions are rethrown here.
void run_on_engine_sync(std::function<void()> fn);
// Queues fn on the engine thread; done(error_message_or_empty) is called on the engine thread afterwards.
void run_on_engine_async(std::function<void()> fn, std::function<void(const std::string*)> done);
bool on_engine_thread();

}  // namespace hearth
