// Bindings for the scans and the sort family. Axis arguments are always given (the TS layer flattens for
// MLX's axis=None).
#include "binding.h"
#include "core/ops/sort_scan.h"

namespace hearth::js {

// scan(opName, a, axis, reverse, inclusive)
HEARTH_BIND(scan) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  static const char* names[] = {"cumsum", "cumprod", "cummax", "cummin"};
  int op = -1;
  for (int i = 0; i < 4; i++)
    if (name == names[i]) op = i;
  if (op < 0) throw std::invalid_argument("[scan] unknown scan " + name);
  return wrap(info.Env(), scan(ScanOp(op), arg_array(info, 1), int(arg_int(info, 2)), arg_bool(info, 3),
                               arg_bool(info, 4)));
}

HEARTH_BIND(sort) { return wrap(info.Env(), sort(arg_array(info, 0), int(arg_int(info, 1)))); }
HEARTH_BIND(argsort) { return wrap(info.Env(), argsort(arg_array(info, 0), int(arg_int(info, 1)))); }
HEARTH_BIND(partition) {
  return wrap(info.Env(), partition(arg_array(info, 0), arg_int(info, 1), int(arg_int(info, 2))));
}
HEARTH_BIND(argpartition) {
  return wrap(info.Env(), argpartition(arg_array(info, 0), arg_int(info, 1), int(arg_int(info, 2))));
}
HEARTH_BIND(topk) { return wrap(info.Env(), topk(arg_array(info, 0), arg_int(info, 1), int(arg_int(info, 2)))); }
HEARTH_BIND(topkIndices) {
  return wrap(info.Env(), topk_indices(arg_array(info, 0), arg_int(info, 1), int(arg_int(info, 2))));
}

}  // namespace hearth::js
