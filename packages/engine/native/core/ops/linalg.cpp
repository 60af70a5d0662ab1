#include "linalg.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "creation.h"
#include "elementwise.h"
#include "layout.h"
#include "reduce.h"

namespace hearth {

namespace {

// Operands of a (batched) matrix product, after NumPy's 1-D promotion and batch broadcasting.
struct MatmulOperands {
  Array a, b;
  Shape out;  // batch..., M, N (before removing the dims added for 1-D operands)
  Dtype dtype;
};

void check_float(const char* op, Dtype t, const Array& a, const Array& b) {
  if (!is_floating(t))
    throw_invalid(op, std::string("only floating point types are supported, got ") + dtype_name(a.dtype()) +
                          " and " + dtype_name(b.dtype()));
}

MatmulOperands matmul_operands(const Array& a_in, const Array& b_in, Dtype t, const char* op) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0) throw_invalid(op, "got a 0-d array; use multiply for scalars");
  Array a = a_in.ndim() == 1 ? reshape(a_in, {1, a_in.shape(0)}) : a_in;
  Array b = b_in.ndim() == 1 ? reshape(b_in, {b_in.shape(0), 1}) : b_in;
  if (a.shape(-1) != b.shape(-2))
    throw_invalid(op, "last dimension of the first input (" + std::to_string(a.shape(-1)) +
                          ") must match the second-to-last of the second (" + std::to_string(b.shape(-2)) +
                          "); shapes " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  if (a.dtype() != t) a = astype(a, t);
  if (b.dtype() != t) b = astype(b, t);
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, op);
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), {a.shape(-2), a.shape(-1)});
  sb.insert(sb.end(), {b.shape(-2), b.shape(-1)});
  if (a.shape() != sa) a = broadcast_to(a, sa);
  if (b.shape() != sb) b = broadcast_to(b, sb);
  Shape out = batch;
  out.insert(out.end(), {a.shape(-2), b.shape(-1)});
  return {a, b, out, t};
}

// Removes the dims that 1-D operands added.
Array undo_vector_promotion(const Array& r, int a_ndim, int b_ndim) {
  if (a_ndim == 1 && b_ndim == 1) return reshape(r, {});
  if (a_ndim == 1) return squeeze(r, {-2});
  if (b_ndim == 1) return squeeze(r, {-1});
  return r;
}

Shape squeezed_out_shape(const Shape& out, int a_ndim, int b_ndim) {
  Shape s = out;
  if (b_ndim == 1) s.erase(s.end() - 1);
  if (a_ndim == 1) s.erase(s.end() - (b_ndim == 1 ? 1 : 2));
  return s;
}

}  // namespace

Array matmul(const Array& a_in, const Array& b_in) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0) throw_invalid("matmul", "got a 0-d array; use multiply for scalars");
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  check_float("matmul", t, a_in, b_in);
  MatmulOperands m = matmul_operands(a_in, b_in, t, "matmul");
  Array r(m.out, t, std::make_shared<Matmul>(), {m.a, m.b});
  return undo_vector_promotion(r, a_in.ndim(), b_in.ndim());
}

std::vector<Array> Matmul::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                               const Array&) {
  std::vector<Array> grads;
  for (int arg : argnums) {
    if (arg == 0) grads.push_back(matmul(cot, swapaxes(primals[1], -1, -2)));
    else grads.push_back(matmul(swapaxes(primals[0], -1, -2), cot));
  }
  return grads;
}

// ---- addmm ----------------------------------------------------------------------------------------------

bool AddMM::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const AddMM*>(&o);
  return p && p->alpha_ == alpha_ && p->beta_ == beta_;
}

