#include "diag/diagnostic.h"

#include <algorithm>

#include <fmt/format.h>

namespace pickaxe {

namespace {

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

uint32_t count_code_points(std::string_view text) {
  uint32_t count = 0;
  for (char c : text) count += is_continuation_byte(c) ? 0 : 1;
  return count;
}

}  // namespace

SourceFile::SourceFile(std::string path, std::string text, uint32_t first_line)
    : path_(std::move(path)), text_(std::move(text)), first_line_(first_line) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

Position SourceFile::position(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  uint32_t index = static_cast<uint32_t>(next - line_starts_.begin()) - 1;
  uint32_t start = line_starts_[index];
  std::string_view before(text_.data() + start, offset - start);
  return {index + first_line_, count_code_points(before) + 1};
}

std::string_view SourceFile::line_text(uint32_t line) const {
  if (line < first_line_) return {};
  uint32_t index = line - first_line_;
  if (index >= line_starts_.size()) return {};
  uint32_t start = line_starts_[index];
  uint32_t end = index + 1 < line_starts_.size() ? line_starts_[index + 1] - 1
                                                 : static_cast<uint32_t>(text_.size());
  std::string_view view(text_.data() + start, end - start);
  if (!view.empty() && view.back() == '\r') view.remove_suffix(1);
  return view;
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

Diagnostic& Diagnostics::add(Severity severity, std::string code, Span span, std::string message,
                             std::string hint) {
  items_.push_back(Diagnostic{
      severity, std::move(code), std::move(message), span, std::move(hint), {}, source_});
  return items_.back();
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

size_t Diagnostics::error_count() const {
  return std::count_if(items_.begin(), items_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

size_t Diagnostics::warning_count() const {
  return std::count_if(items_.begin(), items_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Warning; });
}

void Diagnostics::sort_by_position() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.span.begin < b.span.begin;
  });
}

std::string render_text(const Diagnostic& d, bool color) {
  auto paint = [color](std::string_view code, std::string_view text) {
    return color ? fmt::format("\x1b[{}m{}\x1b[0m", code, text) : std::string(text);
  };
  std::string severity_color = d.severity == Severity::Error     ? "1;31"
                               : d.severity == Severity::Warning ? "1;33"
                                                                 : "1;36";
  std::string out;
  if (!d.source) {
    out = fmt::format("{}[{}]: {}\n", paint(severity_color, severity_name(d.severity)), d.code,
                      d.message);
  } else {
    Position begin = d.source->position(d.span.begin);
    Position end = d.source->position(std::max(d.span.end, d.span.begin));
    out = fmt::format("{}:{}:{}: {}[{}]: {}\n", d.source->path(), begin.line, begin.column,
                      paint(severity_color, severity_name(d.severity)), d.code,
                      paint("1", d.message));
    std::string_view full_line = d.source->line_text(begin.line);
    // A long line (minified JSON, a binary) is shown as a window around the
    // caret; control characters as spaces.
    constexpr uint32_t kShown = 120;
    std::string window;
    uint32_t skipped = 0;
    if (count_code_points(full_line) > kShown + 40 ||
        std::any_of(full_line.begin(), full_line.end(), [](char c) {
          return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
        })) {
      skipped = begin.column > 41 ? begin.column - 41 : 0;
      uint32_t index = 0;
      if (skipped > 0) window = "...";
      for (size_t i = 0; i < full_line.size(); ++i) {
        if (!is_continuation_byte(full_line[i])) ++index;
        if (index <= skipped) continue;
        if (index > skipped + kShown) {
          window += "...";
          break;
        }
        char c = full_line[i];
        window += (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f ? ' ' : c;
      }
    } else {
      window = std::string(full_line);
    }
    std::string_view line = window;
    if (skipped > 0) {
      begin.column = begin.column - skipped + 3;  // after "..."
      if (end.line == begin.line) end.column = end.column - skipped + 3;
    }
    if (end.line == begin.line) end.column = std::min(end.column, count_code_points(line) + 1);
    std::string gutter = fmt::format("{}", begin.line);
    std::string pad(gutter.size(), ' ');
    // Keep tabs so the caret lines up under the source text.
    std::string lead;
    uint32_t column = 1;
    for (size_t i = 0; i < line.size() && column < begin.column; ++i) {
      if (is_continuation_byte(line[i])) continue;
      lead += line[i] == '\t' ? '\t' : ' ';
      ++column;
    }
    uint32_t line_length = count_code_points(line);
    uint32_t width =
        end.line == begin.line && end.column > begin.column
            ? end.column - begin.column
            : std::max<uint32_t>(1, line_length + 1 - std::min(line_length, begin.column - 1));
    width = std::max<uint32_t>(1, width);
    out += fmt::format(" {} |\n {} | {}\n {} | {}{}\n", pad, gutter, line, pad, lead,
                       paint(severity_color, std::string(width, '^')));
  }
  if (!d.hint.empty()) out += fmt::format("  = hint: {}\n", d.hint);
  if (!d.fix.empty()) out += fmt::format("  = fix: {}\n", d.fix);
  return out;
}

}  // namespace pickaxe
