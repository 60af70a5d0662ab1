#include "mapped_file.h"

#include <stdexcept>
#include <system_error>
#include <utility>

#ifndef _WIN32
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace hearth {
namespace io {

namespace {
const uint8_t kEmpty[1] = {0};

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw std::runtime_error("[load] " + path + ": " + reason);
}
}  // namespace

#ifndef _WIN32

MappedFile::MappedFile(const std::string& path) : path_(path), data_(kEmpty) {
  if (path.empty()) fail(path, "empty path");
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below as not a regular file.
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) fail(path, "no such file");
    fail(path, "cannot open: " + std::system_category().message(e));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(path, "cannot stat: " + std::system_category().message(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail(path, "is a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "is not a regular file");
  }
  if (st.st_size < 0 || uint64_t(st.st_size) > uint64_t(SIZE_MAX)) {
    ::close(fd);
    fail(path, "file is too large to map (" + std::to_string(st.st_size) + " bytes)");
  }
  size_t size = size_t(st.st_size);
  if (size == 0) {  // mmap of length 0 fails with EINVAL; an empty file maps to an empty buffer
    ::close(fd);
    return;
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (p == MAP_FAILED) fail(path, "cannot mmap " + std::to_string(size) + " bytes: " + std::system_category().message(e));
  mapping_ = p;
  mapped_size_ = size;
  data_ = static_cast<const uint8_t*>(p);
  size_ = size;
}

void MappedFile::release() noexcept {
  if (mapping_) ::munmap(mapping_, mapped_size_);
  mapping_ = nullptr;
  mapped_size_ = 0;
  data_ = kEmpty;
  size_ = 0;
}

#else  // _WIN32: not implemented yet (CreateFileW + CreateFileMappingW + MapViewOfFile go here).

MappedFile::MappedFile(const std::string& path) : path_(path), data_(kEmpty) {
  fail(path, "memory-mapped loading is not implemented on this platform yet");
}

void MappedFile::release() noexcept {
  mapping_ = nullptr;
  mapped_size_ = 0;
  data_ = kEmpty;
  size_ = 0;
}

#endif

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_), mapping_(other.mapping_),
      mapped_size_(other.mapped_size_) {
  other.mapping_ = nullptr;
  other.mapped_size_ = 0;
  other.data_ = kEmpty;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    mapping_ = other.mapping_;
    mapped_size_ = other.mapped_size_;
    other.mapping_ = nullptr;
    other.mapped_size_ = 0;
    other.data_ = kEmpty;
    other.size_ = 0;
  }
  return *this;
}

}  // namespace io
}  // namespace hearth
