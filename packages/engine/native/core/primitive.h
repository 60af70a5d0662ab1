// The base of every operation node. Each op family declares its primitives in core/ops/<family>.h,
// implements validation and vjp in core/ops/<family>.cpp and kernels in backend/cpu/<family>.cpp.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "array.h"

namespace hearth {

class Primitive {
 public:
  virtual ~Primitive() = default;
  virtual const char* name() const = 0;
  // Computes `out` from evaluated inputs: allocate() and fill, or share() a view of an input.
  virtual void eval_cpu(const std::vector<Array>& inputs, Array& out) = 0;
  virtual void eval_gpu(const std::vector<Array>& inputs, Array& out) {
    (void)inputs; (void)out;
    throw std::runtime_error(std::string("[") + name() + "] the GPU backend is not built into this binary");
  }
  // Cotangents for the inputs listed in argnums, built with public ops, given the output's cotangent.
  virtual std::vector<Array> vjp(const std::vector<Array>& primals, const Array& cotangent,
                                 const std::vector<int>& argnums, const Array& output);
  // Same computation as `other` (given the same inputs): lets compile merge duplicate nodes.
  virtual bool is_equivalent(const Primitive& other) const { (void)other; return false; }
};

// "[op] message" errors, used by every op's validation.
[[noreturn]] void throw_invalid(const char* op, const std::string& msg);

}  // namespace hearth
