// Standard output as pickaxe writes it: buffered for throughput, every write
// checked. A failed write (a full disk, a closed pipe when SIGPIPE is
// ignored) is kept with its reason; what could not be written is counted,
// so that a run can say how many results were lost instead of exiting 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

class Output {
 public:
  explicit Output(int fd = 1) : fd_(fd) {}
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output() { flush(); }

  // Text; written once 64 KiB have built up, or at flush().
  void write(std::string_view text);
  // One result (an alert, a matching event, a line of a report): counted,
  // and counted as lost when it cannot be written.
  void record(std::string_view text);
  // Writes what is buffered; false once any write has failed.
  bool flush();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }  // the reason, as strerror says it
  uint64_t records() const { return records_; }
  uint64_t lost() const { return lost_; }

 private:
  int fd_;
  std::string buffer_;
  std::vector<size_t> ends_;  // where each record in the buffer ends
  uint64_t records_ = 0;
  uint64_t lost_ = 0;
  std::string error_;
};

// Flushes `out`; when a write failed, says so on stderr ("pickaxe: cannot
// write the output: No space left on device; 20 of 220 alerts were not
// written") and returns false.
bool finish_output(Output& out, std::string_view what);

}  // namespace pickaxe
