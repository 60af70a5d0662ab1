// Bindings for the random ops. Parameters (low, high, loc, p, ...) come as JS numbers or arrays; a missing key
// (undefined/null) takes the next key of the global sequence.
#include <cmath>

#include "binding.h"
#include "core/ops/elementwise.h"
#include "core/ops/random.h"

namespace hearth::js {

namespace {

// A number becomes a float64 (or int64) constant; an array is taken as is.
Array num_or_array(const Napi::CallbackInfo& info, size_t i, Dtype number_dtype) {
  if (info[i].IsNumber()) return scalar(info[i].As<Napi::Number>().DoubleValue(), number_dtype);
  return arg_array(info, i);
}

Array key_arg(const Napi::CallbackInfo& info, size_t i) {
  return has_arg(info, i) ? arg_array(info, i) : prng::next_key();
}

// A JS safe integer seed as 64 bits (negative seeds wrap, as two's complement).
uint64_t arg_seed(const Napi::CallbackInfo& info, size_t i, const char* op) {
  double d = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::floor(d) == d) || std::fabs(d) > 9007199254740991.0)
    throw std::invalid_argument(std::string("[") + op + "] seed must be an integer within +-(2^53 - 1)");
  return uint64_t(int64_t(d));
}

}  // namespace

HEARTH_BIND(randomKey) { return wrap(info.Env(), prng::key(arg_seed(info, 0, "key"))); }
HEARTH_BIND(randomSeed) {
  prng::seed(arg_seed(info, 0, "seed"));
  return info.Env().Undefined();
}
HEARTH_BIND(randomNextKey) { return wrap(info.Env(), prng::next_key()); }
HEARTH_BIND(randomSplit) { return wrap(info.Env(), prng::split(arg_array(info, 0), arg_int(info, 1))); }
// randomBits(shape, width, key?)
HEARTH_BIND(randomBits) {
  return wrap(info.Env(), prng::bits(arg_shape(info, 0), int(arg_int(info, 1)), key_arg(info, 2)));
}
// randomUniform(low, high, shape, dtype, key?)
HEARTH_BIND(randomUniform) {
  return wrap(info.Env(), prng::uniform(num_or_array(info, 0, Dtype::float64), num_or_array(info, 1, Dtype::float64),
                                        arg_shape(info, 2), arg_dtype(info, 3), key_arg(info, 4)));
}
// randomNormal(shape, dtype, loc, scale, key?)
HEARTH_BIND(randomNormal) {
  return wrap(info.Env(), prng::normal(arg_shape(info, 0), arg_dtype(info, 1), num_or_array(info, 2, Dtype::float64),
                                       num_or_array(info, 3, Dtype::float64), key_arg(info, 4)));
}
// randomRandint(low, high, shape, dtype, key?)
HEARTH_BIND(randomRandint) {
  return wrap(info.Env(), prng::randint(num_or_array(info, 0, Dtype::int64), num_or_array(info, 1, Dtype::int64),
                                        arg_shape(info, 2), arg_dtype(info, 3), key_arg(info, 4)));
}
// randomBernoulli(p, shape, key?)
HEARTH_BIND(randomBernoulli) {
  return wrap(info.Env(), prng::bernoulli(num_or_array(info, 0, Dtype::float32), arg_shape(info, 1), key_arg(info, 2)));
}
// randomTruncatedNormal(lower, upper, shape, dtype, key?)
HEARTH_BIND(randomTruncatedNormal) {
  return wrap(info.Env(), prng::truncated_normal(num_or_array(info, 0, Dtype::float64),
                                                 num_or_array(info, 1, Dtype::float64), arg_shape(info, 2),
                                                 arg_dtype(info, 3), key_arg(info, 4)));
}
// randomGumbel(shape, dtype, key?)
HEARTH_BIND(randomGumbel) {
  return wrap(info.Env(), prng::gumbel(arg_shape(info, 0), arg_dtype(info, 1), key_arg(info, 2)));
}
// randomLaplace(shape, dtype, loc, scale, key?)
HEARTH_BIND(randomLaplace) {
  return wrap(info.Env(), prng::laplace(arg_shape(info, 0), arg_dtype(info, 1), num_or_array(info, 2, Dtype::float64),
                                        num_or_array(info, 3, Dtype::float64), key_arg(info, 4)));
}
// randomCategorical(logits, axis, shape | null, numSamples | null, key?)
HEARTH_BIND(randomCategorical) {
  Shape shape;
  bool has_shape = has_arg(info, 2);
  if (has_shape) shape = arg_shape(info, 2);
  int64_t num = has_arg(info, 3) ? arg_int(info, 3) : -1;
  if (has_arg(info, 3) && num < 0) throw std::invalid_argument("[categorical] numSamples must be non-negative");
  return wrap(info.Env(), prng::categorical(arg_array(info, 0), int(arg_int(info, 1)), has_shape ? &shape : nullptr,
                                            num, key_arg(info, 4)));
}
// randomPermutation(n | array, axis, key?)
HEARTH_BIND(randomPermutation) {
  if (info[0].IsNumber()) return wrap(info.Env(), prng::permutation(arg_int(info, 0), key_arg(info, 2)));
  return wrap(info.Env(), prng::permutation(arg_array(info, 0), int(arg_int(info, 1)), key_arg(info, 2)));
}
// The raw block function, for known-answer tests: randomThreefry(k0, k1, c0, c1) -> [x0, x1].
HEARTH_BIND(randomThreefry) {
  uint32_t w[4];
  for (int i = 0; i < 4; i++) {
    int64_t v = arg_int(info, size_t(i));
    if (v < 0 || v > int64_t(UINT32_MAX)) throw std::invalid_argument("[threefry] words must be uint32 values");
    w[i] = uint32_t(v);
  }
  uint32_t out[2];
  threefry2x32(w[0], w[1], w[2], w[3], out);
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r.Set(0u, Napi::Number::New(info.Env(), out[0]));
  r.Set(1u, Napi::Number::New(info.Env(), out[1]));
  return r;
}

}  // namespace hearth::js