Array addmm(const Array& c_in, const Array& a_in, const Array& b_in, double alpha, double beta) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0) throw_invalid("addmm", "got a 0-d array for a or b; they must be matrices or vectors");
  Dtype t = promote_types(promote_types(a_in.dtype(), b_in.dtype()), c_in.dtype());
  if (!is_floating(t))
    throw_invalid("addmm", std::string("only floating point types are supported, got ") + dtype_name(c_in.dtype()) +
                               ", " + dtype_name(a_in.dtype()) + " and " + dtype_name(b_in.dtype()));
  MatmulOperands m = matmul_operands(a_in, b_in, t, "addmm");
  Shape final_shape = squeezed_out_shape(m.out, a_in.ndim(), b_in.ndim());
  if (c_in.ndim() > int(final_shape.size()) || broadcast_shapes(c_in.shape(), final_shape, "addmm") != final_shape)
    throw_invalid("addmm", "c of shape " + shape_str(c_in.shape()) + " cannot be broadcast to the product's shape " +
                               shape_str(final_shape));
  Array c = c_in.dtype() != t ? astype(c_in, t) : c_in;
  // Put back the unit dims of 1-D operands before broadcasting (a reshape after it would copy).
  if (b_in.ndim() == 1 && a_in.ndim() > 1 && c.ndim() >= 1) c = expand_dims(c, {c.ndim()});
  else if (a_in.ndim() == 1 && b_in.ndim() > 1 && c.ndim() >= 2) c = expand_dims(c, {c.ndim() - 1});
  if (c.shape() != m.out) c = broadcast_to(c, m.out);
  Array r(m.out, t, std::make_shared<AddMM>(alpha, beta), {c, m.a, m.b});
  return undo_vector_promotion(r, a_in.ndim(), b_in.ndim());
}

std::vector<Array> AddMM::vjp(const std::vector<Array>& primals, const Array& cot, const std::vector<int>& argnums,
                              const Array&) {
  auto scaled = [&](const Array& x, double s) { return s == 1.0 ? x : multiply(x, scalar_like(s, x)); };
  std::vector<Array> grads;
  for (int arg : argnums) {
    if (arg == 0) grads.push_back(scaled(cot, beta_));
    else if (arg == 1) grads.push_back(scaled(matmul(cot, swapaxes(primals[2], -1, -2)), alpha_));
    else grads.push_back(scaled(matmul(swapaxes(primals[1], -1, -2), cot), alpha_));
  }
  return grads;
}

// ---- inner / tensordot ----------------------------------------------------------------------------------

Array tensordot(const Array& a, const Array& b, const std::vector<int>& axes_a_in, const std::vector<int>& axes_b_in) {
  if (axes_a_in.size() != axes_b_in.size())
    throw_invalid("tensordot", "the two axis lists must have the same length, got " +
                                   std::to_string(axes_a_in.size()) + " and " + std::to_string(axes_b_in.size()));
  Dtype t = promote_types(a.dtype(), b.dtype());
  check_float("tensordot", t, a, b);
  auto norm = [](const std::vector<int>& axes, const Array& x) {
    std::vector<int> r;
    std::vector<bool> seen(x.ndim(), false);
    for (int ax : axes) {
      int n = normalize_axis(ax, x.ndim(), "tensordot");
      if (seen[n]) throw_invalid("tensordot", "repeated axis " + std::to_string(ax));
      seen[n] = true;
      r.push_back(n);
    }
    std::vector<int> free;
    for (int d = 0; d < x.ndim(); d++)
      if (!seen[d]) free.push_back(d);
    return std::make_pair(r, free);
  };
  auto [axa, freea] = norm(axes_a_in, a);
  auto [axb, freeb] = norm(axes_b_in, b);
  int64_t k = 1;
  for (size_t i = 0; i < axa.size(); i++) {
    if (a.shape(axa[i]) != b.shape(axb[i]))
      throw_invalid("tensordot", "contracted dims differ: axis " + std::to_string(axa[i]) + " of a has size " +
                                     std::to_string(a.shape(axa[i])) + ", axis " + std::to_string(axb[i]) +
                                     " of b has size " + std::to_string(b.shape(axb[i])));
    k *= a.shape(axa[i]);
  }
  Shape out;
  int64_t m = 1, n = 1;
  for (int d : freea) out.push_back(a.shape(d)), m *= a.shape(d);
  for (int d : freeb) out.push_back(b.shape(d)), n *= b.shape(d);
  std::vector<int> pa = freea, pb = axb;
  pa.insert(pa.end(), axa.begin(), axa.end());
  pb.insert(pb.end(), freeb.begin(), freeb.end());
  Array a2 = reshape(transpose(a, pa), {m, k}), b2 = reshape(transpose(b, pb), {k, n});
  return reshape(matmul(a2, b2), out);
}

