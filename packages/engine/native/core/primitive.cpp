#include "primitive.h"

namespace hearth {

std::vector<Array> Primitive::vjp(const std::vector<Array>&, const Array&, const std::vector<int>&, const Array&) {
  throw std::invalid_argument(std::string("[") + name() + "] is not differentiable");
}

void throw_invalid(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + op + "] " + msg);
}

}  // namespace hearth
