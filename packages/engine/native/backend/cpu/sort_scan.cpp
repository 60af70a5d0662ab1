// CPU kernels of the scans and the sort family. Sorting works on order-preserving unsigned keys (floats mapped
// so that integer order is NumPy's order with NaN last), which makes every comparison an integer compare and
// lets selection (partition, topk) find its threshold with one histogram pass plus nth_element on a small
// bucket: O(n) per row, never a full sort.
#include <algorithm>
#include <cstring>
#include <tuple>

#include "core/ops/layout.h"
#include "core/ops/sort_scan.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace {

// The rows of an array along `axis`: every position of the other dims, as an element offset.
struct Rows {
  Shape shape;
  Strides strides;
  int64_t count = 1;
  int64_t len = 0, stride = 0;
  Rows(const Array& a, int axis) {
    for (int d = 0; d < a.ndim(); d++) {
      if (d == axis) continue;
      shape.push_back(a.shape(d));
      strides.push_back(a.strides()[d]);
      count *= a.shape(d);
    }
    len = a.shape(axis);
    stride = a.strides()[axis];
  }
  int64_t base(int64_t r) const { return strided_offset(r, shape, strides); }
};

// ---- scans ----

template <ScanOp OP, class A> inline A scan_identity() {
  if constexpr (OP == ScanOp::sum) return A(0);
  else if constexpr (OP == ScanOp::prod) return A(1);
  else if constexpr (OP == ScanOp::max) {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  } else {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
}

template <ScanOp OP, class A> inline A scan_combine(A acc, A v) {
  if constexpr (OP == ScanOp::sum) return A(acc + v);
  else if constexpr (OP == ScanOp::prod) return A(acc * v);
  else if constexpr (std::is_floating_point_v<A>) {
    if (acc != acc || v != v) return std::numeric_limits<A>::quiet_NaN();  // NaN propagates, as NumPy
    return OP == ScanOp::max ? (v > acc ? v : acc) : (v < acc ? v : acc);
  } else {
    return OP == ScanOp::max ? (v > acc ? v : acc) : (v < acc ? v : acc);
  }
}

Array contiguous_copy(const Array& a) {
  if (a.contiguous()) return a;
  Array tmp = Array::empty(a.shape(), a.dtype());
  copy_into(a, tmp);
  return tmp;
}

// The array as [outer, len, inner] (row-major). Work items are (outer, block of up to kCols inner columns);
// each walks the axis once, carrying one accumulator per column, so reads stay sequential for any axis.
constexpr int64_t kCols = 256;
struct ScanGeom {
  int64_t outer = 1, len, inner = 1, blocks;
  ScanGeom(const Shape& s, int axis) {
    for (int d = 0; d < axis; d++) outer *= s[d];
    len = s[axis];
    for (size_t d = axis + 1; d < s.size(); d++) inner *= s[d];
    blocks = (inner + kCols - 1) / kCols;
  }
  template <class F> void run(F&& fn) const {
    if (outer * len * inner == 0) return;
    int64_t per_item = len * std::min(inner, kCols);
    parallel_for(size_t(outer * blocks), size_t(std::max<int64_t>(1, 32768 / std::max<int64_t>(1, per_item))),
                 [&](size_t b, size_t e) {
      for (size_t t = b; t < e; t++) {
        int64_t o = int64_t(t) / blocks, c = int64_t(t) % blocks;
        int64_t j0 = c * kCols;
        fn(o * len * inner + j0, std::min(kCols, inner - j0));
      }
    });
  }
  int64_t pos(int64_t s, bool reverse) const { return reverse ? len - 1 - s : s; }
};

template <ScanOp OP, class T>
void scan_kernel(const Array& in_raw, Array& out, int axis, bool reverse, bool inclusive) {
  using A = typename Num<T>::C;
  Array in = contiguous_copy(in_raw);
  const T* x = in.data<T>();
  T* y = out.data<T>();
  ScanGeom g(in.shape(), axis);
  if (g.inner == 1) {  // one contiguous run per row: a plain loop
    g.run([&](int64_t base, int64_t) {
      const T* xr = x + base;
      T* yr = y + base;
      A acc = scan_identity<OP, A>();
      const int64_t len = g.len;
      for (int64_t s = 0; s < len; s++) {
        int64_t i = reverse ? len - 1 - s : s;
        A v = Num<T>::load(xr[i]);
        if (inclusive) { acc = scan_combine<OP, A>(acc, v); yr[i] = Num<T>::store(acc); }
        else { yr[i] = Num<T>::store(acc); acc = scan_combine<OP, A>(acc, v); }
      }
    });
    return;
  }
  g.run([&](int64_t base, int64_t w) {
    A acc[kCols];
    for (int64_t j = 0; j < w; j++) acc[j] = scan_identity<OP, A>();
    for (int64_t s = 0; s < g.len; s++) {
      int64_t off = base + g.pos(s, reverse) * g.inner;
      const T* xr = x + off;
      T* yr = y + off;
      if (inclusive) {
        for (int64_t j = 0; j < w; j++) {
          acc[j] = scan_combine<OP, A>(acc[j], A(Num<T>::load(xr[j])));
          yr[j] = Num<T>::store(acc[j]);
        }
      } else {
        for (int64_t j = 0; j < w; j++) {
          A v = Num<T>::load(xr[j]);
          yr[j] = Num<T>::store(acc[j]);
          acc[j] = scan_combine<OP, A>(acc[j], v);
        }
      }
    }
  });
}

template <class T>
void scan_arg_kernel(const Array& in_raw, Array& out, int axis, bool is_max, bool reverse, bool inclusive) {
  using A = typename Num<T>::C;
  Array in = contiguous_copy(in_raw);
  const T* x = in.data<T>();
  uint32_t* y = out.data<uint32_t>();
  ScanGeom g(in.shape(), axis);
  const uint32_t none = uint32_t(g.len);
  g.run([&](int64_t base, int64_t w) {
    A best[kCols];
    uint32_t pos[kCols];
    for (int64_t j = 0; j < w; j++) pos[j] = none;
    for (int64_t s = 0; s < g.len; s++) {
      int64_t i = g.pos(s, reverse);
      int64_t off = base + i * g.inner;
      for (int64_t j = 0; j < w; j++) {
        A v = Num<T>::load(x[off + j]);
        if (!inclusive) y[off + j] = pos[j];
        bool take = pos[j] == none;
        if (!take) {
          if constexpr (std::is_floating_point_v<A>) {
            if (best[j] == best[j]) take = v != v || (is_max ? v > best[j] : v < best[j]);
          } else {
            take = is_max ? v > best[j] : v < best[j];
          }
        }
        if (take) { best[j] = v; pos[j] = uint32_t(i); }
        if (inclusive) y[off + j] = pos[j];
      }
    }
  });
}

// ---- order keys ----

template <class T> using KeyOf = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;

// Sign-magnitude bits to an unsigned key in the same order: flip all bits of negatives, the sign bit of
// positives. Branch-free so the key loops vectorise. NaN (any payload) goes last; -0 becomes +0.
template <class U> inline U sign_magnitude_key(U b, U exp_mask) {
  constexpr U sign = U(U(1) << (sizeof(U) * 8 - 1));
  b = b == sign ? U(0) : b;
  U flipped = U(b ^ ((b & sign) ? U(~U(0)) : sign));
  return U(b & U(~sign)) > exp_mask ? U(~U(0)) : flipped;
}
inline uint32_t float_key(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return sign_magnitude_key<uint32_t>(b, 0x7f800000u);
}
inline uint64_t double_key(double f) {
  uint64_t b;
  std::memcpy(&b, &f, 8);
  return sign_magnitude_key<uint64_t>(b, 0x7ff0000000000000ull);
}

template <class T> inline KeyOf<T> order_key(T v) {
  using K = KeyOf<T>;
  if constexpr (std::is_same_v<T, bool>) return K(v);
  else if constexpr (std::is_same_v<T, double>) return double_key(v);
  else if constexpr (std::is_same_v<T, float>) return float_key(v);
  else if constexpr (std::is_same_v<T, bf16>) return K(sign_magnitude_key<uint16_t>(v.bits, 0x7f80)) << 16;
  else if constexpr (std::is_same_v<T, f16>) return K(sign_magnitude_key<uint16_t>(v.bits, 0x7c00)) << 16;
  else if constexpr (std::is_unsigned_v<T>) return K(v);
  else return K(std::make_signed_t<K>(v)) ^ (K(1) << (sizeof(K) * 8 - 1));  // flip the sign bit
}

struct Selected {
  uint64_t key;
  int64_t less, equal;  // how many keys are below / equal to it
};

// Selection buckets: the top bits of a key.
constexpr int kSelBits = 11;
template <class K> inline size_t bucket_of(K k) { return size_t(k >> (int(sizeof(K)) * 8 - kSelBits)); }

// The key of rank r (0-based, ascending) among keys[0, n), given the histogram of their buckets: the
// histogram finds the bucket, and nth_element runs only on that bucket's keys.
template <class K>
Selected select_rank(const K* keys, int64_t n, int64_t r, const std::vector<int64_t>& hist, std::vector<K>& cand) {
  int64_t below = 0;
  if (hist.empty()) {  // short rows: the histogram would cost more than it saves
    cand.assign(keys, keys + n);
  } else {
    size_t b = 0;
    for (; b + 1 < hist.size(); b++) {
      if (below + hist[b] > r) break;
      below += hist[b];
    }
    cand.clear();
    for (int64_t i = 0; i < n; i++)
      if (bucket_of(keys[i]) == b) cand.push_back(keys[i]);
    // A crowded bucket (values packed in a narrow range): narrow it by the next bits, in place.
    int shift = int(sizeof(K)) * 8 - 2 * kSelBits;
    std::vector<int64_t> sub(size_t(1) << kSelBits);
    while (cand.size() > 4096 && shift > -kSelBits) {
      int sh = std::max(shift, 0);
      K mask = K((K(1) << kSelBits) - 1);
      std::fill(sub.begin(), sub.end(), 0);
      for (K c : cand) sub[size_t((c >> sh) & mask)]++;
      size_t d = 0;
      for (; d + 1 < sub.size(); d++) {
        if (below + sub[d] > r) break;
        below += sub[d];
      }
      size_t w = 0;
      for (K c : cand)
        if (size_t((c >> sh) & mask) == d) cand[w++] = c;
      cand.resize(w);
      shift -= kSelBits;
    }
  }
  int64_t rr = r - below;
  std::nth_element(cand.begin(), cand.begin() + rr, cand.end());
  K t = cand[size_t(rr)];
  Selected s{uint64_t(t), below, 0};
  for (K c : cand) {
    s.less += c < t;
    s.equal += c == t;
  }
  return s;
}

// Sorts (key << 32 | position) words by their key only, least significant byte first: stable, so positions
// stay ascending among equal keys. Bytes where every key agrees (the low half of bf16 keys, the high byte of
// small ints) are skipped.
void radix_sort_packed(std::vector<uint64_t>& a, std::vector<uint64_t>& tmp) {
  const size_t n = a.size();
  tmp.resize(n);
  size_t count[4][256] = {};
  for (uint64_t v : a)
    for (int d = 0; d < 4; d++) count[d][(v >> (32 + 8 * d)) & 0xff]++;
  uint64_t* src = a.data();
  uint64_t* dst = tmp.data();
  for (int d = 0; d < 4; d++) {
    size_t* c = count[d];
    if (c[(src[0] >> (32 + 8 * d)) & 0xff] == n) continue;
    size_t sum = 0;
    for (int b = 0; b < 256; b++) { size_t t = c[b]; c[b] = sum; sum += t; }
    for (size_t i = 0; i < n; i++) {
      uint64_t v = src[i];
      dst[c[(v >> (32 + 8 * d)) & 0xff]++] = v;
    }
    std::swap(src, dst);
  }
  if (src != a.data()) std::memcpy(a.data(), src, n * sizeof(uint64_t));
}

template <class T>
void sort_kernel(const Array& in, Array& out, SortKind kind, bool index, int axis, int64_t k) {
  using K = KeyOf<T>;
  const T* x = in.data<T>();
  Rows ir(in, axis), orows(out, axis);
  const int64_t n = ir.len, m = orows.len;
  if (ir.count == 0 || m == 0) return;
  T* yv = index ? nullptr : out.data<T>();
  uint32_t* yi = index ? out.data<uint32_t>() : nullptr;
  parallel_for(size_t(ir.count), size_t(std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n))),
               [&](size_t b, size_t e) {
    std::vector<K> keys(kind == SortKind::partition ? n : 0), cand;
    std::vector<int64_t> hist(n >= 2048 ? size_t(1) << kSelBits : 0);
    std::vector<std::pair<K, uint32_t>> items;
    std::vector<uint64_t> packed, tmp;
    for (size_t r = b; r < e; r++) {
      const T* row = x + ir.base(int64_t(r));
      const int64_t is = ir.stride, ob = orows.base(int64_t(r)), os = orows.stride;
      auto emit = [&](int64_t p, uint32_t src) {
        if (index) yi[ob + p * os] = src;
        else yv[ob + p * os] = row[int64_t(src) * is];
      };
      if (kind == SortKind::sort) {
        if constexpr (sizeof(K) == 4) {
          // key and position in one word: one integer sort, stable by construction
          packed.resize(n);
          for (int64_t i = 0; i < n; i++) packed[i] = (uint64_t(order_key(row[i * is])) << 32) | uint64_t(i);
          if (n >= 512) radix_sort_packed(packed, tmp);
          else std::sort(packed.begin(), packed.end());
          for (int64_t p = 0; p < n; p++) emit(p, uint32_t(packed[p]));
        } else {
          items.resize(n);
          for (int64_t i = 0; i < n; i++) items[i] = {order_key(row[i * is]), uint32_t(i)};
          std::sort(items.begin(), items.end());
          for (int64_t p = 0; p < n; p++) emit(p, items[p].second);
        }
        continue;
      }
      if (kind == SortKind::topk) {
        // The k largest, descending, ties by lower position. Pass 1 counts buckets; pass 2 keeps the
        // elements of the buckets that reach rank k (exactly known count); the rest is done on those few.
        int64_t keep = n;
        size_t from = 0;
        if (!hist.empty()) {
          std::fill(hist.begin(), hist.end(), 0);
          for (int64_t i = 0; i < n; i++) hist[bucket_of(order_key(row[i * is]))]++;
          int64_t above = 0;
          size_t b = hist.size() - 1;
          while (above + hist[b] < k) above += hist[b--];
          keep = above + hist[b];
          from = b;
        }
        items.resize(size_t(keep));
        int64_t w = 0;
        for (int64_t i = 0; i < n; i++) {
          K kk = order_key(row[i * is]);
          if (bucket_of(kk) >= from) items[w++] = {kk, uint32_t(i)};
        }
        auto first = [](const std::pair<K, uint32_t>& a, const std::pair<K, uint32_t>& c) {
          return a.first > c.first || (a.first == c.first && a.second < c.second);
        };
        if (keep > k) std::nth_element(items.begin(), items.begin() + (k - 1), items.end(), first);
        std::sort(items.begin(), items.begin() + k, first);
        for (int64_t p = 0; p < k; p++) emit(p, items[p].second);
        continue;
      }
      if (hist.empty()) {
        for (int64_t i = 0; i < n; i++) keys[i] = order_key(row[i * is]);
      } else {
        std::fill(hist.begin(), hist.end(), 0);
        for (int64_t i = 0; i < n; i++) {
          K kk = order_key(row[i * is]);
          keys[i] = kk;
          hist[bucket_of(kk)]++;
        }
      }
      // partition: smaller, equal, larger, each group in original order, so the result is deterministic.
      Selected sel = select_rank<K>(keys.data(), n, k, hist, cand);
      int64_t pl = 0, pe = sel.less, pg = sel.less + sel.equal;
      const K t = K(sel.key);
      for (int64_t i = 0; i < n; i++) {
        K kk = keys[i];
        emit(kk < t ? pl++ : kk == t ? pe++ : pg++, uint32_t(i));
      }
    }
  });
}

