#include "qmv_int8.h"

#include "../cpu_features.h"
#include "layout.h"
#include "quantized.h"

namespace hearth {

namespace cpu::qmv_i8_detail {
bool kernel_available();  // backend/cpu/qmv_int8.cpp
}

bool quantized_matmul_i8_supported(int64_t K, int group_size, int bits) {
  return (bits == 4 || bits == 8) && (group_size == 32 || group_size == 64 || group_size == 128) && K > 0 &&
         K % 128 == 0 && cpu::qmv_i8_detail::kernel_available();
}

Array quantized_matmul_i8(const Array& x, const Array& wq, const Array& scales, const Array& biases, int group_size,
                          int bits) {
  // The exact op validates everything and gives the result type; the int8 node takes its place when it can.
  Array exact = quantized_matmul(x, wq, scales, biases, true, group_size, bits);
  if (wq.ndim() != 2 || !quantized_matmul_i8_supported(x.shape(-1), group_size, bits) ||
      exact.dtype() == Dtype::float64)
    return exact;
  const std::vector<Array>& in = exact.inputs();  // x, wq, scales, biases cast to the result type
  return Array(exact.shape(), exact.dtype(), std::make_shared<QuantizedMatmulI8>(group_size, bits),
               {in[0], in[1], in[2], in[3]});
}

std::vector<Array> QuantizedMatmulI8::vjp(const std::vector<Array>& primals, const Array& cot,
                                          const std::vector<int>& argnums, const Array& out) {
  QuantizedMatmul exact(group_size_, bits_, true);
  return exact.vjp(primals, cot, argnums, out);
}

bool QuantizedMatmulI8::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizedMatmulI8*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_;
}

}  // namespace hearth
