// The addon's entry point: the array class plus every function registered by the binding files.
#include "binding.h"

namespace hearth::js {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeArray", JsArray::define(env));
  register_all(env, exports);
  return exports;
}

}  // namespace hearth::js

static Napi::Object InitHearth(Napi::Env env, Napi::Object exports) { return hearth::js::init(env, exports); }

NODE_API_MODULE(hearth_native, InitHearth)
