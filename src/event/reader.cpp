#include "event/reader.h"

#include <cstring>

#include <fmt/format.h>

#include "prefilter/prefilter.h"

namespace pickaxe {

namespace {

std::string describe(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::NUMBER_ERROR: return "a malformed or out-of-range number";
    case simdjson::DEPTH_ERROR: return "nesting deeper than 1024 levels";
    default: return fmt::format("malformed JSON ({})", simdjson::error_message(error));
  }
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A line the prefilter may skip unparsed must look like one JSON object;
// anything else is parsed, so that it is reported.
bool object_shaped(std::string_view line) {
  size_t first = line.find_first_not_of(" \t\r");
  size_t last = line.find_last_not_of(" \t\r");
  return first != std::string_view::npos && line[first] == '{' && line[last] == '}';
}

}  // namespace

void JsonEventReader::problem(const std::string& file, uint64_t line, std::string message) {
  ++stats_.malformed;
  if (on_problem_) on_problem_({file, line, std::move(message)});
}

bool JsonEventReader::parses(const std::string& line) {
  simdjson::dom::element ignored;
  return !parser_.parse(line).get(ignored);
}

// {"Records": [...]} (CloudTrail's file format) and Elasticsearch _search
// responses ({"hits": {"hits": [{"_source": {...}}]}}): each record, or each
// hit's _source, is a document.
bool JsonEventReader::emit_records(simdjson::dom::element document, const std::string& name,
                                   uint64_t line, const DocumentHandler& on_document) {
  simdjson::dom::array records;
  if (document.at_pointer("/hits/hits").get_array().get(records) == simdjson::SUCCESS) {
    uint64_t index = 0;
    for (simdjson::dom::element hit : records) {
      if (stopped_) break;
      ++index;
      simdjson::dom::element source;
      if (hit["_source"].get(source) != simdjson::SUCCESS || !source.is_object()) {
        problem(name, line, fmt::format("hit {} has no _source object", index));
        continue;
      }
      ++stats_.documents;
      on_document(source, simdjson::minify(source), line);
    }
    return true;
  }
  if (document["Records"].get_array().get(records)) return false;
  for (simdjson::dom::element record : records) {
    if (stopped_) break;
    if (!record.is_object()) {
      problem(name, line, "a Records element is not a JSON object");
      continue;
    }
    ++stats_.documents;
    on_document(record, simdjson::minify(record), line);
  }
  return true;
}

void JsonEventReader::read(std::istream& in, const std::string& name,
                           const DocumentHandler& on_document) {
  std::string line;
  uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (blank(line)) continue;
    read_from(in, name, on_document, std::move(line), number);
    return;
  }
}

// The first non-blank line decides: '[' starts a JSON array, anything else is NDJSON.
void JsonEventReader::read_from(std::istream& in, const std::string& name,
                                const DocumentHandler& on_document, std::string line,
                                uint64_t number) {
  size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos) return;
  if (line[first] == '[') {
    read_array(in, name, on_document, line + "\n");
  } else if (line[first] == '{' && !parses(line)) {
    // A JSON object over several lines, such as a CloudTrail {"Records": [...]} file.
    read_array(in, name, on_document, line + "\n");
  } else {
    read_ndjson(in, name, on_document, std::move(line), number);
  }
}

void JsonEventReader::read_line(std::string_view line, uint64_t number, bool padded, bool skippable,
                                const std::string& name, const DocumentHandler& on_document) {
  stats_.bytes += line.size() + 1;
  if (options_.on_progress && (number & 0x3FFF) == 0) options_.on_progress(stats_.bytes);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (blank(line)) return;
  if (line.size() > options_.max_line_bytes) {
    problem(name, number,
            fmt::format("line of {} bytes is longer than the limit of {} bytes; skipped",
                        line.size(), options_.max_line_bytes));
    return;
  }
  if (skippable && object_shaped(line)) {
    ++stats_.skipped;
    return;
  }
  simdjson::dom::element document;
  auto error = parser_.parse(line.data(), line.size(), !padded).get(document);
  if (error) {
    problem(name, number, describe(error));
    return;
  }
  if (!document.is_object()) {
    problem(name, number, "not a JSON object; each line must be one event object");
    return;
  }
  if (emit_records(document, name, number, on_document)) return;
  ++stats_.documents;
  on_document(document, line, number);
}

