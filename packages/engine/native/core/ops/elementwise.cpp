#include "elementwise.h"

#include <cmath>

#include "../transforms.h"
#include "creation.h"
#include "layout.h"

namespace hearth {

static const char* kUnaryNames[] = {
    "abs", "negative", "sign", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "square",
    "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sigmoid", "erf",
    "erfinv", "floor", "ceil", "round", "isnan", "isinf", "isposinf", "isneginf", "logical_not", "copy"};
static const char* kBinaryNames[] = {
    "add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power", "maximum", "minimum",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
    "arctan2", "logaddexp"};
static_assert(sizeof(kUnaryNames) / sizeof(*kUnaryNames) == size_t(UnaryOp::count_), "unary names");
static_assert(sizeof(kBinaryNames) / sizeof(*kBinaryNames) == size_t(BinaryOp::count_), "binary names");

const char* unary_op_name(UnaryOp op) { return kUnaryNames[int(op)]; }
const char* binary_op_name(BinaryOp op) { return kBinaryNames[int(op)]; }

bool Unary::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Unary*>(&o);
  return p && p->op_ == op_;
}
bool Binary::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Binary*>(&o);
  return p && p->op_ == op_;
}
bool Cast::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Cast*>(&o);
  return p && p->to_ == to_;
}

Array scalar(double v, Dtype dtype) { return full({}, v, dtype); }
Array scalar_like(double v, const Array& like) { return full({}, v, like.dtype()); }

// Which unary ops compute in floating point (integer inputs become float32, as MLX does).
static bool unary_needs_float(UnaryOp op) {
  switch (op) {
    case UnaryOp::abs: case UnaryOp::negative: case UnaryOp::sign: case UnaryOp::square: case UnaryOp::floor:
    case UnaryOp::ceil: case UnaryOp::round: case UnaryOp::isnan: case UnaryOp::isinf: case UnaryOp::isposinf:
    case UnaryOp::isneginf: case UnaryOp::logical_not: case UnaryOp::copy:
      return false;
    default:
      return true;
  }
}
static bool unary_gives_bool(UnaryOp op) {
  return op == UnaryOp::isnan || op == UnaryOp::isinf || op == UnaryOp::isposinf || op == UnaryOp::isneginf ||
         op == UnaryOp::logical_not;
}

Array unary(UnaryOp op, const Array& a) {
  Array x = a;
  if (op == UnaryOp::logical_not && x.dtype() != Dtype::bool_) x = astype(x, Dtype::bool_);
  if (unary_needs_float(op) && !is_floating(x.dtype())) x = astype(x, Dtype::float32);
  if (op == UnaryOp::negative && x.dtype() == Dtype::bool_)
    throw_invalid("negative", "not defined for bool arrays; use logicalNot");
  if ((op == UnaryOp::floor || op == UnaryOp::ceil || op == UnaryOp::round) && !is_floating(x.dtype()))
    return x;
  Dtype out = unary_gives_bool(op) ? Dtype::bool_ : x.dtype();
  return Array(x.shape(), out, std::make_shared<Unary>(op), {x});
}

static bool binary_gives_bool(BinaryOp op) {
  return op >= BinaryOp::equal && op <= BinaryOp::logical_or;
}

