// CPU kernels of the fused ops (mx.fast): row-wise RMS / layer norm, rotary embedding from a cos/sin table,
// and attention that never materialises the [Lq, Lk] score matrix: key blocks are streamed through an online
// softmax, with the two products per block done by the GEMM kernels (so they run at the machine's best ISA).
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/cpu/gemm.h"
#include "core/ops/fast.h"
#include "core/ops/layout.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace {

template <class T> using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Element offsets of the rows (every axis but the last) of an array, stepped in row-major order.
class Rows {
 public:
  explicit Rows(const Array& a)
      : shape_(a.shape().begin(), a.shape().end() - 1), strides_(a.strides().begin(), a.strides().end() - 1),
        idx_(shape_.size(), 0) {}
  void seek(int64_t r) {
    off_ = 0;
    for (int d = int(shape_.size()) - 1; d >= 0; d--) {
      idx_[d] = r % shape_[d];
      r /= shape_[d];
      off_ += idx_[d] * strides_[d];
    }
  }
  void next() {
    for (int d = int(shape_.size()) - 1; d >= 0; d--) {
      idx_[d]++;
      off_ += strides_[d];
      if (idx_[d] < shape_[d]) return;
      off_ -= idx_[d] * strides_[d];
      idx_[d] = 0;
    }
  }
  int64_t offset() const { return off_; }

 private:
  Shape shape_;
  Strides strides_;
  std::vector<int64_t> idx_;
  int64_t off_ = 0;
};

// A 1-D parameter (weight, bias) in the compute type, contiguous.
template <class C> std::vector<C> load_vector(const Array& a) {
  std::vector<C> v(size_t(a.size()));
  int64_t s = a.ndim() ? a.strides()[0] : 0;
  HEARTH_DISPATCH_ALL(a.dtype(), {
    const T* p = a.data<T>();
    for (int64_t i = 0; i < a.size(); i++) v[i] = C(Num<T>::load(p[i * s]));
  });
  return v;
}

// Runs work(item) for items [0, n) over the pool, each thread taking the next free item (units of attention
// differ in cost, e.g. causal query tiles). make_scratch() is called once per thread.
template <class S, class MakeS, class F> void run_dynamic(int64_t n, MakeS make_scratch, F work) {
  std::atomic<int64_t> next{0};
  int64_t slots = std::min<int64_t>(num_threads(), n);
  parallel_for(size_t(std::max<int64_t>(slots, 1)), 1, [&](size_t b, size_t e) {
    S scratch = make_scratch();
    for (size_t s = b; s < e; s++)
      for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) work(i, scratch);
  });
}

// ---- norms ----

template <class T>
void norm_kernel(const Array& x, const Array* w, const Array* b, double eps, bool rms, Array& out) {
  using C = Compute<T>;
  const int64_t D = x.shape(-1), rows = D ? x.size() / D : 0, xs = x.strides().back();
  if (rows == 0 || D == 0) return;
  std::vector<C> wv = w ? load_vector<C>(*w) : std::vector<C>(), bv = b ? load_vector<C>(*b) : std::vector<C>();
  const C inv_n = C(1.0 / double(D)), ceps = C(eps);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  parallel_for(size_t(rows), size_t(std::max<int64_t>(1, 16384 / D)), [&](size_t r0, size_t r1) {
    std::vector<C> row(static_cast<size_t>(D));
    Rows it(x);
    it.seek(int64_t(r0));
    for (size_t r = r0; r < r1; r++, it.next()) {
      const T* src = xp + it.offset();
      for (int64_t j = 0; j < D; j++) row[j] = Num<T>::load(src[j * xs]);
      // Sums in 8 independent lanes so the loop vectorises without reassociation flags.
      auto lane_sum = [&](auto f) {
        C part[8] = {};
        int64_t j = 0;
        for (; j + 8 <= D; j += 8)
          for (int l = 0; l < 8; l++) part[l] += f(row[j + l]);
        C s = 0;
        for (; j < D; j++) s += f(row[j]);
        for (int l = 0; l < 8; l++) s += part[l];
        return s;
      };
      C mean = 0;
      if (!rms) {
        mean = lane_sum([](C v) { return v; }) * inv_n;
        for (int64_t j = 0; j < D; j++) row[j] -= mean;
      }
      C ms = lane_sum([](C v) { return v * v; }) * inv_n;
      C inv = C(1) / std::sqrt(ms + ceps);
      T* dst = op + int64_t(r) * D;
      if (w && b) for (int64_t j = 0; j < D; j++) dst[j] = Num<T>::store(row[j] * inv * wv[j] + bv[j]);
      else if (w) for (int64_t j = 0; j < D; j++) dst[j] = Num<T>::store(row[j] * inv * wv[j]);
      else if (b) for (int64_t j = 0; j < D; j++) dst[j] = Num<T>::store(row[j] * inv + bv[j]);
      else for (int64_t j = 0; j < D; j++) dst[j] = Num<T>::store(row[j] * inv);
    }
  });
}

