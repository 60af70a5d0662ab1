#include "json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

#if defined(__EMSCRIPTEN__)
#include <cerrno>
#include <cstdlib>
#include <string>
#endif

namespace {
struct DoubleParse {
  const char* ptr;
  std::errc ec;
};
// std::from_chars for double, except under emscripten 3.1.6 whose libc++ lacks it: there strtod on a
// NUL-terminated copy (the text is grammar-checked JSON, and emscripten's strtod uses the "C" locale), with
// ERANGE on an infinite or zero result reported as result_out_of_range like from_chars.
inline DoubleParse parse_double(const char* first, const char* last, double& d) {
#if defined(__EMSCRIPTEN__)
  std::string text(first, last);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  const char* ptr = first + (end - text.c_str());
  if (errno == ERANGE && (v == 0.0 || std::isinf(v))) return {ptr, std::errc::result_out_of_range};
  d = v;
  return {ptr, std::errc()};
#else
  auto r = std::from_chars(first, last, d);
  return {r.ptr, r.ec};
#endif
}
}  // namespace

namespace hearth {
namespace io {

const char* json_kind_name(JsonKind k) {
  switch (k) {
    case JsonKind::null: return "null";
    case JsonKind::boolean: return "boolean";
    case JsonKind::number: return "number";
    case JsonKind::string: return "string";
    case JsonKind::array: return "array";
    case JsonKind::object: return "object";
  }
  return "?";
}

const JsonValue* JsonValue::find(const std::string& key) const {
  for (const auto& m : object)
    if (m.first == key) return &m.second;
  return nullptr;
}

JsonError::JsonError(const std::string& reason, size_t offset)
    : std::runtime_error(reason + " at byte " + std::to_string(offset)), reason_(reason), offset_(offset) {}

namespace {

// Length of the valid UTF-8 sequence starting at p[i] (1..4), or 0 if it is invalid or truncated.
// Table 3-7 of the Unicode standard: the allowed range of the second byte depends on the first.
inline size_t utf8_sequence_length(const unsigned char* p, size_t n, size_t i) {
  unsigned char c = p[i];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;                 // C0, C1: overlong 2-byte forms
  else if (c == 0xE0) { len = 3; lo = 0xA0; }          // overlong 3-byte forms
  else if (c >= 0xE1 && c <= 0xEC) len = 3;
  else if (c == 0xED) { len = 3; hi = 0x9F; }          // U+D800..U+DFFF: surrogates
  else if (c >= 0xEE && c <= 0xEF) len = 3;
  else if (c == 0xF0) { len = 4; lo = 0x90; }          // overlong 4-byte forms
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) { len = 4; hi = 0x8F; }          // above U+10FFFF
  else return 0;                                       // 80..BF stray continuation, F5..FF never valid
  if (n - i < len) return 0;
  if (p[i + 1] < lo || p[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((p[i + k] & 0xC0) != 0x80) return 0;
  return len;
}

inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string hex_byte(unsigned char c) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s = "0x";
  s += kHex[c >> 4];
  s += kHex[c & 15];
  return s;
}

// A key for an error message: quoted, control characters shown as \xNN, long keys shortened.
std::string quote_key(const std::string& k) {
  std::string s = "'";
  size_t limit = std::min<size_t>(k.size(), 100);
  while (limit < k.size() && (static_cast<unsigned char>(k[limit]) & 0xC0) == 0x80) limit--;  // whole chars
  for (size_t i = 0; i < limit; i++) {
    unsigned char c = static_cast<unsigned char>(k[i]);
    if (c < 0x20 || c == 0x7F) s += "\\x" + hex_byte(c).substr(2);
    else s += char(c);
  }
  if (limit < k.size()) s += "...";
  return s + "'";
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  Parser(const char* data, size_t size, const JsonParseOptions& opt)
      : p_(reinterpret_cast<const unsigned char*>(data)), n_(size), opt_(opt) {}

  size_t pos() const { return i_; }
  void skip_ws() {
    while (i_ < n_ && is_ws(p_[i_])) i_++;
  }

  void parse_value(JsonValue& v, int depth) {
    skip_ws();
    if (i_ >= n_) fail("unexpected end of input, expected a value", i_);
    if (opt_.max_values && ++values_ > opt_.max_values)
      fail("more than " + std::to_string(opt_.max_values) + " values", i_);
    v.offset = i_;
    unsigned char c = p_[i_];
    switch (c) {
      case '{': parse_object(v, depth + 1); return;
      case '[': parse_array(v, depth + 1); return;
      case '"':
        v.kind = JsonKind::string;
        parse_string(v.text);
        return;
      case 't': literal("true"); v.kind = JsonKind::boolean; v.boolean = true; return;
      case 'f': literal("false"); v.kind = JsonKind::boolean; v.boolean = false; return;
      case 'n': literal("null"); v.kind = JsonKind::null; return;
      default:
        if (c == '-' || is_digit(c)) { parse_number(v); return; }
        fail(unexpected(c) + ", expected a value", i_);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& reason, size_t at) { throw JsonError(reason, at); }

  static std::string unexpected(unsigned char c) {
    if (c >= 0x20 && c < 0x7F) return std::string("unexpected character '") + char(c) + "'";
    return "unexpected byte " + hex_byte(c);
  }

  void literal(const char* word) {
    size_t start = i_;
    for (const char* w = word; *w; w++, i_++)
      if (i_ >= n_ || p_[i_] != static_cast<unsigned char>(*w))
        fail(std::string("invalid literal, expected '") + word + "'", start);
  }

  void check_depth(int depth) {
    if (depth > opt_.max_depth)
      fail("nesting deeper than " + std::to_string(opt_.max_depth) + " levels", i_);
  }

  void parse_array(JsonValue& v, int depth) {
    check_depth(depth);
    v.kind = JsonKind::array;
    i_++;  // '['
    skip_ws();
    if (i_ < n_ && p_[i_] == ']') { i_++; return; }
    for (;;) {
      v.array.emplace_back();
      parse_value(v.array.back(), depth);
      skip_ws();
      if (i_ >= n_) fail("unexpected end of input, expected ',' or ']'", i_);
      if (p_[i_] == ',') { i_++; continue; }
      if (p_[i_] == ']') { i_++; return; }
      fail("expected ',' or ']'", i_);
    }
  }

  void parse_object(JsonValue& v, int depth) {
    check_depth(depth);
    v.kind = JsonKind::object;
    i_++;  // '{'
    skip_ws();
    if (i_ < n_ && p_[i_] == '}') { i_++; return; }
    std::vector<size_t> key_offsets;
    for (;;) {
      skip_ws();
      if (i_ >= n_) fail("unexpected end of input, expected a string key", i_);
      if (p_[i_] != '"') fail(unexpected(p_[i_]) + ", expected a string key", i_);
      if (opt_.reject_duplicate_keys) key_offsets.push_back(i_);
      std::string key;
      parse_string(key);
      skip_ws();
      if (i_ >= n_) fail("unexpected end of input, expected ':'", i_);
      if (p_[i_] != ':') fail("expected ':'", i_);
      i_++;
      v.object.emplace_back(std::move(key), JsonValue());
      parse_value(v.object.back().second, depth);
      skip_ws();
      if (i_ >= n_) fail("unexpected end of input, expected ',' or '}'", i_);
      if (p_[i_] == ',') { i_++; continue; }
      if (p_[i_] == '}') { i_++; break; }
      fail("expected ',' or '}'", i_);
    }
    size_t a, b;
    if (opt_.reject_duplicate_keys && find_duplicate_key(v, &a, &b))
      fail("duplicate key " + quote_key(v.object[b].first), key_offsets[b]);
  }

  uint32_t hex4(size_t escape_start) {
    if (n_ - i_ < 4) fail("truncated \\u escape", escape_start);
    uint32_t cp = 0;
    for (int k = 0; k < 4; k++, i_++) {
      unsigned char c = p_[i_];
      uint32_t d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail("invalid hex digit in \\u escape", i_);
      cp = cp << 4 | d;
    }
    return cp;
  }

  // At the opening quote; leaves i_ just past the closing quote.
  void parse_string(std::string& out) {
    size_t open = i_;
    i_++;
    for (;;) {
      // Copy a run of plain ASCII in one go.
      size_t run = i_;
      while (run < n_) {
        unsigned char c = p_[run];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        run++;
      }
      out.append(reinterpret_cast<const char*>(p_ + i_), run - i_);
      i_ = run;
      if (i_ >= n_) fail("unterminated string", open);
      unsigned char c = p_[i_];
      if (c == '"') { i_++; return; }
      if (c < 0x20) fail("control character " + hex_byte(c) + " in string (must be escaped)", i_);
      if (c >= 0x80) {
        size_t len = utf8_sequence_length(p_, n_, i_);
        if (!len) fail("invalid UTF-8 in string", i_);
        out.append(reinterpret_cast<const char*>(p_ + i_), len);
        i_ += len;
        continue;
      }
      // Backslash escape.
      size_t esc = i_;
      i_++;
      if (i_ >= n_) fail("unterminated string", open);
      unsigned char e = p_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4(esc);
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in \\u escape", esc);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            size_t esc2 = i_;
            if (n_ - i_ < 2 || p_[i_] != '\\' || p_[i_ + 1] != 'u')
              fail("high surrogate in \\u escape not followed by a \\u low surrogate", esc);
            i_ += 2;
            uint32_t lo = hex4(esc2);
            if (lo < 0xDC00 || lo > 0xDFFF)
              fail("high surrogate in \\u escape not followed by a \\u low surrogate", esc);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("invalid escape '\\" + (e >= 0x20 && e < 0x7F ? std::string(1, char(e)) : hex_byte(e)) + "'",
               esc);
      }
    }
  }

  void parse_number(JsonValue& v) {
    size_t start = i_;
    bool neg = false;
    if (p_[i_] == '-') { neg = true; i_++; }
    size_t int_start = i_;
    if (i_ >= n_ || !is_digit(p_[i_])) fail("expected a digit in number", i_);
    if (p_[i_] == '0') {
      i_++;
      if (i_ < n_ && is_digit(p_[i_])) fail("leading zeros are not allowed in numbers", start);
    } else {
      while (i_ < n_ && is_digit(p_[i_])) i_++;
    }
    size_t int_end = i_, frac_start = i_, frac_end = i_;
    bool integer = true;
    if (i_ < n_ && p_[i_] == '.') {
      integer = false;
      i_++;
      if (i_ >= n_ || !is_digit(p_[i_])) fail("expected a digit after '.' in number", i_);
      frac_start = i_;
      while (i_ < n_ && is_digit(p_[i_])) i_++;
      frac_end = i_;
    }
    int64_t exp10 = 0;
    if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
      integer = false;
      i_++;
      bool eneg = false;
      if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) eneg = p_[i_++] == '-';
      if (i_ >= n_ || !is_digit(p_[i_])) fail("expected a digit in the exponent of number", i_);
      while (i_ < n_ && is_digit(p_[i_])) {
        if (exp10 < 1000000000) exp10 = exp10 * 10 + (p_[i_] - '0');  // saturates; only used as an estimate
        i_++;
      }
      if (eneg) exp10 = -exp10;
    }
    v.kind = JsonKind::number;
    v.text.assign(reinterpret_cast<const char*>(p_ + start), i_ - start);
    v.is_integer = integer;
    v.negative = neg;
    if (integer) {
      uint64_t mag = 0;
      bool overflow = false;
      for (size_t k = int_start; k < int_end; k++) {
        uint64_t d = p_[k] - '0';
        if (mag > (std::numeric_limits<uint64_t>::max() - d) / 10) { overflow = true; break; }
        mag = mag * 10 + d;
      }
      if (!overflow) {
        const uint64_t i64_max = uint64_t(std::numeric_limits<int64_t>::max());
        v.fits_uint64 = !neg || mag == 0;
        if (v.fits_uint64) v.u64 = mag;
        if (!neg && mag <= i64_max) { v.fits_int64 = true; v.i64 = int64_t(mag); }
        if (neg && mag <= i64_max + 1) {
          v.fits_int64 = true;
          v.i64 = mag == i64_max + 1 ? std::numeric_limits<int64_t>::min() : -int64_t(mag);
        }
      }
    }
    const char* first = reinterpret_cast<const char*>(p_ + start);
    const char* last = reinterpret_cast<const char*>(p_ + i_);
    double d = 0;
    auto res = parse_double(first, last, d);
    if (res.ec == std::errc::result_out_of_range) {
      // Beyond double's range either way: estimate the decimal magnitude to pick infinity or zero.
      int64_t mag10;
      size_t k = int_start;
      if (!(int_end - int_start == 1 && p_[int_start] == '0')) {
        mag10 = int64_t(int_end - int_start) - 1;
      } else {
        k = frac_start;
        while (k < frac_end && p_[k] == '0') k++;
        mag10 = -int64_t(k - frac_start) - 1;
      }
      d = mag10 + exp10 > 0 ? std::numeric_limits<double>::infinity() : 0.0;
      if (neg) d = -d;
    } else if (res.ec != std::errc() || res.ptr != last) {
      d = std::numeric_limits<double>::quiet_NaN();  // not reached for grammar-checked text
    }
    v.number = d;
  }

