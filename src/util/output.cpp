#include "util/output.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include <fmt/format.h>

namespace pickaxe {

namespace {
constexpr size_t kBlock = 64 * 1024;
}

void Output::write(std::string_view text) {
  if (failed()) return;
  buffer_.append(text);
  if (buffer_.size() >= kBlock) flush();
}

void Output::record(std::string_view text) {
  ++records_;
  if (failed()) {
    ++lost_;
    return;
  }
  buffer_.append(text);
  ends_.push_back(buffer_.size());
  if (buffer_.size() >= kBlock) flush();
}

bool Output::flush() {
  if (failed()) return false;
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? std::strerror(errno) : "nothing was written";
      // The records not written whole are lost (one cut in two as well).
      for (size_t end : ends_) lost_ += end > done ? 1 : 0;
      ends_.clear();
      buffer_.clear();
      return false;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  ends_.clear();
  return true;
}

bool finish_output(Output& out, std::string_view what) {
  if (out.flush()) return true;
  std::cerr << fmt::format("pickaxe: cannot write the output: {}; {} of {} {} were not written\n",
                           out.error(), out.lost(), out.records(), what);
  return false;
}

}  // namespace pickaxe