Array tensordot(const Array& a, const Array& b, int n) {
  if (n < 0 || n > a.ndim() || n > b.ndim())
    throw_invalid("tensordot", "axes=" + std::to_string(n) + " must be between 0 and the smaller ndim (" +
                                   std::to_string(std::min(a.ndim(), b.ndim())) + ")");
  std::vector<int> axa, axb;
  for (int i = 0; i < n; i++) axa.push_back(a.ndim() - n + i), axb.push_back(i);
  return tensordot(a, b, axa, axb);
}

Array inner(const Array& a, const Array& b) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b);
  if (a.shape(-1) != b.shape(-1))
    throw_invalid("inner", "last dimensions must match, got shapes " + shape_str(a.shape()) + " and " +
                               shape_str(b.shape()));
  return tensordot(a, b, {a.ndim() - 1}, {b.ndim() - 1});
}

// ---- einsum ---------------------------------------------------------------------------------------------

namespace {

// An operand during einsum: the array and one label per dim (letters as their code, ellipsis dims as
// kEllipsis + position among the broadcast dims).
struct Labeled {
  Array a;
  std::vector<int> labels;
};
constexpr int kEllipsis = 1000;

std::string label_str(int l) {
  return l >= kEllipsis ? "..." : std::string(1, char(l));
}

// Sums away the given labels.
void sum_labels(Labeled& x, const std::vector<int>& drop) {
  std::vector<int> axes, keep;
  for (size_t i = 0; i < x.labels.size(); i++) {
    if (std::find(drop.begin(), drop.end(), x.labels[i]) != drop.end()) axes.push_back(int(i));
    else keep.push_back(x.labels[i]);
  }
  if (axes.empty()) return;
  x.a = sum(x.a, axes);
  x.labels = keep;
}

// Reorders dims to `order` (a permutation of the labels).
void permute(Labeled& x, const std::vector<int>& order) {
  std::vector<int> perm;
  for (int l : order) perm.push_back(int(std::find(x.labels.begin(), x.labels.end(), l) - x.labels.begin()));
  bool id = true;
  for (size_t i = 0; i < perm.size(); i++) id = id && perm[i] == int(i);
  if (!id) x.a = transpose(x.a, perm);
  x.labels = order;
}

// A · B contracting `contract`, keeping `batch` (shared), and each side's free labels.
Labeled contract_pair(Labeled A, Labeled B, const std::vector<int>& keep, const std::map<int, int64_t>& size) {
  auto has = [](const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); };
  std::vector<int> batch, con, fa, fb;
  for (int l : A.labels) {
    if (has(B.labels, l)) (has(keep, l) ? batch : con).push_back(l);
    else fa.push_back(l);
  }
  for (int l : B.labels)
    if (!has(A.labels, l)) fb.push_back(l);
  // Shared dims must have the same size on both sides: broadcast size-1 dims first.
  auto full = [&](Labeled& x) {
    Shape s;
    for (size_t i = 0; i < x.labels.size(); i++)
      s.push_back(has(A.labels, x.labels[i]) && has(B.labels, x.labels[i]) ? size.at(x.labels[i]) : x.a.shape(int(i)));
    if (s != x.a.shape()) x.a = broadcast_to(x.a, s);
  };
  full(A);
  full(B);
  Shape out;
  int64_t nb = 1, m = 1, k = 1, n = 1;
  std::vector<int> ordA = batch, ordB = batch, labels = batch;
  ordA.insert(ordA.end(), fa.begin(), fa.end());
  ordA.insert(ordA.end(), con.begin(), con.end());
  ordB.insert(ordB.end(), con.begin(), con.end());
  ordB.insert(ordB.end(), fb.begin(), fb.end());
  permute(A, ordA);
  permute(B, ordB);
  auto dim = [&](const Labeled& x, int l) { return x.a.shape(int(std::find(x.labels.begin(), x.labels.end(), l) - x.labels.begin())); };
  for (int l : batch) nb *= dim(A, l), out.push_back(dim(A, l));
  for (int l : fa) m *= dim(A, l), out.push_back(dim(A, l));
  for (int l : con) k *= dim(A, l);
  for (int l : fb) n *= dim(B, l), out.push_back(dim(B, l));
  labels.insert(labels.end(), fa.begin(), fa.end());
  labels.insert(labels.end(), fb.begin(), fb.end());
  Array r;
  if (is_floating(A.a.dtype())) {
    r = matmul(reshape(A.a, {nb, m, k}), reshape(B.a, {nb, k, n}));
  } else {  // no integer GEMM: broadcast multiply, then sum over k
    Array bt = expand_dims(swapaxes(reshape(B.a, {nb, k, n}), 1, 2), {1});  // [nb, 1, n, k]
    r = sum(multiply(reshape(A.a, {nb, m, 1, k}), bt), std::vector<int>{3});
  }
  return {reshape(r, out), labels};
}

}  // namespace

