#include "safetensors.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <system_error>

#include "json.h"

#ifndef _WIN32
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace hearth {
namespace io {

namespace {

struct DtypeName { const char* name; Dtype dtype; };
const DtypeName kDtypeNames[] = {
    {"BOOL", Dtype::bool_},   {"U8", Dtype::uint8},    {"I8", Dtype::int8},     {"I16", Dtype::int16},
    {"U16", Dtype::uint16},   {"I32", Dtype::int32},   {"U32", Dtype::uint32},  {"I64", Dtype::int64},
    {"U64", Dtype::uint64},   {"F16", Dtype::float16}, {"BF16", Dtype::bfloat16}, {"F32", Dtype::float32},
    {"F64", Dtype::float64},
};
// Valid in the safetensors format, but with no Hearth dtype.
const char* const kUnsupportedDtypes[] = {"F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "C64"};

// A name or other header string for an error message: quoted, control characters as \xNN, long ones cut.
std::string quoted(const std::string& s, size_t max_bytes = 200) {
  static const char* kHex = "0123456789ABCDEF";
  size_t limit = std::min(s.size(), max_bytes);
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

std::string number_text(const JsonValue& v) {
  if (v.text.size() <= 40) return v.text;
  return v.text.substr(0, 40) + "...";
}

std::string describe(const JsonValue& v) {
  if (v.is_number()) return number_text(v);
  if (v.is_string()) return "string " + quoted(v.text, 40);
  if (v.is_array()) return "an array of " + std::to_string(v.array.size()) + " elements";
  if (v.is_bool()) return v.boolean ? "true" : "false";
  return json_kind_name(v.kind);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) {
    if (i) s += ", ";
    if (i == 16 && shape.size() > 17) {
      s += "... (" + std::to_string(shape.size()) + " dims)";
      break;
    }
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string range_text(uint64_t b, uint64_t e) {
  return "[" + std::to_string(b) + ", " + std::to_string(e) + ")";
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

// Element count of `shape` (dims already known non-negative), or false if it exceeds int64. Dims of 0 do not
// hide an overflow of the other dims: [2^62, 2^62, 0] is rejected like [0, 2^62, 2^62].
bool element_count(const std::vector<int64_t>& shape, uint64_t* out) {
  uint64_t nonzero = 1;
  bool zero = false;
  for (int64_t d : shape) {
    if (d == 0) { zero = true; continue; }
    if (!checked_mul(nonzero, uint64_t(d), &nonzero)) return false;
    if (nonzero > uint64_t(std::numeric_limits<int64_t>::max())) return false;
  }
  *out = zero ? 0 : nonzero;
  return true;
}

class Loader {
 public:
  Loader(const uint8_t* bytes, size_t file_size, const std::string& filename)
      : bytes_(bytes), file_size_(file_size), filename_(filename) {}

  SafetensorsHeader run() {
    if (file_size_ == 0) fail("file is empty (0 bytes); a safetensors file starts with an 8-byte header length");
    if (file_size_ < 8)
      fail("file is " + std::to_string(file_size_) + " bytes, shorter than the 8-byte header length");
    uint64_t hlen = 0;
    for (int k = 0; k < 8; k++) hlen |= uint64_t(bytes_[k]) << (8 * k);
    if (hlen > kMaxSafetensorsHeaderLength)
      fail("header length " + std::to_string(hlen) + " exceeds the 100 MB limit (" +
           std::to_string(kMaxSafetensorsHeaderLength) + " bytes)");
    if (hlen > uint64_t(file_size_) - 8)
      fail("header length " + std::to_string(hlen) + " exceeds the file size: 8 + " + std::to_string(hlen) +
           " > " + std::to_string(file_size_) + " bytes");
    const char* h = reinterpret_cast<const char*>(bytes_ + 8);
    size_t n = size_t(hlen);
    if (n == 0) fail("header length is 0; the header must be a JSON object starting with '{'");
    if (h[0] != '{') {
      static const char* kHex = "0123456789ABCDEF";
      unsigned char c = static_cast<unsigned char>(h[0]);
      fail(std::string("header does not start with '{' (first byte is 0x") + kHex[c >> 4] + kHex[c & 15] + ")");
    }
    size_t bad = utf8_invalid_offset(h, n);
    if (bad < n) fail("header is not valid UTF-8 at byte " + std::to_string(bad));

    JsonParseOptions opt;
    opt.max_depth = 64;
    opt.max_values = kMaxHeaderJsonValues;
    opt.reject_duplicate_keys = false;  // reported below with the tensor's name
    JsonValue root;
    size_t end = 0;
    try {
      root = parse_json_prefix(h, n, &end, opt);
    } catch (const JsonError& e) {
      fail("header JSON: " + e.reason() + " at byte " + std::to_string(e.offset()));
    }
    for (size_t k = end; k < n; k++)
      if (h[k] != ' ')
        fail("header has trailing bytes after the JSON object at byte " + std::to_string(k) +
             " (only space padding is allowed)");
    if (!root.is_object()) fail("header JSON is not an object");  // not reached: it starts with '{'

    size_t a, b;
    if (find_duplicate_key(root, &a, &b)) {
      const std::string& key = root.object[b].first;
      if (key == "__metadata__") fail("duplicate '__metadata__' entry");
      tensor_fail(key, "duplicate tensor name");
    }

    SafetensorsHeader out;
    out.data_start = 8 + hlen;
    std::vector<TensorInfo> tensors;
    tensors.reserve(root.object.size());
    for (auto& member : root.object) {
      if (member.first == "__metadata__") {
        read_metadata(member.second, &out.metadata);
      } else {
        tensors.emplace_back();
        read_tensor(member.first, member.second, &tensors.back());
      }
    }
    check_layout(tensors, uint64_t(file_size_) - out.data_start, out.data_start);

    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return tensors[x].begin != tensors[y].begin ? tensors[x].begin < tensors[y].begin
                                                  : tensors[x].end < tensors[y].end;
    });
    out.tensors.reserve(tensors.size());
    for (size_t i : order) out.tensors.push_back(std::move(tensors[i]));
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw std::invalid_argument("[load] " + filename_ + ": " + msg);
  }
  [[noreturn]] void tensor_fail(const std::string& name, const std::string& msg) const {
    throw std::invalid_argument("[load] " + filename_ + ": tensor " + quoted(name) + ": " + msg);
  }

  void read_metadata(const JsonValue& v, std::vector<std::pair<std::string, std::string>>* out) const {
    if (!v.is_object())
      fail("'__metadata__' must be an object of string values, got " + describe(v));
    size_t a, b;
    if (find_duplicate_key(v, &a, &b)) fail("'__metadata__': duplicate key " + quoted(v.object[b].first));
    out->reserve(v.object.size());
    for (const auto& m : v.object) {
      if (!m.second.is_string())
        fail("'__metadata__': the value of " + quoted(m.first) + " must be a string, got " + describe(m.second));
      out->emplace_back(m.first, m.second.text);
    }
  }

  void read_tensor(const std::string& name, JsonValue& v, TensorInfo* t) const {
    if (!v.is_object())
      tensor_fail(name, "entry must be an object with keys dtype, shape, data_offsets, got " + describe(v));
    size_t a, b;
    if (find_duplicate_key(v, &a, &b)) tensor_fail(name, "duplicate key " + quoted(v.object[b].first));
    const JsonValue *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
    for (const auto& m : v.object) {
      if (m.first == "dtype") dtype = &m.second;
      else if (m.first == "shape") shape = &m.second;
      else if (m.first == "data_offsets") offsets = &m.second;
      else tensor_fail(name, "unknown key " + quoted(m.first) + " (allowed: dtype, shape, data_offsets)");
    }
    if (!dtype) tensor_fail(name, "missing key 'dtype'");
    if (!shape) tensor_fail(name, "missing key 'shape'");
    if (!offsets) tensor_fail(name, "missing key 'data_offsets'");

    if (!dtype->is_string()) tensor_fail(name, "dtype must be a string, got " + describe(*dtype));
    if (!dtype_from_safetensors_name(dtype->text, &t->dtype)) {
      for (const char* u : kUnsupportedDtypes)
        if (dtype->text == u) tensor_fail(name, "unsupported dtype " + quoted(dtype->text));
      tensor_fail(name, "unknown dtype " + quoted(dtype->text, 40));
    }

    if (!shape->is_array())
      tensor_fail(name, "shape must be an array of non-negative integers, got " + describe(*shape));
    t->shape.reserve(shape->array.size());
    for (size_t k = 0; k < shape->array.size(); k++) {
      const JsonValue& d = shape->array[k];
      std::string where = "shape[" + std::to_string(k) + "]";
      if (!d.is_number() || !d.is_integer || (d.negative && !(d.fits_uint64 && d.u64 == 0)))
        tensor_fail(name, where + " must be a non-negative integer, got " + describe(d));
      if (!d.fits_uint64 || d.u64 > uint64_t(std::numeric_limits<int64_t>::max()))
        tensor_fail(name, where + " = " + number_text(d) + " is too large (the limit is 2^63 - 1)");
      t->shape.push_back(int64_t(d.u64));
    }

    if (!offsets->is_array() || offsets->array.size() != 2)
      tensor_fail(name, "data_offsets must be an array of exactly 2 non-negative integers, got " +
                            describe(*offsets));
    uint64_t be[2];
    for (int k = 0; k < 2; k++) {
      const JsonValue& d = offsets->array[k];
      std::string where = "data_offsets[" + std::to_string(k) + "]";
      if (!d.is_number() || !d.is_integer || (d.negative && !(d.fits_uint64 && d.u64 == 0)))
        tensor_fail(name, where + " must be a non-negative integer, got " + describe(d));
      if (!d.fits_uint64) tensor_fail(name, where + " = " + number_text(d) + " exceeds 2^64 - 1");
      be[k] = d.u64;
    }
    t->begin = be[0];
    t->end = be[1];
    if (t->begin > t->end)
      tensor_fail(name, "data_offsets [" + std::to_string(t->begin) + ", " + std::to_string(t->end) +
                            "]: begin is after end");

    size_t esize = size_of(t->dtype);
    std::string product = "product(shape " + shape_text(t->shape) + ") \u00d7 " + std::to_string(esize) +
                          " bytes (" + dtype_name(t->dtype) + ")";
    uint64_t count, nbytes;
    if (!element_count(t->shape, &count))
      tensor_fail(name, "element count of shape " + shape_text(t->shape) + " exceeds 2^63 - 1");
    if (!checked_mul(count, esize, &nbytes)) tensor_fail(name, product + " overflows 64 bits");
    if (nbytes != t->end - t->begin)
      tensor_fail(name, "byte length " + std::to_string(t->end - t->begin) + " != " + product + " = " +
                            std::to_string(nbytes));
    t->name = name;
  }

  // Sorted by offsets, tensors must tile [0, data_size) exactly.
  void check_layout(const std::vector<TensorInfo>& tensors, uint64_t data_size, uint64_t data_start) const {
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return tensors[x].begin != tensors[y].begin ? tensors[x].begin < tensors[y].begin
                                                  : tensors[x].end < tensors[y].end;
    });
    uint64_t expected = 0;
    const TensorInfo* prev = nullptr;
    for (size_t i : order) {
      const TensorInfo& t = tensors[i];
      std::string range = "data offsets " + range_text(t.begin, t.end);
      if (t.begin < expected)
        tensor_fail(t.name, range + " overlap the previous tensor " + quoted(prev->name) + " ending at " +
                                std::to_string(expected));
      if (t.begin > expected) {
        if (prev)
          tensor_fail(t.name, range + " leave a gap of " + std::to_string(t.begin - expected) +
                                  " bytes after the previous tensor " + quoted(prev->name) + " ending at " +
                                  std::to_string(expected));
        tensor_fail(t.name, range + " leave a gap of " + std::to_string(t.begin) +
                                " bytes at the start of the data area (the first tensor must begin at 0)");
      }
      if (t.end > data_size)
        tensor_fail(t.name, range + " extend past the end of the data area, which holds " +
                                std::to_string(data_size) + " bytes (file size " + std::to_string(file_size_) +
                                " - data start " + std::to_string(data_start) + ")");
      expected = t.end;
      prev = &t;
    }
    if (expected < data_size) {
      if (!prev)
        fail("tensors do not cover the data area: the header lists no tensors but the data area holds " +
             std::to_string(data_size) + " bytes");
      fail("tensors do not cover the data area: " + std::to_string(data_size - expected) +
           " trailing bytes after the last tensor " + quoted(prev->name) + " ending at " +
           std::to_string(expected) + " (the data area holds " + std::to_string(data_size) + " bytes)");
    }
  }

  const uint8_t* bytes_;
  size_t file_size_;
  const std::string& filename_;
};

}  // namespace

const char* safetensors_dtype_name(Dtype t) {
  for (const auto& d : kDtypeNames)
    if (d.dtype == t) return d.name;
  return "?";
}

bool dtype_from_safetensors_name(const std::string& name, Dtype* out) {
  for (const auto& d : kDtypeNames)
    if (name == d.name) { *out = d.dtype; return true; }
  return false;
}

SafetensorsHeader parse_safetensors(const uint8_t* bytes, size_t file_size, const std::string& filename) {
  return Loader(bytes, file_size, filename).run();
}

std::string encode_safetensors_header(const std::vector<TensorInfo>& tensors,
                                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::string out = "{";
  bool first = true;
  if (!metadata.empty()) {
    out += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); i++) {
      if (i) out += ',';
      append_json_string(out, metadata[i].first);
      out += ':';
      append_json_string(out, metadata[i].second);
    }
    out += '}';
    first = false;
  }
  for (const auto& t : tensors) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, t.name);
    out += ":{\"dtype\":\"";
    out += safetensors_dtype_name(t.dtype);
    out += "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); i++) {
      if (i) out += ',';
      out += std::to_string(t.shape[i]);
    }
    out += "],\"data_offsets\":[";
    out += std::to_string(t.begin);
    out += ',';
    out += std::to_string(t.end);
    out += "]}";
  }
  out += '}';
  while ((8 + out.size()) % 8) out += ' ';
  return out;
}

