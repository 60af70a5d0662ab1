// Helpers shared by every binding file: the JS array class, argument conversion, and the registry that
// lets each op family add its functions to the addon's exports from its own file.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "core/array.h"

namespace hearth::js {

// The JS handle of an array. dispose() drops the reference; using it afterwards is an error.
class JsArray : public Napi::ObjectWrap<JsArray> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit JsArray(const Napi::CallbackInfo& info);
  Array array;

 private:
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value size(const Napi::CallbackInfo& info);
  Napi::Value ndim(const Napi::CallbackInfo& info);
  Napi::Value item(const Napi::CallbackInfo& info);
  Napi::Value to_bytes(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value evaluated(const Napi::CallbackInfo& info);
  Napi::Value nbytes(const Napi::CallbackInfo& info);
};

using BoundFn = Napi::Value (*)(const Napi::CallbackInfo&);
struct Registrar {
  Registrar(const char* name, BoundFn fn);
};
void register_all(Napi::Env env, Napi::Object exports);

// Defines a JS-callable function `name` in the addon exports; C++ exceptions become EngineErrors.
#define HEARTH_BIND(NAME)                                                   \
  static Napi::Value bind_##NAME(const Napi::CallbackInfo& info);           \
  static ::hearth::js::Registrar registrar_##NAME(#NAME, bind_##NAME);       \
  static Napi::Value bind_##NAME(const Napi::CallbackInfo& info)

Napi::Value wrap(Napi::Env env, Array a);
Array& arg_array(const Napi::CallbackInfo& info, size_t i);
std::vector<Array> arg_arrays(const Napi::CallbackInfo& info, size_t i);
Shape arg_shape(const Napi::CallbackInfo& info, size_t i);
std::vector<int> arg_ints(const Napi::CallbackInfo& info, size_t i);
int64_t arg_int(const Napi::CallbackInfo& info, size_t i);
double arg_double(const Napi::CallbackInfo& info, size_t i);
bool arg_bool(const Napi::CallbackInfo& info, size_t i);
Dtype arg_dtype(const Napi::CallbackInfo& info, size_t i);
bool has_arg(const Napi::CallbackInfo& info, size_t i);  // present and not undefined/null
Napi::Array wrap_arrays(Napi::Env env, const std::vector<Array>& arrays);

// Throws a JS EngineError (message kept, code from the exception type).
[[noreturn]] void throw_engine_error(Napi::Env env, const std::string& message, const char* code);
Napi::Object make_engine_error(Napi::Env env, const std::string& message, const char* code);

}  // namespace hearth::js
