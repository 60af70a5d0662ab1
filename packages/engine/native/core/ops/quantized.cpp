#include "quantized.h"

#include "creation.h"
#include "elementwise.h"
#include "indexing.h"
#include "layout.h"
#include "linalg.h"
#include "reduce.h"

namespace hearth {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

void check_params(const char* op, int group_size, int bits) {
  if (group_size != 32 && group_size != 64 && group_size != 128)
    throw_invalid(op, "group size " + str(group_size) + " is not supported; use 32, 64 or 128");
  if (bits < 2 || bits > 8 || bits == 7)
    throw_invalid(op, str(bits) + " bits are not supported; use 2, 3, 4, 5, 6 or 8");
}

// Shared checks of a packed matrix and its scales/biases (MLX's validate_quantized_input); returns the
// unpacked length of w's last axis.
int64_t check_packed(const char* op, const Array& wq, const Array& scales, const Array& biases, int group_size,
                     int bits) {
  if (wq.dtype() != Dtype::uint32)
    throw_invalid(op, std::string("the packed weight must be uint32 (as mx.quantize returns), got ") +
                          dtype_name(wq.dtype()));
  if (wq.ndim() < 2)
    throw_invalid(op, "the packed weight must have at least 2 dimensions, got shape " + shape_str(wq.shape()));
  if (scales.shape() != biases.shape())
    throw_invalid(op, "scales and biases must have the same shape, got " + shape_str(scales.shape()) + " and " +
                          shape_str(biases.shape()));
  if (!is_floating(scales.dtype()) || !is_floating(biases.dtype()))
    throw_invalid(op, std::string("scales and biases must be floating point, got ") + dtype_name(scales.dtype()) +
                          " and " + dtype_name(biases.dtype()));
  Shape wlead(wq.shape().begin(), wq.shape().end() - 1);
  Shape slead = scales.ndim() ? Shape(scales.shape().begin(), scales.shape().end() - 1) : Shape{};
  int64_t k = wq.shape(-1) * 32 / bits;
  if (scales.ndim() != wq.ndim() || wlead != slead || (wq.shape(-1) * 32) % bits != 0 ||
      k != scales.shape(-1) * group_size)
    throw_invalid(op, "scales/biases of shape " + shape_str(scales.shape()) + " do not match a packed weight of shape " +
                          shape_str(wq.shape()) + " with group_size=" + str(group_size) + " and bits=" + str(bits) +
                          " (expected " + shape_str([&] {
                            Shape s = wlead;
                            s.push_back(k / group_size);
                            return s;
                          }()) + ")");
  return k;
}

}  // namespace

// ---- equivalence ----

bool QuantizeParams::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizeParams*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_;
}
bool QuantizePack::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizePack*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_;
}
bool Dequantize::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Dequantize*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_;
}
bool QuantizedMatmul::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizedMatmul*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_ && p->transpose_ == transpose_;
}

// ---- quantize ----

std::vector<Array> quantize(const Array& w, int group_size, int bits) {
  const char* op = "quantize";
  check_params(op, group_size, bits);
  if (!is_floating(w.dtype()))
    throw_invalid(op, std::string("only floating point arrays can be quantized, got ") + dtype_name(w.dtype()));
  if (w.ndim() < 2)
    throw_invalid(op, "the array to quantize must have at least 2 dimensions, got shape " + shape_str(w.shape()));
  int64_t k = w.shape(-1);
  if (k % group_size != 0)
    throw_invalid(op, "the last dimension (" + str(k) + ") must be divisible by the group size " + str(group_size) +
                          "; got shape " + shape_str(w.shape()));
  Shape lead(w.shape().begin(), w.shape().end() - 1);
  Shape pshape{2};
  pshape.insert(pshape.end(), lead.begin(), lead.end());
  pshape.push_back(k / group_size);
  Array params(pshape, Dtype::float32, std::make_shared<QuantizeParams>(group_size, bits), {w});
  Shape qshape = lead;
  qshape.push_back(k * bits / 32);
  Array wq(qshape, Dtype::uint32, std::make_shared<QuantizePack>(group_size, bits), {w, params});
  // params[0] and params[1] are contiguous blocks, so these are views until the cast to w's dtype.
  Shape start(pshape.size(), 0), stop = pshape;
  Shape sshape(pshape.begin() + 1, pshape.end());
  stop[0] = 1;
  Array scales = astype(reshape(slice(params, start, stop), sshape), w.dtype());
  start[0] = 1, stop[0] = 2;
  Array biases = astype(reshape(slice(params, start, stop), sshape), w.dtype());
  return {wq, scales, biases};
}

// ---- dequantize ----

Array dequantize(const Array& wq, const Array& scales, const Array& biases, int group_size, int bits) {
  const char* op = "dequantize";
  check_params(op, group_size, bits);
  int64_t k = check_packed(op, wq, scales, biases, group_size, bits);
  Dtype t = promote_types(scales.dtype(), biases.dtype());
  Shape out = wq.shape();
  out.back() = k;
  return Array(out, t, std::make_shared<Dequantize>(group_size, bits), {wq, astype(scales, t), astype(biases, t)});
}

