#include "dtype.h"

namespace hearth {

static const char* kNames[kNumDtypes] = {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
                                         "int32", "int64", "float16", "bfloat16", "float32", "float64"};
static const uint8_t kSizes[kNumDtypes] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8};

size_t size_of(Dtype t) { return kSizes[int(t)]; }
const char* dtype_name(Dtype t) { return kNames[int(t)]; }

bool dtype_from_name(const std::string& name, Dtype* out) {
  for (int i = 0; i < kNumDtypes; i++)
    if (name == kNames[i]) { *out = Dtype(i); return true; }
  if (name == "bool_") { *out = Dtype::bool_; return true; }
  return false;
}

DtypeKind kind_of(Dtype t) {
  switch (t) {
    case Dtype::bool_: return DtypeKind::boolean;
    case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64: return DtypeKind::unsigned_int;
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64: return DtypeKind::signed_int;
    default: return DtypeKind::floating;
  }
}

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == Dtype::bool_) return b;
  if (b == Dtype::bool_) return a;
  DtypeKind ka = kind_of(a), kb = kind_of(b);
  if (ka == DtypeKind::floating || kb == DtypeKind::floating) {
    if (ka != DtypeKind::floating) return b;
    if (kb != DtypeKind::floating) return a;
    // Two different floats: float16 with bfloat16 has no common 16-bit type.
    if (a == Dtype::float64 || b == Dtype::float64) return Dtype::float64;
    return Dtype::float32;
  }
  if (ka == kb) return size_of(a) >= size_of(b) ? a : b;
  Dtype u = ka == DtypeKind::unsigned_int ? a : b;
  Dtype s = ka == DtypeKind::unsigned_int ? b : a;
  if (size_of(s) > size_of(u)) return s;
  switch (size_of(u)) {
    case 1: return Dtype::int16;
    case 2: return Dtype::int32;
    case 4: return Dtype::int64;
    default: return Dtype::float32;
  }
}

float f16_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) u = sign;
    else {  // subnormal: normalise
      int e = -1;
      do { e++; man <<= 1; } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) u = sign | 0x7f800000u | man << 13;
  else u = sign | (exp + 112) << 23 | man << 13;
  float f; std::memcpy(&f, &u, 4); return f;
}

uint16_t float_to_f16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds past 65504: infinity
  if (a < 0x38800000u) {  // subnormal or zero in half
    if (a < 0x33000000u) return uint16_t(sign);
    uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // 14 + (112 - e) ... places the value in 10 bits
    uint32_t half = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return uint16_t(sign | half);
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);
  return uint16_t(sign | (r >> 13));
}

}  // namespace hearth
