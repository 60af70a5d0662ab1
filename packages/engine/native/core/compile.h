// mx.compile: a function traced once becomes a tape of primitives that is replayed on new inputs without
// running the JS function again; chains of float elementwise ops on the tape are fused into one kernel.
#pragma once
#include <memory>
#include <vector>

#include "array.h"

namespace hearth {

class CompiledGraph;

// Builds the tape from the traced inputs (tracers) to the outputs; `fuse` enables elementwise fusion.
std::shared_ptr<CompiledGraph> compile_trace(const std::vector<Array>& inputs, const std::vector<Array>& outputs,
                                             bool fuse);
// Rebuilds the graph on new inputs (same shapes and dtypes as the trace); returns the lazy outputs.
std::vector<Array> compile_replay(const CompiledGraph& g, const std::vector<Array>& inputs);
// Counts for tests and diagnostics: nodes on the tape and fused kernels among them.
size_t compiled_tape_size(const CompiledGraph& g);
size_t compiled_fused_count(const CompiledGraph& g);

}  // namespace hearth
