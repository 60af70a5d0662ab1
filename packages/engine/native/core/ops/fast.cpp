#include "fast.h"

#include <cmath>
#include <functional>

#include "../transforms.h"
#include "creation.h"
#include "elementwise.h"
#include "layout.h"
#include "linalg.h"
#include "reduce.h"

namespace hearth {

namespace {

// Half inputs are computed in float32; float32 and float64 in themselves.
Dtype compute_type(Dtype t) { return t == Dtype::float16 || t == Dtype::bfloat16 ? Dtype::float32 : t; }

std::string dims_str(int64_t d) { return std::to_string(d); }

// The gradient of a fused op is the gradient of its fallback: the fallback graph is rebuilt on tracer copies
// of the primals (inside a trace of its own, so this works whether or not an outer grad is tracing) and
// walked back to them. Tracer leaves of outer tracers keep the result differentiable again (grad of grad).
std::vector<Array> fallback_vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                                const std::function<Array(const std::vector<Array>&)>& build) {
  begin_trace();
  try {
    std::vector<Array> ins = primals, leaves;
    for (int a : argnums) {
      ins[a] = make_tracer(primals[a]);
      leaves.push_back(ins[a]);
    }
    Array out = build(ins);
    std::vector<Array> grads = backprop({out}, {cot}, leaves);
    end_trace();
    return grads;
  } catch (...) {
    end_trace();
    throw;
  }
}

Array constant(const std::vector<double>& data, const Shape& shape) {
  return array_from_data(data.data(), shape, Dtype::float64);
}

}  // namespace

// ---- rms norm / layer norm ----

static Dtype norm_checks(const char* op, const Array& x, const std::optional<Array>& weight,
                         const std::optional<Array>& bias) {
  if (x.ndim() == 0) throw_invalid(op, "x must have at least one dimension (the normalised axis), got a scalar");
  Dtype t = x.dtype();
  int64_t d = x.shape(-1);
  for (auto* p : {&weight, &bias}) {
    if (!*p) continue;
    const char* what = p == &weight ? "weight" : "bias";
    if ((*p)->ndim() != 1 || (*p)->shape(0) != d)
      throw_invalid(op, std::string(what) + " must be 1-D with the size of x's last axis (" + dims_str(d) +
                            "), got shape " + shape_str((*p)->shape()));
    t = promote_types(t, (*p)->dtype());
  }
  if (!is_floating(t))
    throw_invalid(op, std::string("only floating point inputs are supported, got ") + dtype_name(x.dtype()));
  return t;
}

Array rms_norm_fallback(const Array& x, const std::optional<Array>& weight, double eps) {
  Dtype t = weight ? promote_types(x.dtype(), weight->dtype()) : x.dtype(), ct = compute_type(t);
  Array xf = astype(x, ct);
  Array ms = mean(square(xf), {-1}, true);
  Array y = multiply(xf, rsqrt(add(ms, scalar(eps, ct))));
  if (weight) y = multiply(y, astype(*weight, ct));
  return astype(y, t);
}

Array layer_norm_fallback(const Array& x, const std::optional<Array>& weight, const std::optional<Array>& bias,
                          double eps) {
  Dtype t = x.dtype();
  if (weight) t = promote_types(t, weight->dtype());
  if (bias) t = promote_types(t, bias->dtype());
  Dtype ct = compute_type(t);
  Array xf = astype(x, ct);
  Array d = subtract(xf, mean(xf, {-1}, true));
  Array var = mean(square(d), {-1}, true);
  Array y = multiply(d, rsqrt(add(var, scalar(eps, ct))));
  if (weight) y = multiply(y, astype(*weight, ct));
  if (bias) y = add(y, astype(*bias, ct));
  return astype(y, t);
}

Array rms_norm(const Array& x, const std::optional<Array>& weight, double eps, bool fallback) {
  Dtype t = norm_checks("rmsNorm", x, weight, std::nullopt);
  if (fallback) return rms_norm_fallback(x, weight, eps);
  std::vector<Array> in{astype(x, t)};
  if (weight) in.push_back(astype(*weight, t));
  return Array(x.shape(), t, std::make_shared<RmsNorm>(eps, bool(weight)), std::move(in));
}

Array layer_norm(const Array& x, const std::optional<Array>& weight, const std::optional<Array>& bias, double eps,
                 bool fallback) {
  Dtype t = norm_checks("layerNorm", x, weight, bias);
  if (fallback) return layer_norm_fallback(x, weight, bias, eps);
  std::vector<Array> in{astype(x, t)};
  if (weight) in.push_back(astype(*weight, t));
  if (bias) in.push_back(astype(*bias, t));
  return Array(x.shape(), t, std::make_shared<LayerNorm>(eps, bool(weight), bool(bias)), std::move(in));
}

