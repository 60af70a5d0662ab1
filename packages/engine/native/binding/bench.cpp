// Benchmark helpers: measureReadBandwidth(bytes, repeats) -> { bestGBs, medianGBs, threads, kernel }.
#include "backend/cpu/bandwidth.h"
#include "binding/binding.h"

namespace hearth::js {

HEARTH_BIND(measureReadBandwidth) {
  const int64_t bytes = has_arg(info, 0) ? arg_int(info, 0) : int64_t(1) << 30;
  const int64_t repeats = has_arg(info, 1) ? arg_int(info, 1) : 5;
  if (bytes <= 0) throw std::invalid_argument("[measureReadBandwidth] bytes must be positive");
  auto r = cpu::measure_read_bandwidth(size_t(bytes), int(repeats));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("bestGBs", r.best_gbs);
  o.Set("medianGBs", r.median_gbs);
  o.Set("threads", r.threads);
  o.Set("kernel", r.kernel);
  return o;
}

}  // namespace hearth::js

// ---- graph profiling (benchmarks only) ---------------------------------------------------------------------
// evalProfiled(arrays) evaluates like eval() and returns { [primitive name]: [count, seconds] } plus "_total":
// where the time of a step goes, per op kind, including the per-op overhead (allocation, dispatch).
#include <chrono>
#include <map>

#include "core/primitive.h"
#include "core/scheduler.h"
#include "core/transforms.h"

namespace hearth::js {

HEARTH_BIND(evalProfiled) {
  std::vector<Array> outputs = arg_arrays(info, 0);
  std::map<std::string, std::pair<int64_t, double>> stats;
  double total = 0;
  run_on_engine_sync([&] {
    auto t_all = std::chrono::steady_clock::now();
    std::vector<Array> order = topo_unevaluated(outputs);
    for (auto& slot : order) {
      Array a = std::move(slot);
      if (a.is_evaluated()) continue;
      const char* name = a.primitive().name();
      auto t0 = std::chrono::steady_clock::now();
      a.primitive().eval_cpu(a.inputs(), a);
      a.mark_evaluated();
      if (!a.is_tracer()) a.detach();
      auto& s = stats[name];
      s.first++;
      s.second += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
  });
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  for (auto& [k, v] : stats) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(uint32_t(0), double(v.first));
    pair.Set(uint32_t(1), v.second);
    o.Set(k, pair);
  }
  o.Set("_total", total);
  return o;
}

}  // namespace hearth::js
