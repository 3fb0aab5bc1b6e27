// Structured diagnostics: every problem found in user input carries a
// severity, a stable code, a source span and, where one helps, a hint and a fix.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

// A half-open byte range [begin, end) into a SourceFile's text.
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool operator==(const Span&) const = default;
};

struct Position {
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;  // 1-based, in Unicode code points
};

// Text that diagnostics point into. `first_line` places the text inside a
// larger file, for queries decoded out of a TOML string.
class SourceFile {
 public:
  SourceFile(std::string path, std::string text, uint32_t first_line = 1);

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  Position position(uint32_t offset) const;
  std::string_view line_text(uint32_t line) const;  // line as numbered in the file

 private:
  std::string path_;
  std::string text_;
  uint32_t first_line_;
  std::vector<uint32_t> line_starts_;
};

enum class Severity { Error, Warning, Note };

std::string_view severity_name(Severity severity);

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string code;     // stable kebab-case identifier, e.g. "single-quoted-string"
  std::string message;  // what is wrong
  Span span;
  std::string hint;  // how to fix it, in words (optional)
  std::string fix;   // suggested replacement text (optional)
  std::shared_ptr<const SourceFile> source;
};

// Collects diagnostics for one source; never stops at the first.
class Diagnostics {
 public:
  explicit Diagnostics(std::shared_ptr<const SourceFile> source = nullptr)
      : source_(std::move(source)) {}

  Diagnostic& add(Severity severity, std::string code, Span span, std::string message,
                  std::string hint = {});
  Diagnostic& error(std::string code, Span span, std::string message, std::string hint = {}) {
    return add(Severity::Error, std::move(code), span, std::move(message), std::move(hint));
  }
  Diagnostic& warning(std::string code, Span span, std::string message, std::string hint = {}) {
    return add(Severity::Warning, std::move(code), span, std::move(message), std::move(hint));
  }

  void append(const Diagnostics& other);
  const std::vector<Diagnostic>& items() const { return items_; }
  std::vector<Diagnostic>& items() { return items_; }
  size_t error_count() const;
  size_t warning_count() const;
  bool has_errors() const { return error_count() > 0; }
  const std::shared_ptr<const SourceFile>& source() const { return source_; }

  // Orders by position so output reads top to bottom.
  void sort_by_position();

 private:
  std::shared_ptr<const SourceFile> source_;
  std::vector<Diagnostic> items_;
};

// Renders `file:line:col: severity[code]: message`, the source line with a
// caret underline, then the hint and fix.
std::string render_text(const Diagnostic& diagnostic, bool color = false);

}  // namespace pickaxe