Array einsum(const std::string& spec_in, const std::vector<Array>& ops_in) {
  const char* op = "einsum";
  std::string spec;
  for (char ch : spec_in)
    if (!std::isspace(static_cast<unsigned char>(ch))) spec += ch;
  size_t arrow = spec.find("->");
  std::string lhs = arrow == std::string::npos ? spec : spec.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t b = 0;;) {
    size_t e = lhs.find(',', b);
    terms.push_back(lhs.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  if (ops_in.empty()) throw_invalid(op, "needs at least one operand");
  if (terms.size() != ops_in.size())
    throw_invalid(op, "the subscripts '" + spec_in + "' name " + std::to_string(terms.size()) + " operands but " +
                          std::to_string(ops_in.size()) + " were given");
  // Letters per term, and where the ellipsis sits (-1: none).
  auto parse = [&](const std::string& t, std::vector<int>& letters, int& ell) {
    ell = -1;
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, 3, "...") == 0) {
        if (ell >= 0) throw_invalid(op, "more than one '...' in '" + t + "'");
        ell = int(letters.size());
        i += 3;
      } else if (std::isalpha(static_cast<unsigned char>(t[i]))) {
        letters.push_back(t[i++]);
      } else {
        throw_invalid(op, std::string("invalid character '") + t[i] + "' in the subscripts '" + spec_in + "'");
      }
    }
  };
  Dtype t = ops_in[0].dtype();
  for (const Array& a : ops_in) t = promote_types(t, a.dtype());
  std::vector<Labeled> ops;
  std::vector<std::vector<int>> letters(terms.size());
  std::vector<int> ell(terms.size()), n_ell(terms.size());
  int E = 0;
  for (size_t i = 0; i < terms.size(); i++) {
    parse(terms[i], letters[i], ell[i]);
    int nd = ops_in[i].ndim(), nl = int(letters[i].size());
    if (ell[i] < 0 && nl != nd)
      throw_invalid(op, "term '" + terms[i] + "' has " + std::to_string(nl) + " labels but operand " + std::to_string(i) +
                            " has " + std::to_string(nd) + " dims");
    if (ell[i] >= 0 && nl > nd)
      throw_invalid(op, "term '" + terms[i] + "' has more labels than operand " + std::to_string(i) + " has dims (" +
                            std::to_string(nd) + ")");
    n_ell[i] = ell[i] < 0 ? 0 : nd - nl;
    E = std::max(E, n_ell[i]);
  }
  std::map<int, int64_t> size;
  std::map<int, int> count;  // in how many places each label appears (for the implicit output)
  for (size_t i = 0; i < terms.size(); i++) {
    std::vector<int> labels = letters[i];
    if (ell[i] >= 0) {
      std::vector<int> e;
      for (int j = 0; j < n_ell[i]; j++) e.push_back(kEllipsis + E - n_ell[i] + j);
      labels.insert(labels.begin() + ell[i], e.begin(), e.end());
    }
    Array a = ops_in[i].dtype() != t ? astype(ops_in[i], t) : ops_in[i];
    for (size_t d = 0; d < labels.size(); d++) {
      int64_t s = a.shape(int(d));
      auto it = size.find(labels[d]);
      if (it == size.end() || it->second == 1) size[labels[d]] = s;
      else if (s != 1 && s != it->second)
        throw_invalid(op, "label '" + label_str(labels[d]) + "' has size " + std::to_string(it->second) +
                              " in one place and " + std::to_string(s) + " in operand " + std::to_string(i));
      count[labels[d]]++;
    }
    ops.push_back({a, labels});
  }
  std::vector<int> out;
  if (arrow != std::string::npos) {
    std::vector<int> ol;
    int oe;
    parse(spec.substr(arrow + 2), ol, oe);
    if (oe < 0 && E > 0)
      throw_invalid(op, "the inputs have '...' dims but the output '" + spec.substr(arrow + 2) + "' has no '...'");
    for (int l : ol) {
      if (!size.count(l)) throw_invalid(op, "output label '" + label_str(l) + "' appears in no input");
      if (std::count(ol.begin(), ol.end(), l) > 1) throw_invalid(op, "output label '" + label_str(l) + "' repeated");
    }
    out = ol;
    if (oe >= 0) {
      std::vector<int> e;
      for (int j = 0; j < E; j++) e.push_back(kEllipsis + j);
      out.insert(out.begin() + oe, e.begin(), e.end());
    }
  } else {
    for (int j = 0; j < E; j++) out.push_back(kEllipsis + j);
    for (auto& [l, c] : count)
      if (l < kEllipsis && c == 1) out.push_back(l);  // std::map: letters in sorted order
  }
  // Repeated labels inside one operand: keep the diagonal (multiply by an identity mask, sum one copy).
  for (Labeled& x : ops) {
    for (size_t p = 0; p < x.labels.size(); p++)
      for (size_t q = p + 1; q < x.labels.size(); q++) {
        if (x.labels[q] != x.labels[p]) continue;
        int64_t n = x.a.shape(int(p));
        if (x.a.shape(int(q)) != n)
          throw_invalid(op, "repeated label '" + label_str(x.labels[p]) + "' on dims of different sizes");
        Shape ms(x.labels.size(), 1);
        ms[p] = ms[q] = n;
        x.a = sum(multiply(x.a, reshape(eye(n, n, 0, t), ms)), std::vector<int>{int(q)});
        x.labels.erase(x.labels.begin() + q);
        q--;
      }
  }
  // Left to right; a label is summed as soon as no later operand or the output needs it.
  auto needed_after = [&](size_t i) {
    std::vector<int> keep = out;
    for (size_t j = i + 1; j < ops.size(); j++) keep.insert(keep.end(), ops[j].labels.begin(), ops[j].labels.end());
    return keep;
  };
  auto drop_unneeded = [&](Labeled& x, const std::vector<int>& keep, const std::vector<int>& other) {
    std::vector<int> drop;
    for (int l : x.labels)
      if (std::find(keep.begin(), keep.end(), l) == keep.end() && std::find(other.begin(), other.end(), l) == other.end())
        drop.push_back(l);
    sum_labels(x, drop);
  };
  Labeled cur = ops[0];
  for (size_t i = 1; i < ops.size(); i++) {
    std::vector<int> keep = needed_after(i);
    Labeled nxt = ops[i];
    drop_unneeded(cur, keep, nxt.labels);
    drop_unneeded(nxt, keep, cur.labels);
    cur = contract_pair(cur, nxt, keep, size);
  }
  drop_unneeded(cur, out, {});
  // Output labels that only exist as broadcast size-1 dims elsewhere keep their size.
  permute(cur, out);
  Shape final_shape;
  for (int l : out) final_shape.push_back(size.at(l));
  if (cur.a.shape() != final_shape) cur.a = broadcast_to(cur.a, final_shape);
  return cur.a;
}