// ---- rope ----

template <class T>
void rope_kernel(const Array& x, const RopeParams& p, const std::vector<int64_t>& offsets,
                 const std::vector<double>& inv, Array& out) {
  using C = Compute<T>;
  const int64_t D = x.shape(-1), L = x.shape(-2), half = p.dims / 2, xs = x.strides().back();
  const int64_t rows = D ? x.size() / D : 0;
  if (rows == 0) return;
  const int64_t noff = int64_t(offsets.size()), rows_per_off = rows / noff;
  // cos/sin of (offset + l) · scale · inv_i, in float64 and then rounded: the fallback's angles exactly.
  std::vector<C> cs(size_t(noff * L * half * 2));
  parallel_for(size_t(noff * L), size_t(std::max<int64_t>(1, 2048 / std::max<int64_t>(half, 1))),
               [&](size_t a, size_t e) {
    for (size_t t = a; t < e; t++) {
      double pos = (double(offsets[t / L] + int64_t(t % L))) * p.scale;
      C* c = cs.data() + t * half * 2;
      for (int64_t i = 0; i < half; i++) {
        double th = pos * inv[i];
        c[i] = C(std::cos(th));
        c[half + i] = C(std::sin(th));
      }
    }
  });
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  parallel_for(size_t(rows), size_t(std::max<int64_t>(1, 8192 / D)), [&](size_t r0, size_t r1) {
    Rows it(x);
    it.seek(int64_t(r0));
    for (size_t r = r0; r < r1; r++, it.next()) {
      const T* src = xp + it.offset();
      T* dst = op + int64_t(r) * D;
      const C* c = cs.data() + ((int64_t(r) / rows_per_off) * L + int64_t(r) % L) * half * 2;
      const C* s = c + half;
      for (int64_t i = 0; i < half; i++) {
        int64_t a = p.traditional ? 2 * i : i, b = p.traditional ? 2 * i + 1 : i + half;
        C x1 = Num<T>::load(src[a * xs]), x2 = Num<T>::load(src[b * xs]);
        dst[a] = Num<T>::store(x1 * c[i] - x2 * s[i]);
        dst[b] = Num<T>::store(x2 * c[i] + x1 * s[i]);
      }
      for (int64_t j = p.dims; j < D; j++) dst[j] = src[j * xs];
    }
  });
}

// ---- attention ----

