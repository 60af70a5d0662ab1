// libFuzzer target for the safetensors loader (and the JSON parser under it). Build and run: ./run.sh [seconds]
//
// For every input:
//  1. parse_json on the bytes after the 8-byte length prefix (reaches the JSON parser even when the prefix is
//     wrong); JsonError is expected.
//  2. parse_safetensors on the whole input; std::invalid_argument is expected, anything else escaping is a bug.
//  3. For files that parse: check the layout invariants the loader promises and read every byte of every
//     tensor (ASan catches a range outside the input), then re-encode the header with
//     encode_safetensors_header, parse the result and require the same tensors and metadata back.
//  4. Steps 2-3 again on a copy whose length prefix is recomputed to end the header at the last '}'.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../json.h"
#include "../safetensors.h"

using hearth::io::JsonError;
using hearth::io::JsonParseOptions;
using hearth::io::SafetensorsHeader;
using hearth::io::TensorInfo;

namespace {

volatile uint8_t g_sink;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "safetensors_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool same_tensor(const TensorInfo& a, const TensorInfo& b) {
  return a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.begin == b.begin && a.end == b.end;
}

void check_layout(const SafetensorsHeader& h, const uint8_t* data, size_t size) {
  check(h.data_start >= 8 && h.data_start <= size, "data_start inside the file");
  const uint64_t data_size = size - h.data_start;
  uint64_t expected = 0;
  uint8_t acc = 0;
  for (const TensorInfo& t : h.tensors) {
    check(t.begin == expected, "tensors back to back in offset order");
    check(t.begin <= t.end && t.end <= data_size, "tensor range inside the data area");
    uint64_t count = 1;
    for (int64_t d : t.shape) {
      check(d >= 0, "non-negative dims");
      if (d == 0) { count = 0; break; }
      check(count <= std::numeric_limits<uint64_t>::max() / uint64_t(d), "element count fits");
      count *= uint64_t(d);
    }
    check(count * hearth::size_of(t.dtype) == t.end - t.begin, "byte length matches the shape");
    const uint8_t* p = data + h.data_start + t.begin;
    for (uint64_t k = 0; k < t.end - t.begin; k++) acc ^= p[k];  // touch every byte
    expected = t.end;
  }
  check(expected == data_size, "tensors cover the data area");
  g_sink = acc;
}

void check_round_trip(const SafetensorsHeader& h, const uint8_t* data, size_t size) {
  std::string header = hearth::io::encode_safetensors_header(h.tensors, h.metadata);
  check((8 + header.size()) % 8 == 0, "encoded header padded to 8 bytes");
  const size_t data_size = size - size_t(h.data_start);
  std::vector<uint8_t> file(8 + header.size() + data_size);
  for (int k = 0; k < 8; k++) file[k] = uint8_t(uint64_t(header.size()) >> (8 * k));
  std::memcpy(file.data() + 8, header.data(), header.size());
  if (data_size) std::memcpy(file.data() + 8 + header.size(), data + h.data_start, data_size);
  SafetensorsHeader h2;
  try {
    h2 = hearth::io::parse_safetensors(file.data(), file.size(), "round-trip");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "safetensors_fuzz: re-encoded header does not parse: %s\n", e.what());
    std::abort();
  }
  check(h2.tensors.size() == h.tensors.size(), "round trip keeps the tensor count");
  for (size_t i = 0; i < h.tensors.size(); i++) check(same_tensor(h.tensors[i], h2.tensors[i]), "round trip tensor");
  check(h2.metadata == h.metadata, "round trip metadata");
  check(h2.data_start == 8 + header.size(), "round trip data_start");
}

// parse_safetensors on one file image; for files that parse, the layout and round-trip checks.
void load_and_check(const uint8_t* data, size_t size) {
  SafetensorsHeader h;
  try {
    h = hearth::io::parse_safetensors(data, size, "fuzz-input");
  } catch (const std::invalid_argument& e) {
    check(std::strncmp(e.what(), "[load] fuzz-input: ", 19) == 0, "error message prefix");
    return;
  }
  check_layout(h, data, size);
  check_round_trip(h, data, size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8) {
    JsonParseOptions opt;
    opt.reject_duplicate_keys = (data[0] & 1) != 0;
    try {
      hearth::io::JsonValue v = hearth::io::parse_json(reinterpret_cast<const char*>(data) + 8, size - 8, opt);
      (void)v;
    } catch (const JsonError&) {
    }
  }

  load_and_check(data, size);

  // The same bytes with the length prefix set to end the header at the last '}', so that mutations which grow
  // or shrink the header text still reach the entry and layout rules. Run on an exact-size heap copy.
  if (size > 8) {
    size_t k = size;
    while (k-- > 8 && data[k] != '}') {}
    if (k >= 8 && data[k] == '}') {
      uint64_t hlen = k + 1 - 8, old = 0;
      for (int b = 0; b < 8; b++) old |= uint64_t(data[b]) << (8 * b);
      if (hlen != old) {
        std::vector<uint8_t> copy(data, data + size);
        for (int b = 0; b < 8; b++) copy[b] = uint8_t(hlen >> (8 * b));
        load_and_check(copy.data(), copy.size());
      }
    }
  }
  return 0;
}
