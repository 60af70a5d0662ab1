// Scalar special functions the C++ library lacks.
#pragma once
#include <cmath>
#include <limits>

namespace hearth::cpu {

// Inverse error function: Giles' single-precision approximation refined with two Newton steps on erf, so
// float64 results are accurate to ~1e-15. With newton_steps = 0 it is the bare approximation (relative error
// a few float32 ulps, ~8x faster), enough for float32 and half results.
inline double erfinv_scalar(double x, int newton_steps = 2) {
  if (x <= -1) return x == -1 ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (x >= 1) return x == 1 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  double w = -std::log((1.0 - x) * (1.0 + x)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08; p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w; p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257; p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w; p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double y = p * x;
  for (int i = 0; i < newton_steps; i++) {  // Newton on erf(y) - x
    double err = std::erf(y) - x;
    y -= err / (M_2_SQRTPI * std::exp(-y * y));
  }
  return y;
}

}  // namespace hearth::cpu
