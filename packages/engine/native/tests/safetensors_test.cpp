// Standalone tests for the JSON parser, the safetensors loader/saver and MappedFile (built and run by ctest:
// `pnpm run test:native` in packages/engine).
// Build and run from the repository root (one command line):
//
//   g++ -std=c++17 -O1 -g -Wall -Wextra -fsanitize=address,undefined -fno-sanitize-recover=undefined -I packages/engine/native packages/engine/native/tests/safetensors_test.cpp packages/engine/native/io/json.cpp packages/engine/native/io/safetensors.cpp packages/engine/native/io/mapped_file.cpp packages/engine/native/core/dtype.cpp -o /tmp/safetensors_test && /tmp/safetensors_test
//
// It builds the same way without the sanitizers. It prints "N checks, 0 failures" and exits 0 on success.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

using namespace hearth;
using namespace hearth::io;

static int g_checks = 0, g_failures = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    g_checks++;                                                              \
    if (!(cond)) {                                                           \
      g_failures++;                                                          \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

// Runs fn, which must throw Exc with a message containing `needle`.
template <class Exc>
static void expect_throw(int line, const std::function<void()>& fn, const std::string& needle) {
  g_checks++;
  try {
    fn();
  } catch (const Exc& e) {
    if (std::string(e.what()).find(needle) == std::string::npos) {
      g_failures++;
      std::fprintf(stderr, "line %d: message\n    %s\n  does not contain\n    %s\n", line, e.what(), needle.c_str());
    }
    return;
  } catch (const std::exception& e) {
    g_failures++;
    std::fprintf(stderr, "line %d: wrong exception type: %s (wanted '%s')\n", line, e.what(), needle.c_str());
    return;
  }
  g_failures++;
  std::fprintf(stderr, "line %d: no exception (wanted '%s')\n", line, needle.c_str());
}
#define EXPECT_THROW(Exc, expr, needle) expect_throw<Exc>(__LINE__, [&] { expr; }, needle)

// ----- helpers for crafted files ------------------------------------------------------------------------------

static std::vector<uint8_t> le64(uint64_t v) {
  std::vector<uint8_t> b(8);
  for (int k = 0; k < 8; k++) b[k] = uint8_t(v >> (8 * k));
  return b;
}

// 8-byte length + header (padded with spaces to a multiple of 8 when pad) + data_bytes bytes of data.
static std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes, bool pad = true) {
  std::string h = header;
  if (pad)
    while ((8 + h.size()) % 8) h += ' ';
  std::vector<uint8_t> f = le64(h.size());
  f.insert(f.end(), h.begin(), h.end());
  for (size_t i = 0; i < data_bytes; i++) f.push_back(uint8_t(i * 7 + 1));
  return f;
}

static SafetensorsHeader load(const std::vector<uint8_t>& f) { return parse_safetensors(f.data(), f.size(), "t.st"); }

// Expects parse_safetensors to reject the file with a message that contains `needle` (after the prefix).
#define EXPECT_LOAD_ERROR(file, needle) EXPECT_THROW(std::invalid_argument, load(file), std::string("[load] t.st: ") + (needle))

static std::string entry(const std::string& dtype, const std::string& shape, uint64_t b, uint64_t e) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(b) + "," +
         std::to_string(e) + "]}";
}

// ----- JSON ---------------------------------------------------------------------------------------------------

