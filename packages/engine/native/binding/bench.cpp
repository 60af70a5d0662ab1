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
