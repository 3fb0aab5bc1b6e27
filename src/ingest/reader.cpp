#include "ingest/reader.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ingest/prefilter.h"
#include "util/signals.h"

namespace pickaxe {

namespace {

constexpr size_t kPrefetchBytes = 16384;  // about a dozen Endpoint events' lines

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
  simdjson::dom::element field;
  if (document["Records"].get(field) != simdjson::SUCCESS) return false;
  if (field.get_array().get(records) != simdjson::SUCCESS) {
    problem(name, line, "Records is not an array; a CloudTrail file holds {\"Records\": [...]}");
    return true;
  }
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

// The first non-blank line decides: '[' starts a JSON array; a '{' line that
// is not a whole object starts a JSON document over several lines, unless
// the next line is an object of its own (then the first line is a broken
// NDJSON line, reported, and the rest is NDJSON); anything else is NDJSON.
void JsonEventReader::read_from(std::istream& in, const std::string& name,
                                const DocumentHandler& on_document, std::string line,
                                uint64_t number) {
  size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos) return;
  if (line[first] == '[') {
    read_document(in, name, on_document, line + "\n");
    return;
  }
  if (line[first] != '{' || parses(line)) {
    read_ndjson(in, name, on_document, std::move(line), number);
    return;
  }
  std::string next;
  uint64_t next_number = number, length = 0;
  LineRead got = LineRead::End;
  while ((got = read_bounded_line(in, next, options_.max_line_bytes, length)) != LineRead::End) {
    ++next_number;
    if (got == LineRead::TooLong || !blank(next)) break;
  }
  size_t start = next.find_first_not_of(" \t\r");
  if (got == LineRead::Line && start != std::string::npos && next[start] == '{' && parses(next)) {
    read_line(line, number, false, false, name, on_document);  // reported as malformed
    read_ndjson(in, name, on_document, std::move(next), next_number);
    return;
  }
  if (got == LineRead::TooLong) {
    read_line(line, number, false, false, name, on_document);
    stats_.bytes += length + 1;
    problem(name, next_number, too_long(length, options_.max_line_bytes));
    read_ndjson(in, name, on_document, std::string(), next_number);
    return;
  }
  read_document(in, name, on_document, line + "\n" + next + (got == LineRead::End ? "" : "\n"));
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

void JsonEventReader::decide_scanning(std::string_view sample) {
  if (options_.prefilter && !scanner_)
    scanner_ = std::make_unique<Prefilter::Scanner>(*options_.prefilter);
  scanning_ = scanner_ && (options_.always_scan || scanner_->worth_scanning(sample));
  if (scanner_ && !scanning_) ++stats_.unscanned;
}

void JsonEventReader::read_lines(std::string_view text, uint64_t& number, const std::string& name,
                                 const DocumentHandler& on_document, const char* readable_end) {
  if (options_.prefilter && !scanner_)
    scanner_ = std::make_unique<Prefilter::Scanner>(*options_.prefilter);
  const bool skips = options_.prefilter && options_.prefilter->skips_lines();
  // Invalid UTF-8 anywhere in the block: every line is parsed, and checked.
  bool scanned = scanner_ && scanning_ && scanner_->scan(text, hits_) &&
                 simdjson::validate_utf8(text.data(), text.size());
  line_hits_ = scanned ? &line_ : nullptr;
  size_t next_hit = 0, prefetched = 0;
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
    // The lines ahead are read from memory while this one is worked on: the
    // hardware's prefetcher stops at page ends and loses the stream while an
    // event is matched.
    for (const size_t until = std::min(text.size(), end + kPrefetchBytes); prefetched < until;
         prefetched += 64)
      __builtin_prefetch(text.data() + prefetched);
    bool skippable = scanned && skips && line_.literals.empty() && !line_.any_possible;
    bool padded = readable_end && text.data() + end + simdjson::SIMDJSON_PADDING <= readable_end;
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
  size_t searched = 0;    // the buffer's first bytes, known to hold no newline
  bool overlong = false;  // inside a line longer than the limit, which is skipped
  bool decided = false;   // whether lines are scanned
  uint64_t overlong_bytes = 0;
  while (!stopped_ && !stop_requested()) {
    char* data = buffer.data();
    size_t wanted = capacity - size;
    // What is there: a pipe gives lines as they come, a file a full block.
    std::streamsize read =
        wanted > 0 ? in.rdbuf()->sgetn(data + size, static_cast<std::streamsize>(wanted)) : 0;
    size_t got = read > 0 ? static_cast<size_t>(read) : 0;
    bool at_end = wanted > 0 && got == 0;
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
      const size_t from = std::max(begin, searched);  // a long line's start is not searched again
      const void* last = memrchr(data + from, '\n', size - from);
      if (!last) {
        if (begin > 0) {
          std::memmove(data, data + begin, size - begin);
          size -= begin;
        } else if (size < capacity) {
          // Room left: a pipe gives a long line in several reads.
        } else if (capacity <= options_.max_line_bytes + 1) {
          capacity *= 2;  // a long line: room for it and its newline
          buffer.resize(capacity + simdjson::SIMDJSON_PADDING);
        } else {
          overlong = true;
          overlong_bytes = size;
          stats_.bytes += size;
          size = 0;
        }
        searched = size;
        continue;
      }
      complete = static_cast<size_t>(static_cast<const char*>(last) - data) + 1;
    }
    if (!decided) {  // the first block decides for the whole input
      decide_scanning(std::string_view(data + begin, complete - begin));
      decided = true;
    }
    read_lines(std::string_view(data + begin, complete - begin), number, name, on_document,
               data + capacity + simdjson::SIMDJSON_PADDING);
    std::memmove(data, data + complete, size - complete);
    size -= complete;
    searched = size;  // the start of a line
    if (at_end) break;
  }
}

// Streams a JSON document over several lines: the elements of a top-level
// array, of a top-level object's "Records" array (CloudTrail), or of its
// "hits"."hits" array (an Elasticsearch response) are parsed one by one as
// they end, each at most max_line_bytes; any other object is one document.
// Memory stays bounded whatever the size of the file, and when the file is
// cut short, the elements before the cut are kept and the cut is reported.
void JsonEventReader::read_document(std::istream& in, const std::string& name,
                                    const DocumentHandler& on_document, std::string head) {
  enum class Stream : uint8_t { None, Elements, Records, Hits };
  struct Level {
    bool object;
    bool expect_key;  // objects: the next string is a key
    std::string key;  // objects: the key whose value comes next
  };
  std::vector<Level> levels;
  Stream streaming = Stream::None;
  size_t stream_depth = 0;  // levels.size() inside the streamed array
  bool in_string = false, escaped = false, key_string = false;
  std::string key, element, whole;
  bool element_overlong = false, whole_overlong = false, done = false, streamed = false;
  uint64_t element_bytes = 0, index = 0;
  const size_t limit = options_.max_line_bytes;

  auto finish_element = [&] {
    if (element_bytes == 0) return;
    ++index;
    if (element_overlong) {
      problem(name, index,
              fmt::format("element {} of {} bytes is longer than the limit of {} "
                          "bytes; skipped",
                          index, element_bytes, limit));
    } else {
      simdjson::dom::element document;
      auto error = parser_.parse(element).get(document);
      if (error) {
        problem(name, index, fmt::format("element {}: {}", index, describe(error)));
      } else if (streaming == Stream::Hits) {
        simdjson::dom::element source;
        if (document["_source"].get(source) != simdjson::SUCCESS || !source.is_object()) {
          problem(name, index, fmt::format("hit {} has no _source object", index));
        } else {
          ++stats_.documents;
          on_document(source, simdjson::minify(source), index);
        }
      } else if (!document.is_object()) {
        problem(name, index,
                streaming == Stream::Records
                    ? std::string("a Records element is not a JSON object")
                    : fmt::format("array element {} is not a JSON object", index));
      } else {
        ++stats_.documents;
        on_document(document, element, index);
      }
    }
    element.clear();
    element_bytes = 0;
    element_overlong = false;
  };
  // One byte of the document: of the streamed element, or of the whole.
  auto keep = [&](char c) {
    if (streaming != Stream::None && levels.size() >= stream_depth) {
      ++element_bytes;
      if (element.size() < limit)
        element.push_back(c);
      else
        element_overlong = true;
    } else if (streaming == Stream::None) {
      if (whole.size() < limit)
        whole.push_back(c);
      else
        whole_overlong = true;
    }
  };
  auto scan = [&](std::string_view text) {
    for (char c : text) {
      if (done) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
          problem(name, index + 1, "text after the end of the JSON document; ignored");
          return false;
        }
        continue;
      }
      if (in_string) {
        keep(c);
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
          if (key_string) levels.back().key = key;
        } else if (key_string && key.size() < 64) {
          key += c;
        }
        continue;
      }
      switch (c) {
        case '"':
          in_string = true;
          key_string = !levels.empty() && levels.back().object && levels.back().expect_key;
          if (key_string) {
            key.clear();
            levels.back().expect_key = false;
          }
          keep(c);
          break;
        case '{':
        case '[': {
          // The array to stream: the top-level one, or Records, or hits.hits.
          bool opens_stream = false;
          if (streaming == Stream::None && c == '[') {
            if (levels.empty()) {
              streaming = Stream::Elements;
              opens_stream = true;
            } else if (levels.size() == 1 && levels[0].object && levels[0].key == "Records") {
              streaming = Stream::Records;
              opens_stream = true;
            } else if (levels.size() == 2 && levels[0].key == "hits" && levels[1].object &&
                       levels[1].key == "hits") {
              streaming = Stream::Hits;
              opens_stream = true;
            }
          }
          if (!opens_stream) keep(c);
          levels.push_back({c == '{', c == '{', {}});
          if (opens_stream) {
            stream_depth = levels.size();
            streamed = true;
          }
          break;
        }
        case '}':
        case ']':
          if (levels.empty()) {
            problem(name, index + 1, fmt::format("unbalanced '{}' in the JSON document", c));
            return false;
          }
          if (streaming != Stream::None && levels.size() == stream_depth) {
            finish_element();  // the streamed array ends
            streaming = Stream::None;
            levels.pop_back();
            if (levels.empty()) done = true;
            break;
          }
          keep(c);
          levels.pop_back();
          if (levels.empty()) done = true;
          break;
        case ',':
          if (streaming != Stream::None && levels.size() == stream_depth) {
            finish_element();
            break;
          }
          keep(c);
          if (!levels.empty() && levels.back().object) levels.back().expect_key = true;
          break;
        default:
          if (streaming != Stream::None && levels.size() == stream_depth &&
              (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            break;  // between elements
          keep(c);
      }
    }
    return true;
  };