static void test_json() {
  JsonValue v = parse_json(" {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {}} ");
  CHECK(v.is_object() && v.object.size() == 2);
  CHECK(v.object[0].first == "a" && v.object[1].first == "b");
  const JsonValue* a = v.find("a");
  CHECK(a && a->is_array() && a->array.size() == 7);
  CHECK(a->array[0].fits_uint64 && a->array[0].u64 == 1 && a->array[0].is_integer);
  CHECK(!a->array[1].fits_uint64 && a->array[1].fits_int64 && a->array[1].i64 == -2);
  CHECK(!a->array[2].is_integer && a->array[2].number == 3.5 && a->array[2].text == "3.5");
  CHECK(a->array[3].is_bool() && a->array[3].boolean && a->array[4].is_bool() && !a->array[4].boolean);
  CHECK(a->array[5].is_null() && a->array[6].is_string() && a->array[6].text == "x");
  CHECK(a->offset == 7 && a->array[1].offset == 11);
  CHECK(v.find("zz") == nullptr);

  // Exact 64-bit integers.
  v = parse_json("[18446744073709551615, 18446744073709551616, 9007199254740993, -9223372036854775808,"
                 " -9223372036854775809, 9223372036854775807, -0, 0]");
  CHECK(v.array[0].fits_uint64 && v.array[0].u64 == UINT64_MAX && !v.array[0].fits_int64);
  CHECK(!v.array[1].fits_uint64 && !v.array[1].fits_int64 && v.array[1].is_integer &&
        v.array[1].text == "18446744073709551616" && v.array[1].number == 18446744073709551616.0);
  CHECK(v.array[2].u64 == 9007199254740993ull);  // 2^53 + 1: not representable as a double
  CHECK(v.array[3].fits_int64 && v.array[3].i64 == INT64_MIN && !v.array[3].fits_uint64);
  CHECK(!v.array[4].fits_int64 && !v.array[4].fits_uint64);
  CHECK(v.array[5].fits_int64 && v.array[5].i64 == INT64_MAX && v.array[5].u64 == uint64_t(INT64_MAX));
  CHECK(v.array[6].negative && v.array[6].fits_uint64 && v.array[6].u64 == 0 && std::signbit(v.array[6].number));
  CHECK(!v.array[7].negative && v.array[7].u64 == 0);
  v = parse_json("[1e400, -1e400, 1e-400, -1e-400, 0.1e2, 1E+2, 12.5e-1, 0.00000e99999]");
  CHECK(std::isinf(v.array[0].number) && v.array[0].number > 0);
  CHECK(std::isinf(v.array[1].number) && v.array[1].number < 0);
  CHECK(v.array[2].number == 0 && v.array[3].number == 0 && std::signbit(v.array[3].number));
  CHECK(v.array[4].number == 10 && !v.array[4].is_integer && v.array[5].number == 100 && v.array[6].number == 1.25);
  CHECK(v.array[7].number == 0);

  // Strings: escapes, surrogate pairs, raw UTF-8.
  v = parse_json("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000\xc3\xa9\xf0\x9f\x98\x80\"");
  CHECK(v.text == std::string("a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") + std::string(1, '\0') +
                      "\xc3\xa9\xf0\x9f\x98\x80");

  auto json_error = [](const std::string& s, const std::string& needle, JsonParseOptions opt = {}) {
    expect_throw<JsonError>(__LINE__, [&] { parse_json(s, opt); }, needle);
  };
  json_error("{\"a\":1 \"b\":2}", "expected ',' or '}' at byte 7");
  json_error("[1 2]", "expected ',' or ']' at byte 3");
  json_error("{\"a\" 1}", "expected ':' at byte 5");
  json_error("{1:2}", "unexpected character '1', expected a string key at byte 1");
  json_error("{\"a\":1,}", "expected a string key at byte 7");
  json_error("[1,]", "unexpected character ']', expected a value at byte 3");
  json_error("", "unexpected end of input, expected a value at byte 0");
  json_error("[", "unexpected end of input");
  json_error("{\"a\":1} x", "unexpected trailing characters after the JSON value at byte 8");
  json_error("01", "leading zeros are not allowed in numbers at byte 0");
  json_error("-", "expected a digit in number at byte 1");
  json_error("1.", "expected a digit after '.'");
  json_error("1e", "expected a digit in the exponent");
  json_error("+1", "unexpected character '+'");
  json_error(".5", "unexpected character '.'");
  json_error("NaN", "unexpected character 'N'");
  json_error("tru", "invalid literal, expected 'true' at byte 0");
  json_error("nul", "invalid literal");
  json_error("\"abc", "unterminated string at byte 0");
  json_error("\"a\nb\"", "control character 0x0A in string (must be escaped) at byte 2");
  json_error("\"\\x\"", "invalid escape '\\x' at byte 1");
  json_error("\"\\u12x5\"", "invalid hex digit in \\u escape at byte 5");
  json_error("\"\\u12", "truncated \\u escape at byte 1");
  json_error("\"\\ud800\"", "high surrogate in \\u escape not followed by a \\u low surrogate at byte 1");
  json_error("\"\\ud800\\u0041\"", "high surrogate in \\u escape not followed by a \\u low surrogate");
  json_error("\"\\udc00\"", "unpaired low surrogate in \\u escape at byte 1");
  json_error("\"\xc0\xaf\"", "invalid UTF-8 in string at byte 1");       // overlong '/'
  json_error("\"\xe0\x80\xaf\"", "invalid UTF-8 in string at byte 1");   // overlong 3-byte
  json_error("\"\xf0\x80\x80\xaf\"", "invalid UTF-8 in string at byte 1");  // overlong 4-byte
  json_error("\"\xed\xa0\x80\"", "invalid UTF-8 in string at byte 1");   // UTF-8-encoded surrogate U+D800
  json_error("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in string at byte 1");  // U+110000
  json_error("\"\xf5\x80\x80\x80\"", "invalid UTF-8 in string at byte 1");
  json_error("\"ab\x80\"", "invalid UTF-8 in string at byte 3");         // stray continuation byte
  json_error("\"\xe2\x82\"", "invalid UTF-8 in string at byte 1");       // truncated sequence
  json_error("\xef\xbb\xbf{}", "unexpected byte 0xEF");                  // BOM

  // Depth limit: 64 levels pass, 65 fail.
  std::string deep64 = std::string(64, '[') + std::string(64, ']');
  std::string deep65 = std::string(65, '[') + std::string(65, ']');
  CHECK(parse_json(deep64).is_array());
  json_error(deep65, "nesting deeper than 64 levels at byte 64");
  JsonParseOptions shallow;
  shallow.max_depth = 2;
  json_error("{\"a\":[[1]]}", "nesting deeper than 2 levels", shallow);
  JsonParseOptions few;
  few.max_values = 3;
  json_error("[1,2,3]", "more than 3 values at byte 5", few);

  // Duplicate keys: kept by default and findable; rejected on request.
  v = parse_json("{\"a\":1,\"b\":2,\"c\":3,\"b\":4,\"a\":5}");
  CHECK(v.object.size() == 5);
  size_t i1 = 99, i2 = 99;
  CHECK(find_duplicate_key(v, &i1, &i2) && i1 == 1 && i2 == 3);
  CHECK(!find_duplicate_key(parse_json("{\"a\":1,\"b\":2}"), &i1, &i2));
  CHECK(!find_duplicate_key(parse_json("[1,1]"), &i1, &i2));
  JsonParseOptions nodup;
  nodup.reject_duplicate_keys = true;
  json_error("{\"a\":1,\"b\":{\"x\":1,\"x\":2}}", "duplicate key 'x' at byte 18", nodup);

  // Prefix parsing leaves the rest to the caller.
  size_t end = 0;
  std::string padded = "{\"a\":1}   xyz";
  v = parse_json_prefix(padded.data(), padded.size(), &end);
  CHECK(end == 7);

  // UTF-8 validation offsets.
  auto bad_at = [](const std::string& s) { return utf8_invalid_offset(s.data(), s.size()); };
  CHECK(bad_at("plain") == 5);
  CHECK(bad_at("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z") == 11);
  CHECK(bad_at("ab\xc1\xbf") == 2);
  CHECK(bad_at("ab\xed\xbf\xbf") == 2);
  CHECK(bad_at("\xee\x80\x80x\x80") == 4);
  CHECK(bad_at("xyz\xf0\x9f\x98") == 3);
  CHECK(bad_at("\xef\xbf\xbf") == 3);  // U+FFFF is a valid scalar value
  CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf") && !is_valid_utf8("\xf4\x90\x80\x80"));

  // Writing strings.
  std::string out;
  append_json_string(out, std::string("q\"\\\n\x01\x7f\xc3\xa9", 8));
  CHECK(out == "\"q\\\"\\\\\\n\\u0001\x7f\xc3\xa9\"");
  CHECK(parse_json(out).text == std::string("q\"\\\n\x01\x7f\xc3\xa9", 8));
}

