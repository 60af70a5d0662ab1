// Bindings for safetensors I/O (native/io/load.h). Names, arrays and metadata cross as parallel lists; the TS
// side (src/core/io.ts) builds the records, so that no tensor name can reach an object's prototype.
#include <string>
#include <utility>
#include <vector>

#include "binding.h"
#include "io/load.h"

namespace hearth::js {

namespace {

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString()) throw std::invalid_argument(std::string("[binding] argument ") + std::to_string(i) +
                                                       ": expected " + what + " (a string)");
  return info[i].As<Napi::String>().Utf8Value();
}

std::vector<std::string> arg_strings(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsArray()) throw std::invalid_argument(std::string("[binding] argument ") + std::to_string(i) +
                                                      ": expected a list of " + what);
  Napi::Array list = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(list.Length());
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value v = list.Get(k);
    if (!v.IsString())
      throw std::invalid_argument(std::string("[binding] argument ") + std::to_string(i) + ": item " +
                                  std::to_string(k) + " is not a string");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

}  // namespace

// loadSafetensors(path) -> [names, arrays, metadataKeys, metadataValues]; path: file, index or folder.
HEARTH_BIND(loadSafetensors) {
  io::LoadedArrays loaded = io::load_safetensors_path(arg_string(info, 0, "a path"));
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env, loaded.arrays.size());
  Napi::Array arrays = Napi::Array::New(env, loaded.arrays.size());
  for (size_t i = 0; i < loaded.arrays.size(); i++) {
    names.Set(uint32_t(i), Napi::String::New(env, loaded.arrays[i].first));
    arrays.Set(uint32_t(i), wrap(env, std::move(loaded.arrays[i].second)));
  }
  Napi::Array keys = Napi::Array::New(env, loaded.metadata.size());
  Napi::Array values = Napi::Array::New(env, loaded.metadata.size());
  for (size_t i = 0; i < loaded.metadata.size(); i++) {
    keys.Set(uint32_t(i), Napi::String::New(env, loaded.metadata[i].first));
    values.Set(uint32_t(i), Napi::String::New(env, loaded.metadata[i].second));
  }
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, names);
  out.Set(1u, arrays);
  out.Set(2u, keys);
  out.Set(3u, values);
  return out;
}

// saveSafetensors(path, names, arrays, metadataKeys, metadataValues)
HEARTH_BIND(saveSafetensors) {
  std::string path = arg_string(info, 0, "a path");
  std::vector<std::string> names = arg_strings(info, 1, "tensor names");
  std::vector<Array> arrays = arg_arrays(info, 2);
  std::vector<std::string> keys = arg_strings(info, 3, "metadata keys");
  std::vector<std::string> values = arg_strings(info, 4, "metadata values");
  if (names.size() != arrays.size() || keys.size() != values.size())
    throw std::invalid_argument("[binding] saveSafetensors: mismatched list lengths");
  std::vector<std::pair<std::string, Array>> named;
  named.reserve(names.size());
  for (size_t i = 0; i < names.size(); i++) named.emplace_back(std::move(names[i]), std::move(arrays[i]));
  io::Metadata metadata;
  metadata.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); i++) metadata.emplace_back(std::move(keys[i]), std::move(values[i]));
  io::save_arrays_safetensors(path, named, metadata);
  return info.Env().Undefined();
}

}  // namespace hearth::js
