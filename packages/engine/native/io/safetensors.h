// safetensors files: strict layout validation on load, atomic save.
//
// Format: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON header (an object; padded with trailing
// spaces), then the data area. Each header entry other than "__metadata__" is
//   "name": {"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}
// with offsets relative to the start of the data area (byte 8 + N of the file).
//
// parse_safetensors enforces (each violation throws std::invalid_argument whose message is
// "[load] <filename>: tensor '<name>': <rule, with the numbers>", or "[load] <filename>: <rule>" for file-level
// problems):
//  - the file holds at least 8 bytes; N <= 100,000,000; 8 + N <= file size; the header starts with '{', is
//    valid UTF-8 and one JSON object followed only by spaces;
//  - every entry except "__metadata__" is an object with exactly the keys dtype (string), shape (array of
//    non-negative integers) and data_offsets (array of two non-negative integers, begin <= end);
//  - "__metadata__", if present, is an object of string values;
//  - no duplicate tensor names or keys anywhere in the header;
//  - dtype is one of BOOL U8 I8 I16 U16 I32 U32 I64 U64 F16 BF16 F32 F64 (other safetensors dtypes such as
//    F8_E4M3 are "unsupported", anything else "unknown");
//  - product(shape) * dtype size, computed with overflow checks, equals end - begin (shape [] is a scalar,
//    zero-size tensors are allowed); the element count fits in int64;
//  - sorted by offsets, tensors are back to back from offset 0 and the last one ends exactly at the end of the
//    file: no gaps, no overlaps, no trailing bytes (zero-size tensors may share an offset).
// A resource limit also applies: the header may hold at most kMaxHeaderJsonValues JSON values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../core/dtype.h"

namespace hearth {
namespace io {

constexpr uint64_t kMaxSafetensorsHeaderLength = 100000000;  // bytes, as in the reference implementation
constexpr size_t kMaxHeaderJsonValues = size_t(1) << 22;     // bounds the parse tree (120-byte nodes: ~0.5 GB)

struct TensorInfo {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte offsets relative to the data start
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in file order of offsets (ties: header order)
  std::vector<std::pair<std::string, std::string>> metadata;  // "__metadata__", in header order
  uint64_t data_start;  // 8 + header length; data_start + tensors[i].end <= file size
};

// Parses and validates the whole layout of a file held in memory (the file may be mmapped). `filename` only
// appears in error messages. Reads nothing outside [bytes, bytes + file_size), and only the header part of it.
SafetensorsHeader parse_safetensors(const uint8_t* bytes, size_t file_size, const std::string& filename);

struct TensorToSave {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  const void* data;  // nbytes bytes, row-major, little-endian
  size_t nbytes;
};

// Writes atomically: a temp file in the same folder (unique name), fsync, then rename over `path`; on any
// failure the temp file is removed and an old file at `path` is left untouched. Tensors are written sorted by
// element size (largest first), then name (bytewise), after a header padded with spaces to a multiple of 8
// bytes, so every tensor's file offset is a multiple of its element size. `metadata` is written under
// "__metadata__" (omitted when empty). Invalid input (bad names, nbytes != product(shape) * size, duplicate
// names or metadata keys, strings that are not UTF-8) throws std::invalid_argument; I/O errors throw
// std::runtime_error. Messages start with "[save] <path>: ".
void save_safetensors(const std::string& path, const std::vector<TensorToSave>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata);

// Lower level: the header bytes (without the 8-byte length prefix) describing `tensors` in the given order
// with their given offsets, metadata first, padded with spaces so that 8 + size is a multiple of 8. Does not
// validate; strings must be valid UTF-8.
std::string encode_safetensors_header(const std::vector<TensorInfo>& tensors,
                                      const std::vector<std::pair<std::string, std::string>>& metadata);

// "F32" <-> Dtype::float32, etc.
const char* safetensors_dtype_name(Dtype t);
bool dtype_from_safetensors_name(const std::string& name, Dtype* out);

}  // namespace io
}  // namespace hearth
