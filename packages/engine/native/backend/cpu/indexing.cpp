// CPU kernels for slicing, gathers/scatters and concatenation. These ops only move data, so most kernels
// dispatch on the element size (1/2/4/8 bytes) instead of the dtype, and copy contiguous runs with memcpy.
#include <cstring>

#include "core/ops/indexing.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace {

// Runs body with `E` bound to an unsigned integer type of the element size.
#define HEARTH_DISPATCH_SIZE(isz, ...)                                          \
  switch (isz) {                                                                \
    case 1: { using E = uint8_t; __VA_ARGS__; break; }                           \
    case 2: { using E = uint16_t; __VA_ARGS__; break; }                          \
    case 4: { using E = uint32_t; __VA_ARGS__; break; }                          \
    case 8: { using E = uint64_t; __VA_ARGS__; break; }                          \
    default: throw std::logic_error("[indexing] unsupported element size");    \
  }

// Copies src (any strides, possibly broadcast or reversed) into dst laid out with dst_strides.
void copy_strided(const Array& src, char* dst, const Strides& dst_strides) {
  if (src.size() == 0) return;
  HEARTH_DISPATCH_SIZE(src.itemsize(), {
    const E* s = src.data<E>();
    E* d = reinterpret_cast<E*>(dst);
    for_each_run<2>(src.shape(), {&src.strides(), &dst_strides},
                    [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
      if (st[0] == 1 && st[1] == 1) {
        std::memcpy(d + off[1], s + off[0], size_t(n) * sizeof(E));
      } else if (st[0] == 0) {
        E v = s[off[0]];
        for (int64_t i = 0; i < n; i++) d[off[1] + i * st[1]] = v;
      } else {
        for (int64_t i = 0; i < n; i++) d[off[1] + i * st[1]] = s[off[0] + i * st[0]];
      }
    });
  });
}

std::string index_error(const char* op, const std::string& v, int axis, int64_t size) {
  return std::string("[") + op + "] index " + v + " is out of bounds for axis " + std::to_string(axis) +
         " with size " + std::to_string(size);
}

template <class I>
void normalize_typed(const Array& idx, int64_t size, int axis, const char* op, std::vector<int64_t>& out) {
  const I* p = idx.data<I>();
  Strides rs = row_major_strides(idx.shape());
  // Serial (huge grain) so the first bad index reported is the first in row-major order.
  for_each_run<2>(idx.shape(), {&idx.strides(), &rs},
                  [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    for (int64_t i = 0; i < n; i++) {
      I raw = p[off[0] + i * st[0]];
      int64_t v;
      if constexpr (std::is_signed_v<I>) {
        v = int64_t(raw);
        if (v < 0) v += size;
        if (v < 0 || v >= size) throw std::out_of_range(index_error(op, std::to_string(raw), axis, size));
      } else {
        if (uint64_t(raw) >= uint64_t(size)) throw std::out_of_range(index_error(op, std::to_string(raw), axis, size));
        v = int64_t(raw);
      }
      out[off[1] + i * st[1]] = v;
    }
  }, std::numeric_limits<int64_t>::max());
}

// Offset of element `i` (row-major over shape) with these strides; shape may be empty.
inline int64_t offset_of(int64_t i, const Shape& shape, const Strides& strides) {
  return shape.empty() ? 0 : strided_offset(i, shape, strides);
}

}  // namespace

std::vector<int64_t> normalize_indices(const Array& idx, int64_t size, int axis, const char* op) {
  std::vector<int64_t> out(size_t(idx.size()));
  if (out.empty()) return out;
  switch (idx.dtype()) {
    case Dtype::uint8: normalize_typed<uint8_t>(idx, size, axis, op, out); break;
    case Dtype::uint16: normalize_typed<uint16_t>(idx, size, axis, op, out); break;
    case Dtype::uint32: normalize_typed<uint32_t>(idx, size, axis, op, out); break;
    case Dtype::uint64: normalize_typed<uint64_t>(idx, size, axis, op, out); break;
    case Dtype::int8: normalize_typed<int8_t>(idx, size, axis, op, out); break;
    case Dtype::int16: normalize_typed<int16_t>(idx, size, axis, op, out); break;
    case Dtype::int32: normalize_typed<int32_t>(idx, size, axis, op, out); break;
    case Dtype::int64: normalize_typed<int64_t>(idx, size, axis, op, out); break;
    default:
      throw std::invalid_argument(std::string("[") + op + "] indices must be an integer array, got " +
                                  dtype_name(idx.dtype()));
  }
  return out;
}