  const unsigned char* p_;
  size_t n_;
  size_t i_ = 0;
  JsonParseOptions opt_;
  size_t values_ = 0;
};

}  // namespace

size_t utf8_invalid_offset(const char* data, size_t size) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;
  while (i < size) {
    if (p[i] < 0x80) { i++; continue; }
    size_t len = utf8_sequence_length(p, size, i);
    if (!len) return i;
    i += len;
  }
  return size;
}

JsonValue parse_json_prefix(const char* data, size_t size, size_t* end, const JsonParseOptions& options) {
  Parser parser(data, size, options);
  JsonValue v;
  parser.parse_value(v, 0);
  if (end) *end = parser.pos();
  return v;
}

JsonValue parse_json(const char* data, size_t size, const JsonParseOptions& options) {
  Parser parser(data, size, options);
  JsonValue v;
  parser.parse_value(v, 0);
  parser.skip_ws();
  if (parser.pos() < size) throw JsonError("unexpected trailing characters after the JSON value", parser.pos());
  return v;
}

bool find_duplicate_key(const JsonValue& v, size_t* first, size_t* second) {
  if (v.kind != JsonKind::object || v.object.size() < 2) return false;
  std::vector<size_t> idx(v.object.size());
  std::iota(idx.begin(), idx.end(), size_t(0));
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    int c = v.object[a].first.compare(v.object[b].first);
    return c != 0 ? c < 0 : a < b;
  });
  bool found = false;
  for (size_t k = 0; k + 1 < idx.size(); k++) {
    if (v.object[idx[k]].first != v.object[idx[k + 1]].first) continue;
    // idx[k] is the first occurrence of the key only at the start of its group.
    if (k > 0 && v.object[idx[k - 1]].first == v.object[idx[k]].first) continue;
    if (!found || idx[k + 1] < *second) {
      *first = idx[k];
      *second = idx[k + 1];
      found = true;
    }
  }
  return found;
}

void append_json_string(std::string& out, const std::string& s) {
  static const char* kHex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

}  // namespace io
}  // namespace hearth