bool RmsNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RmsNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_;
}
bool LayerNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const LayerNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_ && p->has_bias_ == has_bias_;
}

std::vector<Array> RmsNorm::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                                const Array&) {
  return fallback_vjp(primals, cot, argnums, [&](const std::vector<Array>& in) {
    return rms_norm_fallback(in[0], has_weight_ ? std::optional<Array>(in[1]) : std::nullopt, eps_);
  });
}

std::vector<Array> LayerNorm::vjp(const std::vector<Array>& primals, const Array& cot,
                                  const std::vector<int>& argnums, const Array&) {
  return fallback_vjp(primals, cot, argnums, [&](const std::vector<Array>& in) {
    size_t i = 1;
    std::optional<Array> w, b;
    if (has_weight_) w = in[i++];
    if (has_bias_) b = in[i++];
    return layer_norm_fallback(in[0], w, b, eps_);
  });
}

// ---- rope ----

bool RopeParams::operator==(const RopeParams& o) const {
  return dims == o.dims && traditional == o.traditional && base == o.base && scale == o.scale &&
         offset == o.offset && has_offset_array == o.has_offset_array && has_freqs == o.has_freqs;
}
bool Rope::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Rope*>(&o);
  return p && p->p_ == p_;
}

std::vector<double> rope_inv_freqs(int dims, double base) {
  std::vector<double> f(size_t(dims / 2));
  for (int i = 0; i < dims / 2; i++) f[i] = std::pow(base, -2.0 * i / dims);
  return f;
}

// Shape an offset array is viewed with against positions [L, 1]: a scalar, or [B, 1, …, 1] (x's rank).
static Shape offset_view_shape(const Array& off, int x_ndim) {
  if (off.size() == 1 && off.ndim() <= 1) return {};
  Shape s(size_t(x_ndim), 1);
  s[0] = off.shape(0);
  return s;
}

Array rope_fallback(const Array& x, const RopeParams& p, const std::optional<Array>& offset_array,
                    const std::optional<Array>& freqs) {
  const Dtype t = x.dtype(), ct = compute_type(t), f64 = Dtype::float64;
  const int64_t D = x.shape(-1), L = x.shape(-2), half = p.dims / 2;
  // Angles in float64 (then rounded to the compute type), as the kernel's table.
  Array pos = reshape(arange(0, double(L), 1, f64), {L, 1});
  if (offset_array) pos = add(pos, reshape(astype(*offset_array, f64), offset_view_shape(*offset_array, x.ndim())));
  else pos = add(pos, scalar(double(p.offset), f64));
  pos = multiply(pos, scalar(p.scale, f64));
  Array inv = freqs ? reciprocal(astype(*freqs, f64)) : constant(rope_inv_freqs(p.dims, p.base), {half});
  Array theta = multiply(pos, inv);  // [.., L, half]
  // Spread the half angles over the D features (0 for the untouched ones: cos 1, sin 0) and express the
  // pair rotation as x @ R, where R maps each feature to its signed partner. Both matrices hold 0/±1, so the
  // products are exact.
  std::vector<double> e(size_t(half * D), 0.0), r(size_t(D * D), 0.0);
  for (int64_t i = 0; i < half; i++) {
    int64_t a = p.traditional ? 2 * i : i, b = p.traditional ? 2 * i + 1 : i + half;
    e[i * D + a] = e[i * D + b] = 1;
    r[b * D + a] = -1;  // out[a] = x[a] cos - x[b] sin
    r[a * D + b] = 1;   // out[b] = x[b] cos + x[a] sin
  }
  Array angles = matmul(theta, constant(e, {half, D}));
  Array c = astype(unary(UnaryOp::cos, angles), ct), s = astype(unary(UnaryOp::sin, angles), ct);
  Array xf = astype(x, ct);
  Array y = add(multiply(xf, c), multiply(matmul(xf, astype(constant(r, {D, D}), ct)), s));
  return astype(y, t);
}

