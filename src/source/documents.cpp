#include "source/documents.h"

#include <fmt/format.h>

namespace pickaxe {

DocumentReader::DocumentReader(SourceKind source, size_t max_line_bytes, Emit emit,
                               JsonEventReader::ProblemHandler on_problem)
    : source_(source),
      max_line_bytes_(max_line_bytes),
      emit_(std::move(emit)),
      on_problem_(on_problem),
      reader_(ReaderOptions{max_line_bytes, nullptr, nullptr, false},
              [this](const InputProblem& problem) {
                ++stats_.malformed;
                if (on_problem_) on_problem_(problem);
              }) {}

void DocumentReader::problem(const std::string& name, uint64_t line, std::string message) {
  ++stats_.malformed;
  if (on_problem_) on_problem_({name, line, std::move(message)});
}

void DocumentReader::feed(LiveInput& input, std::string_view bytes) {
  stats_.bytes += bytes.size();
  split_live_lines(
      input, bytes, max_line_bytes_, [&](std::string_view text) { read_lines(input, text); },
      [&](uint64_t line, uint64_t length) {
        problem(input.name, line, too_long(length, max_line_bytes_));
      });
}

std::unique_ptr<TextDecoder> DocumentReader::text_decoder(SourceKind kind,
                                                          const std::string* name) {
  return make_text_decoder(
      kind,
      [this, kind](std::string ecs, uint64_t line) {
        ++stats_.events;
        emit_(ecs, line, 0, kind);
      },
      [this, name](uint64_t line, std::string message, bool skipped) {
        if (skipped)
          problem(*name, line, std::move(message));
        else if (on_problem_)
          on_problem_({*name, line, std::move(message)});
      });
}

bool DocumentReader::restore(LiveInput& input, SourceKind kind, std::string_view decoder) {
  input.kind = kind;
  input.decoder.reset();
  if (kind != SourceKind::Auditd && kind != SourceKind::Sysmon) return decoder.empty();
  input.decoder = text_decoder(kind, &input.name);
  return decoder.empty() || input.decoder->load(decoder);
}

std::optional<SourceKind> DocumentReader::text_source_of(std::string_view first) const {
  const char opening = first[first.find_first_not_of(" \t\r")];
  const bool json = opening == '{' || opening == '[';
  if (source_ == SourceKind::Auditd || (source_ == SourceKind::Sysmon && !json)) return source_;
  if (source_ == SourceKind::Auto) return detect_text_source(first);
  return std::nullopt;
}

void DocumentReader::read(std::istream& in, const std::string& name) {
  std::string line;
  uint64_t number = 0;
  auto on_document = [&](simdjson::dom::element document, std::string_view text, uint64_t at) {
    this->document(document, text, at, name, &in);
  };
  for (LineRead got; (got = read_line_head(in, line, max_line_bytes_)) != LineRead::End;) {
    ++number;
    if (number == 1) strip_byte_order_mark(line);
    if (got == LineRead::TooLong) {
      // A JSON document on one line streams; else the line is too long.
      if (source_ != SourceKind::Auditd && source_ != SourceKind::Sysmon && starts_document(line)) {
        reader_.read_document(in, name, on_document, std::move(line));
        return;
      }
      problem(name, number, too_long(line.size() + skip_line(in), max_line_bytes_));
      continue;
    }
    if (line.find_first_not_of(" \t\r") != std::string::npos) break;
  }
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  if (std::optional<SourceKind> kind = text_source_of(line)) {
    std::unique_ptr<TextDecoder> decoder = text_decoder(*kind, &name);
    uint64_t length = line.size();
    LineRead got = LineRead::Line;
    do {
      if (got == LineRead::TooLong)
        problem(name, number, too_long(length, max_line_bytes_));
      else
        decoder->add_line(line, number);
    } while ((++number, got = read_bounded_line(in, line, max_line_bytes_, length)) !=
             LineRead::End);
    decoder->finish();
    stats_.flawed += decoder->flawed();
    return;
  }
  reader_.read_from(in, name, on_document, std::move(line), number);
}

void DocumentReader::document(simdjson::dom::element document, std::string_view text, uint64_t line,
                              const std::string& name, const void* input) {
  if (input != last_input_ || line != last_line_) index_in_line_ = 0;
  last_input_ = input;
  last_line_ = line;
  const uint32_t index = index_in_line_++;
  SourceKind kind = source_ == SourceKind::Auto ? detect_source(document) : source_;
  if (kind == SourceKind::Ecs || kind == SourceKind::Auto) {
    ++stats_.events;
    emit_(text, line, index, SourceKind::Ecs);
    return;
  }
  std::string error;
  decoded_.clear();
  if (!decode_record(kind, document, decoded_, error)) {
    problem(name, line, fmt::format("{}; record skipped", error.empty() ? "cannot decode" : error));
    return;
  }
  ++stats_.events;
  emit_(decoded_, line, index, kind);
}

void DocumentReader::read_lines(LiveInput& input, std::string_view text) {
  if (input.lines == 0 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (!input.kind) {
    std::string_view first = first_nonblank_line(text);
    if (first.empty()) {  // blank lines only, so far
      input.lines += static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
      return;
    }
    std::optional<SourceKind> text_kind = text_source_of(first);
    restore(input, text_kind.value_or(SourceKind::Auto), {});
  }
  if (input.decoder) {
    for (size_t at = 0; at < text.size();) {
      size_t end = text.find('\n', at);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(at, end - at);
      at = end + 1;
      ++input.lines;
      if (line.size() > max_line_bytes_) {
        problem(input.name, input.lines, too_long(line.size(), max_line_bytes_));
        continue;
      }
      input.decoder->add_line(line, input.lines);
    }
    return;
  }
  reader_.read_lines(
      text, input.lines, input.name,
      [&](simdjson::dom::element document, std::string_view line_text, uint64_t line) {
        this->document(document, line_text, line, input.name, &input);
      },
      nullptr);
}

void DocumentReader::settle(LiveInput& input) {
  if (input.decoder) input.decoder->finish();
}

void DocumentReader::end(LiveInput& input) {
  if (input.overlong) {
    ++input.lines;
    problem(input.name, input.lines, too_long(input.overlong_bytes, max_line_bytes_));
    input.overlong = false;
  }
  if (!input.tail.empty()) {
    std::string last = std::move(input.tail);
    input.tail.clear();
    last += '\n';
    read_lines(input, last);
  }
  if (input.decoder) {
    input.decoder->finish();
    stats_.flawed += input.decoder->flawed();
    input.decoder.reset();
  }
}

DocumentStats DocumentReader::stats() const {
  return stats_;
}

}  // namespace pickaxe
