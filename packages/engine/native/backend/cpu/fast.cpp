// CPU kernels of the fused ops (mx.fast): row-wise RMS / layer norm, rotary embedding from a cos/sin table,
// and attention that never materialises the [Lq, Lk] score matrix: key blocks are streamed through an online
// softmax. The two products per block go to the streaming decode kernels (fast_kernels.h, per ISA) when a
// unit has few query rows, else to the GEMM kernels; long decodes also split the keys over threads.
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/cpu/fast_kernels.h"
#include "backend/cpu/gemm.h"
#include "core/ops/fast.h"
#include "core/ops/layout.h"
#include "kernel_utils.h"

namespace hearth {
using namespace cpu;

namespace cpu::fast_detail {
// Without the ISA files (non-x86 builds) these weak stand-ins report "not available".
__attribute__((weak)) const AttnKernels* avx2_attn() { return nullptr; }
__attribute__((weak)) const AttnKernels* avx512_attn() { return nullptr; }
__attribute__((weak)) const AttnKernels* vec128_attn() { return nullptr; }
}  // namespace cpu::fast_detail

namespace {
namespace fd = cpu::fast_detail;

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
// differ in cost, e.g. causal query tiles). make_scratch() is called once per thread. `serial`: too little
// work to be worth waking the pool.
template <class S, class MakeS, class F> void run_dynamic(int64_t n, bool serial, MakeS make_scratch, F work) {
  std::atomic<int64_t> next{0};
  int64_t slots = serial ? 1 : std::min<int64_t>(num_threads(), n);
  parallel_for(size_t(std::max<int64_t>(slots, 1)), 1, [&](size_t b, size_t e) {
    S scratch = make_scratch();
    for (size_t s = b; s < e; s++)
      for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) work(i, scratch);
  });
}

// ---- conversions between storage and compute types, written without branches so row loops vectorise
// (checked bit for bit against dtype.h's conversions over every input) ----

// float16 bits to float: the magnitude bits moved into float position read as the value times 2^-112 (normal
// and subnormal halves alike); inf/NaN get the full exponent.
inline float half_bits_to_float(uint16_t h) {
  uint32_t mag = uint32_t(h & 0x7fff) << 13, u;
  float f;
  std::memcpy(&f, &mag, 4);
  f *= 0x1p112f;
  std::memcpy(&u, &f, 4);
  if ((h & 0x7c00) == 0x7c00) u = mag | 0x7f800000u;
  u |= uint32_t(h & 0x8000) << 16;
  std::memcpy(&f, &u, 4);
  return f;
}

// float to float16 bits, rounding to nearest even. Subnormal results come from adding 0.5f, whose ulp is
// float16's smallest step, so the FPU does the rounding.
inline uint16_t float_to_half_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  uint32_t normal = ((a + 0xfffu + ((a >> 13) & 1u)) >> 13) - (112u << 10);
  float af, s;
  std::memcpy(&af, &a, 4);
  s = af + 0.5f;
  uint32_t sb;
  std::memcpy(&sb, &s, 4);
  uint32_t h = a < 0x38800000u ? sb - 0x3f000000u : normal;
  h = a >= 0x477ff000u ? 0x7c00u : h;  // rounds past 65504: infinity
  h = a > 0x7f800000u ? 0x7e00u : h;   // NaN
  return uint16_t(sign | h);
}

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, nan = (u >> 16) | 0x40u;
  return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? nan : r);
}

