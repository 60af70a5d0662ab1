// A read-only memory map of a whole file.
//
// The interface is platform-neutral; the implementation is POSIX (open + fstat + mmap(PROT_READ, MAP_PRIVATE))
// and a Windows one (CreateFileMapping / MapViewOfFile) can be added under the same interface later.
//
// Errors (std::runtime_error, message "[load] <path>: <reason>"): the file does not exist, is a directory or not
// a regular file, cannot be opened or mapped. A zero-length file is not an error here: it cannot be mmapped, so
// size() is 0 and data() points to a valid, empty (but non-null) buffer; parse_safetensors then reports
// "file is empty (0 bytes)".
//
// Caveat: the mapping reflects the file as it is on disk; if another process truncates the file while it is
// mapped, reading the lost pages raises SIGBUS. Files written by save_safetensors are replaced by rename, which
// leaves existing mappings of the old file intact.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace hearth {
namespace io {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // opens and maps the whole file; throws std::runtime_error
  ~MappedFile();                                 // unmaps
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // never null; valid while this object lives
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release() noexcept;
  std::string path_;
  const uint8_t* data_;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // platform handle of the mapping; null when nothing is mapped (empty file)
  size_t mapped_size_ = 0;
};

}  // namespace io
}  // namespace hearth