// ----- loader rules -------------------------------------------------------------------------------------------

static void test_file_level() {
  EXPECT_LOAD_ERROR(std::vector<uint8_t>{}, "file is empty (0 bytes)");
  EXPECT_LOAD_ERROR(std::vector<uint8_t>(5, 0), "file is 5 bytes, shorter than the 8-byte header length");
  std::vector<uint8_t> f = le64(123456789);
  f.resize(64, ' ');
  EXPECT_LOAD_ERROR(f, "header length 123456789 exceeds the 100 MB limit (100000000 bytes)");
  f = le64(UINT64_MAX);
  EXPECT_LOAD_ERROR(f, "header length 18446744073709551615 exceeds the 100 MB limit");
  f = le64(100000000);
  f.push_back('{');
  EXPECT_LOAD_ERROR(f, "header length 100000000 exceeds the file size: 8 + 100000000 > 9 bytes");
  f = le64(50);
  f.resize(20, ' ');
  EXPECT_LOAD_ERROR(f, "header length 50 exceeds the file size: 8 + 50 > 20 bytes");
  EXPECT_LOAD_ERROR(le64(0), "header length is 0");
  EXPECT_LOAD_ERROR(make_file(" {}", 0), "header does not start with '{' (first byte is 0x20)");
  EXPECT_LOAD_ERROR(make_file("[]", 0), "header does not start with '{' (first byte is 0x5B)");

  // UTF-8 anywhere in the header, reported at the header-relative byte.
  EXPECT_LOAD_ERROR(make_file("{\"a\xc0\xaf\":1}", 0), "header is not valid UTF-8 at byte 3");
  EXPECT_LOAD_ERROR(make_file("{\"\xed\xa0\x80\":1}", 0), "header is not valid UTF-8 at byte 2");
  EXPECT_LOAD_ERROR(make_file("{}  \xff   ", 0, false), "header is not valid UTF-8 at byte 4");
  EXPECT_LOAD_ERROR(make_file("{\"abc\xe2\x82", 0, false), "header is not valid UTF-8 at byte 5");

  // JSON syntax errors.
  EXPECT_LOAD_ERROR(make_file("{\"a\":{} \"b\":{}}", 0), "header JSON: expected ',' or '}' at byte 8");
  EXPECT_LOAD_ERROR(make_file("{\"a\":{}", 0), "header JSON: unexpected end of input, expected ',' or '}' at byte 8");
  EXPECT_LOAD_ERROR(make_file("{\"\\ud800\":{}}", 0), "header JSON: high surrogate in \\u escape not followed");
  EXPECT_LOAD_ERROR(make_file("{\"__metadata__\":" + std::string(70, '[') + std::string(70, ']') + "}", 0),
                    "header JSON: nesting deeper than 64 levels");

  // Padding: spaces only.
  CHECK(load(make_file("{}", 0)).tensors.empty());
  CHECK(load(make_file("{}      ", 0, false)).data_start == 16);
  CHECK(load(make_file("{}", 0, false)).data_start == 10);  // unpadded headers are accepted
  EXPECT_LOAD_ERROR(make_file("{}\n     ", 0, false), "header has trailing bytes after the JSON object at byte 2 (only space padding is allowed)");
  EXPECT_LOAD_ERROR(make_file("{}  x   ", 0, false), "header has trailing bytes after the JSON object at byte 4");
  EXPECT_LOAD_ERROR(make_file("{}{}    ", 0, false), "header has trailing bytes after the JSON object at byte 2");
  EXPECT_LOAD_ERROR(make_file(std::string("{}\0\0\0\0\0\0", 8), 0, false), "header has trailing bytes after the JSON object at byte 2");
  // Whitespace inside the JSON is fine.
  CHECK(load(make_file("{ \"x\" :\n\t" + entry("U8", "[ 2 ]", 0, 2) + " }", 2)).tensors.size() == 1);

  // Root-level duplicates.
  EXPECT_LOAD_ERROR(make_file("{\"x\":" + entry("U8", "[4]", 0, 4) + ",\"x\":" + entry("U8", "[4]", 4, 8) + "}", 8),
                    "tensor 'x': duplicate tensor name");
  EXPECT_LOAD_ERROR(make_file("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "duplicate '__metadata__' entry");
  // Empty tensor list: valid only with an empty data area.
  EXPECT_LOAD_ERROR(make_file("{}", 8),
                    "tensors do not cover the data area: the header lists no tensors but the data area holds 8 bytes");
}

static void test_metadata() {
  SafetensorsHeader h = load(make_file("{\"__metadata__\":{\"format\":\"pt\",\"\\u00e9\":\"\\ud83d\\ude00\"}}", 0));
  CHECK(h.metadata.size() == 2 && h.metadata[0].first == "format" && h.metadata[0].second == "pt");
  CHECK(h.metadata[1].first == "\xc3\xa9" && h.metadata[1].second == "\xf0\x9f\x98\x80");
  EXPECT_LOAD_ERROR(make_file("{\"__metadata__\":[]}", 0), "'__metadata__' must be an object of string values, got an array of 0 elements");
  EXPECT_LOAD_ERROR(make_file("{\"__metadata__\":{\"a\":1}}", 0), "'__metadata__': the value of 'a' must be a string, got 1");
  EXPECT_LOAD_ERROR(make_file("{\"__metadata__\":{\"a\":{}}}", 0), "'__metadata__': the value of 'a' must be a string, got object");
  EXPECT_LOAD_ERROR(make_file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0), "'__metadata__': duplicate key 'a'");
}

static void test_entries() {
  auto one = [](const std::string& body, size_t data) { return make_file("{\"w\":" + body + "}", data); };
  EXPECT_LOAD_ERROR(one("[1]", 0), "tensor 'w': entry must be an object with keys dtype, shape, data_offsets, got an array of 1 elements");
  EXPECT_LOAD_ERROR(one("\"x\"", 0), "tensor 'w': entry must be an object");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"foo\":1}", 1),
                    "tensor 'w': unknown key 'foo' (allowed: dtype, shape, data_offsets)");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1]}", 1), "tensor 'w': missing key 'data_offsets'");
  EXPECT_LOAD_ERROR(one("{\"shape\":[1],\"data_offsets\":[0,1]}", 1), "tensor 'w': missing key 'dtype'");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"data_offsets\":[0,1]}", 1), "tensor 'w': missing key 'shape'");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", 1),
                    "tensor 'w': duplicate key 'dtype'");

  // dtype
  EXPECT_LOAD_ERROR(one(entry("F7", "[1]", 0, 1), 1), "tensor 'w': unknown dtype 'F7'");
  EXPECT_LOAD_ERROR(one(entry("f32", "[1]", 0, 4), 4), "tensor 'w': unknown dtype 'f32'");
  EXPECT_LOAD_ERROR(one(entry("F8_E4M3", "[1]", 0, 1), 1), "tensor 'w': unsupported dtype 'F8_E4M3'");
  EXPECT_LOAD_ERROR(one(entry("F8_E5M2", "[1]", 0, 1), 1), "tensor 'w': unsupported dtype 'F8_E5M2'");
  EXPECT_LOAD_ERROR(one("{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,1]}", 1), "tensor 'w': dtype must be a string, got 32");
  const char* names[] = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64"};
  const Dtype dts[] = {Dtype::bool_, Dtype::uint8, Dtype::int8, Dtype::int16, Dtype::uint16, Dtype::int32,
                       Dtype::uint32, Dtype::int64, Dtype::uint64, Dtype::float16, Dtype::bfloat16, Dtype::float32,
                       Dtype::float64};
  for (int i = 0; i < 13; i++) {
    size_t nb = 3 * size_of(dts[i]);
    SafetensorsHeader h = load(one(entry(names[i], "[3]", 0, nb), nb));
    CHECK(h.tensors.size() == 1 && h.tensors[0].dtype == dts[i]);
    CHECK(std::string(safetensors_dtype_name(dts[i])) == names[i]);
  }

  // shape
  EXPECT_LOAD_ERROR(one(entry("U8", "[3, -1]", 0, 0), 0), "tensor 'w': shape[1] must be a non-negative integer, got -1");
  EXPECT_LOAD_ERROR(one(entry("U8", "[1.0]", 0, 1), 1), "tensor 'w': shape[0] must be a non-negative integer, got 1.0");
  EXPECT_LOAD_ERROR(one(entry("U8", "[1e0]", 0, 1), 1), "tensor 'w': shape[0] must be a non-negative integer, got 1e0");
  EXPECT_LOAD_ERROR(one(entry("U8", "[\"1\"]", 0, 1), 1), "tensor 'w': shape[0] must be a non-negative integer, got string '1'");
  EXPECT_LOAD_ERROR(one(entry("U8", "[null]", 0, 1), 1), "tensor 'w': shape[0] must be a non-negative integer, got null");
  EXPECT_LOAD_ERROR(one(entry("U8", "[[1]]", 0, 1), 1), "tensor 'w': shape[0] must be a non-negative integer, got an array of 1 elements");
  EXPECT_LOAD_ERROR(one(entry("U8", "3", 0, 3), 3), "tensor 'w': shape must be an array of non-negative integers, got 3");
  EXPECT_LOAD_ERROR(one(entry("U8", "[9223372036854775808]", 0, 1), 1),
                    "tensor 'w': shape[0] = 9223372036854775808 is too large (the limit is 2^63 - 1)");
  EXPECT_LOAD_ERROR(one(entry("U8", "[99999999999999999999999]", 0, 1), 1), "tensor 'w': shape[0] = 99999999999999999999999 is too large");
  CHECK(load(one(entry("U8", "[-0, 5]", 0, 0), 0)).tensors[0].shape == std::vector<int64_t>({0, 5}));

  // data_offsets
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}", 1),
                    "tensor 'w': data_offsets must be an array of exactly 2 non-negative integers, got an array of 3 elements");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{}}", 1),
                    "tensor 'w': data_offsets must be an array of exactly 2 non-negative integers, got object");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}", 1),
                    "tensor 'w': data_offsets[0] must be a non-negative integer, got -1");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.5]}", 1),
                    "tensor 'w': data_offsets[1] must be a non-negative integer, got 1.5");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}", 1),
                    "tensor 'w': data_offsets[1] = 18446744073709551616 exceeds 2^64 - 1");
  EXPECT_LOAD_ERROR(one("{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[64,48]}", 1),
                    "tensor 'w': data_offsets [64, 48]: begin is after end");
  // Offsets above 2^53 are exact (2^53 + 1 would round to 2^53 as a double).
  EXPECT_LOAD_ERROR(one(entry("U8", "[0]", 9007199254740993ull, 9007199254740993ull), 0),
                    "tensor 'w': data offsets [9007199254740993, 9007199254740993) leave a gap of 9007199254740993 bytes at the start");
  EXPECT_LOAD_ERROR(one(entry("U8", "[1]", UINT64_MAX - 1, UINT64_MAX), 0),
                    "tensor 'w': data offsets [18446744073709551614, 18446744073709551615) leave a gap");

  // byte length vs shape
  EXPECT_LOAD_ERROR(one(entry("F32", "[3, 4]", 0, 40), 40),
                    "tensor 'w': byte length 40 != product(shape [3, 4]) \u00d7 4 bytes (float32) = 48");
  EXPECT_LOAD_ERROR(one(entry("BF16", "[]", 0, 4), 4), "tensor 'w': byte length 4 != product(shape []) \u00d7 2 bytes (bfloat16) = 2");
  EXPECT_LOAD_ERROR(one(entry("F32", "[4294967296, 4294967296]", 0, 4), 4),
                    "tensor 'w': element count of shape [4294967296, 4294967296] exceeds 2^63 - 1");
  EXPECT_LOAD_ERROR(one(entry("F64", "[2305843009213693952]", 0, 8), 8),
                    "tensor 'w': product(shape [2305843009213693952]) \u00d7 8 bytes (float64) overflows 64 bits");
  EXPECT_LOAD_ERROR(one(entry("U8", "[4611686018427387904, 4611686018427387904, 0]", 0, 0), 0),
                    "tensor 'w': element count of shape [4611686018427387904, 4611686018427387904, 0] exceeds 2^63 - 1");
  EXPECT_LOAD_ERROR(one(entry("U8", "[0, 4611686018427387904, 4611686018427387904]", 0, 0), 0), "tensor 'w': element count of shape [0, 4611686018427387904, 4611686018427387904] exceeds 2^63 - 1");
  SafetensorsHeader h = load(one(entry("U8", "[0, 4611686018427387904]", 0, 0), 0));
  CHECK(h.tensors[0].shape[1] == 4611686018427387904ll);
  h = load(one(entry("F64", "[]", 0, 8), 8));  // scalar
  CHECK(h.tensors[0].shape.empty() && h.tensors[0].end == 8);

  // Names in messages: control characters are escaped.
  EXPECT_LOAD_ERROR(make_file("{\"a\\nb\":" + entry("F7", "[1]", 0, 1) + "}", 1), "tensor 'a\\x0Ab': unknown dtype 'F7'");
}

