// A small strict JSON parser (RFC 8259) for file headers such as safetensors'.
//
// Strictness: the input must be valid UTF-8 inside strings (no overlong forms, no UTF-16 surrogates encoded
// in UTF-8, nothing above U+10FFFF, no stray continuation bytes); \u escapes must be complete, and a \u
// surrogate must be a high surrogate followed by a \u low surrogate; raw control characters (< 0x20) in
// strings are rejected; numbers follow the JSON grammar exactly (no leading zeros, '+', NaN, hex, ...);
// nesting is limited (64 by default); nothing but JSON whitespace may follow the value (parse_json), or the
// caller checks what follows it (parse_json_prefix).
//
// Numbers keep their source text. Integers (no fraction, no exponent) are converted exactly with overflow
// checks, so 64-bit offsets above 2^53 survive; every number also gets a nearest double.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hearth {
namespace io {

enum class JsonKind : uint8_t { null, boolean, number, string, array, object };
const char* json_kind_name(JsonKind k);  // "null", "boolean", "number", "string", "array", "object"

struct JsonValue {
  JsonKind kind = JsonKind::null;
  bool boolean = false;      // kind == boolean
  // kind == number:
  bool is_integer = false;   // the text has no fraction and no exponent
  bool negative = false;     // the text starts with '-' (so "-0" is negative and integral, value 0)
  bool fits_uint64 = false;  // is_integer and the value is in [0, 2^64)  ("-0" fits, as 0)
  bool fits_int64 = false;   // is_integer and the value is in [-2^63, 2^63)
  uint64_t u64 = 0;          // valid when fits_uint64
  int64_t i64 = 0;           // valid when fits_int64
  double number = 0;         // nearest double (±inf when out of range); valid for every number
  std::string text;          // kind == string: the decoded UTF-8 string; kind == number: the number's source text
  std::vector<JsonValue> array;                             // kind == array
  std::vector<std::pair<std::string, JsonValue>> object;    // kind == object, in source order (duplicates kept
                                                            // unless the parser was told to reject them)
  size_t offset = 0;         // byte offset of the value's first character in the input

  bool is_null() const { return kind == JsonKind::null; }
  bool is_bool() const { return kind == JsonKind::boolean; }
  bool is_number() const { return kind == JsonKind::number; }
  bool is_string() const { return kind == JsonKind::string; }
  bool is_array() const { return kind == JsonKind::array; }
  bool is_object() const { return kind == JsonKind::object; }
  // First member with this key (objects only), or nullptr.
  const JsonValue* find(const std::string& key) const;
};

struct JsonParseOptions {
  int max_depth = 64;                 // arrays/objects nested deeper than this are rejected
  size_t max_values = 0;              // 0 = unlimited; otherwise more values than this (all kinds) are rejected
  bool reject_duplicate_keys = false; // true: an object with a repeated key is a parse error
};

class JsonError : public std::runtime_error {
 public:
  JsonError(const std::string& reason, size_t offset);
  const std::string& reason() const { return reason_; }  // e.g. "expected ',' or '}'"
  size_t offset() const { return offset_; }               // byte offset in the input where it went wrong
 private:
  std::string reason_;
  size_t offset_;
};  // what() is "<reason> at byte <offset>"

// Parses exactly one JSON value; only JSON whitespace (space, tab, LF, CR) may surround it. Throws JsonError.
JsonValue parse_json(const char* data, size_t size, const JsonParseOptions& options = {});
inline JsonValue parse_json(const std::string& s, const JsonParseOptions& options = {}) {
  return parse_json(s.data(), s.size(), options);
}
// Parses one JSON value (leading whitespace allowed) and stores in *end the offset just past it; the caller
// decides what may follow. Throws JsonError.
JsonValue parse_json_prefix(const char* data, size_t size, size_t* end, const JsonParseOptions& options = {});

// Duplicate-key check for an object parsed with duplicates kept: returns true and the indices (first < second,
// `second` the earliest possible) of two members with the same key; false if the keys are unique or `v` is not
// an object. O(n log n).
bool find_duplicate_key(const JsonValue& v, size_t* first, size_t* second);

// Strict UTF-8 validation: returns size if [data, data + size) is valid UTF-8, else the offset of the first
// byte of the first invalid or truncated sequence.
size_t utf8_invalid_offset(const char* data, size_t size);
inline bool is_valid_utf8(const std::string& s) { return utf8_invalid_offset(s.data(), s.size()) == s.size(); }

// Appends `s` as a JSON string literal (quotes included). `s` must be valid UTF-8 (not checked here);
// '"', '\\' and control characters are escaped, everything else is written as is.
void append_json_string(std::string& out, const std::string& s);

}  // namespace io
}  // namespace hearth