// exp(x) for x ≤ 0 (scores minus their running max), 0 below float's range. Range reduction plus a degree-6
// polynomial (about 1 ulp): unlike std::exp it vectorises, and a prefill evaluates one per score.
inline float exp_nonpos(float x) {
  const float lo = -87.33654f;
  float xc = x < lo ? lo : x;
  int ni = int(xc * 1.44269504f + 128.5f) - 128;  // round to nearest (the argument is positive: truncation)
  float n = float(ni);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.f;
  uint32_t bits = uint32_t(ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return x < lo ? 0.f : y * scale;
}
inline double exp_nonpos(double x) { return std::exp(x); }

struct MaskRef {
  const char* base = nullptr;
  Dtype dtype = Dtype::bool_;
  int64_t s[4] = {0, 0, 0, 0};  // element strides over [B, Hq, Lq, Lk], 0 on broadcast axes
};

// Adds the mask's entries for keys [j0, j0 + n) of one query row to `row` (bool: -inf where false).
template <class C> void apply_mask(const MaskRef& m, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, C* row) {
  const int64_t base = b * m.s[0] + h * m.s[1] + i * m.s[2] + j0 * m.s[3], sj = m.s[3];
  const C ninf = -std::numeric_limits<C>::infinity();
  switch (m.dtype) {
    case Dtype::bool_: {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(m.base) + base;
      for (int64_t j = 0; j < n; j++) row[j] = p[j * sj] ? row[j] : ninf;
      break;
    }
    case Dtype::float16: case Dtype::bfloat16: case Dtype::float32: case Dtype::float64:
      HEARTH_DISPATCH_FLOAT(m.dtype, {
        const T* p = reinterpret_cast<const T*>(m.base) + base;
        for (int64_t j = 0; j < n; j++) row[j] += C(Num<T>::load(p[j * sj]));
      });
      break;
    default: throw std::invalid_argument("[scaledDotProductAttention] unsupported mask type");
  }
}

struct SdpaDims {
  int64_t B, Hq, Hkv, G, Lq, Lk, D, Dv;
  int64_t qs[3], ks[3], vs[3];  // strides over [B, H, L]; the last axis is contiguous
};

// S[R × n] = Q[R × D] · K[n × D]ᵀ, then O[R × Dv] += P[R × n] · V[n × Dv] (P overwrites S).
template <class T> struct Gemms {
  using C = Compute<T>;
  static void qk(int64_t R, int64_t n, int64_t D, const T* Q, const T* K, int64_t ldk, C* S, int64_t lds) {
    if constexpr (std::is_same_v<T, float>) sgemm(false, true, R, n, D, 1.f, Q, D, K, ldk, 0.f, S, lds);
    else if constexpr (std::is_same_v<T, double>) dgemm(false, true, R, n, D, 1.0, Q, D, K, ldk, 0.0, S, lds);
    else if constexpr (std::is_same_v<T, bf16>)
      gemm_bf16(false, true, R, n, D, 1.f, reinterpret_cast<const uint16_t*>(Q), D,
                reinterpret_cast<const uint16_t*>(K), ldk, 0.f, S, lds);
    else
      gemm_f16(false, true, R, n, D, 1.f, reinterpret_cast<const uint16_t*>(Q), D,
               reinterpret_cast<const uint16_t*>(K), ldk, 0.f, S, lds);
  }
  static void pv(int64_t R, int64_t Dv, int64_t n, const C* P, int64_t ldp, const C* V, int64_t ldv, C* O) {
    if constexpr (std::is_same_v<C, double>) dgemm(false, false, R, Dv, n, 1.0, P, ldp, V, ldv, 1.0, O, Dv);
    else sgemm(false, false, R, Dv, n, 1.f, P, ldp, V, ldv, 1.f, O, Dv);
  }
};

template <class T> struct SdpaScratch {
  using C = Compute<T>;
  std::vector<T> q;
  std::vector<C> s, v, acc, m, l;
};

template <class T>
void sdpa_kernel(const Array& q, const Array& k, const Array& v, const MaskRef* mask, const SdpaParams& p,
                 const SdpaDims& d, Array& out) {
  using C = Compute<T>;
  constexpr bool kHalfV = !std::is_same_v<T, C>;
  const int64_t G = d.G, Lq = d.Lq, Lk = d.Lk, D = d.D, Dv = d.Dv, shift = Lk - Lq;
  const bool causal = p.mask == SdpaMask::causal || p.window > 0;
  const C scale = C(p.scale), ninf = -std::numeric_limits<C>::infinity();
  // Work units: (batch, kv head, tile of queries, range of keys). A tile covers every query head of the kv
  // head, so each key/value block is read once for the whole group (no repeated heads).
  const int64_t qn = std::min<int64_t>(Lq, std::max<int64_t>(1, 64 / G)), R = G * qn;
  const int64_t nqt = (Lq + qn - 1) / qn, base_units = d.B * d.Hkv * nqt;
  constexpr int64_t KB = 128;  // keys per block: the scores of a block stay in L1/L2
  // Few units (decode, one kv head): split the keys too and merge the partial softmaxes afterwards.
  int64_t nsplit = 1;
  if (base_units < 2 * num_threads() && Lk >= 512)
    nsplit = std::min<int64_t>((4 * num_threads() + base_units - 1) / base_units, Lk / 256);
  const int64_t chunk = std::max<int64_t>(KB, ((Lk + nsplit - 1) / nsplit + KB - 1) / KB * KB);
  nsplit = std::max<int64_t>(1, (Lk + chunk - 1) / chunk);
  const int64_t units = base_units * nsplit;
  std::vector<C> part;  // per split unit: m[R], l[R], acc[R × Dv]
  if (nsplit > 1) part.resize(size_t(units * R * (Dv + 2)));

  const T *qp = q.data<T>(), *kp = k.data<T>(), *vp = v.data<T>();
  T* op = out.data<T>();
  auto make = [&] {
    SdpaScratch<T> s;
    s.q.resize(size_t(R * D));
    s.s.resize(size_t(R * KB));
    if (kHalfV) s.v.resize(size_t(KB * Dv));
    s.acc.resize(size_t(R * Dv));
    s.m.resize(size_t(R));
    s.l.resize(size_t(R));
    return s;
  };
  auto work = [&](int64_t u, SdpaScratch<T>& sc) {
    // Heavier (later, under a causal mask) query tiles first.
    const int64_t split = u % nsplit, t = nqt - 1 - (u / nsplit) % nqt, bh = u / (nsplit * nqt);
    const int64_t b = bh / d.Hkv, kvh = bh % d.Hkv, i0 = t * qn, rows_q = std::min(qn, Lq - i0), Rt = G * rows_q;
    for (int64_t g = 0; g < G; g++)
      for (int64_t ii = 0; ii < rows_q; ii++) {
        const T* src = qp + b * d.qs[0] + (kvh * G + g) * d.qs[1] + (i0 + ii) * d.qs[2];
        std::memcpy(sc.q.data() + (g * rows_q + ii) * D, src, size_t(D) * sizeof(T));
      }
    // Keys any row of the tile may see: the split's range cut to the causal / window band.
    int64_t jlo = split * chunk, jhi = std::min(Lk, jlo + chunk);
    if (causal) jhi = std::min(jhi, i0 + rows_q - 1 + shift + 1);
    if (p.window > 0) jlo = std::max(jlo, i0 + shift - p.window + 1);
    std::fill(sc.m.begin(), sc.m.begin() + Rt, ninf);
    std::fill(sc.l.begin(), sc.l.begin() + Rt, C(0));
    std::fill(sc.acc.begin(), sc.acc.begin() + Rt * Dv, C(0));
    const T* kb = kp + b * d.ks[0] + kvh * d.ks[1];
    const T* vb = vp + b * d.vs[0] + kvh * d.vs[1];
    for (int64_t j0 = jlo; j0 < jhi; j0 += KB) {
      const int64_t n = std::min(KB, jhi - j0);
      Gemms<T>::qk(Rt, n, D, sc.q.data(), kb + j0 * d.ks[2], d.ks[2], sc.s.data(), KB);
      bool any = false;
      for (int64_t r = 0; r < Rt; r++) {
        const int64_t g = r / rows_q, i = i0 + r % rows_q;
        C* srow = sc.s.data() + r * KB;
        for (int64_t j = 0; j < n; j++) srow[j] *= scale;
        if (mask) apply_mask(*mask, b, kvh * G + g, i, j0, n, srow);
        if (causal) {  // keys outside (pos - window, pos] of this row
          const int64_t pos = i + shift;
          const int64_t lo = p.window > 0 ? pos - p.window + 1 : 0;
          for (int64_t j = 0; j < n; j++)
            if (j0 + j > pos || j0 + j < lo) srow[j] = ninf;
        }
        C mb = ninf;
        for (int64_t j = 0; j < n; j++) mb = srow[j] > mb ? srow[j] : mb;
        if (mb == ninf) {  // nothing to attend in this block
          std::fill(srow, srow + n, C(0));
          continue;
        }
        any = true;
        const C mold = sc.m[r], mnew = mold > mb ? mold : mb;
        C sum = 0;
        for (int64_t j = 0; j < n; j++) {
          C e = exp_nonpos(srow[j] - mnew);
          srow[j] = e;
          sum += e;
        }
        if (mold != mnew) {
          const C alpha = exp_nonpos(mold - mnew);  // 0 on the first block with keys
          sc.l[r] *= alpha;
          C* a = sc.acc.data() + r * Dv;
          for (int64_t j = 0; j < Dv; j++) a[j] *= alpha;
        }
        sc.l[r] += sum;
        sc.m[r] = mnew;
      }
      if (!any) continue;
      const C* vblk;
      int64_t ldv;
      if constexpr (kHalfV) {
        for (int64_t j = 0; j < n; j++) {
          const T* src = vb + (j0 + j) * d.vs[2];
          C* dst = sc.v.data() + j * Dv;
          for (int64_t c = 0; c < Dv; c++) dst[c] = Num<T>::load(src[c]);
        }
        vblk = sc.v.data(), ldv = Dv;
      } else {
        vblk = vb + j0 * d.vs[2], ldv = d.vs[2];
      }
      Gemms<T>::pv(Rt, Dv, n, sc.s.data(), KB, vblk, ldv, sc.acc.data());
    }
    for (int64_t r = 0; r < Rt; r++) {
      const int64_t g = r / rows_q, i = i0 + r % rows_q;
      const C* a = sc.acc.data() + r * Dv;
      if (nsplit > 1) {
        C* pr = part.data() + (u * R + r) * (Dv + 2);
        pr[0] = sc.m[r], pr[1] = sc.l[r];
        std::memcpy(pr + 2, a, size_t(Dv) * sizeof(C));
        continue;
      }
      T* dst = op + ((b * d.Hq + kvh * G + g) * Lq + i) * Dv;
      const C l = sc.l[r], inv = l > 0 ? C(1) / l : C(0);  // fully masked rows: 0
      for (int64_t c = 0; c < Dv; c++) dst[c] = Num<T>::store(l > 0 ? a[c] * inv : C(0));
    }
  };
  run_dynamic<SdpaScratch<T>>(units, make, work);
  if (nsplit == 1) return;
  // Merge the key splits of each row: weights exp(m_s - max m) on each split's sum and accumulator.
  const int64_t groups = base_units;
  parallel_for(size_t(groups * R), 16, [&](size_t a0, size_t a1) {
    std::vector<C> o(static_cast<size_t>(Dv));
    for (size_t ar = a0; ar < a1; ar++) {
      const int64_t grp = int64_t(ar) / R, r = int64_t(ar) % R;
      const int64_t t = nqt - 1 - grp % nqt, bh = grp / nqt, b = bh / d.Hkv, kvh = bh % d.Hkv;
      const int64_t i0 = t * qn, rows_q = std::min(qn, Lq - i0);
      if (r >= G * rows_q) continue;
      const int64_t g = r / rows_q, i = i0 + r % rows_q;
      auto pr = [&](int64_t s) { return part.data() + ((grp * nsplit + s) * R + r) * (Dv + 2); };
      C M = ninf;
      for (int64_t s = 0; s < nsplit; s++) M = pr(s)[0] > M ? pr(s)[0] : M;
      T* dst = op + ((b * d.Hq + kvh * G + g) * Lq + i) * Dv;
      C L = 0;
      std::fill(o.begin(), o.end(), C(0));
      if (M != ninf)
        for (int64_t s = 0; s < nsplit; s++) {
          const C* ps = pr(s);
          if (ps[0] == ninf) continue;
          const C w = exp_nonpos(ps[0] - M);
          L += w * ps[1];
          for (int64_t c = 0; c < Dv; c++) o[c] += w * ps[2 + c];
        }
      const C inv = L > 0 ? C(1) / L : C(0);
      for (int64_t c = 0; c < Dv; c++) dst[c] = Num<T>::store(L > 0 ? o[c] * inv : C(0));
    }
  });
}

// q, k, v for the kernel: the last axis contiguous, rows (the L axis) not overlapping.
Array dense_rows(const Array& a) {
  const int64_t d = a.shape(-1);
  bool ok = (a.strides().back() == 1 || d <= 1) && (a.shape(-2) <= 1 || a.strides()[a.ndim() - 2] >= d);
  if (ok) return a;
  Array c = Array::empty(a.shape(), a.dtype());
  copy_into(a, c);
  return c;
}

}  // namespace