static void test_layout() {
  auto two = [](const std::string& e1, const std::string& e2, size_t data) {
    return make_file("{\"x\":" + e1 + ",\"y\":" + e2 + "}", data);
  };
  EXPECT_LOAD_ERROR(two(entry("F32", "[16]", 0, 64), entry("F32", "[12]", 48, 96), 96),
                    "tensor 'y': data offsets [48, 96) overlap the previous tensor 'x' ending at 64");
  EXPECT_LOAD_ERROR(two(entry("F32", "[16]", 0, 64), entry("F32", "[12]", 0, 48), 64),
                    "tensor 'x': data offsets [0, 64) overlap the previous tensor 'y' ending at 48");
  EXPECT_LOAD_ERROR(two(entry("F32", "[4]", 0, 16), entry("F32", "[4]", 32, 48), 48),
                    "tensor 'y': data offsets [32, 48) leave a gap of 16 bytes after the previous tensor 'x' ending at 16");
  EXPECT_LOAD_ERROR(two(entry("F32", "[4]", 16, 32), entry("F32", "[4]", 32, 48), 48),
                    "tensor 'x': data offsets [16, 32) leave a gap of 16 bytes at the start of the data area");
  EXPECT_LOAD_ERROR(two(entry("F32", "[4]", 0, 16), entry("F32", "[12]", 16, 64), 48),
                    "tensor 'y': data offsets [16, 64) extend past the end of the data area, which holds 48 bytes");
  EXPECT_LOAD_ERROR(two(entry("F32", "[4]", 0, 16), entry("F32", "[4]", 16, 32), 48),
                    "tensors do not cover the data area: 16 trailing bytes after the last tensor 'y' ending at 32 (the data area holds 48 bytes)");
  // A zero-size tensor inside another one overlaps it.
  EXPECT_LOAD_ERROR(two(entry("F32", "[4]", 0, 16), entry("F32", "[0]", 8, 8), 16),
                    "tensor 'y': data offsets [8, 8) overlap the previous tensor 'x' ending at 16");

  // Valid: out-of-order header entries, zero-size tensors sharing offsets (start, middle, end), scalars.
  std::string hdr = "{\"__metadata__\":{\"k\":\"v\"},"
                    "\"c\":" + entry("F16", "[2, 2]", 12, 20) + ","
                    "\"z1\":" + entry("U8", "[0]", 0, 0) + ","
                    "\"a\":" + entry("I32", "[3]", 0, 12) + ","
                    "\"z2\":" + entry("F32", "[3, 0]", 12, 12) + ","
                    "\"z3\":" + entry("F64", "[0]", 12, 12) + ","
                    "\"s\":" + entry("F64", "[]", 20, 28) + ","
                    "\"zend\":" + entry("BOOL", "[0, 7]", 28, 28) + "}";
  std::vector<uint8_t> f = make_file(hdr, 28);
  SafetensorsHeader h = load(f);
  CHECK(h.data_start % 8 == 0 && h.data_start + 28 == f.size());
  const char* order[] = {"z1", "a", "z2", "z3", "c", "s", "zend"};
  CHECK(h.tensors.size() == 7);
  for (size_t i = 0; i < h.tensors.size() && i < 7; i++) CHECK(h.tensors[i].name == order[i]);
  CHECK(h.tensors[1].dtype == Dtype::int32 && h.tensors[1].shape == std::vector<int64_t>({3}) &&
        h.tensors[1].begin == 0 && h.tensors[1].end == 12);
  CHECK(h.tensors[4].begin == 12 && h.tensors[4].end == 20 && h.tensors[4].dtype == Dtype::float16);
  CHECK(h.tensors[5].shape.empty() && h.tensors[6].begin == 28);
  CHECK(h.metadata.size() == 1 && h.metadata[0].second == "v");

  // Unicode names through escapes.
  h = load(make_file("{\"caf\\u00e9\":" + entry("U8", "[1]", 0, 1) + ",\"\\ud83d\\ude00\":" + entry("U8", "[1]", 1, 2) + "}", 2));
  CHECK(h.tensors[0].name == "caf\xc3\xa9" && h.tensors[1].name == "\xf0\x9f\x98\x80");
  // A name duplicated through different spellings is still a duplicate.
  EXPECT_LOAD_ERROR(make_file("{\"\\u0061\":" + entry("U8", "[1]", 0, 1) + ",\"a\":" + entry("U8", "[1]", 1, 2) + "}", 2),
                    "tensor 'a': duplicate tensor name");
}

