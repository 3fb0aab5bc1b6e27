// Events of inputs read as they grow, decoded to ECS documents but not
// matched: what `pickaxe ship` publishes. Inputs are read as `watch` reads
// them: NDJSON (ECS, or CloudTrail, Docker and Sysmon records, decoded), or
// auditd and Sysmon syslog lines, decided by each input's first line.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <string_view>

#include "ingest/reader.h"
#include "source/live_input.h"

namespace pickaxe {

struct DocumentStats {
  uint64_t events = 0;     // documents emitted
  uint64_t malformed = 0;  // lines that are not JSON objects, too long, or undecodable records
  uint64_t flawed = 0;     // records decoded with a value kept as written
  uint64_t bytes = 0;
};

class DocumentReader {
 public:
  // An ECS document; `line` is the input's line that completed it, and
  // `index` tells apart documents of one line (CloudTrail's Records).
  using Emit =
      std::function<void(std::string_view ecs, uint64_t line, uint32_t index, SourceKind source)>;

  DocumentReader(SourceKind source, size_t max_line_bytes, Emit emit,
                 JsonEventReader::ProblemHandler on_problem);

  // Reads a whole input (a file, read once): NDJSON, a JSON array or
  // document (CloudTrail's {"Records": [...]}, pretty-printed or not), or
  // text lines.
  void read(std::istream& in, const std::string& name);
  // Reads what a growing input gained: JSON is NDJSON here (one event per line).
  void feed(LiveInput& input, std::string_view bytes);
  // The input is quiet: an event a text decoder holds open goes on.
  void settle(LiveInput& input);
  // The input ended: a partial last line is read as a line, open events go on.
  void end(LiveInput& input);
  // Sets how the input is read (a checkpoint's): false when the state is damaged.
  bool restore(LiveInput& input, SourceKind kind, std::string_view decoder);
  DocumentStats stats() const;

 private:
  void read_lines(LiveInput& input, std::string_view text);
  // One JSON document of an input: ECS as it is, other sources decoded.
  void document(simdjson::dom::element document, std::string_view text, uint64_t line,
                const std::string& name, const void* input);
  std::unique_ptr<TextDecoder> text_decoder(SourceKind kind, const std::string* name);
  // The text source an input whose first non-blank line is `first` is read as.
  std::optional<SourceKind> text_source_of(std::string_view first) const;
  void problem(const std::string& name, uint64_t line, std::string message);

  SourceKind source_;
  size_t max_line_bytes_;
  Emit emit_;
  JsonEventReader::ProblemHandler on_problem_;
  JsonEventReader reader_;
  DocumentStats stats_;
  std::string decoded_;
  // Documents of one line (Records) are numbered.
  uint64_t last_line_ = 0;
  uint32_t index_in_line_ = 0;
  const void* last_input_ = nullptr;
};

}  // namespace pickaxe
