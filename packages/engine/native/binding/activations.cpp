// Fused activations: geluApprox(x, mul | null, fallback).
#include "binding.h"
#include "core/ops/activations.h"

namespace hearth::js {

HEARTH_BIND(geluApprox) {
  std::optional<Array> mul;
  if (has_arg(info, 1)) mul = arg_array(info, 1);
  return wrap(info.Env(), gelu_approx(arg_array(info, 0), mul, has_arg(info, 2) && arg_bool(info, 2)));
}

}  // namespace hearth::js