namespace {

std::string os_error(int e) { return std::system_category().message(e); }

#ifndef _WIN32
// Buffers small pieces; writes large ones straight through. Throws std::runtime_error on failure.
class FdWriter {
 public:
  FdWriter(int fd, const std::string& path) : fd_(fd), path_(path) { buf_.reserve(kBuf); }
  void write(const void* data, size_t n) {
    if (n >= kBuf) {
      flush();
      write_all(static_cast<const char*>(data), n);
      return;
    }
    if (buf_.size() + n > kBuf) flush();
    buf_.append(static_cast<const char*>(data), n);
  }
  void flush() {
    write_all(buf_.data(), buf_.size());
    buf_.clear();
  }

 private:
  static constexpr size_t kBuf = size_t(1) << 20;
  void write_all(const char* p, size_t n) {
    while (n > 0) {
      size_t chunk = std::min<size_t>(n, size_t(1) << 30);
      ssize_t w = ::write(fd_, p, chunk);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("[save] " + path_ + ": write failed: " + os_error(errno));
      }
      if (w == 0) throw std::runtime_error("[save] " + path_ + ": write failed: wrote 0 bytes");
      p += w;
      n -= size_t(w);
    }
  }
  int fd_;
  const std::string& path_;
  std::string buf_;
};