// ---- gather / scatter along an axis ----

#define SORTSCAN_DISPATCH_INDEX(dtype, ...)                                              \
  switch (dtype) {                                                                     \
    HEARTH_CASE(uint8, uint8_t, __VA_ARGS__)                                           \
    HEARTH_CASE(uint16, uint16_t, __VA_ARGS__)                                         \
    HEARTH_CASE(uint32, uint32_t, __VA_ARGS__)                                         \
    HEARTH_CASE(uint64, uint64_t, __VA_ARGS__)                                         \
    HEARTH_CASE(int8, int8_t, __VA_ARGS__)                                             \
    HEARTH_CASE(int16, int16_t, __VA_ARGS__)                                           \
    HEARTH_CASE(int32, int32_t, __VA_ARGS__)                                           \
    HEARTH_CASE(int64, int64_t, __VA_ARGS__)                                           \
    default: throw std::invalid_argument("[gather_axis] indices must be integers");    \
  }

template <class T, class I> void gather_kernel(const Array& x, const Array& idx, Array& out, int axis) {
  const T* px = x.data<T>();
  const I* pi = idx.data<I>();
  T* py = out.data<T>();
  Rows xr(x, axis), ir(idx, axis), orows(out, axis);
  const int64_t n = xr.len, m = ir.len;
  if (ir.count * m == 0) return;
  parallel_for(size_t(ir.count), size_t(std::max<int64_t>(1, 32768 / std::max<int64_t>(1, m))),
               [&](size_t b, size_t e) {
    for (size_t r = b; r < e; r++) {
      const T* row = px + xr.base(int64_t(r));
      const I* irow = pi + ir.base(int64_t(r));
      T* orow = py + orows.base(int64_t(r));
      for (int64_t j = 0; j < m; j++) {
        int64_t p = int64_t(irow[j * ir.stride]);
        if (p < 0) p += n;
        if (p < 0 || p >= n)
          throw std::out_of_range("[gather_axis] index " + std::to_string(int64_t(irow[j * ir.stride])) +
                                  " is out of bounds for an axis of size " + std::to_string(n));
        orow[j * orows.stride] = row[p * xr.stride];
      }
    }
  });
}