void RmsNorm::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  const Array* w = has_weight_ ? &in[1] : nullptr;
  HEARTH_DISPATCH_FLOAT(out.dtype(), norm_kernel<T>(in[0], w, nullptr, eps_, true, out));
}

void LayerNorm::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  size_t i = 1;
  const Array* w = has_weight_ ? &in[i++] : nullptr;
  const Array* b = has_bias_ ? &in[i++] : nullptr;
  HEARTH_DISPATCH_FLOAT(out.dtype(), norm_kernel<T>(in[0], w, b, eps_, false, out));
}

void Rope::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  size_t i = 1;
  std::vector<int64_t> offsets{p_.offset};
  if (p_.has_offset_array) {
    const Array& o = in[i++];
    offsets.assign(size_t(o.size()), 0);
    for (int64_t k = 0; k < o.size(); k++) offsets[k] = int64_t(o.scalar_as_double(k));
  }
  std::vector<double> inv;
  if (p_.has_freqs) {
    const Array& f = in[i++];
    for (int64_t k = 0; k < f.size(); k++) inv.push_back(1.0 / f.scalar_as_double(k));
  } else {
    inv = rope_inv_freqs(p_.dims, p_.base);
  }
  HEARTH_DISPATCH_FLOAT(out.dtype(), rope_kernel<T>(in[0], p_, offsets, inv, out));
}