// ---- convolution ----------------------------------------------------------------------------------------

bool ConvParams::operator==(const ConvParams& o) const {
  return stride == o.stride && pad_lo == o.pad_lo && pad_hi == o.pad_hi && kernel_dilation == o.kernel_dilation &&
         input_dilation == o.input_dilation && groups == o.groups && flip == o.flip;
}

const char* Convolution::name() const {
  switch (mode_) {
    case ConvMode::forward: return "conv";
    case ConvMode::grad_input: return "conv_grad_input";
    default: return "conv_grad_weight";
  }
}

bool Convolution::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Convolution*>(&o);
  return p && p->mode_ == mode_ && p->p_ == p_;
}

std::vector<Array> Convolution::vjp(const std::vector<Array>& primals, const Array& cot_in,
                                    const std::vector<int>& argnums, const Array&) {
  const Array &u = primals[0], &v = primals[1];
  Array cot = cot_in.dtype() != u.dtype() ? astype(cot_in, u.dtype()) : cot_in;
  auto node = [&](ConvMode m, const Shape& shape, const Array& i0, const Array& i1) {
    return Array(shape, u.dtype(), std::make_shared<Convolution>(p_, m), {i0, i1});
  };
  std::vector<Array> grads;
  for (int arg : argnums) {
    switch (mode_) {
      case ConvMode::forward:  // (x, w)
        grads.push_back(arg == 0 ? node(ConvMode::grad_input, u.shape(), cot, v)
                                 : node(ConvMode::grad_weight, v.shape(), u, cot));
        break;
      case ConvMode::grad_input:  // (dy, w) -> dx; cot is x-shaped
        grads.push_back(arg == 0 ? node(ConvMode::forward, u.shape(), cot, v)
                                 : node(ConvMode::grad_weight, v.shape(), cot, u));
        break;
      case ConvMode::grad_weight:  // (x, dy) -> dw; cot is w-shaped
        grads.push_back(arg == 0 ? node(ConvMode::grad_input, u.shape(), v, cot)
                                 : node(ConvMode::forward, v.shape(), u, cot));
        break;
    }
  }
  return grads;
}

