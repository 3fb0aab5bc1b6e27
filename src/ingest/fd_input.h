// Reading a pipe or terminal (stdin) as it comes: each refill takes what
// one read() returns, so lines are handled as soon as they arrive, and a
// stop signal (EINTR with a stop requested) ends the input. Before each
// read that may wait, `before_wait` runs: results that are final get out
// while the input is quiet.
#pragma once

#include <functional>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

class FdInputBuffer : public std::streambuf {
 public:
  explicit FdInputBuffer(int fd, std::function<void()> before_wait = nullptr)
      : fd_(fd), before_wait_(std::move(before_wait)), buffer_(64 * 1024) {
    setg(buffer_.data(), buffer_.data(), buffer_.data());
  }
  const std::string& error() const { return error_; }  // a read error, with its reason
  // The first `count` bytes (fewer at the end of the input), read but not
  // taken; only before anything was taken.
  std::string_view peek_head(size_t count);

 protected:
  int_type underflow() override;
  // At most what one read() gives: the caller is not held until `count` bytes came.
  std::streamsize xsgetn(char* out, std::streamsize count) override;

 private:
  int fd_;
  std::function<void()> before_wait_;
  std::vector<char> buffer_;
  std::string error_;
  bool ended_ = false;  // peek_head met the end of the input
};

}  // namespace pickaxe
