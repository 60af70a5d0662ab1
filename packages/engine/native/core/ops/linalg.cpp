#include "linalg.h"

#include "elementwise.h"
#include "layout.h"

namespace hearth {

Array matmul(const Array& a_in, const Array& b_in) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0) throw_invalid("matmul", "got a 0-d array; use multiply for scalars");
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (!is_floating(t))
    throw_invalid("matmul", std::string("only floating point types are supported, got ") + dtype_name(a_in.dtype()) +
                                " and " + dtype_name(b_in.dtype()));
  Array a = a_in.ndim() == 1 ? reshape(a_in, {1, a_in.shape(0)}) : a_in;
  Array b = b_in.ndim() == 1 ? reshape(b_in, {b_in.shape(0), 1}) : b_in;
  if (a.shape(-1) != b.shape(-2))
    throw_invalid("matmul", "last dimension of the first input (" + std::to_string(a.shape(-1)) +
                                ") must match the second-to-last of the second (" + std::to_string(b.shape(-2)) +
                                "); shapes " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  if (a.dtype() != t) a = astype(a, t);
  if (b.dtype() != t) b = astype(b, t);
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), {a.shape(-2), a.shape(-1)});
  sb.insert(sb.end(), {b.shape(-2), b.shape(-1)});
  if (a.shape() != sa) a = broadcast_to(a, sa);
  if (b.shape() != sb) b = broadcast_to(b, sb);
  Shape out = batch;
  out.insert(out.end(), {a.shape(-2), b.shape(-1)});
  Array r(out, t, std::make_shared<Matmul>(), {a, b});
  if (a_in.ndim() == 1 && b_in.ndim() == 1) return reshape(r, {});
  if (a_in.ndim() == 1) return squeeze(r, {-2});
  if (b_in.ndim() == 1) return squeeze(r, {-1});
  return r;
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

}  // namespace hearth