namespace {

std::vector<int64_t> per_dim(std::vector<int64_t> v, int d, const char* op, const char* what) {
  // The value is copied first: assign(n, v[0]) would read v[0] after the reallocation freed it (UB that glibc
  // happens to survive; emscripten's malloc reuses those bytes).
  if (v.size() == 1 && d != 1) v.assign(size_t(d), int64_t{v[0]});
  if (int(v.size()) != d)
    throw_invalid(op, std::string(what) + " must have 1 or " + std::to_string(d) + " entries (one per spatial dim), got " +
                          std::to_string(v.size()));
  return v;
}

std::string vec_str(const std::vector<int64_t>& v) { return shape_str(Shape(v.begin(), v.end())); }

}  // namespace

Array conv_general(const Array& x_in, const Array& w_in, std::vector<int64_t> stride, std::vector<int64_t> pad_lo,
                   std::vector<int64_t> pad_hi, std::vector<int64_t> kdil, std::vector<int64_t> idil, int64_t groups,
                   bool flip, const char* op) {
  if (x_in.ndim() < 3)
    throw_invalid(op, "input must have at least 3 dims [N, spatial..., C_in], got shape " + shape_str(x_in.shape()));
  if (w_in.ndim() != x_in.ndim())
    throw_invalid(op, "weight must have the input's number of dims [C_out, kernel..., C_in/groups]; input " +
                          shape_str(x_in.shape()) + ", weight " + shape_str(w_in.shape()));
  const int D = x_in.ndim() - 2;
  stride = per_dim(stride, D, op, "stride");
  pad_lo = per_dim(pad_lo, D, op, "padding");
  pad_hi = per_dim(pad_hi, D, op, "padding");
  kdil = per_dim(kdil, D, op, "kernel dilation");
  idil = per_dim(idil, D, op, "input dilation");
  Dtype t = promote_types(x_in.dtype(), w_in.dtype());
  if (!is_floating(t))
    throw_invalid(op, std::string("only floating point types are supported, got ") + dtype_name(x_in.dtype()) +
                          " and " + dtype_name(w_in.dtype()));
  for (int d = 0; d < D; d++) {
    if (stride[d] < 1) throw_invalid(op, "stride must be positive, got " + vec_str(stride));
    if (kdil[d] < 1) throw_invalid(op, "dilation must be positive, got " + vec_str(kdil));
    if (idil[d] < 1) throw_invalid(op, "input dilation must be positive, got " + vec_str(idil));
  }
  const int64_t N = x_in.shape(0), C = x_in.shape(-1), O = w_in.shape(0), Cg = w_in.shape(-1);
  if (groups < 1) throw_invalid(op, "groups must be positive, got " + std::to_string(groups));
  if (C % groups != 0)
    throw_invalid(op, "groups (" + std::to_string(groups) + ") must divide the input channels (" + std::to_string(C) + ")");
  if (O % groups != 0)
    throw_invalid(op, "groups (" + std::to_string(groups) + ") must divide the output channels (" + std::to_string(O) + ")");
  if (Cg * groups != C)
    throw_invalid(op, "channel mismatch: the input has " + std::to_string(C) + " channels but the weight expects " +
                          std::to_string(Cg) + " per group x " + std::to_string(groups) + " groups (input " +
                          shape_str(x_in.shape()) + ", weight " + shape_str(w_in.shape()) + ")");
  Shape out{N};
  int64_t kprod = 1, P = 1;
  for (int d = 0; d < D; d++) {
    int64_t s = x_in.shape(1 + d), k = w_in.shape(1 + d);
    if (k < 1) throw_invalid(op, "kernel dims must be positive, got weight " + shape_str(w_in.shape()));
    int64_t s_eff = (s > 0 ? (s - 1) * idil[d] + 1 : 0) + pad_lo[d] + pad_hi[d];
    int64_t k_eff = (k - 1) * kdil[d] + 1;
    if (s_eff < k_eff)
      throw_invalid(op, "the kernel (size " + std::to_string(k_eff) + " with dilation) is larger than the padded input (size " +
                            std::to_string(s_eff) + ") along spatial dim " + std::to_string(d) + "; input " +
                            shape_str(x_in.shape()) + ", weight " + shape_str(w_in.shape()));
    out.push_back((s_eff - k_eff) / stride[d] + 1);
    kprod *= k;
    P *= out.back();
  }
  out.push_back(O);
  Array x = x_in.dtype() != t ? astype(x_in, t) : x_in;
  Array w = w_in.dtype() != t ? astype(w_in, t) : w_in;

  // Patch embedding (kernel == stride, no padding or dilation, the input tiles exactly) and 1x1 convs: the
  // im2col matrix is a permutation of the input, so it is a reshape/transpose (a view in 1-D) and one GEMM.
  bool patches = groups == 1 && !flip;
  for (int d = 0; d < D && patches; d++)
    patches = stride[d] == w.shape(1 + d) && kdil[d] == 1 && idil[d] == 1 && pad_lo[d] == 0 && pad_hi[d] == 0 &&
              x.shape(1 + d) == out[1 + d] * stride[d];
  if (patches) {
    Shape split{N};
    std::vector<int> perm{0};
    for (int d = 0; d < D; d++) split.push_back(out[1 + d]), split.push_back(w.shape(1 + d)), perm.push_back(1 + 2 * d);
    for (int d = 0; d < D; d++) perm.push_back(2 + 2 * d);
    split.push_back(C);
    perm.push_back(2 * D + 1);
    Array cols = reshape(transpose(reshape(x, split), perm), {N * P, kprod * C});
    Array y = matmul(cols, transpose(reshape(w, {O, kprod * C})));
    return reshape(y, out);
  }
  ConvParams p{stride, pad_lo, pad_hi, kdil, idil, groups, flip};
  return Array(out, t, std::make_shared<Convolution>(std::move(p), ConvMode::forward), {x, w});
}

