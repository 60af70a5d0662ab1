// Bindings for the fused ops (mx.fast). Each takes a trailing `fallback` flag that builds the plain-op graph
// instead of the fused node (tests compare the two).
#include <cmath>

#include "binding.h"
#include "core/ops/fast.h"

namespace hearth::js {

namespace {
std::optional<Array> opt_array(const Napi::CallbackInfo& info, size_t i) {
  if (!has_arg(info, i)) return std::nullopt;
  return arg_array(info, i);
}
}  // namespace

// (x, weight | null, eps, fallback)
HEARTH_BIND(fastRmsNorm) {
  return wrap(info.Env(), rms_norm(arg_array(info, 0), opt_array(info, 1), arg_double(info, 2), arg_bool(info, 3)));
}

// (x, weight | null, bias | null, eps, fallback)
HEARTH_BIND(fastLayerNorm) {
  return wrap(info.Env(), layer_norm(arg_array(info, 0), opt_array(info, 1), opt_array(info, 2), arg_double(info, 3),
                                     arg_bool(info, 4)));
}

// (x, dims, traditional, base | null, scale, offset: number | array, freqs | null, fallback)
HEARTH_BIND(fastRope) {
  std::optional<Array> off_arr;
  int64_t off = 0;
  if (info[5].IsNumber()) {
    double o = info[5].As<Napi::Number>().DoubleValue();
    if (!(o == std::floor(o)) || std::fabs(o) > 9.0e15)
      throw std::invalid_argument("[rope] offset must be an integer, got " + std::to_string(o));
    off = int64_t(o);
  } else {
    off_arr = arg_array(info, 5);
  }
  std::optional<Array> freqs = opt_array(info, 6);
  if (freqs && has_arg(info, 3))
    throw std::invalid_argument("[rope] only one of base and freqs can be given (pass base: null with freqs)");
  double base = has_arg(info, 3) ? arg_double(info, 3) : 10000.0;
  return wrap(info.Env(), rope(arg_array(info, 0), int(arg_int(info, 1)), arg_bool(info, 2), base, arg_double(info, 4),
                               off, off_arr, freqs, arg_bool(info, 7)));
}

// (q, k, v, scale | null, mask: null | "causal" | array, slidingWindow | null, fallback)
HEARTH_BIND(fastScaledDotProductAttention) {
  const char* op = "[scaledDotProductAttention] ";
  std::optional<double> scale;
  if (has_arg(info, 3)) scale = arg_double(info, 3);
  SdpaMask mode = SdpaMask::none;
  std::optional<Array> mask;
  if (has_arg(info, 4)) {
    if (info[4].IsString()) {
      std::string s = info[4].As<Napi::String>().Utf8Value();
      if (s != "causal")
        throw std::invalid_argument(std::string(op) + "the only mask string is \"causal\", got \"" + s + "\"");
      mode = SdpaMask::causal;
    } else {
      mask = arg_array(info, 4);
      mode = SdpaMask::array;
    }
  }
  int64_t window = 0;
  if (has_arg(info, 5)) {
    double w = info[5].IsNumber() ? info[5].As<Napi::Number>().DoubleValue() : NAN;
    if (!(w >= 1) || w != std::floor(w) || w > 9.0e15)
      throw std::invalid_argument(std::string(op) + "slidingWindow must be a positive integer number of keys");
    window = int64_t(w);
  }
  Array out = scaled_dot_product_attention(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2), scale, mode, mask,
                                           window, arg_bool(info, 6));
  return wrap(info.Env(), out);
}

HEARTH_BIND(fastAttentionKernel) { return Napi::String::New(info.Env(), attention_kernel_name()); }

}  // namespace hearth::js