void JsonEventReader::read_lines(std::string_view text, uint64_t& number, const std::string& name,
                                 const DocumentHandler& on_document, const char* readable_end) {
  if (options_.prefilter && !scanner_)
    scanner_ = std::make_unique<Prefilter::Scanner>(*options_.prefilter);
  const bool skips = options_.prefilter && options_.prefilter->skips_lines();
  // Invalid UTF-8 anywhere in the block: every line is parsed, and checked.
  bool scanned =
      scanner_ && scanner_->scan(text, hits_) && simdjson::validate_utf8(text.data(), text.size());
  line_hits_ = scanned ? &line_ : nullptr;
  size_t next_hit = 0;
  for (size_t pos = 0; pos < text.size() && !stopped_;) {
    const void* newline = std::memchr(text.data() + pos, '\n', text.size() - pos);
    size_t end = newline ? static_cast<size_t>(static_cast<const char*>(newline) - text.data())
                         : text.size();
    if (scanned) {
      line_.literals.clear();
      line_.any_possible = false;
      while (next_hit < hits_.size() && hits_[next_hit].line_end < end) ++next_hit;
      for (; next_hit < hits_.size() && hits_[next_hit].line_end == end; ++next_hit) {
        if (hits_[next_hit].id == Prefilter::Scanner::kTrigger)
          line_.any_possible = true;
        else
          line_.literals.push_back(hits_[next_hit].id);
      }
    }
    bool skippable = scanned && skips && line_.literals.empty() && !line_.any_possible;
    bool padded = text.data() + end + simdjson::SIMDJSON_PADDING <= readable_end;
    read_line(text.substr(pos, end - pos), ++number, padded, skippable, name, on_document);
    pos = end + 1;
  }
  line_hits_ = nullptr;
}

// Reads blocks of whole lines. With a prefilter, each block is scanned once
// for its literals, and only lines with a hit (or not shaped like an object,
// or in a block that is not valid UTF-8) are parsed.
void JsonEventReader::read_ndjson(std::istream& in, const std::string& name,
                                  const DocumentHandler& on_document, std::string first_line,
                                  uint64_t number) {
  line_hits_ = nullptr;
  read_line(first_line, number, false, false, name, on_document);
  size_t capacity = size_t{1} << 20;
  std::vector<char> buffer(capacity + simdjson::SIMDJSON_PADDING);
  size_t size = 0;
  bool overlong = false;  // inside a line longer than the limit, which is skipped
  uint64_t overlong_bytes = 0;
  while (!stopped_) {
    char* data = buffer.data();
    size_t wanted = capacity - size;
    in.read(data + size, static_cast<std::streamsize>(wanted));
    size_t got = static_cast<size_t>(in.gcount());
    bool at_end = got < wanted;
    size += got;
    size_t begin = 0;
    if (overlong) {
      const void* newline = std::memchr(data, '\n', size);
      if (!newline && !at_end) {
        overlong_bytes += size;
        stats_.bytes += size;
        size = 0;
        continue;
      }
      size_t cut = newline ? static_cast<size_t>(static_cast<const char*>(newline) - data) : size;
      overlong_bytes += cut;
      stats_.bytes += cut + 1;
      problem(name, ++number,
              fmt::format("line of {} bytes is longer than the limit of {} bytes; skipped",
                          overlong_bytes, options_.max_line_bytes));
      overlong = false;
      begin = newline ? cut + 1 : size;
    }
    size_t complete = size;
    if (!at_end) {
      const void* last = memrchr(data + begin, '\n', size - begin);
      if (!last) {
        if (begin > 0) {
          std::memmove(data, data + begin, size - begin);
          size -= begin;
        } else if (capacity <= options_.max_line_bytes + 1) {
          capacity *= 2;  // a long line: room for it and its newline
          buffer.resize(capacity + simdjson::SIMDJSON_PADDING);
        } else {
          overlong = true;
          overlong_bytes = size;
          stats_.bytes += size;
          size = 0;
        }
        continue;
      }
      complete = static_cast<size_t>(static_cast<const char*>(last) - data) + 1;
    }
    read_lines(std::string_view(data + begin, complete - begin), number, name, on_document,
               data + capacity + simdjson::SIMDJSON_PADDING);
    std::memmove(data, data + complete, size - complete);
    size -= complete;
    if (at_end) break;
  }
}

void JsonEventReader::read_array(std::istream& in, const std::string& name,
                                 const DocumentHandler& on_document, std::string head) {
  std::string text = std::move(head);
  std::string line;
  while (std::getline(in, line)) {
    text += line;
    text += '\n';
  }
  stats_.bytes += text.size();
  simdjson::dom::element root;
  auto error = parser_.parse(text).get(root);
  if (error) {
    problem(name, 1, describe(error) + " in the JSON document; the whole file was skipped");
    return;
  }
  if (root.is_object()) {
    if (!emit_records(root, name, 1, on_document)) {
      ++stats_.documents;
      on_document(root, simdjson::minify(root), 1);
    }
    return;
  }
  simdjson::dom::array array;
  if (root.get_array().get(array)) {
    problem(name, 1, "not a JSON array or object");
    return;
  }
  uint64_t index = 0;
  for (simdjson::dom::element document : array) {
    if (stopped_) break;
    ++index;
    if (!document.is_object()) {
      problem(name, index, fmt::format("array element {} is not a JSON object", index));
      continue;
    }
    ++stats_.documents;
    std::string minified = simdjson::minify(document);
    on_document(document, minified, index);
  }
}

}  // namespace pickaxe
