#include "random.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "creation.h"
#include "elementwise.h"
#include "layout.h"
#include "reduce.h"
#include "sort_scan.h"

namespace hearth::prng {

bool RandomBits::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RandomBits*>(&o);
  return p && p->width_ == width_ && p->first_block_ == first_block_;
}

// Random draws are constants of their key: no gradient flows into the key.
std::vector<Array> RandomBits::vjp(const std::vector<Array>& primals, const Array&, const std::vector<int>&,
                                   const Array&) {
  return {zeros_like(primals[0])};
}
std::vector<Array> NormalInvCdf::vjp(const std::vector<Array>& primals, const Array&,
                                     const std::vector<int>& argnums, const Array&) {
  std::vector<Array> g;
  for (int a : argnums) g.push_back(zeros_like(primals[a]));
  return g;
}
std::vector<Array> RandInt::vjp(const std::vector<Array>& primals, const Array&, const std::vector<int>& argnums,
                                const Array&) {
  std::vector<Array> g;
  for (int a : argnums) g.push_back(zeros_like(primals[a]));
  return g;
}

// ---- validation helpers ----

namespace {

void check_key(const char* op, const Array& k) {
  if (k.dtype() != Dtype::uint32 || k.shape() != Shape{2})
    throw_invalid(op, std::string("key must be a uint32 array of shape [2] (from random.key or random.split), got ") +
                          dtype_name(k.dtype()) + " " + shape_str(k.shape()));
}

void check_shape(const char* op, const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw_invalid(op, "negative dimension in shape " + shape_str(shape));
}

// The value of a one-element array whose value is already known (evaluated, or a constant node).
bool known_scalar(const Array& a, double* v) {
  if (a.size() != 1) return false;
  if (a.is_evaluated()) { *v = a.scalar_as_double(0); return true; }
  const Array* x = &a;
  while (x->has_primitive()) {  // constants reach here as Full, maybe behind a cast or reshape
    if (auto* f = dynamic_cast<const Full*>(&x->primitive())) { *v = f->value(); return true; }
    if (x->inputs().size() != 1) return false;
    if (!dynamic_cast<const Cast*>(&x->primitive()) && !dynamic_cast<const Reshape*>(&x->primitive()))
      return false;
    x = &x->inputs()[0];
    if (x->is_evaluated()) { *v = x->scalar_as_double(0); return true; }
  }
  return false;
}

// The output shape is the requested one; parameters must broadcast to it (as MLX).
void check_broadcast(const char* op, const char* what, const Shape& param, const Shape& shape) {
  Shape b = broadcast_shapes(param, shape, op);
  if (b != shape)
    throw_invalid(op, std::string(what) + " of shape " + shape_str(param) + " does not broadcast to the requested shape " +
                          shape_str(shape) + "; pass a shape of " + shape_str(b) + " or omit it");
}

Array as_f64(const Array& a, const Shape& shape) {
  Array x = a.dtype() == Dtype::float64 ? a : astype(a, Dtype::float64);
  return x.shape() == shape ? x : broadcast_to(x, shape);
}

Dtype work_float(Dtype t) { return t == Dtype::float64 ? Dtype::float64 : Dtype::float32; }

// The float just above -1 in the work type: uniform draws in (-1, 1) keep erfinv finite.
double above_minus_one(Dtype work) {
  return work == Dtype::float64 ? std::nextafter(-1.0, 0.0) : double(std::nextafter(-1.0f, 0.0f));
}

void check_float_dtype(const char* op, Dtype t) {
  if (!is_floating(t)) throw_invalid(op, std::string("dtype must be a floating type, got ") + dtype_name(t));
}

Array uniform_impl(const char* op, const Array& low, const Array& high, const Shape& shape, Dtype dtype,
                   const Array& k) {
  check_key(op, k);
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  check_broadcast(op, "low", low.shape(), shape);
  check_broadcast(op, "high", high.shape(), shape);
  double lo, hi;
  if (known_scalar(low, &lo) && known_scalar(high, &hi) && !(lo < hi))
    throw_invalid(op, "low (" + std::to_string(lo) + ") must be less than high (" + std::to_string(hi) + ")");
  return Array(shape, dtype, std::make_shared<Uniform>(), {k, as_f64(low, shape), as_f64(high, shape)});
}

}  // namespace

