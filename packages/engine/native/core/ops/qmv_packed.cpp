#include "qmv_packed.h"

#include "../../backend/cpu/qmv_packed_kernels.h"

namespace hearth {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

cpu::qmv_packed_detail::Elem elem_of(const char* op, Dtype t) {
  using E = cpu::qmv_packed_detail::Elem;
  if (t == Dtype::float32) return E::f32;
  if (t == Dtype::bfloat16) return E::bf16;
  if (t == Dtype::float16) return E::f16;
  throw_invalid(op, std::string("scales must be float32, bfloat16 or float16, got ") + dtype_name(t));
}

void check_params(const char* op, int group_size, int bits) {
  if (group_size != 32 && group_size != 64 && group_size != 128)
    throw_invalid(op, "group size " + str(group_size) + " is not supported; use 32, 64 or 128");
  if (bits != 4 && bits != 8) throw_invalid(op, str(bits) + " bits are not supported; use 4 or 8");
}

}  // namespace

Array quantized_repack(const Array& wq, const Array& scales, const Array& biases, int group_size, int bits) {
  const char* op = "quantizedRepack";
  check_params(op, group_size, bits);
  if (wq.dtype() != Dtype::uint32 || wq.ndim() != 2)
    throw_invalid(op, std::string("the packed weight must be a 2-D uint32 array (as mx.quantize returns), got ") +
                          dtype_name(wq.dtype()) + " " + shape_str(wq.shape()));
  const int64_t N = wq.shape(0), K = wq.shape(1) * 32 / bits, G = K / group_size;
  if (N % 16 != 0) throw_invalid(op, "the number of output rows (" + str(N) + ") must be a multiple of 16");
  if (K == 0 || K % group_size != 0)
    throw_invalid(op, "the inner dimension " + str(K) + " must be a positive multiple of the group size");
  if (scales.shape() != Shape{N, G} || biases.shape() != Shape{N, G})
    throw_invalid(op, "scales and biases must have shape " + shape_str(Shape{N, G}) + ", got " +
                          shape_str(scales.shape()) + " and " + shape_str(biases.shape()));
  if (scales.dtype() != biases.dtype())
    throw_invalid(op, std::string("scales and biases must have the same dtype, got ") + dtype_name(scales.dtype()) +
                          " and " + dtype_name(biases.dtype()));
  const auto e = elem_of(op, scales.dtype());
  const int64_t rec = cpu::qmv_packed_detail::record_bytes(group_size, bits, e);
  return Array(Shape{N / 16, G * rec}, Dtype::uint8, std::make_shared<QuantizedPack16>(group_size, bits),
               {wq, scales, biases});
}

Array packed_quantized_matmul(const Array& x, const Array& packed, int group_size, int bits, Dtype scales_dtype) {
  const char* op = "packedQuantizedMatmul";
  check_params(op, group_size, bits);
  const auto e = elem_of(op, scales_dtype);
  if (packed.dtype() != Dtype::uint8 || packed.ndim() != 2)
    throw_invalid(op, std::string("the packed weight must be the 2-D uint8 array quantizedRepack returns, got ") +
                          dtype_name(packed.dtype()) + " " + shape_str(packed.shape()));
  if (!is_floating(x.dtype()) || x.dtype() == Dtype::float64)
    throw_invalid(op, std::string("x must be float32, bfloat16 or float16, got ") + dtype_name(x.dtype()));
  if (x.ndim() < 1) throw_invalid(op, "x must have at least 1 dimension");
  const int64_t K = x.shape(-1), rec = cpu::qmv_packed_detail::record_bytes(group_size, bits, e);
  if (K == 0 || K % group_size != 0 || packed.shape(1) != (K / group_size) * rec)
    throw_invalid(op, "x's last dimension " + str(K) + " does not match the packed weight " +
                          shape_str(packed.shape()) + " (group_size=" + str(group_size) + ", bits=" + str(bits) +
                          ", scales " + dtype_name(scales_dtype) + ")");
  Shape s = x.shape();
  s.back() = packed.shape(0) * 16;
  return Array(s, x.dtype(), std::make_shared<PackedQuantizedMatmul>(group_size, bits, scales_dtype), {x, packed});
}

bool QuantizedPack16::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizedPack16*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_;
}

bool PackedQuantizedMatmul::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const PackedQuantizedMatmul*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_ && p->sdt_ == sdt_;
}

}  // namespace hearth