// Owns the temp file until commit(): removes it (and closes it) on destruction otherwise.
struct TempFile {
  std::string path;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!committed && !path.empty()) ::unlink(path.c_str());
  }
};
#endif

}  // namespace

void save_safetensors(const std::string& path, const std::vector<TensorToSave>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  auto bad = [&](const std::string& msg) { throw std::invalid_argument("[save] " + path + ": " + msg); };
  auto bad_tensor = [&](const std::string& name, const std::string& msg) {
    throw std::invalid_argument("[save] " + path + ": tensor " + quoted(name) + ": " + msg);
  };
  if (path.empty()) bad("empty path");

  // Validate the input.
  for (const auto& m : metadata) {
    if (!is_valid_utf8(m.first)) bad("metadata key " + quoted(m.first) + " is not valid UTF-8");
    if (!is_valid_utf8(m.second)) bad("metadata value of " + quoted(m.first) + " is not valid UTF-8");
  }
  {
    std::vector<const std::string*> keys;
    for (const auto& m : metadata) keys.push_back(&m.first);
    std::sort(keys.begin(), keys.end(), [](const std::string* x, const std::string* y) { return *x < *y; });
    for (size_t i = 1; i < keys.size(); i++)
      if (*keys[i] == *keys[i - 1]) bad("duplicate metadata key " + quoted(*keys[i]));
  }
  for (const auto& t : tensors) {
    if (!is_valid_utf8(t.name)) bad_tensor(t.name, "name is not valid UTF-8");
    if (t.name == "__metadata__") bad_tensor(t.name, "the name '__metadata__' is reserved");
    if (int(t.dtype) >= kNumDtypes) bad_tensor(t.name, "invalid dtype");
    for (size_t k = 0; k < t.shape.size(); k++)
      if (t.shape[k] < 0)
        bad_tensor(t.name, "shape[" + std::to_string(k) + "] = " + std::to_string(t.shape[k]) + " is negative");
    uint64_t count, nbytes;
    size_t esize = size_of(t.dtype);
    std::string product = "product(shape " + shape_text(t.shape) + ") \u00d7 " + std::to_string(esize) +
                          " bytes (" + dtype_name(t.dtype) + ")";
    if (!element_count(t.shape, &count))
      bad_tensor(t.name, "element count of shape " + shape_text(t.shape) + " exceeds 2^63 - 1");
    if (!checked_mul(count, esize, &nbytes)) bad_tensor(t.name, product + " overflows 64 bits");
    if (nbytes != uint64_t(t.nbytes))
      bad_tensor(t.name, "byte length " + std::to_string(t.nbytes) + " != " + product + " = " +
                             std::to_string(nbytes));
    if (t.nbytes > 0 && !t.data) bad_tensor(t.name, "data is null");
  }
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  // Largest element size first, then by name: the header is padded so the data starts at a multiple of 8,
  // and each group ends at a multiple of the next (smaller, power-of-two) size, so every tensor is aligned
  // to its element size and loads zero-copy.
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    size_t sx = size_of(tensors[x].dtype), sy = size_of(tensors[y].dtype);
    return sx != sy ? sx > sy : tensors[x].name < tensors[y].name;
  });
  {
    std::vector<const std::string*> names;
    for (const auto& t : tensors) names.push_back(&t.name);
    std::sort(names.begin(), names.end(), [](const std::string* x, const std::string* y) { return *x < *y; });
    for (size_t i = 1; i < names.size(); i++)
      if (*names[i] == *names[i - 1]) bad_tensor(*names[i], "duplicate tensor name");
  }

  std::vector<TensorInfo> infos;
  infos.reserve(tensors.size());
  uint64_t offset = 0;
  for (size_t i : order) {
    const TensorToSave& t = tensors[i];
    uint64_t end = offset + t.nbytes;
    if (end < offset) bad("total data size overflows 64 bits");
    infos.push_back(TensorInfo{t.name, t.dtype, t.shape, offset, end});
    offset = end;
  }
  std::string header = encode_safetensors_header(infos, metadata);
  if (header.size() > kMaxSafetensorsHeaderLength)
    bad("header is " + std::to_string(header.size()) + " bytes, over the 100 MB limit");

