// An input read as it grows (a followed file, stdin, a stream): its bytes
// come in pieces; complete lines go on at once, a partial last line waits
// for the rest. Text sources (auditd, Sysmon syslog) keep their decoder from
// piece to piece, so an event whose records arrive in different reads is whole.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "source/source.h"

namespace pickaxe {

struct LiveInput {
  std::string name;
  uint64_t lines = 0;     // complete lines read so far
  std::string tail;       // a partial last line
  bool overlong = false;  // the partial line passed max_line_bytes: skipped to its end
  uint64_t overlong_bytes = 0;
  std::optional<SourceKind> kind;  // decided by the first non-blank line (Auto: JSON)
  std::unique_ptr<TextDecoder> decoder;
};

// Cuts `bytes`, after the partial line the input held, into complete lines:
// `complete` takes their text (each line ending with its newline; the
// caller counts them into input.lines). A line longer than `max_line_bytes`
// is not kept: `too_long` is told its number and length once it ends (its
// line counted already).
void split_live_lines(LiveInput& input, std::string_view bytes, size_t max_line_bytes,
                      const std::function<void(std::string_view text)>& complete,
                      const std::function<void(uint64_t line, uint64_t length)>& too_long);

// The input's first non-blank line in `text`, empty when it holds none.
std::string_view first_nonblank_line(std::string_view text);

}  // namespace pickaxe
