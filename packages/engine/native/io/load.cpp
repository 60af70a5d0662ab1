#include "load.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "../core/allocator.h"
#include "../core/ops/creation.h"
#include "../core/ops/layout.h"
#include "../core/transforms.h"
#include "json.h"
#include "mapped_file.h"
#include "safetensors.h"

namespace hearth {
namespace io {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxIndexBytes = size_t(1) << 30;  // an index of a few million tensors is still far below this

// A name for an error message: quoted, control characters as \xNN, long names cut.
std::string qname(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  size_t limit = std::min<size_t>(s.size(), 200);
  while (limit < s.size() && limit > 0 && (static_cast<unsigned char>(s[limit]) & 0xC0) == 0x80) limit--;
  std::string out = "'";
  for (size_t i = 0; i < limit; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (limit < s.size()) out += "...";
  return out + "'";
}

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw std::invalid_argument("[load] " + path + ": " + msg);
}
[[noreturn]] void fail_io(const std::string& path, const std::string& msg) {
  throw std::runtime_error("[load] " + path + ": " + msg);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

bool is_regular(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// True when a BOOL tensor holds a byte other than 0 or 1. The format does not forbid them, but the engine's
// bool kernels (not, and, where, sums of masks) assume 0/1, so such a tensor is normalised (see below).
bool has_non_01_bytes(const uint8_t* p, uint64_t n) {
  uint8_t any = 0;
  for (uint64_t i = 0; i < n; i++) any |= p[i];
  return (any & 0xFE) != 0;
}

// Adds `from` (loaded from `file`) to `into`; a name already there (from the file in `owner`) is an error
// reported against `where` (the index or the folder).
void merge(LoadedArrays& into, LoadedArrays&& from, const std::string& file, const std::string& where,
           std::unordered_map<std::string, std::string>& owner) {
  for (auto& na : from.arrays) {
    auto ins = owner.emplace(na.first, file);
    if (!ins.second)
      fail(where, "tensor " + qname(na.first) + " is in both " + qname(ins.first->second) + " and " +
                      qname(file) + "; tensor names must be unique across the files of a checkpoint");
    into.arrays.push_back(std::move(na));
  }
  for (auto& kv : from.metadata) {
    bool have = false;
    for (const auto& m : into.metadata) have = have || m.first == kv.first;
    if (!have) into.metadata.push_back(std::move(kv));
  }
}

// A weight_map value must name a file inside the index's folder (no absolute paths, no "..").
bool is_confined_relative(const std::string& s) {
  if (s.empty() || s[0] == '/' || s.find('\\') != std::string::npos || s.find('\0') != std::string::npos)
    return false;
  fs::path p(s);
  if (p.is_absolute() || p.has_root_name()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

}  // namespace

LoadedArrays load_safetensors_file(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  SafetensorsHeader h = parse_safetensors(file->data(), file->size(), path);
  const uint8_t* base = file->data();
  // One buffer for the whole mapping, shared by every array of the file: the file is unmapped when the last
  // of them goes. The mapping is read-only (PROT_READ); the const_cast only fits Buffer's signature.
  std::shared_ptr<Buffer> buffer = Buffer::external(const_cast<uint8_t*>(base), file->size(),
                                                    [file]() mutable { file.reset(); });
  file.reset();

  LoadedArrays out;
  out.metadata = std::move(h.metadata);
  out.arrays.reserve(h.tensors.size());
  for (TensorInfo& t : h.tensors) {
    const size_t isz = size_of(t.dtype);
    const uint64_t at = h.data_start + t.begin;  // file offset; the mapping starts page-aligned
    const uint64_t nbytes = t.end - t.begin;
    Array a;
    if (t.dtype == Dtype::bool_ && has_non_01_bytes(base + at, nbytes)) {
      // A copy with every non-zero byte as true (what C, NumPy and PyTorch read such a byte as).
      a = Array::empty(t.shape, t.dtype);
      uint8_t* dst = a.data<uint8_t>();
      for (uint64_t i = 0; i < nbytes; i++) dst[i] = base[at + i] != 0;
    } else if (nbytes == 0) {
      a = Array::from_buffer(t.shape, t.dtype, buffer, 0);  // zero-size: nothing is ever read
    } else if (at % isz == 0) {
      a = Array::from_buffer(t.shape, t.dtype, buffer, int64_t(at / isz));
    } else {
      // Misaligned for its dtype: the format pads neither the header nor the tensors, so a header whose
      // length is not a multiple of 8, or an odd-sized U8/BOOL/F16 tensor written before a wider one (our
      // save orders by element size to avoid it), leaves this tensor at an offset the kernels can't read
      // as T*. Copy this one tensor into aligned allocator memory.
      a = array_from_data(base + at, t.shape, t.dtype);
    }
    out.arrays.emplace_back(std::move(t.name), std::move(a));
  }
  return out;
}

LoadedArrays load_safetensors_index(const std::string& index_path) {
  JsonValue root;
  {
    MappedFile f(index_path);
    if (f.size() > kMaxIndexBytes)
      fail(index_path, "index file is " + std::to_string(f.size()) + " bytes, over the 1 GB limit");
    JsonParseOptions opt;
    opt.max_values = kMaxHeaderJsonValues;
    try {
      root = parse_json(reinterpret_cast<const char*>(f.data()), f.size(), opt);
    } catch (const JsonError& e) {
      fail(index_path, "index is not valid JSON: " + e.reason() + " at byte " + std::to_string(e.offset()));
    }
  }
  if (!root.is_object()) fail(index_path, "index must be a JSON object with a \"weight_map\" object");
  size_t a, b;
  if (find_duplicate_key(root, &a, &b)) fail(index_path, "index has a duplicate key " + qname(root.object[b].first));
  const JsonValue* wm = root.find("weight_map");
  if (!wm) fail(index_path, "index has no \"weight_map\" (an object mapping tensor names to shard files)");
  if (!wm->is_object())
    fail(index_path, "\"weight_map\" must be an object mapping tensor names to shard files, got " +
                         std::string(json_kind_name(wm->kind)));
  if (find_duplicate_key(*wm, &a, &b))
    fail(index_path, "\"weight_map\": tensor " + qname(wm->object[b].first) + " is listed twice");

  // shard file -> the names the index puts in it; shards in name order (model-00001-of-00003, ...).
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& m : wm->object) {
    if (!m.second.is_string())
      fail(index_path, "\"weight_map\": the value of tensor " + qname(m.first) + " must be a shard file name, got " +
                           json_kind_name(m.second.kind));
    if (!is_confined_relative(m.second.text))
      fail(index_path, "\"weight_map\": tensor " + qname(m.first) + ": shard " + qname(m.second.text) +
                           " must be a relative path inside the index's folder");
    shards[fs::path(m.second.text).lexically_normal().string()].push_back(m.first);
  }

  std::string dir = fs::path(index_path).parent_path().string();
  if (dir.empty()) dir = ".";
  // Every shard must be there before any is mapped: the error names each missing one.
  std::string missing;
  size_t n_missing = 0;
  for (const auto& s : shards) {
    if (is_regular(join(dir, s.first))) continue;
    if (n_missing++ < 8)
      missing += (missing.empty() ? "" : ", ") + qname(s.first) + " (" + std::to_string(s.second.size()) +
                 " tensors, e.g. " + qname(s.second.front()) + ")";
  }
  if (n_missing)
    fail(index_path, std::to_string(n_missing) + " shard file" + (n_missing > 1 ? "s" : "") + " listed in the index " +
                         (n_missing > 1 ? "are" : "is") + " missing from '" + dir + "': " + missing +
                         (n_missing > 8 ? ", ..." : ""));

  LoadedArrays out;
  std::unordered_map<std::string, std::string> owner;
  for (const auto& s : shards) {
    std::string shard_path = join(dir, s.first);
    LoadedArrays part = load_safetensors_file(shard_path);
    std::unordered_set<std::string> held;
    for (const auto& na : part.arrays) held.insert(na.first);
    for (const std::string& name : s.second)
      if (!held.count(name))
        fail(index_path, "tensor " + qname(name) + " is listed in shard " + qname(s.first) + " but " + shard_path +
                             " does not hold it");
    merge(out, std::move(part), s.first, index_path, owner);
  }
  return out;
}

LoadedArrays load_safetensors_path(const std::string& path) {
  if (path.empty()) fail(path, "empty path");
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) fail_io(path, "cannot access: " + ec.message());
    fail_io(path, "no such file or directory");
  }
  if (!fs::is_directory(st)) {
    if (ends_with(path, ".json")) return load_safetensors_index(path);
    try {
      return load_safetensors_file(path);
    } catch (const std::invalid_argument& e) {
      // A file of another format fails the layout rules somewhere; say what the real problem is.
      for (const char* ext : {".gguf", ".npy", ".npz", ".bin", ".pt", ".pth", ".ckpt"})
        if (ends_with(path, ext))
          throw std::invalid_argument(std::string(e.what()) + " (only safetensors files can be loaded, and '" + ext +
                                      "' suggests another format)");
      throw;
    }
  }

  if (is_regular(join(path, "model.safetensors"))) return load_safetensors_file(join(path, "model.safetensors"));
  if (is_regular(join(path, "model.safetensors.index.json")))
    return load_safetensors_index(join(path, "model.safetensors.index.json"));

  std::vector<std::string> indexes, files;
  fs::directory_iterator it(path, ec), end;
  if (ec) fail_io(path, "cannot list the folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) fail_io(path, "cannot list the folder: " + ec.message());
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !is_regular(it->path().string())) continue;
    if (ends_with(name, ".safetensors.index.json")) indexes.push_back(name);
    else if (ends_with(name, ".safetensors")) files.push_back(name);
  }
  if (ec) fail_io(path, "cannot list the folder: " + ec.message());
  std::sort(indexes.begin(), indexes.end());
  std::sort(files.begin(), files.end());
  if (indexes.size() == 1) return load_safetensors_index(join(path, indexes[0]));
  if (indexes.size() > 1) {
    std::string names;
    for (const auto& n : indexes) names += (names.empty() ? "" : ", ") + qname(n);
    fail(path, "the folder holds several index files (" + names + "); load one of them by its path");
  }
  if (files.empty()) fail(path, "the folder holds no .safetensors file and no *.safetensors.index.json");