Array binary(BinaryOp op, const Array& a, const Array& b) {
  const char* name = binary_op_name(op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (op == BinaryOp::logical_and || op == BinaryOp::logical_or) t = Dtype::bool_;
  if ((op == BinaryOp::divide || op == BinaryOp::arctan2 || op == BinaryOp::logaddexp) && !is_floating(t))
    t = Dtype::float32;
  if (t == Dtype::bool_ && (op == BinaryOp::subtract || op == BinaryOp::floor_divide ||
                            op == BinaryOp::remainder || op == BinaryOp::power))
    throw_invalid(name, "not defined for two bool arrays");
  Array x = a.dtype() == t ? a : astype(a, t);
  Array y = b.dtype() == t ? b : astype(b, t);
  if (x.shape() != shape) x = broadcast_to(x, shape);
  if (y.shape() != shape) y = broadcast_to(y, shape);
  Dtype out = binary_gives_bool(op) ? Dtype::bool_ : t;
  return Array(shape, out, std::make_shared<Binary>(op), {x, y});
}

Array where(const Array& cond, const Array& x, const Array& y) {
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), x.shape(), "where"), y.shape(), "where");
  Dtype t = promote_types(x.dtype(), y.dtype());
  Array c = cond.dtype() == Dtype::bool_ ? cond : astype(cond, Dtype::bool_);
  Array xx = x.dtype() == t ? x : astype(x, t);
  Array yy = y.dtype() == t ? y : astype(y, t);
  if (c.shape() != shape) c = broadcast_to(c, shape);
  if (xx.shape() != shape) xx = broadcast_to(xx, shape);
  if (yy.shape() != shape) yy = broadcast_to(yy, shape);
  return Array(shape, t, std::make_shared<Where>(), {c, xx, yy});
}

Array astype(const Array& a, Dtype dtype) {
  if (a.dtype() == dtype) return a;
  return Array(a.shape(), dtype, std::make_shared<Cast>(dtype), {a});
}

// ---- gradients ----

static Array zeros_for(const Array& p) { return zeros_like(p); }

std::vector<Array> Unary::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                              const Array& out) {
  const Array& x = primals[0];
  auto c = [&](double v) { return scalar_like(v, x); };
  Array g;
  switch (op_) {
    case UnaryOp::abs: g = multiply(cot, sign(x)); break;
    case UnaryOp::negative: g = negative(cot); break;
    case UnaryOp::exp: g = multiply(cot, out); break;
    case UnaryOp::expm1: g = multiply(cot, add(out, c(1))); break;
    case UnaryOp::log: g = divide(cot, x); break;
    case UnaryOp::log1p: g = divide(cot, add(x, c(1))); break;
    case UnaryOp::log2: g = divide(cot, multiply(x, c(M_LN2))); break;
    case UnaryOp::log10: g = divide(cot, multiply(x, c(M_LN10))); break;
    case UnaryOp::sqrt: g = divide(multiply(cot, c(0.5)), out); break;
    case UnaryOp::rsqrt: g = multiply(multiply(cot, c(-0.5)), multiply(out, square(out))); break;
    case UnaryOp::square: g = multiply(cot, multiply(x, c(2))); break;
    case UnaryOp::reciprocal: g = negative(multiply(cot, square(out))); break;
    case UnaryOp::sin: g = multiply(cot, unary(UnaryOp::cos, x)); break;
    case UnaryOp::cos: g = negative(multiply(cot, unary(UnaryOp::sin, x))); break;
    case UnaryOp::tan: g = multiply(cot, add(c(1), square(out))); break;
    case UnaryOp::arcsin: g = multiply(cot, rsqrt(subtract(c(1), square(x)))); break;
    case UnaryOp::arccos: g = negative(multiply(cot, rsqrt(subtract(c(1), square(x))))); break;
    case UnaryOp::arctan: g = divide(cot, add(c(1), square(x))); break;
    case UnaryOp::sinh: g = multiply(cot, unary(UnaryOp::cosh, x)); break;
    case UnaryOp::cosh: g = multiply(cot, unary(UnaryOp::sinh, x)); break;
    case UnaryOp::tanh: g = multiply(cot, subtract(c(1), square(out))); break;
    case UnaryOp::sigmoid: g = multiply(cot, multiply(out, subtract(c(1), out))); break;
    case UnaryOp::erf: g = multiply(cot, multiply(c(M_2_SQRTPI), exp(negative(square(x))))); break;
    case UnaryOp::erfinv: g = multiply(cot, multiply(c(0.5 * std::sqrt(M_PI)), exp(square(out)))); break;
    case UnaryOp::copy: g = cot; break;
    default: g = zeros_for(x); break;  // piecewise constant or boolean: zero gradient
  }
  return {g};
}

