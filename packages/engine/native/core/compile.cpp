#include "compile.h"

#include <unordered_map>
#include <functional>
#include <unordered_set>

#include "ops/elementwise.h"
#include "ops/layout.h"
#include "primitive.h"

namespace hearth {

namespace {

// Where a tape entry takes an operand from: a compiled input, an earlier entry, or a captured constant.
struct Ref {
  enum Kind { input, entry, constant } kind;
  int index;
  Array value;  // constant only
};

struct Entry {
  std::shared_ptr<Primitive> primitive;
  std::vector<Ref> inputs;
  Shape shape;
  Dtype dtype;
};

}  // namespace

class CompiledGraph {
 public:
  size_t num_inputs = 0;
  std::vector<Shape> input_shapes;
  std::vector<Dtype> input_dtypes;
  std::vector<Entry> tape;
  std::vector<Ref> outputs;
  size_t fused = 0;
};

namespace {

bool is_fusable(const Entry& e) {
  if (e.dtype != Dtype::float32 && e.dtype != Dtype::bfloat16 && e.dtype != Dtype::float16) return false;
  if (auto* u = dynamic_cast<Unary*>(e.primitive.get())) return fusable_unary(u->op());
  if (auto* b = dynamic_cast<Binary*>(e.primitive.get())) return fusable_binary(b->op());
  return false;
}

// Replaces single-consumer chains of fusable entries by one Fused entry each.
void fuse_elementwise(CompiledGraph& g) {
  size_t n = g.tape.size();
  std::vector<int> consumers(n, 0);
  std::vector<bool> is_output(n, false);
  for (auto& e : g.tape)
    for (auto& r : e.inputs)
      if (r.kind == Ref::entry) consumers[r.index]++;
  for (auto& r : g.outputs)
    if (r.kind == Ref::entry) is_output[r.index] = true;
  std::vector<bool> fusable(n);
  for (size_t i = 0; i < n; i++) fusable[i] = is_fusable(g.tape[i]);

  auto absorbable = [&](const Ref& r, const Entry& consumer) {
    if (r.kind != Ref::entry) return false;
    const Entry& e = g.tape[r.index];
    return fusable[r.index] && consumers[r.index] == 1 && !is_output[r.index] && e.shape == consumer.shape &&
           e.dtype == consumer.dtype;
  };
  // A broadcast of a one-element array is passed to the kernel as the scalar itself.
  auto scalar_source = [&](const Ref& r) -> const Ref* {
    if (r.kind != Ref::entry) return nullptr;
    const Entry& e = g.tape[r.index];
    if (!dynamic_cast<BroadcastTo*>(e.primitive.get())) return nullptr;
    const Ref& src = e.inputs[0];
    if (src.kind == Ref::constant && src.value.size() == 1) return &src;
    if (src.kind == Ref::entry && shape_size(g.tape[src.index].shape) == 1) return &src;
    if (src.kind == Ref::input && shape_size(g.input_shapes[src.index]) == 1) return &src;
    return nullptr;
  };

  std::vector<bool> absorbed(n, false);
  std::vector<Entry> replacement(n);
  std::vector<bool> replaced(n, false);
  for (int root = int(n) - 1; root >= 0; root--) {
    if (!fusable[root] || absorbed[root]) continue;
    const Entry& re = g.tape[root];
    std::vector<FusedStep> steps;
    std::vector<Ref> externals;
    std::vector<int> members;
    // Post-order walk of the chain below root.
    std::function<int(int)> emit = [&](int idx) -> int {
      const Entry& e = g.tape[idx];
      auto operand = [&](const Ref& r) -> int {
        if (absorbable(r, e)) return emit(r.index);
        const Ref* s = scalar_source(r);
        const Ref& ext = s ? *s : r;
        if (!s) {  // externals must match the output's shape
          const Shape& sh = ext.kind == Ref::entry ? g.tape[ext.index].shape
                            : ext.kind == Ref::input ? g.input_shapes[ext.index] : ext.value.shape();
          if (sh != re.shape) return INT32_MIN;
        }
        for (size_t k = 0; k < externals.size(); k++)
          if (externals[k].kind == ext.kind && externals[k].index == ext.index &&
              (ext.kind != Ref::constant || externals[k].value.id() == ext.value.id()))
            return int(k);
        externals.push_back(ext);
        return int(externals.size()) - 1;
      };
      FusedStep st;
      if (auto* u = dynamic_cast<Unary*>(e.primitive.get())) {
        st = {false, uint8_t(u->op()), operand(e.inputs[0]), 0};
      } else {
        auto* b = dynamic_cast<Binary*>(e.primitive.get());
        int x = operand(e.inputs[0]);
        int y = operand(e.inputs[1]);
        st = {true, uint8_t(b->op()), x, y};
      }
      if (st.a == INT32_MIN || (st.binary && st.b == INT32_MIN)) throw std::runtime_error("unfusable");
      members.push_back(idx);
      steps.push_back(st);
      return -int(steps.size());
    };
    try {
      emit(root);
    } catch (const std::runtime_error&) {
      continue;
    }
    if (steps.size() < 2) continue;  // nothing gained
    for (int m : members)
      if (m != root) absorbed[m] = true;
    replacement[root] = Entry{std::make_shared<Fused>(steps), externals, re.shape, re.dtype};
    replaced[root] = true;
    g.fused++;
  }
  // Compact the tape, renumbering entry references.
  std::vector<int> new_index(n, -1);
  std::vector<Entry> tape;
  for (size_t i = 0; i < n; i++) {
    if (absorbed[i]) continue;
    new_index[i] = int(tape.size());
    tape.push_back(replaced[i] ? replacement[i] : g.tape[i]);
  }
  auto remap = [&](Ref& r) {
    if (r.kind == Ref::entry) r.index = new_index[r.index];
  };
  for (auto& e : tape)
    for (auto& r : e.inputs) remap(r);
  for (auto& r : g.outputs) remap(r);
  // Entries only used by absorbed nodes (e.g. scalar broadcasts) are left; they are cheap views.
  g.tape = std::move(tape);
}

}  // namespace

std::shared_ptr<CompiledGraph> compile_trace(const std::vector<Array>& inputs, const std::vector<Array>& outputs,
                                             bool fuse) {
  auto g = std::make_shared<CompiledGraph>();
  g->num_inputs = inputs.size();
  std::unordered_map<const ArrayNode*, Ref> refs;
  for (size_t i = 0; i < inputs.size(); i++) {
    refs[inputs[i].id()] = Ref{Ref::input, int(i), Array()};
    g->input_shapes.push_back(inputs[i].shape());
    g->input_dtypes.push_back(inputs[i].dtype());
  }
  // Post-order DFS from the outputs; nodes that don't reach an input are constants captured by reference.
  std::unordered_map<const ArrayNode*, bool> depends;
  std::function<bool(const Array&)> visit = [&](const Array& a) -> bool {
    auto it = depends.find(a.id());
    if (it != depends.end()) return it->second;
    if (refs.count(a.id())) return depends[a.id()] = true;
    bool dep = false;
    if (a.has_primitive())
      for (auto& in : a.inputs()) dep = visit(in) || dep;
    depends[a.id()] = dep;
    if (dep) {
      Entry e{a.primitive_ptr(), {}, a.shape(), a.dtype()};
      for (auto& in : a.inputs()) {
        auto r = refs.find(in.id());
        e.inputs.push_back(r != refs.end() ? r->second : Ref{Ref::constant, -1, in});
      }
      refs[a.id()] = Ref{Ref::entry, int(g->tape.size()), Array()};
      g->tape.push_back(std::move(e));
    }
    return dep;
  };
  for (auto& o : outputs) {
    if (visit(o)) g->outputs.push_back(refs[o.id()]);
    else g->outputs.push_back(Ref{Ref::constant, -1, o});
  }
  if (fuse) fuse_elementwise(*g);
  return g;
}

std::vector<Array> compile_replay(const CompiledGraph& g, const std::vector<Array>& inputs) {
  if (inputs.size() != g.num_inputs)
    throw std::invalid_argument("[compile] expected " + std::to_string(g.num_inputs) + " inputs, got " +
                                std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); i++)
    if (inputs[i].shape() != g.input_shapes[i] || inputs[i].dtype() != g.input_dtypes[i])
      throw std::invalid_argument("[compile] input " + std::to_string(i) + " does not match the traced shape/dtype");
  std::vector<Array> values;
  values.reserve(g.tape.size());
  auto get = [&](const Ref& r) -> Array {
    switch (r.kind) {
      case Ref::input: return inputs[r.index];
      case Ref::entry: return values[r.index];
      default: return r.value;
    }
  };
  for (auto& e : g.tape) {
    std::vector<Array> ins;
    ins.reserve(e.inputs.size());
    for (auto& r : e.inputs) ins.push_back(get(r));
    values.emplace_back(e.shape, e.dtype, e.primitive, std::move(ins));
  }
  std::vector<Array> out;
  for (auto& r : g.outputs) out.push_back(get(r));
  return out;
}

size_t compiled_tape_size(const CompiledGraph& g) { return g.tape.size(); }
size_t compiled_fused_count(const CompiledGraph& g) { return g.fused; }

}  // namespace hearth