// d/dscale = Σ_group cot · q, d/dbias = Σ_group cot (the packed codes get none).
std::vector<Array> Dequantize::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                                   const Array&) {
  std::vector<Array> grads;
  Shape grouped = cot.shape();
  grouped.back() /= group_size_;
  grouped.push_back(group_size_);
  for (int arg : argnums) {
    if (arg == 0) throw_invalid("dequantize", "no gradient with respect to the packed (uint32) weights");
    if (arg == 2) {
      grads.push_back(sum(reshape(cot, grouped), std::vector<int>{-1}));
    } else {
      Array q = dequantize(primals[0], ones_like(primals[1]), zeros_like(primals[2]), group_size_, bits_);
      grads.push_back(sum(multiply(reshape(cot, grouped), reshape(q, grouped)), std::vector<int>{-1}));
    }
  }
  return grads;
}

// ---- quantized matmul ----

Array quantized_matmul(const Array& x_in, const Array& wq_in, const Array& scales_in, const Array& biases_in,
                       bool transpose, int group_size, int bits) {
  const char* op = "quantizedMatmul";
  check_params(op, group_size, bits);
  int64_t wk = check_packed(op, wq_in, scales_in, biases_in, group_size, bits);
  if (x_in.ndim() == 0) throw_invalid(op, "x must have at least 1 dimension, got a scalar");
  // The logical W is [rows, wk]: transpose contracts x with its columns, else with its rows.
  int64_t rows = wq_in.shape(-2);
  int64_t inner = transpose ? wk : rows, outer = transpose ? rows : wk;
  if (x_in.shape(-1) != inner)
    throw_invalid(op, "the last dimension of x (" + str(x_in.shape(-1)) + ") does not match the quantized matrix (" +
                          str(transpose ? outer : inner) + ", " + str(transpose ? inner : outer) +
                          ") unpacked from shape " + shape_str(wq_in.shape()) + " with group_size=" +
                          str(group_size) + ", bits=" + str(bits) + " and transpose=" +
                          (transpose ? "true" : "false"));
  Dtype t = promote_types(x_in.dtype(), promote_types(scales_in.dtype(), biases_in.dtype()));
  if (!is_floating(t))
    throw_invalid(op, std::string("only floating point x is supported, got ") + dtype_name(x_in.dtype()));
  Array x = astype(x_in, t), wq = wq_in, scales = astype(scales_in, t), biases = astype(biases_in, t);
  Shape out;
  if (wq.ndim() > 2) {
    if (x.ndim() < 2)
      throw_invalid(op, "a batched quantized matrix needs x with at least 2 dimensions [..., M, K], got shape " +
                            shape_str(x.shape()));
    Shape xb(x.shape().begin(), x.shape().end() - 2), wb(wq.shape().begin(), wq.shape().end() - 2);
    Shape batch = broadcast_shapes(xb, wb, op);
    auto with = [&](const Array& a) {
      Shape s = batch;
      s.insert(s.end(), {a.shape(-2), a.shape(-1)});
      return broadcast_to(a, s);
    };
    x = with(x), wq = with(wq), scales = with(scales), biases = with(biases);
    out = batch;
    out.insert(out.end(), {x.shape(-2), outer});
  } else {
    out = x.shape();
    out.back() = outer;
  }
  return Array(out, t, std::make_shared<QuantizedMatmul>(group_size, bits, transpose), {x, wq, scales, biases});
}

std::vector<Array> QuantizedMatmul::vjp(const std::vector<Array>& primals, const Array& cot,
                                        const std::vector<int>& argnums, const Array&) {
  const Array &x = primals[0], &wq = primals[1];
  std::vector<Array> grads;
  std::optional<Array> dw;  // the gradient of the dense W, grouped: [..., rows, G, group_size]
  for (int arg : argnums) {
    if (arg == 0) {
      grads.push_back(quantized_matmul(cot, wq, primals[2], primals[3], !transpose_, group_size_, bits_));
      continue;
    }
    if (arg == 1) throw_invalid("quantizedMatmul", "no gradient with respect to the packed (uint32) weights");
    if (!dw) {
      Array fx = x, fc = cot;
      if (wq.ndim() == 2) fx = reshape(x, {-1, x.shape(-1)}), fc = reshape(cot, {-1, cot.shape(-1)});
      Array d = transpose_ ? matmul(swapaxes(fc, -1, -2), fx) : matmul(swapaxes(fx, -1, -2), fc);
      Shape g = d.shape();
      g.back() /= group_size_;
      g.push_back(group_size_);
      dw = reshape(d, g);
    }
    if (arg == 3) {
      grads.push_back(sum(*dw, std::vector<int>{-1}));
    } else {
      Array q = dequantize(wq, ones_like(primals[2]), zeros_like(primals[3]), group_size_, bits_);
      grads.push_back(sum(multiply(*dw, reshape(q, dw->shape())), std::vector<int>{-1}));
    }
  }
  return grads;
}

}  // namespace hearth