Array rope(const Array& x, int dims, bool traditional, double base, double scale, int64_t offset,
           const std::optional<Array>& offset_array, const std::optional<Array>& freqs, bool fallback) {
  const char* op = "rope";
  if (x.ndim() < 2)
    throw_invalid(op, "x must have at least 2 dimensions [..., L, D], got shape " + shape_str(x.shape()));
  if (!is_floating(x.dtype()))
    throw_invalid(op, std::string("only floating point inputs are supported, got ") + dtype_name(x.dtype()));
  int64_t D = x.shape(-1);
  if (dims <= 0 || dims % 2 || dims > D)
    throw_invalid(op, "dims must be even, positive and at most the last axis (" + dims_str(D) + "), got " +
                          std::to_string(dims));
  if (!std::isfinite(scale)) throw_invalid(op, "scale must be finite");
  if (freqs) {
    if (freqs->ndim() != 1 || freqs->shape(0) != dims / 2)
      throw_invalid(op, "freqs must have shape [dims / 2] = [" + std::to_string(dims / 2) + "], got " +
                            shape_str(freqs->shape()));
    if (!is_floating(freqs->dtype())) throw_invalid(op, "freqs must be a floating point array");
  } else if (!(base > 0) || !std::isfinite(base)) {
    throw_invalid(op, "base must be a positive number, got " + std::to_string(base));
  }
  if (offset_array) {
    const Array& o = *offset_array;
    if (!is_integral(o.dtype()))
      throw_invalid(op, std::string("an offset array must have an integer type, got ") + dtype_name(o.dtype()));
    bool scalar_like = o.size() == 1 && o.ndim() <= 1;
    if (!scalar_like && (o.ndim() != 1 || x.ndim() < 3 || o.shape(0) != x.shape(0)))
      throw_invalid(op, "an offset array must be a scalar or have one entry per batch item [" +
                            dims_str(x.shape(0)) + "] (x with 3+ dimensions), got shape " + shape_str(o.shape()));
  }
  RopeParams p;
  p.dims = dims, p.traditional = traditional, p.base = base, p.scale = scale, p.offset = offset;
  p.has_offset_array = bool(offset_array), p.has_freqs = bool(freqs);
  if (fallback) return rope_fallback(x, p, offset_array, freqs);
  std::vector<Array> in{x};
  if (offset_array) in.push_back(*offset_array);
  if (freqs) in.push_back(*freqs);
  return Array(x.shape(), x.dtype(), std::make_shared<Rope>(p), std::move(in));
}

std::vector<Array> Rope::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                             const Array&) {
  return fallback_vjp(primals, cot, argnums, [&](const std::vector<Array>& in) {
    size_t i = 1;
    std::optional<Array> off, fr;
    if (p_.has_offset_array) off = in[i++];
    if (p_.has_freqs) fr = in[i++];
    return rope_fallback(in[0], p_, off, fr);
  });
}

// ---- scaled dot-product attention ----

bool SdpaParams::operator==(const SdpaParams& o) const {
  return scale == o.scale && mask == o.mask && window == o.window;
}
bool ScaledDotProductAttention::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScaledDotProductAttention*>(&o);
  return p && p->p_ == p_;
}

Array sdpa_fallback(const Array& q, const Array& k, const Array& v, const SdpaParams& p,
                    const std::optional<Array>& mask_array) {
  const Dtype t = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype()), ct = compute_type(t);
  const int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  const int64_t Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3), G = Hq / Hkv;
  if (Lk == 0) return zeros({B, Hq, Lq, Dv}, t);  // no keys: every query is fully masked
  // Query heads grouped under their key/value head: [B, Hkv, G, Lq, ·] against [B, Hkv, 1, Lk, ·].
  Array qf = reshape(astype(q, ct), {B, Hkv, G, Lq, D});
  Array kf = reshape(astype(k, ct), {B, Hkv, 1, Lk, D});
  Array vf = reshape(astype(v, ct), {B, Hkv, 1, Lk, Dv});
  Array s = matmul(multiply(qf, scalar(p.scale, ct)), swapaxes(kf, -1, -2));  // [B, Hkv, G, Lq, Lk]
  std::optional<Array> keep;
  if (p.mask == SdpaMask::causal || p.window > 0) {
    Array qpos = reshape(arange(double(Lk - Lq), double(Lk), 1, Dtype::int32), {Lq, 1});
    Array kpos = arange(0, double(Lk), 1, Dtype::int32);
    keep = binary(BinaryOp::less_equal, kpos, qpos);
    if (p.window > 0) {
      Array first = subtract(qpos, scalar(double(p.window), Dtype::int32));  // last key out of the window
      keep = binary(BinaryOp::logical_and, *keep, greater(kpos, first));
    }
  }
  if (mask_array) {
    Array m = *mask_array;
    Shape s4 = m.shape();
    while (s4.size() < 4) s4.insert(s4.begin(), 1);
    Shape s5 = s4[1] == 1 ? Shape{s4[0], 1, 1, s4[2], s4[3]} : Shape{s4[0], Hkv, G, s4[2], s4[3]};
    m = reshape(m, s5);
    if (m.dtype() == Dtype::bool_) keep = keep ? binary(BinaryOp::logical_and, *keep, m) : m;
    else s = add(s, astype(m, ct));
  }
  const double inf = INFINITY;
  if (keep) s = where(*keep, s, scalar(-inf, ct));
  // Softmax with the row max held constant (it cancels out of the gradient); rows whose scores are all -inf
  // use 0 instead, so they sum to 0 and give 0 rather than NaN.
  Array m = stop_gradient(max(s, {-1}, true));
  m = where(equal(m, scalar(-inf, ct)), scalar(0, ct), m);
  Array e = exp(subtract(s, m));
  Array l = sum(e, {-1}, true);
  Array l_safe = where(greater(l, scalar(0, ct)), l, scalar(1, ct));
  Array o = divide(matmul(e, vf), l_safe);
  return astype(reshape(o, {B, Hq, Lq, Dv}), t);
}