template <class T, class C> inline C load_one(T v) {
  if constexpr (std::is_same_v<T, bf16>) {
    uint32_t u = uint32_t(v.bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  } else if constexpr (std::is_same_v<T, f16>) {
    return half_bits_to_float(v.bits);
  } else {
    return C(v);
  }
}
template <class T, class C> inline T store_one(C v) {
  if constexpr (std::is_same_v<T, bf16>) return bf16{float_to_bf16_bits(v)};
  else if constexpr (std::is_same_v<T, f16>) return f16{float_to_half_bits(v)};
  else return T(v);
}

// n elements at src[i * stride] into the compute type.
template <class T, class C> void load_row(const T* src, int64_t n, int64_t stride, C* dst) {
  if (stride == 1)
    for (int64_t i = 0; i < n; i++) dst[i] = load_one<T, C>(src[i]);
  else
    for (int64_t i = 0; i < n; i++) dst[i] = load_one<T, C>(src[i * stride]);
}
template <class T, class C> void store_row(const C* src, int64_t n, T* dst) {
  for (int64_t i = 0; i < n; i++) dst[i] = store_one<T, C>(src[i]);
}

// ---- norms ----

template <class T>
void norm_kernel(const Array& xin, const Array* w, const Array* b, double eps, bool rms, Array& out) {
  using C = Compute<T>;
  const int64_t D = xin.shape(-1), rows = D ? xin.size() / D : 0, xs = xin.strides().back();
  if (rows == 0 || D == 0) return;
  std::vector<C> wv = w ? load_vector<C>(*w) : std::vector<C>(), bv = b ? load_vector<C>(*b) : std::vector<C>();
  const C inv_n = C(1.0 / double(D)), ceps = C(eps);
  const T* xp = xin.data<T>();
  T* op = out.data<T>();
  parallel_for(size_t(rows), size_t(std::max<int64_t>(1, 16384 / D)), [&](size_t r0, size_t r1) {
    std::vector<C> row(static_cast<size_t>(D));
    C* x = row.data();
    Rows it(xin);
    it.seek(int64_t(r0));
    for (size_t r = r0; r < r1; r++, it.next()) {
      load_row(xp + it.offset(), D, xs, x);
      // Sums in 8 independent lanes so the loop vectorises without reassociation flags.
      auto lane_sum = [&](auto f) {
        C part[8] = {};
        int64_t j = 0;
        for (; j + 8 <= D; j += 8)
          for (int l = 0; l < 8; l++) part[l] += f(x[j + l]);
        C s = 0;
        for (; j < D; j++) s += f(x[j]);
        for (int l = 0; l < 8; l++) s += part[l];
        return s;
      };
      if (!rms) {
        const C mean = lane_sum([](C v) { return v; }) * inv_n;
        for (int64_t j = 0; j < D; j++) x[j] -= mean;
      }
      const C ms = lane_sum([](C v) { return v * v; }) * inv_n;
      const C inv = C(1) / std::sqrt(ms + ceps);
      if (w && b) for (int64_t j = 0; j < D; j++) x[j] = x[j] * inv * wv[j] + bv[j];
      else if (w) for (int64_t j = 0; j < D; j++) x[j] = x[j] * inv * wv[j];
      else if (b) for (int64_t j = 0; j < D; j++) x[j] = x[j] * inv + bv[j];
      else for (int64_t j = 0; j < D; j++) x[j] = x[j] * inv;
      store_row(x, D, op + int64_t(r) * D);
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
    std::vector<C> buf(static_cast<size_t>(2 * D));
    C *in = buf.data(), *o = buf.data() + D;
    Rows it(x);
    it.seek(int64_t(r0));
    for (size_t r = r0; r < r1; r++, it.next()) {
      load_row(xp + it.offset(), D, xs, in);
      const C* c = cs.data() + ((int64_t(r) / rows_per_off) * L + int64_t(r) % L) * half * 2;
      const C* s = c + half;
      if (p.traditional) {
        for (int64_t i = 0; i < half; i++) {
          o[2 * i] = in[2 * i] * c[i] - in[2 * i + 1] * s[i];
          o[2 * i + 1] = in[2 * i + 1] * c[i] + in[2 * i] * s[i];
        }
      } else {
        for (int64_t i = 0; i < half; i++) {
          o[i] = in[i] * c[i] - in[i + half] * s[i];
          o[i + half] = in[i + half] * c[i] + in[i] * s[i];
        }
      }
      for (int64_t j = p.dims; j < D; j++) o[j] = in[j];
      store_row(o, D, op + int64_t(r) * D);
    }
  });
}

// ---- portable attention decode kernels (the ISA files' contract, fast_kernels.h) ----

template <fd::Elem E> void load_elems(const void* p, int64_t off, int64_t n, float* dst) {
  if constexpr (E == fd::Elem::f32) {
    std::memcpy(dst, static_cast<const float*>(p) + off, size_t(n) * 4);
  } else {
    const uint16_t* h = static_cast<const uint16_t*>(p) + off;
    for (int64_t i = 0; i < n; i++) {
      if constexpr (E == fd::Elem::bf16) {
        uint32_t u = uint32_t(h[i]) << 16;
        std::memcpy(dst + i, &u, 4);
      } else {
        dst[i] = half_bits_to_float(h[i]);
      }
    }
  }
}

template <fd::Elem E>
void generic_scores_e(int64_t R, int64_t n, int64_t D, const float* Q, const void* K, int64_t ldk, float* S,
                      int64_t lds) {
  std::vector<float> k(static_cast<size_t>(D));
  for (int64_t j = 0; j < n; j++) {
    load_elems<E>(K, j * ldk, D, k.data());
    for (int64_t r = 0; r < R; r++) {
      const float* q = Q + r * D;
      float part[8] = {};  // independent lanes: vectorises without reassociation flags
      int64_t d = 0;
      for (; d + 8 <= D; d += 8)
        for (int l = 0; l < 8; l++) part[l] += q[d + l] * k[d + l];
      float s = 0;
      for (; d < D; d++) s += q[d] * k[d];
      for (int l = 0; l < 8; l++) s += part[l];
      S[r * lds + j] = s;
    }
  }
}

template <fd::Elem E>
void generic_accumulate_e(int64_t R, int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv,
                          float* O) {
  std::vector<float> v(static_cast<size_t>(Dv));
  for (int64_t j = 0; j < n; j++) {
    load_elems<E>(V, j * ldv, Dv, v.data());
    for (int64_t r = 0; r < R; r++) {
      const float p = P[r * ldp + j];
      float* o = O + r * Dv;
      for (int64_t c = 0; c < Dv; c++) o[c] += p * v[c];
    }
  }
}

void generic_scores(int64_t R, int64_t n, int64_t D, const float* Q, const void* K, int64_t ldk, fd::Elem ek, float* S,
                    int64_t lds) {
  switch (ek) {
    case fd::Elem::f32: return generic_scores_e<fd::Elem::f32>(R, n, D, Q, K, ldk, S, lds);
    case fd::Elem::bf16: return generic_scores_e<fd::Elem::bf16>(R, n, D, Q, K, ldk, S, lds);
    case fd::Elem::f16: return generic_scores_e<fd::Elem::f16>(R, n, D, Q, K, ldk, S, lds);
  }
}
void generic_accumulate(int64_t R, int64_t n, int64_t Dv, const float* P, int64_t ldp, const void* V, int64_t ldv,
                        fd::Elem ev, float* O) {
  switch (ev) {
    case fd::Elem::f32: return generic_accumulate_e<fd::Elem::f32>(R, n, Dv, P, ldp, V, ldv, O);
    case fd::Elem::bf16: return generic_accumulate_e<fd::Elem::bf16>(R, n, Dv, P, ldp, V, ldv, O);
    case fd::Elem::f16: return generic_accumulate_e<fd::Elem::f16>(R, n, Dv, P, ldp, V, ldv, O);
  }
}
const fd::AttnKernels kGenericAttn = {"generic", generic_scores, generic_accumulate};

const fd::AttnKernels& attn_kernels() {
  static const fd::AttnKernels* k = [] {
    if (auto* a = fd::avx512_attn()) return a;
    if (auto* a = fd::avx2_attn()) return a;
    if (auto* a = fd::vec128_attn()) return a;
    return &kGenericAttn;
  }();
  return *k;
}

template <class T> constexpr fd::Elem elem_of() {
  return std::is_same_v<T, bf16> ? fd::Elem::bf16 : std::is_same_v<T, f16> ? fd::Elem::f16 : fd::Elem::f32;
}

// ---- attention ----

// exp(x) for x ≤ 0 (scores minus their running max), 0 below float's range. Range reduction plus a degree-6
// polynomial (about 1 ulp): unlike std::exp it vectorises, and a prefill evaluates one per score.
inline float exp_nonpos(float x) {
  const float lo = -87.33654f;
  float xc = x >= lo ? x : lo;  // NaN too, so the integer conversion below stays defined
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
  return x >= lo ? y * scale : x != x ? x : 0.f;
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
  std::vector<float> qf;  // the queries in float32, for the decode kernels
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
  // Few query rows per unit (decode): the streaming kernels, which widen bf16/f16 K and V in registers.
  // Otherwise two GEMMs per key block.
  const fd::AttnKernels* ak = nullptr;
  if constexpr (std::is_same_v<C, float>)
    if (R <= 16) ak = &attn_kernels();
  std::vector<C> part;  // per split unit: m[R], l[R], acc[R × Dv]
  if (nsplit > 1) part.resize(size_t(units * R * (Dv + 2)));

  const T *qp = q.data<T>(), *kp = k.data<T>(), *vp = v.data<T>();
  T* op = out.data<T>();
  auto make = [&] {
    SdpaScratch<T> s;
    if (ak) s.qf.resize(size_t(R * D));
    else s.q.resize(size_t(R * D));
    s.s.resize(size_t(R * KB));
    if (kHalfV && !ak) s.v.resize(size_t(KB * Dv));
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
        if (ak) {
          float* dst = sc.qf.data() + (g * rows_q + ii) * D;
          load_row(src, D, 1, dst);
        } else {
          std::memcpy(sc.q.data() + (g * rows_q + ii) * D, src, size_t(D) * sizeof(T));
        }
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
      if constexpr (std::is_same_v<C, float>) {
        if (ak) ak->scores(Rt, n, D, sc.qf.data(), kb + j0 * d.ks[2], d.ks[2], elem_of<T>(), sc.s.data(), KB);
        else Gemms<T>::qk(Rt, n, D, sc.q.data(), kb + j0 * d.ks[2], d.ks[2], sc.s.data(), KB);
      } else {
        Gemms<T>::qk(Rt, n, D, sc.q.data(), kb + j0 * d.ks[2], d.ks[2], sc.s.data(), KB);
      }
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
        C mb = ninf;  // NaN sticks, so NaN inputs give NaN outputs as in the fallback
        for (int64_t j = 0; j < n; j++) mb = srow[j] > mb || srow[j] != srow[j] ? srow[j] : mb;
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
      if constexpr (std::is_same_v<C, float>) {
        if (ak) {
          ak->accumulate(Rt, n, Dv, sc.s.data(), KB, vb + j0 * d.vs[2], d.vs[2], elem_of<T>(), sc.acc.data());
          continue;
        }
      }
      const C* vblk;
      int64_t ldv;
      if constexpr (kHalfV) {
        for (int64_t j = 0; j < n; j++) {
          const T* src = vb + (j0 + j) * d.vs[2];
          C* dst = sc.v.data() + j * Dv;
          load_row(src, Dv, 1, dst);
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
      const C l = sc.l[r], inv = C(1) / l;  // l == 0: every key masked, the row is 0
      for (int64_t c = 0; c < Dv; c++) dst[c] = store_one<T, C>(l == 0 ? C(0) : a[c] * inv);
    }
  };
  const double macs = double(d.B) * double(d.Hq) * double(Lq) * double(Lk) * double(D + Dv);
  run_dynamic<SdpaScratch<T>>(units, macs < 1.5e5, make, work);
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
      for (int64_t s = 0; s < nsplit; s++) M = pr(s)[0] > M || pr(s)[0] != pr(s)[0] ? pr(s)[0] : M;
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
      const C inv = C(1) / L;
      for (int64_t c = 0; c < Dv; c++) dst[c] = store_one<T, C>(L == 0 ? C(0) : o[c] * inv);
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

const char* attention_kernel_name() { return attn_kernels().name; }

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
