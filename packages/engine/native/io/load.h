// Engine-level safetensors I/O: files, sharded checkpoints and folders become evaluated arrays that point into
// a read-only memory map of the file (no copy of tensor data), and arrays are saved atomically.
//
// Loading: one MappedFile per file, owned by one Buffer::external shared by every array of that file; the
// mapping is released when the last of those arrays is freed. Pages are read from disk only when something
// touches them, so loading costs the header parse, whatever the size of the file. Two cases copy one tensor
// into allocator memory: a tensor whose file offset is not a multiple of its element size (possible in files
// from other writers: the format requires neither a padded header nor any tensor order), and a BOOL tensor
// holding bytes other than 0 and 1 (normalised to 0/1; BOOL tensors are read once to find out).
//
// The arrays are read-only memory: kernels must never write into an input buffer (no buffer donation for
// external buffers).
//
// Errors: std::invalid_argument (malformed files, inconsistent indexes) or std::runtime_error (I/O), messages
// "[load] <path>: ..." naming the file, and the tensor where one is at fault.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "../core/array.h"

namespace hearth {
namespace io {

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct LoadedArrays {
  std::vector<std::pair<std::string, Array>> arrays;  // file by file, each in data-offset order
  Metadata metadata;                                   // "__metadata__" (merged over shards, first value wins)
};

// One .safetensors file (the layout rules are parse_safetensors's, see safetensors.h).
LoadedArrays load_safetensors_file(const std::string& path);

// A sharded checkpoint from its index (e.g. model.safetensors.index.json): {"weight_map": {name: shard file}},
// shard files relative to the index's folder. Every listed shard must exist and hold the names listed for it;
// tensors a shard holds beyond those are loaded too, and a name held by two shards is an error. Other keys of
// the index (such as "metadata": {"total_size": ...}) are not used.
LoadedArrays load_safetensors_index(const std::string& index_path);

// What mx.load accepts: a .safetensors file; an index file (a path ending in ".json"); or a folder holding
// model.safetensors (loaded alone), else model.safetensors.index.json, else exactly one other
// *.safetensors.index.json, else every *.safetensors file in it (names must not collide). Hidden files
// (starting with '.') are ignored.
LoadedArrays load_safetensors_path(const std::string& path);

// Evaluates the arrays (one eval for all; an evaluation error writes nothing), makes row-major copies of
// non-contiguous ones and writes them with save_safetensors (atomic: temp file + rename). Names must be
// unique and not "__metadata__"; metadata keys unique. Messages start with "[save] <path>: ".
void save_arrays_safetensors(const std::string& path, const std::vector<std::pair<std::string, Array>>& arrays,
                             const Metadata& metadata);

}  // namespace io
}  // namespace hearth
