#include "event/document_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace pickaxe {

// One unlinked temporary file: it disappears when its descriptor closes,
// which happens when the last document in it is no longer referred to.
class SpoolSegment {
 public:
  explicit SpoolSegment(int fd) : fd_(fd) {}
  ~SpoolSegment() { ::close(fd_); }
  SpoolSegment(const SpoolSegment&) = delete;
  SpoolSegment& operator=(const SpoolSegment&) = delete;
  int fd() const { return fd_; }
  uint64_t size = 0;  // bytes written (under the spool's lock)

 private:
  int fd_;
};

namespace {

// An unlinked file in `directory`: O_TMPFILE where the file system has it.
int open_unlinked(const std::string& directory, std::string& error) {
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string path = directory + "/pickaxe-spool-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    error = fmt::format("cannot create a spool file in {}: {}", directory, std::strerror(errno));
    return -1;
  }
  ::unlink(path.c_str());
  return fd;
}

bool write_all(int fd, std::string_view text, uint64_t offset) {
  while (!text.empty()) {
    ssize_t written = ::pwrite(fd, text.data(), text.size(), static_cast<off_t>(offset));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    text.remove_prefix(static_cast<size_t>(written));
    offset += static_cast<uint64_t>(written);
  }
  return true;
}

}  // namespace

bool SpooledDocument::read(std::string& out) const {
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t got =
        ::pread(segment->fd(), out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

DocumentSpool::DocumentSpool(std::string directory, uint64_t segment_bytes)
    : directory_(std::move(directory)), segment_bytes_(segment_bytes) {
  if (directory_.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    directory_ = tmp && *tmp ? tmp : "/tmp";
  }
}

std::optional<SpooledDocument> DocumentSpool::store(std::string_view text) {
  std::lock_guard lock(mutex_);
  if (!current_ || current_->size + text.size() > segment_bytes_) {
    std::string error;
    int fd = open_unlinked(directory_, error);
    if (fd < 0) {
      ++failures_;
      last_error_ = error;
      current_.reset();
      return std::nullopt;
    }
    current_ = std::make_shared<SpoolSegment>(fd);
  }
  const uint64_t offset = current_->size;
  if (!write_all(current_->fd(), text, offset)) {
    ++failures_;
    last_error_ = fmt::format("cannot write to a spool file in {}: {}", directory_,
                              errno ? std::strerror(errno) : "short write");
    current_.reset();  // a segment that failed once is not written to again
    return std::nullopt;
  }
  current_->size += text.size();
  ++stored_;
  return SpooledDocument{current_, offset, static_cast<uint32_t>(text.size())};
}

std::string DocumentSpool::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

}  // namespace pickaxe