void Slice::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  Strides s(a.ndim());
  int64_t off = a.offset();
  for (int i = 0; i < a.ndim(); i++) {
    s[i] = a.strides()[i] * spec_.step[i];
    off += spec_.start[i] * a.strides()[i];
  }
  out.share(a, s, out.size() ? off : a.offset());
}

void SliceUpdate::eval_cpu(const std::vector<Array>& in, Array& out) {
  // When nothing else holds the destination array, write into its buffer instead of copying it: this
  // makes a KV-cache append O(new tokens) instead of O(cache).
  if (in[0].is_donatable() && in[0].dtype() == out.dtype()) {
    out.share(in[0], row_major_strides(out.shape()), 0);
  } else {
    out.allocate();
    copy_strided(in[0], out.data<char>(), out.strides());
  }
  const Strides& os = out.strides();
  Strides s(out.ndim());
  int64_t off = 0;
  for (int i = 0; i < out.ndim(); i++) {
    s[i] = os[i] * spec_.step[i];
    off += spec_.start[i] * os[i];
  }
  copy_strided(in[1], out.data<char>() + off * int64_t(out.itemsize()), s);
}

void Take::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  std::vector<int64_t> ind = normalize_indices(in[1], a.shape(axis_), axis_, "take");
  out.allocate();
  if (out.size() == 0) return;
  Shape pre(a.shape().begin(), a.shape().begin() + axis_), post(a.shape().begin() + axis_ + 1, a.shape().end());
  Strides pre_s(a.strides().begin(), a.strides().begin() + axis_);
  Strides post_s(a.strides().begin() + axis_ + 1, a.strides().end());
  int64_t ni = int64_t(ind.size()), inner = shape_size(post), ax_stride = a.strides()[axis_];
  size_t isz = a.itemsize();
  const char* base = a.data<char>();
  char* o = out.data<char>();
  if (is_row_contiguous(post, post_s) && inner * int64_t(isz) >= 64) {
    // Row gather (the embedding lookup): one memcpy per taken row.
    size_t row_bytes = size_t(inner) * isz;
    int64_t rows = shape_size(pre) * ni;
    parallel_for(size_t(rows), std::max<size_t>(1, (size_t(1) << 16) / row_bytes), [&](size_t b, size_t e) {
      for (size_t r = b; r < e; r++) {
        int64_t oi = int64_t(r) / ni, j = int64_t(r) % ni;
        int64_t src = offset_of(oi, pre, pre_s) + ind[j] * ax_stride;
        std::memcpy(o + r * row_bytes, base + src * int64_t(isz), row_bytes);
      }
    });
    return;
  }
  // General case: walk the output with a's strides (0 over the index dims) and the index position.
  Shape shape = pre;
  shape.push_back(ni);
  shape.insert(shape.end(), post.begin(), post.end());
  Strides as = pre_s, js(pre.size(), 0), os = row_major_strides(shape);
  as.push_back(0);
  js.push_back(1);
  as.insert(as.end(), post_s.begin(), post_s.end());
  js.insert(js.end(), post.size(), 0);
  HEARTH_DISPATCH_SIZE(isz, {
    const E* pa = a.data<E>();
    E* po = out.data<E>();
    for_each_run<3>(shape, {&as, &js, &os},
                    [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
      for (int64_t i = 0; i < n; i++)
        po[off[2] + i * st[2]] = pa[off[0] + i * st[0] + ind[off[1] + i * st[1]] * ax_stride];
    });
  });
}