template <class T, class I> void scatter_add_kernel(const Array& upd, const Array& idx, Array& out, int axis) {
  using C = typename Num<T>::C;
  const T* pu = upd.data<T>();
  const I* pi = idx.data<I>();
  T* py = out.data<T>();
  Rows ur(upd, axis), ir(idx, axis), orows(out, axis);
  const int64_t n = orows.len, m = ur.len;
  if (ur.count * m == 0) return;
  parallel_for(size_t(ur.count), size_t(std::max<int64_t>(1, 32768 / std::max<int64_t>(1, m))),
               [&](size_t b, size_t e) {
    for (size_t r = b; r < e; r++) {
      const T* urow = pu + ur.base(int64_t(r));
      const I* irow = pi + ir.base(int64_t(r));
      T* orow = py + orows.base(int64_t(r));
      for (int64_t j = 0; j < m; j++) {
        int64_t p = int64_t(irow[j * ir.stride]);
        if (p < 0 || p >= n) continue;  // "no source" positions
        T& dst = orow[p * orows.stride];
        dst = Num<T>::store(C(Num<T>::load(dst) + Num<T>::load(urow[j * ur.stride])));
      }
    }
  });
}

}  // namespace

void Scan::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  switch (op_) {
    case ScanOp::sum: HEARTH_DISPATCH_ALL(in[0].dtype(), scan_kernel<ScanOp::sum, T>(in[0], out, axis_, reverse_, inclusive_)); break;
    case ScanOp::prod: HEARTH_DISPATCH_ALL(in[0].dtype(), scan_kernel<ScanOp::prod, T>(in[0], out, axis_, reverse_, inclusive_)); break;
    case ScanOp::max: HEARTH_DISPATCH_ALL(in[0].dtype(), scan_kernel<ScanOp::max, T>(in[0], out, axis_, reverse_, inclusive_)); break;
    case ScanOp::min: HEARTH_DISPATCH_ALL(in[0].dtype(), scan_kernel<ScanOp::min, T>(in[0], out, axis_, reverse_, inclusive_)); break;
  }
}

