// Reads events from NDJSON or a JSON array of objects (detected from the
// first non-blank byte), one document at a time. Bad input never stops a
// run: each bad line is reported with file:line, counted, and skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include "ingest/prefilter.h"

namespace pickaxe {

struct InputProblem {
  std::string file;
  uint64_t line = 0;
  std::string message;
};

struct ReaderOptions {
  size_t max_line_bytes = 4 * 1024 * 1024;  // longer lines are reported and skipped
  // Called now and then with the bytes read so far (all inputs together).
  std::function<void(uint64_t bytes)> on_progress;
  // NDJSON lines are scanned for the prefilter's literals; with no hit (and
  // a prefilter that skips lines) they are counted, not parsed.
  std::shared_ptr<const Prefilter> prefilter;
  // Scan every input, even one whose first block shows that too few lines
  // can be skipped for the scan to pay (for tests of the prefilter).
  bool always_scan = false;
};

struct ReaderStats {
  uint64_t documents = 0;
  uint64_t malformed = 0;
  uint64_t skipped = 0;    // lines the prefilter showed no query can match
  uint64_t unscanned = 0;  // inputs whose first block showed scanning would not pay
  uint64_t bytes = 0;
};

class JsonEventReader {
 public:
  using DocumentHandler =
      std::function<void(simdjson::dom::element document, std::string_view text, uint64_t line)>;
  using ProblemHandler = std::function<void(const InputProblem&)>;

  JsonEventReader(ReaderOptions options, ProblemHandler on_problem)
      : options_(options), on_problem_(std::move(on_problem)) {}

  // Reads the whole stream, once the caller has read its first non-blank
  // line; `name` names it in problems.
  void read_from(std::istream& in, const std::string& name, const DocumentHandler& on_document,
                 std::string first_line, uint64_t first_line_number);
  // Streams a JSON document spanning lines (an array, a CloudTrail
  // {"Records": [...]} file, a search response) whose first bytes, `head`,
  // were read already: element by element, each at most max_line_bytes.
  void read_document(std::istream& in, const std::string& name, const DocumentHandler& on_document,
                     std::string head);
  // Makes reading return early, before the next document.
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }
  // Counts and reports a problem found outside the reader (by a source decoder).
  void problem(const std::string& file, uint64_t line, std::string message);
  // Counts bytes read outside the reader.
  void count_bytes(uint64_t bytes) { stats_.bytes += bytes; }
  // Adds the counts of another reader (one that read part of the same input).
  void absorb(const ReaderStats& other) {
    stats_.documents += other.documents;
    stats_.malformed += other.malformed;
    stats_.skipped += other.skipped;
    stats_.bytes += other.bytes;
  }
  // Reads NDJSON lines that are all complete; `number` is the number of the
  // line before them, and is advanced. Bytes up to `readable_end` may be read
  // past a line (simdjson's padding), and lines are parsed where they are;
  // with none, each line is copied first (text that may change while it is
  // parsed, as a mapped file cut short does, must not reach the parser).
  void read_lines(std::string_view text, uint64_t& number, const std::string& name,
                  const DocumentHandler& on_document, const char* readable_end);
  const ReaderOptions& options() const { return options_; }
  // Decides from the start of an input whether its lines are scanned for the
  // prefilter's literals (see Prefilter::Scanner::worth_scanning).
  void decide_scanning(std::string_view sample);
  bool scanning() const { return scanning_; }
  void set_scanning(bool scanning) { scanning_ = scanning; }
  // During a document callback: the prefilter's hits on the document's line,
  // or null when the line was not scanned.
  const LineHits* line_hits() const { return line_hits_; }
  const ReaderStats& stats() const { return stats_; }
  void restore_stats(const ReaderStats& stats) { stats_ = stats; }  // from a checkpoint

 private:
  bool parses(const std::string& line);
  bool emit_records(simdjson::dom::element document, const std::string& name, uint64_t line,
                    const DocumentHandler& on_document);
  void read_ndjson(std::istream& in, const std::string& name, const DocumentHandler& on_document,
                   std::string first_line, uint64_t first_line_number);
  // One NDJSON line; `padded` when SIMDJSON_PADDING bytes after it may be read.
  void read_line(std::string_view line, uint64_t number, bool padded, bool skippable,
                 const std::string& name, const DocumentHandler& on_document);

  ReaderOptions options_;
  ProblemHandler on_problem_;
  ReaderStats stats_;
  simdjson::dom::parser parser_;
  bool stopped_ = false;
  const LineHits* line_hits_ = nullptr;
  std::unique_ptr<Prefilter::Scanner> scanner_;  // with the prefilter: one scratch per reader
  bool scanning_ = true;                         // this input's lines are scanned
  std::vector<Prefilter::Scanner::Hit> hits_;
  LineHits line_;
};

enum class LineRead : uint8_t { Line, TooLong, End };
// Reads one line (without its newline). A line longer than `max` bytes is
// read to its end but not kept (TooLong, `line` empty); `length` is the
// line's length either way. End: nothing was left.
LineRead read_bounded_line(std::istream& in, std::string& line, size_t max, uint64_t& length);
// Reads a line, or only its first `max` bytes when it is longer (TooLong:
// the rest is still in the stream; skip_line() passes it, returning its size).
LineRead read_line_head(std::istream& in, std::string& line, size_t max);
uint64_t skip_line(std::istream& in);
// Whether a line that begins so (longer than a line may be) is a JSON
// document to stream: an array, or CloudTrail's {"Records": [...]}.
bool starts_document(std::string_view head);
// Drops a UTF-8 byte order mark at the start of a file's first line.
void strip_byte_order_mark(std::string& line);
// "line of N bytes is longer than the limit of M bytes; skipped"
std::string too_long(uint64_t length, size_t limit);

}  // namespace pickaxe
