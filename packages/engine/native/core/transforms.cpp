#include "transforms.h"

#include <unordered_map>
#include <unordered_set>

#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "primitive.h"
#include "scheduler.h"

namespace hearth {

std::vector<Array> topo_unevaluated(const std::vector<Array>& outputs) {
  std::vector<Array> order;
  std::unordered_set<const ArrayNode*> seen;
  std::vector<std::pair<Array, size_t>> stack;
  for (auto& o : outputs) {
    if (o.is_evaluated() || seen.count(o.id())) continue;
    seen.insert(o.id());
    stack.push_back({o, 0});
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      if (i < node.inputs().size()) {
        const Array& in = node.inputs()[i++];
        if (!in.is_evaluated() && !seen.count(in.id())) {
          seen.insert(in.id());
          stack.push_back({in, 0});
        }
      } else {
        order.push_back(node);
        stack.pop_back();
      }
    }
  }
  return order;
}

void eval_on_this_thread(const std::vector<Array>& outputs) {
  std::vector<Array> order = topo_unevaluated(outputs);
  for (auto& slot : order) {
    Array a = std::move(slot);  // the tape must not keep intermediates alive
    if (a.is_evaluated()) continue;
    if (!a.has_primitive()) throw std::runtime_error("[eval] an array has neither data nor a primitive");
    a.primitive().eval_cpu(a.inputs(), a);
    a.mark_evaluated();
    if (!a.is_tracer()) a.detach();
  }
}

void eval(const std::vector<Array>& outputs) {
  bool any = false;
  for (auto& o : outputs) any = any || !o.is_evaluated();
  if (!any) return;
  run_on_engine_sync([&] { eval_on_this_thread(outputs); });
}

namespace {
class TracerLeaf : public Primitive {
 public:
  const char* name() const override { return "tracer"; }
  void eval_cpu(const std::vector<Array>& in, Array& out) override {
    out.share(in[0], in[0].strides(), in[0].offset());
  }
  std::vector<Array> vjp(const std::vector<Array>&, const Array& cot, const std::vector<int>&,
                         const Array&) override {
    return {cot};
  }
};
}  // namespace

Array make_tracer(const Array& a) {
  Array t(a.shape(), a.dtype(), std::make_shared<TracerLeaf>(), {a});
  t.set_tracer(true);
  return t;
}

std::vector<Array> backprop(const std::vector<Array>& outputs, const std::vector<Array>& cotangents,
                            const std::vector<Array>& inputs) {
  std::unordered_set<const ArrayNode*> input_ids;
  for (auto& in : inputs) input_ids.insert(in.id());

  // Nodes on a path from an input to an output, in topological order. Only tracers can depend on inputs.
  std::vector<Array> order;
  std::unordered_map<const ArrayNode*, bool> depends;  // memo: node -> reaches an input
  std::vector<std::pair<Array, size_t>> stack;
  for (auto& o : outputs) {
    if (depends.count(o.id())) continue;
    stack.push_back({o, 0});
    depends[o.id()] = false;
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      bool is_input = input_ids.count(node.id()) > 0;
      if (!is_input && node.is_tracer() && i < node.inputs().size()) {
        const Array& in = node.inputs()[i++];
        if (!depends.count(in.id())) {
          depends[in.id()] = false;
          stack.push_back({in, 0});
        }
        continue;
      }
      bool dep = is_input;
      if (!is_input && node.is_tracer())
        for (auto& in : node.inputs()) dep = dep || depends[in.id()];
      depends[node.id()] = dep;
      if (dep) order.push_back(node);
      stack.pop_back();
    }
  }

  std::unordered_map<const ArrayNode*, Array> cot;
  for (size_t i = 0; i < outputs.size(); i++) {
    auto it = cot.find(outputs[i].id());
    if (it == cot.end()) cot.emplace(outputs[i].id(), cotangents[i]);
    else it->second = add(it->second, cotangents[i]);
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Array& node = *it;
    if (input_ids.count(node.id())) continue;
    auto c = cot.find(node.id());
    if (c == cot.end()) continue;
    std::vector<int> argnums;
    for (size_t k = 0; k < node.inputs().size(); k++)
      if (depends[node.inputs()[k].id()]) argnums.push_back(int(k));
    if (argnums.empty()) continue;
    Array g = c->second;
    cot.erase(c);
    std::vector<Array> grads = node.primitive().vjp(node.inputs(), g, argnums, node);
    for (size_t k = 0; k < argnums.size(); k++) {
      const Array& in = node.inputs()[argnums[k]];
      Array gk = grads[k];
      if (gk.dtype() != in.dtype() && is_floating(in.dtype())) gk = astype(gk, in.dtype());
      if (gk.shape() != in.shape()) gk = unbroadcast(gk, in.shape());
      auto e = cot.find(in.id());
      if (e == cot.end()) cot.emplace(in.id(), gk);
      else e->second = add(e->second, gk);
    }
  }
  std::vector<Array> result;
  for (auto& in : inputs) {
    auto c = cot.find(in.id());
    result.push_back(c == cot.end() ? zeros_like(in) : c->second);
  }
  return result;
}

}  // namespace hearth
