// CPU side of the layout ops: views share the input buffer; a reshape of a non-contiguous array copies.
#include "core/ops/creation.h"
#include "core/ops/layout.h"
#include "kernel_utils.h"

namespace hearth {

void Reshape::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  if (a.contiguous()) {
    out.share(a, row_major_strides(out.shape()), a.offset());
  } else {
    out.allocate();
    Array tmp = Array::from_buffer(a.shape(), a.dtype(), out.buffer());
    copy_into(a, tmp);
  }
}

void Transpose::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  Strides s(axes_.size());
  for (size_t i = 0; i < axes_.size(); i++) s[i] = a.strides()[axes_[i]];
  out.share(a, s, a.offset());
}

void BroadcastTo::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  int extra = out.ndim() - a.ndim();
  Strides s(out.ndim(), 0);
  for (int i = 0; i < a.ndim(); i++) s[i + extra] = a.shape(i) == 1 ? 0 : a.strides()[i];
  out.share(a, s, a.offset());
}

void StopGradient::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.share(in[0], in[0].strides(), in[0].offset());
}

void Contiguous::eval_cpu(const std::vector<Array>& in, Array& out) {
  if (in[0].contiguous()) {
    out.share(in[0], row_major_strides(out.shape()), in[0].offset());
  } else {
    out.allocate();
    copy_into(in[0], out);
  }
}

void Full::eval_cpu(const std::vector<Array>&, Array& out) {
  out.allocate();
  HEARTH_DISPATCH_ALL(out.dtype(), {
    T v = cpu::convert<T>(value_);
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.size(); i++) p[i] = v;
  });
}

void Arange::eval_cpu(const std::vector<Array>&, Array& out) {
  out.allocate();
  HEARTH_DISPATCH_ALL(out.dtype(), {
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.size(); i++) p[i] = cpu::convert<T>(start_ + double(i) * step_);
  });
}

}  // namespace hearth