  bool intact = scan(head);
  std::vector<char> block(1 << 20);
  while (intact && !stopped_ && !stop_requested()) {
    std::streamsize got =
        in.rdbuf()->sgetn(block.data(), static_cast<std::streamsize>(block.size()));
    if (got <= 0) break;
    stats_.bytes += static_cast<uint64_t>(got);
    intact = scan(std::string_view(block.data(), static_cast<size_t>(got)));
  }
  stats_.bytes += head.size();
  if (!intact || stopped_) return;
  if (!done) {
    if (streaming != Stream::None && levels.size() == stream_depth && !in_string)
      finish_element();  // the last element is whole; only the array's end is missing
    if (element_bytes > 0)
      problem(name, index + 1,
              fmt::format("element {} is cut short: the file ends inside it", index + 1));
    problem(name, index + 1,
            index > 0 ? fmt::format("the JSON document ends early, not closed; the {} element{} "
                                    "before the cut were read",
                                    index, index == 1 ? "" : "s")
                      : std::string("the JSON document ends early, not closed"));
    return;
  }
  if (streamed) return;  // the streamed array's elements were the documents
  if (whole_overlong) {
    problem(name, 1,
            fmt::format("JSON document longer than the limit of {} bytes; skipped", limit));
    return;
  }
  // An object that is one event, over several lines.
  simdjson::dom::element root;
  if (auto error = parser_.parse(whole).get(root); error) {
    problem(name, 1, describe(error) + " in the JSON document; skipped");
    return;
  }
  if (!root.is_object()) {
    problem(name, 1, "not a JSON array or object");
    return;
  }
  if (emit_records(root, name, 1, on_document)) return;
  ++stats_.documents;
  on_document(root, simdjson::minify(root), 1);
}

