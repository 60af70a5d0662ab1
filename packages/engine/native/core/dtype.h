// Data types, their sizes and names, MLX type promotion, and half-precision conversions.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace hearth {

enum class Dtype : uint8_t {
  bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16, float32, float64
};
constexpr int kNumDtypes = 13;

enum class DtypeKind { boolean, unsigned_int, signed_int, floating };

size_t size_of(Dtype t);
const char* dtype_name(Dtype t);  // "float32", "bfloat16", ...
bool dtype_from_name(const std::string& name, Dtype* out);
DtypeKind kind_of(Dtype t);
inline bool is_floating(Dtype t) { return kind_of(t) == DtypeKind::floating; }
inline bool is_integral(Dtype t) {
  return kind_of(t) == DtypeKind::signed_int || kind_of(t) == DtypeKind::unsigned_int;
}
// MLX's promote_types: the smallest type that holds both (uint64 with a signed type gives float32).
Dtype promote_types(Dtype a, Dtype b);
// The float type an integer input is computed in for float-only math (exp, sqrt, ...): float32.
inline Dtype float_result_type(Dtype t) { return is_floating(t) ? t : Dtype::float32; }

// bfloat16 and float16 are stored as raw 16-bit words; conversions round to nearest even.
struct bf16 { uint16_t bits; };
struct f16 { uint16_t bits; };

inline float bf16_to_float(uint16_t h) {
  uint32_t u = uint32_t(h) << 16; float f; std::memcpy(&f, &u, 4); return f;
}
inline uint16_t float_to_bf16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // keep NaN quiet
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float f16_to_float(uint16_t h);
uint16_t float_to_f16(float f);

}  // namespace hearth
