#include "binding.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/transforms.h"

#ifdef __EMSCRIPTEN__
#include <emnapi.h>
#endif

namespace hearth::js {

namespace {

struct Entry { const char* name; BoundFn fn; };
std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}

Napi::FunctionReference& array_ctor() {
  static Napi::FunctionReference r;
  return r;
}
Napi::FunctionReference& error_ctor() {
  static Napi::FunctionReference r;
  return r;
}

// Every bound function runs through here: no C++ exception may cross into JS.
Napi::Value trampoline(const Napi::CallbackInfo& info) {
  auto fn = reinterpret_cast<BoundFn>(info.Data());
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw_engine_error(info.Env(), e.what(), "EINVAL");
  } catch (const std::out_of_range& e) {
    throw_engine_error(info.Env(), e.what(), "ERANGE");
  } catch (const std::bad_alloc&) {
    throw_engine_error(info.Env(), "[malloc] out of memory", "ENOMEM");
  } catch (const std::exception& e) {
    const char* code = std::strncmp(e.what(), "[malloc]", 8) == 0 ? "ENOMEM" : "EENGINE";
    throw_engine_error(info.Env(), e.what(), code);
  } catch (...) {
    throw_engine_error(info.Env(), "[engine] unknown native error", "EENGINE");
  }
}

std::string arg_error(size_t i, const char* expected) {
  return "[binding] argument " + std::to_string(i) + ": expected " + expected;
}

}  // namespace

Registrar::Registrar(const char* name, BoundFn fn) { registry().push_back({name, fn}); }

void register_all(Napi::Env env, Napi::Object exports) {
  for (auto& e : registry())
    exports.Set(e.name, Napi::Function::New(env, trampoline, e.name, reinterpret_cast<void*>(e.fn)));
}

Napi::Object make_engine_error(Napi::Env env, const std::string& message, const char* code) {
  Napi::Object err;
  if (!error_ctor().IsEmpty()) {
    err = error_ctor().New({Napi::String::New(env, message)});
  } else {
    err = Napi::Error::New(env, message).Value();
    err.Set("name", "EngineError");
  }
  err.Set("code", code);
  return err;
}

void throw_engine_error(Napi::Env env, const std::string& message, const char* code) {
  throw Napi::Error(env, make_engine_error(env, message, code));
}

HEARTH_BIND(setErrorClass) {
  error_ctor() = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// ---- JsArray ----

Napi::Function JsArray::define(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeArray", {
      InstanceMethod<&JsArray::shape>("_shape"), InstanceMethod<&JsArray::dtype>("_dtype"),
      InstanceMethod<&JsArray::size>("_size"), InstanceMethod<&JsArray::ndim>("_ndim"),
      InstanceMethod<&JsArray::item>("_item"), InstanceMethod<&JsArray::to_bytes>("_toBytes"),
      InstanceMethod<&JsArray::dispose>("_dispose"), InstanceMethod<&JsArray::disposed>("_disposed"),
      InstanceMethod<&JsArray::evaluated>("_evaluated"), InstanceMethod<&JsArray::nbytes>("_nbytes")});
  array_ctor() = Napi::Persistent(f);
  return f;
}

JsArray::JsArray(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsArray>(info) {}

static Array& checked(JsArray* self, Napi::Env env) {
  if (!self->array.valid()) throw_engine_error(env, "[array] used after dispose()", "EDISPOSED");
  return self->array;
}

Napi::Value JsArray::shape(const Napi::CallbackInfo& info) {
  const Shape& s = checked(this, info.Env()).shape();
  Napi::Array out = Napi::Array::New(info.Env(), s.size());
  for (size_t i = 0; i < s.size(); i++) out.Set(uint32_t(i), Napi::Number::New(info.Env(), double(s[i])));
  return out;
}
Napi::Value JsArray::dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), int(checked(this, info.Env()).dtype()));
}
Napi::Value JsArray::size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(checked(this, info.Env()).size()));
}
Napi::Value JsArray::ndim(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), checked(this, info.Env()).ndim());
}
Napi::Value JsArray::nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(checked(this, info.Env()).nbytes()));
}
Napi::Value JsArray::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !array.valid()); }
Napi::Value JsArray::evaluated(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), checked(this, info.Env()).is_evaluated());
}

