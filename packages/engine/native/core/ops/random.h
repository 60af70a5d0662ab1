// Counter-based random numbers, as MLX and JAX: a key is a uint32 array of shape [2], and every value is a
// pure function of (key, element index) through the Threefry-2x32 block cipher, so the same key gives the
// same numbers whatever the thread count, chunking or backend.
#pragma once
#include <cstdint>

#include "../primitive.h"

namespace hearth {

// Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011): a Threefish-style ARX cipher of the 64-bit counter (c0, c1) under the 64-bit key (k0, k1).
// The round helpers must inline into one straight-line function (else calls, even through the PLT of the
// shared library, cost more than the rounds).
#if defined(__GNUC__) || defined(__clang__)
#define HEARTH_THREEFRY_INLINE __attribute__((always_inline)) inline
#else
#define HEARTH_THREEFRY_INLINE inline
#endif
HEARTH_THREEFRY_INLINE uint32_t threefry_rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
// One MIX round: add, rotate by a per-round constant, xor.
HEARTH_THREEFRY_INLINE void threefry_mix(uint32_t& x0, uint32_t& x1, int r) {
  x0 += x1;
  x1 = threefry_rotl(x1, r);
  x1 ^= x0;
}
// Four rounds with the rotation distances of rounds 4i..4i+3 (the 2x32 constants 13 15 26 6 | 17 29 16 24
// repeat every 8 rounds), then key injection number s: ks[s mod 3], ks[(s + 1) mod 3] + s.
HEARTH_THREEFRY_INLINE void threefry_group(uint32_t& x0, uint32_t& x1, bool odd, uint32_t ka, uint32_t kb, uint32_t s) {
  if (!odd) {
    threefry_mix(x0, x1, 13); threefry_mix(x0, x1, 15); threefry_mix(x0, x1, 26); threefry_mix(x0, x1, 6);
  } else {
    threefry_mix(x0, x1, 17); threefry_mix(x0, x1, 29); threefry_mix(x0, x1, 16); threefry_mix(x0, x1, 24);
  }
  x0 += ka;
  x1 += kb + s;
}
// Written out (not a loop over rounds) so every rotation is a constant: about 6x faster.
HEARTH_THREEFRY_INLINE void threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t out[2]) {
  // Key schedule: the two key words and a parity word (the Skein constant xor both words).
  const uint32_t k2 = 0x1BD11BDAu ^ k0 ^ k1;
  uint32_t x0 = c0 + k0, x1 = c1 + k1;
  threefry_group(x0, x1, false, k1, k2, 1);
  threefry_group(x0, x1, true, k2, k0, 2);
  threefry_group(x0, x1, false, k0, k1, 3);
  threefry_group(x0, x1, true, k1, k2, 4);
  threefry_group(x0, x1, false, k2, k0, 5);
  out[0] = x0;
  out[1] = x1;
}

namespace prng {

// The random byte stream of a key: block b (counter (b mod 2^32, b / 2^32)) gives 8 bytes, word 0 then word 1,
// little-endian. Every random op reads this stream, so a value depends only on the key and its index.
class RandomBits : public Primitive {
 public:
  RandomBits(int width, int64_t first_block) : width_(width), first_block_(first_block) {}
  const char* name() const override { return "random_bits"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  int width_;
  int64_t first_block_;
};

// low + (high - low) * u in the output dtype, u from the top significand bits of the stream (exact in the
// dtype, in [0, 1)), the result kept below high. Inputs: key, low, high (float64, broadcast to the shape).
class Uniform : public Primitive {
 public:
  const char* name() const override { return "uniform"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Uniform*>(&o) != nullptr; }
};

// sqrt(2) * erfinv(u) for u uniform in [a, b) (float64 inputs broadcast to the shape): normal draws by the
// inverse CDF, as MLX. Float32 and half outputs take 24 random bits and the bare erfinv approximation (about
// one float32 ulp); float64 takes 53 bits and the Newton-refined erfinv.
class NormalInvCdf : public Primitive {
 public:
  const char* name() const override { return "normal"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const NormalInvCdf*>(&o) != nullptr; }
};

// Integers in [low, high) (int64 inputs broadcast to the shape) by a multiply-shift of 32 random bits (64 when
// the range needs them).
class RandInt : public Primitive {
 public:
  const char* name() const override { return "randint"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const RandInt*>(&o) != nullptr; }
};

Array key(uint64_t seed);  // [seed >> 32, seed & 0xffffffff]
Array split(const Array& key, int64_t num);  // [num, 2]; row j = block j of the key's stream
// Row j of split(key, num) for any num > j, without the others.
Array split_at(const Array& key, int64_t j);
Array bits(const Shape& shape, int width, const Array& key);  // width in bytes: 1, 2, 4, 8
Array uniform(const Array& low, const Array& high, const Shape& shape, Dtype dtype, const Array& key);
Array normal(const Shape& shape, Dtype dtype, const Array& loc, const Array& scale, const Array& key);
Array randint(const Array& low, const Array& high, const Shape& shape, Dtype dtype, const Array& key);
Array bernoulli(const Array& p, const Shape& shape, const Array& key);
Array truncated_normal(const Array& lower, const Array& upper, const Shape& shape, Dtype dtype, const Array& key);
Array gumbel(const Shape& shape, Dtype dtype, const Array& key);
Array laplace(const Shape& shape, Dtype dtype, const Array& loc, const Array& scale, const Array& key);
// Gumbel-max sampling over `axis`. shape: the sample shape (broadcast with the logits' other dims);
// num_samples >= 0: that many samples per distribution (a new last dim). At most one of them.
Array categorical(const Array& logits, int axis, const Shape* shape, int64_t num_samples, const Array& key);
Array permutation(int64_t n, const Array& key);                 // int32
Array permutation(const Array& x, int axis, const Array& key);  // x shuffled along axis

// The global key sequence for calls without a key: each call splits the state in two, keeps the first half
// and returns the second (as MLX). Thread-safe; seeded from the clock until seed() is called.
void seed(uint64_t s);
Array next_key();

}  // namespace prng
}  // namespace hearth