namespace {
const char* conv_name(int d, bool transpose) {
  static const char* names[2][3] = {{"conv1d", "conv2d", "conv3d"},
                                    {"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}};
  return d >= 1 && d <= 3 ? names[transpose][d - 1] : (transpose ? "conv_transpose" : "conv");
}

void check_conv_ndims(const char* op, const Array& x, const Array& w, int D) {
  const char* layout = D == 1 ? "[N, L, C_in]" : D == 2 ? "[N, H, W, C_in]" : "[N, D, H, W, C_in]";
  if (x.ndim() != D + 2)
    throw_invalid(op, "expected an input of " + std::to_string(D + 2) + " dims " + layout + ", got shape " +
                          shape_str(x.shape()));
  if (w.ndim() != D + 2)
    throw_invalid(op, "expected a weight of " + std::to_string(D + 2) + " dims [C_out, kernel..., C_in/groups], got shape " +
                          shape_str(w.shape()));
}
}  // namespace

Array conv_nd(const Array& x, const Array& w, int D, std::vector<int64_t> stride, std::vector<int64_t> padding,
              std::vector<int64_t> dilation, int64_t groups) {
  const char* op = conv_name(D, false);
  check_conv_ndims(op, x, w, D);
  for (int64_t v : padding)
    if (v < 0) throw_invalid(op, "padding must be non-negative, got " + vec_str(padding));
  return conv_general(x, w, stride, padding, padding, dilation, {1}, groups, false, op);
}

Array conv_transpose_nd(const Array& x, const Array& w, int D, std::vector<int64_t> stride, std::vector<int64_t> padding,
                        std::vector<int64_t> dilation, std::vector<int64_t> output_padding, int64_t groups) {
  const char* op = conv_name(D, true);
  check_conv_ndims(op, x, w, D);
  stride = per_dim(stride, D, op, "stride");
  padding = per_dim(padding, D, op, "padding");
  dilation = per_dim(dilation, D, op, "dilation");
  output_padding = per_dim(output_padding, D, op, "output padding");
  std::vector<int64_t> lo(D), hi(D);
  for (int d = 0; d < D; d++) {
    if (padding[d] < 0) throw_invalid(op, "padding must be non-negative, got " + vec_str(padding));
    if (stride[d] < 1 || dilation[d] < 1) throw_invalid(op, "stride and dilation must be positive");
    if (output_padding[d] < 0 || output_padding[d] >= std::max(stride[d], dilation[d]))
      throw_invalid(op, "output padding must be non-negative and smaller than the stride or the dilation, got " +
                            vec_str(output_padding));
    // The adjoint of a strided conv: dilate the input by the stride, pad by the kernel's reach, flip it.
    lo[d] = dilation[d] * (w.shape(1 + d) - 1) - padding[d];
    hi[d] = lo[d] + output_padding[d];
  }
  return conv_general(x, w, {1}, lo, hi, dilation, stride, groups, true, op);
}

}  // namespace hearth
