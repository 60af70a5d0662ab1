// Bindings for the elementwise, layout, creation and reduction families.
#include "binding.h"
#include "core/ops/creation.h"
#include "core/ops/elementwise.h"
#include "core/ops/layout.h"
#include "core/ops/reduce.h"

namespace hearth::js {

HEARTH_BIND(unaryOpNames) {
  Napi::Array out = Napi::Array::New(info.Env());
  for (int i = 0; i < int(UnaryOp::count_); i++) out.Set(uint32_t(i), unary_op_name(UnaryOp(i)));
  return out;
}
HEARTH_BIND(binaryOpNames) {
  Napi::Array out = Napi::Array::New(info.Env());
  for (int i = 0; i < int(BinaryOp::count_); i++) out.Set(uint32_t(i), binary_op_name(BinaryOp(i)));
  return out;
}
HEARTH_BIND(unary) {
  int64_t op = arg_int(info, 0);
  if (op < 0 || op >= int64_t(UnaryOp::count_)) throw std::invalid_argument("[unary] unknown op");
  return wrap(info.Env(), unary(UnaryOp(op), arg_array(info, 1)));
}
HEARTH_BIND(binary) {
  int64_t op = arg_int(info, 0);
  if (op < 0 || op >= int64_t(BinaryOp::count_)) throw std::invalid_argument("[binary] unknown op");
  return wrap(info.Env(), binary(BinaryOp(op), arg_array(info, 1), arg_array(info, 2)));
}
HEARTH_BIND(where) { return wrap(info.Env(), where(arg_array(info, 0), arg_array(info, 1), arg_array(info, 2))); }
HEARTH_BIND(astype) { return wrap(info.Env(), astype(arg_array(info, 0), arg_dtype(info, 1))); }

HEARTH_BIND(reshape) { return wrap(info.Env(), reshape(arg_array(info, 0), arg_shape(info, 1))); }
HEARTH_BIND(transpose) {
  Array& a = arg_array(info, 0);
  return wrap(info.Env(), has_arg(info, 1) ? transpose(a, arg_ints(info, 1)) : transpose(a));
}
HEARTH_BIND(broadcastTo) { return wrap(info.Env(), broadcast_to(arg_array(info, 0), arg_shape(info, 1))); }
HEARTH_BIND(expandDims) { return wrap(info.Env(), expand_dims(arg_array(info, 0), arg_ints(info, 1))); }
HEARTH_BIND(squeeze) {
  Array& a = arg_array(info, 0);
  return wrap(info.Env(), has_arg(info, 1) ? squeeze(a, arg_ints(info, 1)) : squeeze(a));
}
HEARTH_BIND(flatten) {
  return wrap(info.Env(), flatten(arg_array(info, 0), int(arg_int(info, 1)), int(arg_int(info, 2))));
}
HEARTH_BIND(swapaxes) {
  return wrap(info.Env(), swapaxes(arg_array(info, 0), int(arg_int(info, 1)), int(arg_int(info, 2))));
}
HEARTH_BIND(moveaxis) {
  return wrap(info.Env(), moveaxis(arg_array(info, 0), int(arg_int(info, 1)), int(arg_int(info, 2))));
}
HEARTH_BIND(stopGradient) { return wrap(info.Env(), stop_gradient(arg_array(info, 0))); }
HEARTH_BIND(contiguous) { return wrap(info.Env(), contiguous(arg_array(info, 0))); }

HEARTH_BIND(full) { return wrap(info.Env(), full(arg_shape(info, 0), arg_double(info, 1), arg_dtype(info, 2))); }
HEARTH_BIND(arange) {
  return wrap(info.Env(), arange(arg_double(info, 0), arg_double(info, 1), arg_double(info, 2), arg_dtype(info, 3)));
}
HEARTH_BIND(linspace) {
  return wrap(info.Env(), linspace(arg_double(info, 0), arg_double(info, 1), arg_int(info, 2), arg_dtype(info, 3)));
}
HEARTH_BIND(eye) {
  return wrap(info.Env(), eye(arg_int(info, 0), arg_int(info, 1), arg_int(info, 2), arg_dtype(info, 3)));
}

// reduce(opName, a, axes | null, keepdims)
HEARTH_BIND(reduce) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  static const char* names[] = {"sum", "prod", "max", "min", "all", "any"};
  int op = -1;
  for (int i = 0; i < 6; i++)
    if (name == names[i]) op = i;
  if (op < 0) throw std::invalid_argument("[reduce] unknown reduction " + name);
  Array& a = arg_array(info, 1);
  bool all = !has_arg(info, 2);
  std::vector<int> axes = all ? std::vector<int>{} : arg_ints(info, 2);
  return wrap(info.Env(), reduce(ReduceOp(op), a, axes, arg_bool(info, 3), all));
}
HEARTH_BIND(argmax) {
  return wrap(info.Env(), argmax(arg_array(info, 0), int(arg_int(info, 1)), arg_bool(info, 2)));
}
HEARTH_BIND(argmin) {
  return wrap(info.Env(), argmin(arg_array(info, 0), int(arg_int(info, 1)), arg_bool(info, 2)));
}

}  // namespace hearth::js
