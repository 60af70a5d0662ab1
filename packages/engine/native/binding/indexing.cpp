// Bindings for slicing, gathers/scatters, concatenation and the shape ops built on them.
#include "binding.h"
#include "core/ops/indexing.h"
#include "core/ops/layout.h"

namespace hearth::js {

namespace {
Strides opt_strides(const Napi::CallbackInfo& info, size_t i) { return has_arg(info, i) ? arg_shape(info, i) : Strides{}; }
}  // namespace

// slice(a, start, stop, strides?)
HEARTH_BIND(slice) {
  return wrap(info.Env(), slice(arg_array(info, 0), arg_shape(info, 1), arg_shape(info, 2), opt_strides(info, 3)));
}
// sliceUpdate(a, update, start, stop, strides?)
HEARTH_BIND(sliceUpdate) {
  return wrap(info.Env(), slice_update(arg_array(info, 0), arg_array(info, 1), arg_shape(info, 2),
                                       arg_shape(info, 3), opt_strides(info, 4)));
}
// take(a, indices, axis?) — no axis: over the flattened array.
HEARTH_BIND(take) {
  Array& a = arg_array(info, 0);
  Array& idx = arg_array(info, 1);
  return wrap(info.Env(), has_arg(info, 2) ? take(a, idx, int(arg_int(info, 2))) : take(a, idx));
}
HEARTH_BIND(takeAlongAxis) {
  Array& a = arg_array(info, 0);
  Array& idx = arg_array(info, 1);
  return wrap(info.Env(), has_arg(info, 2) ? take_along_axis(a, idx, int(arg_int(info, 2))) : take_along_axis(a, idx));
}
HEARTH_BIND(putAlongAxis) {
  Array& a = arg_array(info, 0);
  Array& idx = arg_array(info, 1);
  Array& v = arg_array(info, 2);
  return wrap(info.Env(), has_arg(info, 3) ? put_along_axis(a, idx, v, int(arg_int(info, 3))) : put_along_axis(a, idx, v));
}
HEARTH_BIND(concatenate) { return wrap(info.Env(), concatenate(arg_arrays(info, 0), int(arg_int(info, 1)))); }
HEARTH_BIND(stack) { return wrap(info.Env(), stack(arg_arrays(info, 0), int(arg_int(info, 1)))); }
// split(a, sections | points, axis)
HEARTH_BIND(split) {
  Array& a = arg_array(info, 0);
  int axis = int(arg_int(info, 2));
  if (info[1].IsArray()) return wrap_arrays(info.Env(), split(a, arg_shape(info, 1), axis));
  return wrap_arrays(info.Env(), split(a, arg_int(info, 1), axis));
}
// pad(a, [before0, after0, before1, after1, ...], value, mode)
HEARTH_BIND(pad) {
  Shape flat = arg_shape(info, 1);
  if (flat.size() % 2) throw std::invalid_argument("[pad] pad widths must come in (before, after) pairs");
  std::vector<std::pair<int64_t, int64_t>> w;
  for (size_t i = 0; i < flat.size(); i += 2) w.push_back({flat[i], flat[i + 1]});
  if (!info[3].IsString()) throw std::invalid_argument("[pad] mode must be a string");
  return wrap(info.Env(), pad(arg_array(info, 0), w, arg_array(info, 2), info[3].As<Napi::String>().Utf8Value()));
}
// repeat(a, repeats | [per-element repeats], axis?)
HEARTH_BIND(repeat) {
  Array& a = arg_array(info, 0);
  if (info[1].IsArray()) {
    Shape reps = arg_shape(info, 1);
    if (has_arg(info, 2)) return wrap(info.Env(), repeat(a, reps, int(arg_int(info, 2))));
    return wrap(info.Env(), repeat(reshape(a, {-1}), reps, 0));
  }
  int64_t r = arg_int(info, 1);
  return wrap(info.Env(), has_arg(info, 2) ? repeat(a, r, int(arg_int(info, 2))) : repeat(a, r));
}
HEARTH_BIND(tile) { return wrap(info.Env(), tile(arg_array(info, 0), arg_shape(info, 1))); }
HEARTH_BIND(triu) { return wrap(info.Env(), triu(arg_array(info, 0), arg_int(info, 1))); }
HEARTH_BIND(tril) { return wrap(info.Env(), tril(arg_array(info, 0), arg_int(info, 1))); }
HEARTH_BIND(outer) { return wrap(info.Env(), outer(arg_array(info, 0), arg_array(info, 1))); }
HEARTH_BIND(diagonal) {
  return wrap(info.Env(), diagonal(arg_array(info, 0), arg_int(info, 1), int(arg_int(info, 2)), int(arg_int(info, 3))));
}
HEARTH_BIND(diag) { return wrap(info.Env(), diag(arg_array(info, 0), arg_int(info, 1))); }

}  // namespace hearth::js