void ScatterAddAxis::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array &base = in[0], &upd = in[2];
  std::vector<int64_t> ind = normalize_indices(in[1], base.shape(axis_), axis_, "scatter_add");
  out.allocate();
  copy_strided(base, out.data<char>(), out.strides());
  int64_t outer = 1, inner = 1, n = out.shape(axis_), ni = int64_t(ind.size());
  for (int i = 0; i < axis_; i++) outer *= out.shape(i);
  for (int i = axis_ + 1; i < out.ndim(); i++) inner *= out.shape(i);
  if (outer * inner * ni == 0) return;
  // Tasks own disjoint (outer row, inner block) pieces of the output, so repeated indices never race.
  const int64_t blk = 4096;
  int64_t nblk = (inner + blk - 1) / blk, work = ni * std::min(inner, blk);
  HEARTH_DISPATCH_ALL(out.dtype(), {
    using C = typename Num<T>::C;
    T* po = out.data<T>();
    const T* pu = upd.data<T>();
    parallel_for(size_t(outer * nblk), size_t(std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(work, 1))),
                 [&](size_t b, size_t e) {
      for (size_t t = b; t < e; t++) {
        int64_t oi = int64_t(t) / nblk, ib = (int64_t(t) % nblk) * blk, ie = std::min(inner, ib + blk);
        for (int64_t j = 0; j < ni; j++) {
          T* dst = po + (oi * n + ind[j]) * inner;
          const T* src = pu + (oi * ni + j) * inner;
          for (int64_t i = ib; i < ie; i++) dst[i] = Num<T>::store(C(Num<T>::load(dst[i]) + Num<T>::load(src[i])));
        }
      }
    });
  });
}

void TakeAlongAxis::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  std::vector<int64_t> ind = normalize_indices(in[1], a.shape(axis_), axis_, "takeAlongAxis");
  out.allocate();
  if (out.size() == 0) return;
  // The index supplies the offset along axis; every other axis follows a's (broadcast) strides.
  Strides as = a.strides();
  int64_t ax_stride = as[axis_];
  as[axis_] = 0;
  const Strides& os = out.strides();  // row-major, the same layout as `ind`
  HEARTH_DISPATCH_SIZE(a.itemsize(), {
    const E* pa = a.data<E>();
    E* po = out.data<E>();
    for_each_run<2>(out.shape(), {&as, &os},
                    [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
      for (int64_t i = 0; i < n; i++) {
        int64_t k = off[1] + i * st[1];
        po[k] = pa[off[0] + i * st[0] + ind[k] * ax_stride];
      }
    });
  });
}

void ScatterAlongAxis::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array &a = in[0], &vals = in[2];
  std::vector<int64_t> ind =
      normalize_indices(in[1], a.shape(axis_), axis_, add_ ? "scatter_add_along_axis" : "putAlongAxis");
  out.allocate();
  copy_strided(a, out.data<char>(), out.strides());
  if (ind.empty()) return;
  Strides os = out.strides();
  int64_t ax_stride = os[axis_];
  os[axis_] = 0;
  Strides rs = row_major_strides(vals.shape());
  // Serial: duplicates along the axis must be applied in order (last write wins, or every add lands).
  const int64_t serial = std::numeric_limits<int64_t>::max();
  if (!add_) {
    HEARTH_DISPATCH_SIZE(a.itemsize(), {
      const E* pv = vals.data<E>();
      E* po = out.data<E>();
      for_each_run<3>(vals.shape(), {&os, &vals.strides(), &rs},
                      [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
        for (int64_t i = 0; i < n; i++)
          po[off[0] + i * st[0] + ind[off[2] + i * st[2]] * ax_stride] = pv[off[1] + i * st[1]];
      }, serial);
    });
    return;
  }
  HEARTH_DISPATCH_ALL(a.dtype(), {
    using C = typename Num<T>::C;
    const T* pv = vals.data<T>();
    T* po = out.data<T>();
    for_each_run<3>(vals.shape(), {&os, &vals.strides(), &rs},
                    [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
      for (int64_t i = 0; i < n; i++) {
        T& d = po[off[0] + i * st[0] + ind[off[2] + i * st[2]] * ax_stride];
        d = Num<T>::store(C(Num<T>::load(d) + Num<T>::load(pv[off[1] + i * st[1]])));
      }
    }, serial);
  });
}

void Concatenate::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  int64_t off = 0;
  for (const Array& x : in) {
    copy_strided(x, out.data<char>() + off * out.strides()[axis_] * int64_t(out.itemsize()), out.strides());
    off += x.shape(axis_);
  }
}

void Diagonal::eval_cpu(const std::vector<Array>& in, Array& out) {
  const Array& a = in[0];
  Strides s;
  for (int i = 0; i < a.ndim(); i++)
    if (i != axis1_ && i != axis2_) s.push_back(a.strides()[i]);
  int64_t s1 = a.strides()[axis1_], s2 = a.strides()[axis2_];
  s.push_back(s1 + s2);
  int64_t off = a.offset() + (offset_ >= 0 ? offset_ * s2 : -offset_ * s1);
  out.share(a, s, out.size() ? off : a.offset());
}

}  // namespace hearth
