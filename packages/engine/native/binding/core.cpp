// Bindings for evaluation, gradients' graph walk, memory, threads and device information.
#include <memory>

#include "binding.h"
#include "core/allocator.h"
#include "core/cpu_features.h"
#include "core/ops/creation.h"
#include "core/scheduler.h"
#include "core/threadpool.h"
#include "core/transforms.h"

namespace hearth::js {

HEARTH_BIND(fromBytes) {  // (ArrayBuffer | TypedArray, shape, dtype)
  Shape shape = arg_shape(info, 1);
  Dtype dt = arg_dtype(info, 2);
  const void* data;
  size_t len;
  if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    data = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    len = ta.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    data = ab.Data();
    len = ab.ByteLength();
  } else {
    throw std::invalid_argument("[array] expected a TypedArray or ArrayBuffer");
  }
  size_t need = size_t(shape_size(shape)) * size_of(dt);
  if (len != need)
    throw std::invalid_argument("[array] data has " + std::to_string(len) + " bytes but shape " + shape_str(shape) +
                                " of " + dtype_name(dt) + " needs " + std::to_string(need));
  return wrap(info.Env(), array_from_data(data, shape, dt));
}

HEARTH_BIND(eval) {
  eval(arg_arrays(info, 0));
  return info.Env().Undefined();
}

// Resolves a promise once the arrays are computed; the JS thread keeps running meanwhile.
HEARTH_BIND(asyncEval) {
  std::vector<Array> arrays = arg_arrays(info, 0);
  Napi::Env env = info.Env();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
#ifdef __EMSCRIPTEN__
  // WebAssembly has no engine thread (see core/scheduler.cpp): evaluate now and settle the promise.
  try {
    run_on_engine_sync([&] { eval_on_this_thread(arrays); });
    deferred->Resolve(env.Undefined());
  } catch (const std::exception& e) {
    std::string m = e.what();
    deferred->Reject(make_engine_error(env, m, m.rfind("[malloc]", 0) == 0 ? "ENOMEM" : "EENGINE"));
  }
  return deferred->Promise();
#else
  auto tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "hearth.asyncEval", 0, 1);
  run_on_engine_async([arrays] { eval_on_this_thread(arrays); },
                      [tsfn, deferred](const std::string* error) mutable {
    std::string* msg = error ? new std::string(*error) : nullptr;
    tsfn.BlockingCall(msg, [deferred](Napi::Env env, Napi::Function, std::string* m) {
      if (m) {
        const char* code = m->rfind("[malloc]", 0) == 0 ? "ENOMEM" : "EENGINE";
        deferred->Reject(make_engine_error(env, *m, code));
        delete m;
      } else {
        deferred->Resolve(env.Undefined());
      }
    });
    tsfn.Release();
  });
  return deferred->Promise();
#endif
}

HEARTH_BIND(makeTracer) { return wrap(info.Env(), make_tracer(arg_array(info, 0))); }

HEARTH_BIND(backprop) {  // (outputs, cotangents, inputs) -> cotangents of inputs
  auto outs = arg_arrays(info, 0), cots = arg_arrays(info, 1), ins = arg_arrays(info, 2);
  if (outs.size() != cots.size()) throw std::invalid_argument("[vjp] need one cotangent per output");
  for (size_t i = 0; i < outs.size(); i++)
    if (outs[i].shape() != cots[i].shape())
      throw std::invalid_argument("[vjp] cotangent " + std::to_string(i) + " has shape " + shape_str(cots[i].shape()) +
                                  " but the output has shape " + shape_str(outs[i].shape()));
  return wrap_arrays(info.Env(), backprop(outs, cots, ins));
}

HEARTH_BIND(isTracer) { return Napi::Boolean::New(info.Env(), arg_array(info, 0).is_tracer()); }
HEARTH_BIND(sameNode) {
  return Napi::Boolean::New(info.Env(), arg_array(info, 0).id() == arg_array(info, 1).id());
}

HEARTH_BIND(getActiveMemory) { return Napi::Number::New(info.Env(), double(memory::active())); }
HEARTH_BIND(getPeakMemory) { return Napi::Number::New(info.Env(), double(memory::peak())); }
HEARTH_BIND(resetPeakMemory) { memory::reset_peak(); return info.Env().Undefined(); }
HEARTH_BIND(getCacheMemory) { return Napi::Number::New(info.Env(), double(memory::cache())); }
HEARTH_BIND(setCacheLimit) {
  return Napi::Number::New(info.Env(), double(memory::set_cache_limit(size_t(arg_int(info, 0)))));
}
HEARTH_BIND(setMemoryLimit) {
  return Napi::Number::New(info.Env(), double(memory::set_memory_limit(size_t(arg_int(info, 0)))));
}
HEARTH_BIND(getMemoryLimit) { return Napi::Number::New(info.Env(), double(memory::memory_limit())); }
HEARTH_BIND(clearCache) { memory::clear_cache(); return info.Env().Undefined(); }

HEARTH_BIND(numThreads) { return Napi::Number::New(info.Env(), num_threads()); }
HEARTH_BIND(setNumThreads) { set_num_threads(int(arg_int(info, 0))); return info.Env().Undefined(); }
HEARTH_BIND(cpuInfo) {
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", cpu_isa_level());
  o.Set("avx2", f.avx2);
  o.Set("fma", f.fma);
  o.Set("avx512f", f.avx512f);
  o.Set("avx512bf16", f.avx512_bf16);
  o.Set("avx512vnni", f.avx512_vnni);
  o.Set("amxBf16", f.amx_bf16);
  o.Set("amxInt8", f.amx_int8);
  return o;
}

}  // namespace hearth::js

namespace hearth::js {
HEARTH_BIND(beginTrace) { begin_trace(); return info.Env().Undefined(); }
HEARTH_BIND(endTrace) { end_trace(); return info.Env().Undefined(); }
}  // namespace hearth::js

#include "core/compile.h"

namespace hearth::js {

// compileTrace(inputs, outputs, fuse) -> an opaque handle; compileRun(handle, inputs) -> outputs.
HEARTH_BIND(compileTrace) {
  auto g = compile_trace(arg_arrays(info, 0), arg_arrays(info, 1), arg_bool(info, 2));
  auto* holder = new std::shared_ptr<CompiledGraph>(g);
  return Napi::External<std::shared_ptr<CompiledGraph>>::New(
      info.Env(), holder, [](Napi::Env, std::shared_ptr<CompiledGraph>* p) { delete p; });
}
HEARTH_BIND(compileRun) {
  if (!info[0].IsExternal()) throw std::invalid_argument("[compile] bad handle");
  auto* g = info[0].As<Napi::External<std::shared_ptr<CompiledGraph>>>().Data();
  return wrap_arrays(info.Env(), compile_replay(**g, arg_arrays(info, 1)));
}
HEARTH_BIND(compileStats) {
  auto* g = info[0].As<Napi::External<std::shared_ptr<CompiledGraph>>>().Data();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("tapeSize", double(compiled_tape_size(**g)));
  o.Set("fusedKernels", double(compiled_fused_count(**g)));
  return o;
}

}  // namespace hearth::js
