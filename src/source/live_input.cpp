#include "source/live_input.h"

namespace pickaxe {

void split_live_lines(LiveInput& input, std::string_view bytes, size_t max_line_bytes,
                      const std::function<void(std::string_view text)>& complete,
                      const std::function<void(uint64_t line, uint64_t length)>& too_long) {
  while (!bytes.empty()) {
    if (input.overlong) {
      // The rest of a line past the limit: counted, reported once it ends.
      const size_t end = bytes.find('\n');
      input.overlong_bytes += end == std::string_view::npos ? bytes.size() : end;
      if (end == std::string_view::npos) return;
      ++input.lines;
      too_long(input.lines, input.overlong_bytes);
      input.overlong = false;
      bytes.remove_prefix(end + 1);
      continue;
    }
    const size_t last_newline = bytes.rfind('\n');
    if (last_newline == std::string_view::npos) {
      input.tail.append(bytes);
    } else {
      std::string text = std::move(input.tail);
      text.append(bytes.substr(0, last_newline + 1));
      input.tail.assign(bytes.substr(last_newline + 1));
      complete(text);
    }
    // A partial line past the limit is not kept: its rest is counted as it comes.
    if (input.tail.size() > max_line_bytes) {
      input.overlong = true;
      input.overlong_bytes = input.tail.size();
      input.tail.clear();
      input.tail.shrink_to_fit();
    }
    return;
  }
}

std::string_view first_nonblank_line(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) return line;
    at = end + 1;
  }
  return {};
}

}  // namespace pickaxe