void ScaledDotProductAttention::eval_cpu(const std::vector<Array>& in, Array& out) {
  out.allocate();
  if (out.size() == 0) return;
  Array q = dense_rows(in[0]), k = dense_rows(in[1]), v = dense_rows(in[2]);
  SdpaDims d;
  d.B = q.shape(0), d.Hq = q.shape(1), d.Lq = q.shape(2), d.D = q.shape(3);
  d.Hkv = k.shape(1), d.Lk = k.shape(2), d.Dv = v.shape(3), d.G = d.Hq / d.Hkv;
  for (int a = 0; a < 3; a++) d.qs[a] = q.strides()[a], d.ks[a] = k.strides()[a], d.vs[a] = v.strides()[a];
  // A single key row may have any stride; GEMM wants a leading dimension of at least a row.
  d.ks[2] = std::max(d.ks[2], d.D), d.vs[2] = std::max(d.vs[2], d.Dv);
  MaskRef mask;
  const bool has_mask = p_.mask == SdpaMask::array;
  if (has_mask) {
    const Array& m = in[3];
    mask.base = static_cast<const char*>(m.raw());
    mask.dtype = m.dtype();
    for (int a = 0; a < m.ndim(); a++) mask.s[4 - m.ndim() + a] = m.shape(a) == 1 ? 0 : m.strides()[a];
  }
  HEARTH_DISPATCH_FLOAT(out.dtype(), sdpa_kernel<T>(q, k, v, has_mask ? &mask : nullptr, p_, d, out));
}

}  // namespace hearth
