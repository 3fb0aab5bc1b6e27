#include "ingest/fd_input.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/signals.h"

namespace pickaxe {

FdInputBuffer::int_type FdInputBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (ended_) return traits_type::eof();
  if (before_wait_) before_wait_();
  while (!stop_requested()) {
    ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;  // the loop sees a stop request
    if (n < 0) error_ = std::strerror(errno);
    if (n <= 0) return traits_type::eof();
    setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    return traits_type::to_int_type(*gptr());
  }
  return traits_type::eof();
}

std::string_view FdInputBuffer::peek_head(size_t count) {
  size_t have = static_cast<size_t>(egptr() - eback());
  count = std::min(count, buffer_.size());
  while (have < count && !stop_requested()) {
    ssize_t n = ::read(fd_, buffer_.data() + have, count - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error_ = std::strerror(errno);
    if (n <= 0) {
      ended_ = true;  // a terminal's Ctrl-D is read once
      break;
    }
    have += static_cast<size_t>(n);
  }
  setg(buffer_.data(), buffer_.data(), buffer_.data() + have);
  return std::string_view(buffer_.data(), have);
}

std::streamsize FdInputBuffer::xsgetn(char* out, std::streamsize count) {
  if (count <= 0) return 0;
  if (gptr() == egptr() && underflow() == traits_type::eof()) return 0;
  std::streamsize taken = std::min<std::streamsize>(count, egptr() - gptr());
  std::memcpy(out, gptr(), static_cast<size_t>(taken));
  gbump(static_cast<int>(taken));
  return taken;
}

}  // namespace pickaxe