LineRead read_bounded_line(std::istream& in, std::string& line, size_t max, uint64_t& length) {
  line.clear();
  length = 0;
  std::streambuf* buffer = in.rdbuf();
  bool any = false;
  while (true) {
    int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      if (!any) return LineRead::End;
      break;
    }
    any = true;
    if (c == '\n') break;
    if (++length <= max) line.push_back(static_cast<char>(c));
  }
  if (length <= max) return LineRead::Line;
  line.clear();
  return LineRead::TooLong;
}

LineRead read_line_head(std::istream& in, std::string& line, size_t max) {
  line.clear();
  std::streambuf* buffer = in.rdbuf();
  bool any = false;
  while (line.size() < max) {
    int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return any ? LineRead::Line : LineRead::End;
    }
    any = true;
    if (c == '\n') return LineRead::Line;
    line.push_back(static_cast<char>(c));
  }
  // Full: the line ends here only if a newline (or the end) comes next.
  int next = buffer->sgetc();
  if (next == std::char_traits<char>::eof()) return LineRead::Line;
  if (next == '\n') {
    buffer->sbumpc();
    return LineRead::Line;
  }
  return LineRead::TooLong;
}

uint64_t skip_line(std::istream& in) {
  std::streambuf* buffer = in.rdbuf();
  uint64_t skipped = 0;
  for (int c; (c = buffer->sbumpc()) != std::char_traits<char>::eof() && c != '\n';) ++skipped;
  return skipped;
}

bool starts_document(std::string_view head) {
  size_t first = head.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return false;
  if (head[first] == '[') return true;
  if (head[first] != '{') return false;
  size_t key = head.find_first_not_of(" \t\r\n", first + 1);
  return key != std::string_view::npos && head.substr(key).starts_with("\"Records\"");
}

void strip_byte_order_mark(std::string& line) {
  if (line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
}

std::string too_long(uint64_t length, size_t limit) {
  return fmt::format("line of {} bytes is longer than the limit of {} bytes; skipped", length,
                     limit);
}

}  // namespace pickaxe