// ---- keys ----

Array key(uint64_t seed) {
  uint32_t k[2] = {uint32_t(seed >> 32), uint32_t(seed)};
  return array_from_data(k, {2}, Dtype::uint32);
}

static Array bits_from(const Shape& shape, int width, const Array& k, int64_t first_block, const char* op) {
  check_key(op, k);
  check_shape(op, shape);
  Dtype t;
  switch (width) {
    case 1: t = Dtype::uint8; break;
    case 2: t = Dtype::uint16; break;
    case 4: t = Dtype::uint32; break;
    case 8: t = Dtype::uint64; break;
    default: throw_invalid(op, "width must be 1, 2, 4 or 8 bytes, got " + std::to_string(width));
  }
  return Array(shape, t, std::make_shared<RandomBits>(width, first_block), {k});
}

Array bits(const Shape& shape, int width, const Array& k) { return bits_from(shape, width, k, 0, "bits"); }

Array split(const Array& k, int64_t num) {
  if (num < 1) throw_invalid("split", "num must be at least 1, got " + std::to_string(num));
  return bits_from({num, 2}, 4, k, 0, "split");
}

Array split_at(const Array& k, int64_t j) {
  if (j < 0) throw_invalid("split", "index must be non-negative");
  return bits_from({2}, 4, k, j, "split");
}

// ---- distributions ----

Array uniform(const Array& low, const Array& high, const Shape& shape, Dtype dtype, const Array& k) {
  return uniform_impl("uniform", low, high, shape, dtype, k);
}

std::vector<Array> Uniform::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                                const Array& out) {
  // out = low + (high - low) * u: the same u again from the same key, in the output's dtype.
  Array u(out.shape(), out.dtype(), std::make_shared<Uniform>(),
          {primals[0], full(out.shape(), 0, Dtype::float64), full(out.shape(), 1, Dtype::float64)});
  std::vector<Array> g;
  for (int a : argnums) {
    if (a == 0) g.push_back(zeros_like(primals[0]));
    else if (a == 1) g.push_back(multiply(cot, subtract(scalar_like(1, u), u)));
    else g.push_back(multiply(cot, u));
  }
  return g;
}

Array normal(const Shape& shape, Dtype dtype, const Array& loc, const Array& scale, const Array& k) {
  check_key("normal", k);
  check_shape("normal", shape);
  check_float_dtype("normal", dtype);
  check_broadcast("normal", "loc", loc.shape(), shape);
  check_broadcast("normal", "scale", scale.shape(), shape);
  double lv = 0, sv = 1;
  bool loc_known = known_scalar(loc, &lv), scale_known = known_scalar(scale, &sv);
  if (scale_known && !(sv >= 0)) throw_invalid("normal", "scale must be non-negative, got " + std::to_string(sv));
  // Half types draw in float32 precision: a bf16 uniform has only 8 bits, far too coarse for the inverse CDF.
  Dtype work = work_float(dtype);
  bool plain = scale_known && sv == 1 && loc_known && lv == 0;
  Array z(shape, plain ? dtype : work, std::make_shared<NormalInvCdf>(),
          {k, full(shape, above_minus_one(work), Dtype::float64), full(shape, 1, Dtype::float64)});
  if (plain) return z;
  if (!(scale_known && sv == 1)) z = multiply(z, astype(scale, work));
  if (!(loc_known && lv == 0)) z = add(z, astype(loc, work));
  return z.dtype() == dtype ? z : astype(z, dtype);
}