// ----- save / MappedFile ---------------------------------------------------------------------------------------

static std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
  closedir(d);
  return names;
}

static std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static void test_save_load(const std::string& dir) {
  std::vector<float> w(2 * 3);
  for (size_t i = 0; i < w.size(); i++) w[i] = float(i) * 0.5f - 1;
  std::vector<uint16_t> hf = {float_to_bf16(1.5f), float_to_bf16(-2.f), float_to_bf16(3.25f)};
  std::vector<int64_t> ids = {INT64_MIN, -1, 0, INT64_MAX};
  uint8_t flags[5] = {1, 0, 1, 1, 0};
  double scalar = 3.141592653589793;
  std::vector<uint8_t> big(3 << 20);  // larger than the writer's buffer: written straight through
  for (size_t i = 0; i < big.size(); i++) big[i] = uint8_t(i * 131 + 7);

  std::vector<TensorToSave> ts = {
      {"weight", Dtype::float32, {2, 3}, w.data(), w.size() * 4},
      {"bias.bf16", Dtype::bfloat16, {3}, hf.data(), hf.size() * 2},
      {"ids", Dtype::int64, {4}, ids.data(), ids.size() * 8},
      {"flags", Dtype::bool_, {5}, flags, 5},
      {"empty", Dtype::float16, {0, 4}, nullptr, 0},
      {"scalar", Dtype::float64, {}, &scalar, 8},
      {"big", Dtype::uint8, {int64_t(big.size())}, big.data(), big.size()},
      {"caf\xc3\xa9 \"quoted\"\n", Dtype::int8, {1}, flags, 1},
  };
  std::vector<std::pair<std::string, std::string>> meta = {{"format", "pt"}, {"note", "line\nbreak \xe2\x82\xac"}};
  std::string path = dir + "/model.safetensors";
  save_safetensors(path, ts, meta);
  CHECK(list_dir(dir) == std::vector<std::string>({"model.safetensors"}));  // no temp file left behind

  MappedFile mf(path);
  CHECK(mf.size() > big.size());
  SafetensorsHeader h = parse_safetensors(mf.data(), mf.size(), path);
  CHECK(h.data_start % 8 == 0);
  CHECK(h.metadata == meta);
  CHECK(h.tensors.size() == ts.size());
  // Written sorted by element size (largest first), then name, so every tensor is aligned to its element size.
  for (size_t i = 1; i < h.tensors.size(); i++) {
    size_t sa = size_of(h.tensors[i - 1].dtype), sb = size_of(h.tensors[i].dtype);
    CHECK(sa > sb || (sa == sb && h.tensors[i - 1].name < h.tensors[i].name));
  }
  for (const TensorInfo& ti : h.tensors) CHECK((h.data_start + ti.begin) % size_of(ti.dtype) == 0);
  CHECK(h.tensors.front().name == "ids" && h.tensors[1].name == "scalar");  // the 8-byte dtypes first
  for (const TensorToSave& t : ts) {
    const TensorInfo* found = nullptr;
    for (const TensorInfo& ti : h.tensors)
      if (ti.name == t.name) found = &ti;
    CHECK(found != nullptr);
    if (!found) continue;
    CHECK(found->dtype == t.dtype && found->shape == t.shape && found->end - found->begin == t.nbytes);
    CHECK(t.nbytes == 0 || std::memcmp(mf.data() + h.data_start + found->begin, t.data, t.nbytes) == 0);
  }
  // The header text itself: metadata first, then tensors in that order, padded with spaces.
  std::string raw = read_all(path);
  uint64_t hlen = 0;
  for (int k = 0; k < 8; k++) hlen |= uint64_t(uint8_t(raw[k])) << (8 * k);
  CHECK((8 + hlen) % 8 == 0 && hlen == h.data_start - 8);
  CHECK(raw.compare(8, 17, "{\"__metadata__\":{") == 0);
  CHECK(raw.find("\"big\":{\"dtype\":\"U8\",\"shape\":[3145728],\"data_offsets\":[") != std::string::npos);

  // Overwrite atomically; an old mapping stays valid and unchanged.
  std::string before(reinterpret_cast<const char*>(mf.data()), 64);
  std::vector<TensorToSave> small = {{"only", Dtype::uint16, {2}, hf.data(), 4}};
  save_safetensors(path, small, {});
  CHECK(std::string(reinterpret_cast<const char*>(mf.data()), 64) == before);
  MappedFile mf2(path);
  h = parse_safetensors(mf2.data(), mf2.size(), path);
  CHECK(h.tensors.size() == 1 && h.tensors[0].name == "only" && h.metadata.empty());
  CHECK(list_dir(dir).size() == 1);

  // Invalid input: nothing written, the old file untouched.
  std::string old = read_all(path);
  std::vector<TensorToSave> bad = {{"x", Dtype::float32, {3, 4}, w.data(), 40}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}),
               "[save] " + path + ": tensor 'x': byte length 40 != product(shape [3, 4]) \u00d7 4 bytes (float32) = 48");
  bad = {{"x", Dtype::uint8, {1}, flags, 1}, {"x", Dtype::uint8, {1}, flags, 1}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}), "tensor 'x': duplicate tensor name");
  // Duplicates with different dtypes are not neighbours in the size-then-name order.
  bad = {{"x", Dtype::uint8, {1}, flags, 1}, {"w", Dtype::float64, {1}, &scalar, 8}, {"x", Dtype::float64, {1}, &scalar, 8}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}), "tensor 'x': duplicate tensor name");
  bad = {{"__metadata__", Dtype::uint8, {1}, flags, 1}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}), "the name '__metadata__' is reserved");
  bad = {{"bad\xff", Dtype::uint8, {1}, flags, 1}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}), "name is not valid UTF-8");
  bad = {{"neg", Dtype::uint8, {-1}, flags, 0}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}), "shape[0] = -1 is negative");
  bad = {{"null", Dtype::uint8, {2}, nullptr, 2}};
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, bad, {}), "tensor 'null': data is null");
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, small, {{"k", "1"}, {"k", "2"}}), "duplicate metadata key 'k'");
  EXPECT_THROW(std::invalid_argument, save_safetensors(path, small, {{"k", "\xc0\x80"}}), "metadata value of 'k' is not valid UTF-8");
  CHECK(read_all(path) == old);
  CHECK(list_dir(dir).size() == 1);

  // I/O failures: the target is a directory (rename fails), the folder does not exist.
  std::string sub = dir + "/sub";
  CHECK(mkdir(sub.c_str(), 0755) == 0);
  EXPECT_THROW(std::runtime_error, save_safetensors(sub, small, {}), "[save] " + sub + ": cannot rename the temporary file over it");
  CHECK(list_dir(dir).size() == 2 && list_dir(sub).empty());  // temp file removed
  EXPECT_THROW(std::runtime_error, save_safetensors(dir + "/missing/x.safetensors", small, {}), "cannot create a temporary file");
  EXPECT_THROW(std::invalid_argument, save_safetensors(dir + "/", small, {}), "path names a directory");

  // A relative path (temp file in the current folder) and an empty tensor list.
  char cwd[4096];
  CHECK(getcwd(cwd, sizeof cwd) != nullptr);
  CHECK(chdir(dir.c_str()) == 0);
  save_safetensors("rel.safetensors", {}, {});
  MappedFile mf3("rel.safetensors");
  CHECK(mf3.size() == 16);
  h = parse_safetensors(mf3.data(), mf3.size(), "rel.safetensors");
  CHECK(h.tensors.empty() && h.data_start == 16);
  CHECK(chdir(cwd) == 0);

  // MappedFile errors and the empty file.
  EXPECT_THROW(std::runtime_error, MappedFile{dir + "/nope.safetensors"}, "[load] " + dir + "/nope.safetensors: no such file");
  EXPECT_THROW(std::runtime_error, MappedFile{sub}, "[load] " + sub + ": is a directory, not a file");
  std::string empty = dir + "/empty.safetensors";
  { std::ofstream(empty, std::ios::binary); }
  MappedFile me(empty);
  CHECK(me.size() == 0 && me.data() != nullptr);
  EXPECT_THROW(std::invalid_argument, parse_safetensors(me.data(), me.size(), empty), "[load] " + empty + ": file is empty (0 bytes)");
  std::string fifo = dir + "/fifo";
  CHECK(mkfifo(fifo.c_str(), 0600) == 0);
  EXPECT_THROW(std::runtime_error, MappedFile{fifo}, "is not a regular file");

  // Moving a MappedFile transfers the mapping.
  MappedFile moved(std::move(mf2));
  CHECK(mf2.size() == 0 && moved.size() > 0 && moved.data()[8] == '{');
  moved = MappedFile(path);
  CHECK(moved.size() > 0 && moved.path() == path);

  // Clean up.
  for (const std::string& n : list_dir(sub)) unlink((sub + "/" + n).c_str());
  rmdir(sub.c_str());
  for (const std::string& n : list_dir(dir)) unlink((dir + "/" + n).c_str());
  rmdir(dir.c_str());
}

int main() {
  test_json();
  test_file_level();
  test_metadata();
  test_entries();
  test_layout();
  char tmpl[] = "/tmp/hearth_st_test.XXXXXX";
  char* dir = mkdtemp(tmpl);
  if (!dir) {
    std::perror("mkdtemp");
    return 2;
  }
  test_save_load(dir);
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