#ifndef _WIN32
  // Temp file next to the target so that rename() is atomic (same filesystem).
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (base.empty() || base == "." || base == "..") bad("path names a directory");
  std::string prefix = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  static std::atomic<uint64_t> counter{0};
  TempFile tmp;
  for (int attempt = 0;; attempt++) {
    uint64_t salt = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                    (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
    char tag[64];
    std::snprintf(tag, sizeof tag, ".tmp.%ld.%016llx", long(::getpid()), (unsigned long long)salt);
    tmp.path = prefix + "." + base.substr(0, 150) + tag;
    tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (tmp.fd >= 0) break;
    int e = errno;
    if (e == EEXIST && attempt < 100) continue;
    tmp.path.clear();  // nothing of ours to remove
    throw std::runtime_error("[save] " + path + ": cannot create a temporary file in '" + dir +
                             "': " + os_error(e));
  }
  {
    FdWriter w(tmp.fd, path);
    unsigned char len[8];
    for (int k = 0; k < 8; k++) len[k] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * k));
    w.write(len, 8);
    w.write(header.data(), header.size());
    for (size_t i : order)
      if (tensors[i].nbytes) w.write(tensors[i].data, tensors[i].nbytes);
    w.flush();
  }
  if (::fsync(tmp.fd) != 0) throw std::runtime_error("[save] " + path + ": fsync failed: " + os_error(errno));
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw std::runtime_error("[save] " + path + ": close failed: " + os_error(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    throw std::runtime_error("[save] " + path + ": cannot rename the temporary file over it: " + os_error(errno));
  tmp.committed = true;
  // Make the rename itself durable; not every filesystem supports fsync on a directory, so errors are ignored.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
#else
  (void)os_error;
  throw std::runtime_error("[save] " + path + ": saving safetensors is not implemented on this platform yet");
#endif
}

}  // namespace io
}  // namespace hearth