Array scaled_dot_product_attention(const Array& q, const Array& k, const Array& v, std::optional<double> scale,
                                   SdpaMask mask, const std::optional<Array>& mask_array, int64_t window,
                                   bool fallback) {
  const char* op = "scaledDotProductAttention";
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4)
    throw_invalid(op, "q, k and v must be 4-D [B, heads, L, head_dim], got shapes " + shape_str(q.shape()) + ", " +
                          shape_str(k.shape()) + " and " + shape_str(v.shape()));
  const int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  const int64_t Hkv = k.shape(1), Lk = k.shape(2);
  if (k.shape(0) != B || v.shape(0) != B)
    throw_invalid(op, "q, k and v must have the same batch size, got " + shape_str(q.shape()) + ", " +
                          shape_str(k.shape()) + " and " + shape_str(v.shape()));
  if (k.shape(3) != D)
    throw_invalid(op, "q and k must have the same head dimension, got " + dims_str(D) + " and " + dims_str(k.shape(3)));
  if (v.shape(1) != Hkv || v.shape(2) != Lk)
    throw_invalid(op, "k and v must have the same number of heads and keys, got shapes " + shape_str(k.shape()) +
                          " and " + shape_str(v.shape()));
  if (Hkv == 0 || Hq % Hkv != 0)
    throw_invalid(op, "the number of query heads (" + dims_str(Hq) + ") must be a multiple of the key/value heads (" +
                          dims_str(Hkv) + ")");
  Dtype t = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype());
  if (!is_floating(t))
    throw_invalid(op, std::string("only floating point inputs are supported, got ") + dtype_name(q.dtype()) + ", " +
                          dtype_name(k.dtype()) + " and " + dtype_name(v.dtype()));
  if (mask == SdpaMask::array) {
    if (!mask_array) throw_invalid(op, "mask array missing");
    const Array& m = *mask_array;
    if (m.dtype() != Dtype::bool_ && !is_floating(m.dtype()))
      throw_invalid(op, std::string("the mask must be boolean (true = attend) or an additive float array, got ") +
                            dtype_name(m.dtype()));
    const Shape target{B, Hq, Lq, Lk};
    bool ok = m.ndim() <= 4;
    for (int i = 0; ok && i < m.ndim(); i++) {
      int64_t d = m.shape(i), want = target[4 - m.ndim() + i];
      ok = d == want || d == 1;
    }
    if (!ok)
      throw_invalid(op, "the mask of shape " + shape_str(m.shape()) + " does not broadcast to [B, Hq, Lq, Lk] = " +
                            shape_str(target));
  } else if (mask_array) {
    throw_invalid(op, "a mask array was given with a non-array mask mode");
  }
  if (window < 0) throw_invalid(op, "slidingWindow must be a positive number of keys, got " + std::to_string(window));
  SdpaParams p;
  p.scale = scale ? *scale : 1.0 / std::sqrt(double(D));
  if (!std::isfinite(p.scale)) throw_invalid(op, "scale must be finite");
  p.mask = mask, p.window = window;
  if (fallback) return sdpa_fallback(q, k, v, p, mask_array);
  std::vector<Array> in{astype(q, t), astype(k, t), astype(v, t)};
  if (mask_array) in.push_back(*mask_array);
  return Array({B, Hq, Lq, v.shape(3)}, t, std::make_shared<ScaledDotProductAttention>(p), std::move(in));
}

std::vector<Array> ScaledDotProductAttention::vjp(const std::vector<Array>& primals, const Array& cot,
                                                  const std::vector<int>& argnums, const Array&) {
  return fallback_vjp(primals, cot, argnums, [&](const std::vector<Array>& in) {
    std::optional<Array> mask;
    if (p_.mask == SdpaMask::array) mask = in[3];
    return sdpa_fallback(in[0], in[1], in[2], p_, mask);
  });
}

}  // namespace hearth