void ScanArg::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  HEARTH_DISPATCH_ALL(in[0].dtype(), scan_arg_kernel<T>(in[0], out, axis_, is_max_, reverse_, inclusive_));
}

void SortAxis::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  HEARTH_DISPATCH_ALL(in[0].dtype(), sort_kernel<T>(in[0], out, kind_, index_, axis_, k_));
}

namespace sortscan {

void GatherAxis::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  // Only bytes move: dispatch on the element size, not the type.
  switch (in[0].itemsize()) {
    case 1: SORTSCAN_DISPATCH_INDEX(in[1].dtype(), gather_kernel<uint8_t, T>(in[0], in[1], out, axis_)); break;
    case 2: SORTSCAN_DISPATCH_INDEX(in[1].dtype(), gather_kernel<uint16_t, T>(in[0], in[1], out, axis_)); break;
    case 4: SORTSCAN_DISPATCH_INDEX(in[1].dtype(), gather_kernel<uint32_t, T>(in[0], in[1], out, axis_)); break;
    default: SORTSCAN_DISPATCH_INDEX(in[1].dtype(), gather_kernel<uint64_t, T>(in[0], in[1], out, axis_)); break;
  }
}

void ScatterAddAxis::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  if (out.nbytes()) std::memset(out.raw(), 0, out.nbytes());  // all-zero bits are 0 in every dtype
  Dtype it = in[1].dtype();
  HEARTH_DISPATCH_ALL(in[0].dtype(), {
    using U = T;
    SORTSCAN_DISPATCH_INDEX(it, scatter_add_kernel<U, T>(in[0], in[1], out, axis_));
  });
}

}  // namespace sortscan
}  // namespace hearth

#undef SORTSCAN_DISPATCH_INDEX