Array randint(const Array& low, const Array& high, const Shape& shape, Dtype dtype, const Array& k) {
  check_key("randint", k);
  check_shape("randint", shape);
  if (!is_integral(dtype)) throw_invalid("randint", std::string("dtype must be an integer type, got ") + dtype_name(dtype));
  check_broadcast("randint", "low", low.shape(), shape);
  check_broadcast("randint", "high", high.shape(), shape);
  double lo, hi;
  bool lk = known_scalar(low, &lo), hk = known_scalar(high, &hi);
  if (lk && hk && !(lo < hi))
    throw_invalid("randint", "low (" + std::to_string(int64_t(lo)) + ") must be less than high (" +
                                 std::to_string(int64_t(hi)) + ")");
  auto as_i64 = [&](const Array& a) {
    Array x = a.dtype() == Dtype::int64 ? a : astype(is_floating(a.dtype()) ? unary(UnaryOp::floor, a) : a, Dtype::int64);
    return x.shape() == shape ? x : broadcast_to(x, shape);
  };
  return Array(shape, dtype, std::make_shared<RandInt>(), {k, as_i64(low), as_i64(high)});
}

Array bernoulli(const Array& p, const Shape& shape, const Array& k) {
  check_key("bernoulli", k);
  check_shape("bernoulli", shape);
  check_broadcast("bernoulli", "p", p.shape(), shape);
  double pv;
  if (known_scalar(p, &pv) && !(pv >= 0 && pv <= 1))
    throw_invalid("bernoulli", "p must be a probability in [0, 1], got " + std::to_string(pv));
  Dtype work = p.dtype() == Dtype::float64 ? Dtype::float64 : Dtype::float32;
  Array u = uniform_impl("bernoulli", scalar(0, Dtype::float64), scalar(1, Dtype::float64), shape, work, k);
  return less(u, p.dtype() == work ? p : astype(p, work));  // u < 1 always, so p = 1 gives all true
}

Array truncated_normal(const Array& lower, const Array& upper, const Shape& shape, Dtype dtype, const Array& k) {
  const char* op = "truncated_normal";
  check_key(op, k);
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  check_broadcast(op, "lower", lower.shape(), shape);
  check_broadcast(op, "upper", upper.shape(), shape);
  double lo, hi;
  if (known_scalar(lower, &lo) && known_scalar(upper, &hi) && !(lo < hi))
    throw_invalid(op, "lower (" + std::to_string(lo) + ") must be less than upper (" + std::to_string(hi) + ")");
  // Inverse CDF between the bounds (their CDF values in float64, so bounds a few sigma out keep their precision).
  Array l = as_f64(lower, lower.shape()), h = as_f64(upper, upper.shape());
  Array inv_sqrt2 = scalar(1 / std::sqrt(2.0), Dtype::float64);
  Array a = unary(UnaryOp::erf, multiply(l, inv_sqrt2)), b = unary(UnaryOp::erf, multiply(h, inv_sqrt2));
  Dtype work = work_float(dtype);
  Array z(shape, work, std::make_shared<NormalInvCdf>(), {k, as_f64(a, shape), as_f64(b, shape)});
  z = minimum(maximum(z, astype(l, work)), astype(h, work));  // rounding at the ends must not step outside
  return z.dtype() == dtype ? z : astype(z, dtype);
}

Array gumbel(const Shape& shape, Dtype dtype, const Array& k) {
  check_key("gumbel", k);
  check_shape("gumbel", shape);
  check_float_dtype("gumbel", dtype);
  Dtype work = work_float(dtype);
  // u >= the smallest normal float keeps both logs finite.
  double tiny = work == Dtype::float64 ? std::numeric_limits<double>::min() : double(std::numeric_limits<float>::min());
  Array u = uniform_impl("gumbel", scalar(tiny, Dtype::float64), scalar(1, Dtype::float64), shape, work, k);
  Array g = negative(log(negative(log(u))));
  return g.dtype() == dtype ? g : astype(g, dtype);
}

