// Bindings for linear algebra.
#include "binding.h"
#include "core/ops/linalg.h"

namespace hearth::js {

HEARTH_BIND(matmul) { return wrap(info.Env(), matmul(arg_array(info, 0), arg_array(info, 1))); }

}  // namespace hearth::js
