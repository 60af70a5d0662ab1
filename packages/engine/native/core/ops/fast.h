// Fused ops (mx.fast): RMS norm, layer norm, rotary position embedding and scaled dot-product attention.
// Each is one primitive with a fast CPU kernel (backend/cpu/fast.cpp) and a fallback built from public ops
// (the *_fallback functions). The fallback is the reference the kernels are tested against and defines the
// gradient: a primitive's vjp differentiates its fallback graph rebuilt on the primals.
#pragma once
#include <optional>

#include "../primitive.h"

namespace hearth {

class RmsNorm : public Primitive {
 public:
  RmsNorm(double eps, bool has_weight) : eps_(eps), has_weight_(has_weight) {}
  const char* name() const override { return "rmsNorm"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  double eps_;
  bool has_weight_;
};

class LayerNorm : public Primitive {
 public:
  LayerNorm(double eps, bool has_weight, bool has_bias) : eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  const char* name() const override { return "layerNorm"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  double eps_;
  bool has_weight_, has_bias_;
};

// Inputs: x, then the offset array (when given as an array), then freqs (when given).
struct RopeParams {
  int dims = 0;
  bool traditional = false;
  double base = 10000;  // unused when has_freqs
  double scale = 1;
  int64_t offset = 0;   // unused when has_offset_array
  bool has_offset_array = false;
  bool has_freqs = false;
  bool operator==(const RopeParams& o) const;
};

class Rope : public Primitive {
 public:
  explicit Rope(RopeParams p) : p_(p) {}
  const char* name() const override { return "rope"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;
  const RopeParams& params() const { return p_; }

 private:
  RopeParams p_;
};

enum class SdpaMask : uint8_t { none, causal, array };

// Inputs: q, k, v, then the mask array when mask == array.
struct SdpaParams {
  double scale = 1;
  SdpaMask mask = SdpaMask::none;
  int64_t window = 0;  // > 0: sliding window of that many keys (implies causal)
  bool operator==(const SdpaParams& o) const;
};

class ScaledDotProductAttention : public Primitive {
 public:
  explicit ScaledDotProductAttention(SdpaParams p) : p_(p) {}
  const char* name() const override { return "scaledDotProductAttention"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  std::vector<Array> vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) override;
  bool is_equivalent(const Primitive& o) const override;
  const SdpaParams& params() const { return p_; }

 private:
  SdpaParams p_;
};

// ---- ops ----
// `fallback` builds the plain-op graph instead of the fused node (same validation): the reference in tests.
//
// Normalises over the last axis: x * rsqrt(mean(x²) + eps) * weight. Half inputs are computed in float32;
// the result has the type of x promoted with weight (x's type when they match), as MLX.
Array rms_norm(const Array& x, const std::optional<Array>& weight, double eps, bool fallback = false);
// (x - mean) * rsqrt(var + eps) * weight + bias over the last axis (weight and bias optional).
Array layer_norm(const Array& x, const std::optional<Array>& weight, const std::optional<Array>& bias, double eps,
                 bool fallback = false);
// Rotary embedding of the first `dims` features of x [..., L, D] at positions (offset + [0, L)) · scale, with
// angle position · base^(-2i/dims), or position / freqs[i] when freqs ([dims/2]) is given (base is then
// ignored). offset_array replaces `offset`: an integer scalar, or one offset per entry of x's first axis.
// traditional rotates pairs (2i, 2i+1); the default rotates (i, i + dims/2).
Array rope(const Array& x, int dims, bool traditional, double base, double scale, int64_t offset,
           const std::optional<Array>& offset_array, const std::optional<Array>& freqs, bool fallback = false);
// softmax(q kᵀ · scale + mask) v for q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv]; query head h
// uses key/value head h / (Hq / Hkv). Causal masks align the last query with the last key (query i sees keys
// ≤ i + Lk − Lq); window n keeps keys in (p − n, p] for a query at position p = i + Lk − Lq (so it implies
// causal). mask_array: bool (true = attend) or additive float, broadcastable to [B, Hq, Lq, Lk]. A query
// whose keys are all masked gives 0 (not NaN). scale defaults to 1/sqrt(D).
Array scaled_dot_product_attention(const Array& q, const Array& k, const Array& v, std::optional<double> scale,
                                   SdpaMask mask, const std::optional<Array>& mask_array, int64_t window,
                                   bool fallback = false);

// ---- fallbacks (plain ops, on validated arguments) ----
Array rms_norm_fallback(const Array& x, const std::optional<Array>& weight, double eps);
Array layer_norm_fallback(const Array& x, const std::optional<Array>& weight, const std::optional<Array>& bias,
                          double eps);
Array rope_fallback(const Array& x, const RopeParams& p, const std::optional<Array>& offset_array,
                    const std::optional<Array>& freqs);
Array sdpa_fallback(const Array& q, const Array& k, const Array& v, const SdpaParams& p,
                    const std::optional<Array>& mask_array);

// The decode attention kernels in use: "avx512", "avx2" or "generic" (HEARTH_ISA caps them; for tests).
const char* attention_kernel_name();

// The inverse frequencies of a rope without explicit freqs: base^(-2i/dims), i in [0, dims/2).
std::vector<double> rope_inv_freqs(int dims, double base);

}  // namespace hearth