std::vector<Array> Binary::vjp(const std::vector<Array>& primals, const Array& cot,
                               const std::vector<int>& argnums, const Array& out) {
  const Array &a = primals[0], &b = primals[1];
  std::vector<Array> grads;
  for (int arg : argnums) {
    Array g;
    switch (op_) {
      case BinaryOp::add: g = cot; break;
      case BinaryOp::subtract: g = arg == 0 ? cot : negative(cot); break;
      case BinaryOp::multiply: g = multiply(cot, arg == 0 ? b : a); break;
      case BinaryOp::divide: g = arg == 0 ? divide(cot, b) : negative(divide(multiply(cot, out), b)); break;
      case BinaryOp::maximum: case BinaryOp::minimum: {
        Array pick_a = op_ == BinaryOp::maximum ? binary(BinaryOp::greater_equal, a, b)
                                                : binary(BinaryOp::less_equal, a, b);
        Array z = zeros_like(cot);
        g = arg == 0 ? where(pick_a, cot, z) : where(pick_a, z, cot);
        break;
      }
      case BinaryOp::power:
        if (arg == 0)
          g = multiply(cot, multiply(b, power(a, subtract(b, scalar_like(1, b)))));
        else  // d/db a^b = a^b log a; defined as 0 where a == 0 (the limit used by MLX and JAX)
          g = multiply(cot, where(equal(a, scalar_like(0, a)), zeros_like(a), multiply(out, log(a))));
        break;
      case BinaryOp::remainder:
        g = arg == 0 ? cot : negative(multiply(cot, binary(BinaryOp::floor_divide, a, b)));
        break;
      case BinaryOp::arctan2: {
        Array denom = add(square(a), square(b));
        g = arg == 0 ? divide(multiply(cot, b), denom) : negative(divide(multiply(cot, a), denom));
        break;
      }
      case BinaryOp::logaddexp: g = multiply(cot, exp(subtract(arg == 0 ? a : b, out))); break;
      default: g = zeros_like(primals[arg]); break;  // comparisons, floor_divide: zero gradient
    }
    grads.push_back(g);
  }
  return grads;
}

std::vector<Array> Where::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                              const Array&) {
  std::vector<Array> grads;
  Array z = zeros_like(cot);
  for (int arg : argnums) {
    if (arg == 0) grads.push_back(zeros_like(primals[0]));
    else if (arg == 1) grads.push_back(where(primals[0], cot, z));
    else grads.push_back(where(primals[0], z, cot));
  }
  return grads;
}

std::vector<Array> Cast::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>&,
                             const Array&) {
  const Array& x = primals[0];
  if (!is_floating(x.dtype())) return {zeros_like(x)};
  return {astype(cot, x.dtype())};
}

}  // namespace hearth

namespace hearth {

bool fusable_unary(UnaryOp op) {
  return op != UnaryOp::isnan && op != UnaryOp::isinf && op != UnaryOp::isposinf && op != UnaryOp::isneginf &&
         op != UnaryOp::logical_not;
}
bool fusable_binary(BinaryOp op) { return op < BinaryOp::equal || op == BinaryOp::arctan2 || op == BinaryOp::logaddexp; }

std::vector<Array> Fused::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                              const Array&) {
  begin_trace();
  try {
    std::vector<Array> tracers;
    for (auto& p : primals) tracers.push_back(make_tracer(p));
    std::vector<Array> temps;
    auto operand = [&](int i) { return i >= 0 ? tracers[i] : temps[-1 - i]; };
    for (auto& s : steps_)
      temps.push_back(s.binary ? binary(BinaryOp(s.op), operand(s.a), operand(s.b)) : unary(UnaryOp(s.op), operand(s.a)));
    std::vector<Array> grads = backprop({temps.back()}, {cot}, tracers);
    end_trace();
    std::vector<Array> out;
    for (int a : argnums) out.push_back(grads[a]);
    return out;
  } catch (...) {
    end_trace();
    throw;
  }
}

}  // namespace hearth