Napi::Value JsArray::item(const Napi::CallbackInfo& info) {
  try {
    Array& a = checked(this, info.Env());
    if (a.size() != 1)
      throw std::invalid_argument("[item] only arrays with one element can be converted to a scalar, got shape " +
                                  shape_str(a.shape()));
    eval({a});
    return Napi::Number::New(info.Env(), a.scalar_as_double(0));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_engine_error(info.Env(), e.what(), "EINVAL");
  }
}

// A row-major copy of the data as an ArrayBuffer (the array is evaluated first).
Napi::Value JsArray::to_bytes(const Napi::CallbackInfo& info) {
  try {
    Array& a = checked(this, info.Env());
    eval({a});
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(info.Env(), a.nbytes());
    if (a.nbytes() == 0) return ab;
    if (a.contiguous()) {
      std::memcpy(ab.Data(), a.raw(), a.nbytes());
    } else {
      size_t isz = a.itemsize();
      const char* src = static_cast<const char*>(a.buffer()->data()) + a.offset() * int64_t(isz);
      char* dst = static_cast<char*>(ab.Data());
      for (int64_t i = 0; i < a.size(); i++)
        std::memcpy(dst + i * isz, src + strided_offset(i, a.shape(), a.strides()) * int64_t(isz), isz);
    }
#ifdef __EMSCRIPTEN__
    // emnapi: ab.Data() is a copy in wasm memory, separate from the JS ArrayBuffer; copy it over once filled.
    napi_value v = ab;
    if (emnapi_sync_memory(info.Env(), false, &v, 0, NAPI_AUTO_LENGTH) != napi_ok)
      throw std::runtime_error("[toBytes] could not copy the data out of wasm memory");
#endif
    return ab;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_engine_error(info.Env(), e.what(), "EENGINE");
  }
}

Napi::Value JsArray::dispose(const Napi::CallbackInfo& info) {
  array = Array();
  return info.Env().Undefined();
}

// ---- argument helpers ----

Napi::Value wrap(Napi::Env env, Array a) {
  Napi::Object obj = array_ctor().New({});
  JsArray::Unwrap(obj)->array = std::move(a);
  return obj;
}

Napi::Array wrap_arrays(Napi::Env env, const std::vector<Array>& arrays) {
  Napi::Array out = Napi::Array::New(env, arrays.size());
  for (size_t i = 0; i < arrays.size(); i++) out.Set(uint32_t(i), wrap(env, arrays[i]));
  return out;
}

Array& arg_array(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(array_ctor().Value()))
    throw std::invalid_argument(arg_error(i, "an array"));
  return checked(JsArray::Unwrap(v.As<Napi::Object>()), info.Env());
}

std::vector<Array> arg_arrays(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw std::invalid_argument(arg_error(i, "a list of arrays"));
  Napi::Array list = info[i].As<Napi::Array>();
  std::vector<Array> out;
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value v = list.Get(k);
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(array_ctor().Value()))
      throw std::invalid_argument(arg_error(i, "a list of arrays") + " (item " + std::to_string(k) + " is not)");
    out.push_back(checked(JsArray::Unwrap(v.As<Napi::Object>()), info.Env()));
  }
  return out;
}

Shape arg_shape(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw std::invalid_argument(arg_error(i, "a shape (an array of integers)"));
  Napi::Array list = info[i].As<Napi::Array>();
  Shape s;
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value v = list.Get(k);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d == double(int64_t(d)))) throw std::invalid_argument(arg_error(i, "a shape (an array of integers)"));
    s.push_back(int64_t(d));
  }
  return s;
}

std::vector<int> arg_ints(const Napi::CallbackInfo& info, size_t i) {
  Shape s = arg_shape(info, i);
  return std::vector<int>(s.begin(), s.end());
}

int64_t arg_int(const Napi::CallbackInfo& info, size_t i) {
  double d = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : NAN;
  if (!(d == double(int64_t(d)))) throw std::invalid_argument(arg_error(i, "an integer"));
  return int64_t(d);
}

double arg_double(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw std::invalid_argument(arg_error(i, "a number"));
  return info[i].As<Napi::Number>().DoubleValue();
}

bool arg_bool(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

Dtype arg_dtype(const Napi::CallbackInfo& info, size_t i) {
  int64_t d = arg_int(info, i);
  if (d < 0 || d >= kNumDtypes) throw std::invalid_argument(arg_error(i, "a dtype"));
  return Dtype(d);
}

bool has_arg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull();
}

}  // namespace hearth::js