Array laplace(const Shape& shape, Dtype dtype, const Array& loc, const Array& scale, const Array& k) {
  check_key("laplace", k);
  check_shape("laplace", shape);
  check_float_dtype("laplace", dtype);
  check_broadcast("laplace", "loc", loc.shape(), shape);
  check_broadcast("laplace", "scale", scale.shape(), shape);
  double sv;
  if (known_scalar(scale, &sv) && !(sv >= 0)) throw_invalid("laplace", "scale must be non-negative, got " + std::to_string(sv));
  Dtype work = work_float(dtype);
  // Inverse CDF: loc - scale * sign(u) * log(1 - |u|) for u in (-1, 1).
  Array u = uniform_impl("laplace", scalar(above_minus_one(work), Dtype::float64), scalar(1, Dtype::float64), shape,
                         work, k);
  Array z = negative(multiply(sign(u), unary(UnaryOp::log1p, negative(abs(u)))));
  z = add(multiply(z, astype(scale, work)), astype(loc, work));
  return z.dtype() == dtype ? z : astype(z, dtype);
}

Array categorical(const Array& logits, int axis, const Shape* shape, int64_t num_samples, const Array& k) {
  const char* op = "categorical";
  check_key(op, k);
  if (logits.ndim() == 0) throw_invalid(op, "logits must have at least one dimension (the categories)");
  if (shape && num_samples >= 0) throw_invalid(op, "pass at most one of shape and numSamples");
  int ax = normalize_axis(axis, logits.ndim(), op);
  if (logits.shape(ax) == 0) throw_invalid(op, "the categories axis is empty");
  Dtype work = logits.dtype() == Dtype::float64 ? Dtype::float64 : Dtype::float32;
  Array L = moveaxis(logits.dtype() == work ? logits : astype(logits, work), ax, -1);
  const int64_t classes = L.shape(-1);
  Shape batch(L.shape().begin(), L.shape().end() - 1);
  Shape noise_shape;
  if (num_samples >= 0) {
    noise_shape = batch;
    noise_shape.insert(noise_shape.end(), {num_samples, classes});
    L = expand_dims(L, {-2});
  } else if (shape) {
    check_shape(op, *shape);
    check_broadcast(op, "logits (without the categories axis)", batch, *shape);
    noise_shape = *shape;
    noise_shape.push_back(classes);
  } else {
    noise_shape = L.shape();
  }
  // Gumbel-max: argmax(logits + Gumbel noise) is an exact draw from softmax(logits).
  return argmax(add(L, gumbel(noise_shape, work, k)), -1);
}

Array permutation(int64_t n, const Array& k) {
  if (n < 0) throw_invalid("permutation", "n must be non-negative, got " + std::to_string(n));
  // Sorting 64-bit random keys: ties (which would favour the earlier position) are vanishingly rare.
  return astype(argsort(bits_from({n}, 8, k, 0, "permutation"), 0), Dtype::int32);
}

Array permutation(const Array& x, int axis, const Array& k) {
  if (x.ndim() == 0) throw_invalid("permutation", "expected an array with at least one dimension");
  int ax = normalize_axis(axis, x.ndim(), "permutation");
  const int64_t n = x.shape(ax);
  Array perm = argsort(bits_from({n}, 8, k, 0, "permutation"), 0);
  Shape s(x.ndim(), 1);
  s[ax] = n;
  return sortscan::gather_axis(x, broadcast_to(reshape(perm, s), x.shape()), ax);
}

// ---- the global key ----

namespace {
std::mutex g_key_mu;
uint32_t g_key[2];
bool g_seeded = false;
}  // namespace

void seed(uint64_t s) {
  std::lock_guard<std::mutex> lk(g_key_mu);
  g_key[0] = uint32_t(s >> 32);
  g_key[1] = uint32_t(s);
  g_seeded = true;
}

Array next_key() {
  std::lock_guard<std::mutex> lk(g_key_mu);
  if (!g_seeded) {
    uint64_t t = uint64_t(std::chrono::high_resolution_clock::now().time_since_epoch().count());
    g_key[0] = uint32_t(t >> 32);
    g_key[1] = uint32_t(t);
    g_seeded = true;
  }
  // Exactly split(state, 2): row 0 becomes the state, row 1 is handed out.
  uint32_t keep[2], out[2];
  threefry2x32(g_key[0], g_key[1], 0, 0, keep);
  threefry2x32(g_key[0], g_key[1], 1, 0, out);
  g_key[0] = keep[0];
  g_key[1] = keep[1];
  return array_from_data(out, {2}, Dtype::uint32);
}

}  // namespace hearth::prng
