#include "event/reader.h"

#include <fmt/format.h>

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

void JsonEventReader::read_ndjson(std::istream& in, const std::string& name,
                                  const DocumentHandler& on_document, std::string line,
                                  uint64_t number) {
  simdjson::padded_string buffer;
  do {
    stats_.bytes += line.size() + 1;
    if (options_.on_progress && (number & 0x3FFF) == 0) options_.on_progress(stats_.bytes);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (blank(line)) continue;
    if (line.size() > options_.max_line_bytes) {
      problem(name, number,
              fmt::format("line of {} bytes is longer than the limit of {} bytes; skipped",
                          line.size(), options_.max_line_bytes));
      continue;
    }
    simdjson::dom::element document;
    auto error = parser_.parse(line).get(document);
    if (error) {
      problem(name, number, describe(error));
      continue;
    }
    if (!document.is_object()) {
      problem(name, number, "not a JSON object; each line must be one event object");
      continue;
    }
    if (emit_records(document, name, number, on_document)) continue;
    ++stats_.documents;
    on_document(document, line, number);
  } while (!stopped_ && (++number, std::getline(in, line)));
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
