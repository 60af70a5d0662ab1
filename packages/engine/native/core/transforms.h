// Evaluation and reverse-mode differentiation over the lazy graph.
#pragma once
#include <vector>

#include "array.h"

namespace hearth {

// Evaluates the arrays (and everything they depend on) on the engine thread. Nodes that are not tracers
// drop their graph once computed, so intermediates are freed as soon as their consumers are done.
void eval(const std::vector<Array>& outputs);
// The same work, called on the engine thread itself.
void eval_on_this_thread(const std::vector<Array>& outputs);
// Unevaluated nodes reachable from `outputs`, inputs before the nodes that use them (eval's order).
std::vector<Array> topo_unevaluated(const std::vector<Array>& outputs);

// A tracer copy of `a` that shares its data: the leaf that gradients are taken with respect to.
Array make_tracer(const Array& a);

// Walks the graph back from `outputs` (seeded with `cotangents`) to `inputs` and returns the cotangent of
// each input (zeros where an input does not influence the outputs).
std::vector<Array> backprop(const std::vector<Array>& outputs, const std::vector<Array>& cotangents,
                            const std::vector<Array>& inputs);

}  // namespace hearth