  LoadedArrays out;
  std::unordered_map<std::string, std::string> owner;
  for (const auto& f : files) merge(out, load_safetensors_file(join(path, f)), f, path, owner);
  return out;
}

void save_arrays_safetensors(const std::string& path, const std::vector<std::pair<std::string, Array>>& arrays,
                             const Metadata& metadata) {
  // Row-major copies where needed (a view of a contiguous evaluated array costs nothing); one eval for all,
  // so an evaluation error throws before the file is touched.
  std::vector<Array> dense;
  dense.reserve(arrays.size());
  for (const auto& na : arrays) {
    if (!na.second.valid())
      throw std::invalid_argument("[save] " + path + ": tensor " + qname(na.first) + ": array was disposed");
    dense.push_back(contiguous(na.second));
  }
  eval(dense);
  std::vector<TensorToSave> tensors;
  tensors.reserve(arrays.size());
  for (size_t i = 0; i < arrays.size(); i++) {
    const Array& c = dense[i];
    if (!c.contiguous())
      throw std::runtime_error("[save] " + path + ": tensor " + qname(arrays[i].first) +
                               ": internal error: contiguous() gave a strided array");
    tensors.push_back(TensorToSave{arrays[i].first, c.dtype(), c.shape(), c.nbytes() ? c.raw() : nullptr,
                                   c.nbytes()});
  }
  save_safetensors(path, tensors, metadata);
}

}  // namespace io
}  // namespace hearth
