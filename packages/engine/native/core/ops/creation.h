// Arrays made from nothing: constants, ranges, identity matrices.
#pragma once
#include "../primitive.h"

namespace hearth {

// A constant filled from a double (exact for every dtype the value fits, incl. int64 up to 2^53).
class Full : public Primitive {
 public:
  Full(double v) : value_(v) {}
  const char* name() const override { return "full"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  bool is_equivalent(const Primitive& o) const override;
  double value() const { return value_; }

 private:
  double value_;
};

class Arange : public Primitive {
 public:
  Arange(double start, double step) : start_(start), step_(step) {}
  const char* name() const override { return "arange"; }
  void eval_cpu(const std::vector<Array>& inputs, Array& out) override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  double start_, step_;
};

Array full(const Shape& shape, double value, Dtype dtype);
Array zeros(const Shape& shape, Dtype dtype);
Array ones(const Shape& shape, Dtype dtype);
Array zeros_like(const Array& a);
Array ones_like(const Array& a);
Array arange(double start, double stop, double step, Dtype dtype);
Array linspace(double start, double stop, int64_t num, Dtype dtype);
Array eye(int64_t n, int64_t m, int64_t k, Dtype dtype);
// An evaluated array holding a copy of host data of `dtype` (e.g. from a JS TypedArray).
Array array_from_data(const void* data, const Shape& shape, Dtype dtype);

}  // namespace hearth
