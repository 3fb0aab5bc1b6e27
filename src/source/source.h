// Source decoders: raw records of other formats turned into the ECS documents
// Elastic's integrations would index, so that rules match them unchanged.
// JSON sources are decoded record by record; line-oriented sources (auditd,
// Sysmon for Linux syslog) through a TextDecoder that may join lines.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace pickaxe {

enum class SourceKind { Auto, Ecs, CloudTrail, Docker, Auditd, Sysmon };

// auto, ecs, cloudtrail, docker, auditd, sysmon
std::optional<SourceKind> source_kind_from_name(std::string_view name);
std::string_view source_kind_name(SourceKind kind);

// What a JSON record looks like: CloudTrail, a Docker event, Sysmon (an
// Elastic Agent winlog document or a syslog row with the Sysmon XML), or ECS.
SourceKind detect_source(simdjson::dom::element record);

// The line-oriented source a line of text belongs to: Auditd, Sysmon, or
// nullopt when the line says nothing (JSON, or text of no known format).
std::optional<SourceKind> detect_text_source(std::string_view line);

// Writes the ECS document for one JSON record of `kind` into `out`. Returns
// false, with the reason, when the record cannot be decoded.
bool decode_record(SourceKind kind, simdjson::dom::element record, std::string& out,
                   std::string& error);

// A decoder of a line-oriented source. Lines go in one at a time; ECS
// documents come out through `emit` once complete, which may be several lines
// later (auditd joins the records of one event). Each problem names a line.
class TextDecoder {
 public:
  using Emit = std::function<void(std::string ecs, uint64_t line)>;
  // `skipped`: the line's record or event was dropped (else it was kept as written).
  using Problem = std::function<void(uint64_t line, std::string message, bool skipped)>;

  virtual ~TextDecoder() = default;
  virtual void add_line(std::string_view text, uint64_t number) = 0;
  // Emits whatever is still pending at the end of the input.
  virtual void finish() = 0;
  // Records decoded with a value kept as written (bad hex, a missing EOE...):
  // reported as problems, yet their events are still emitted.
  virtual uint64_t flawed() const = 0;
  // Events completed without their end record (auditd's EOE).
  virtual uint64_t without_end() const { return 0; }
  // Lines of the source that carry no event (Sysmon's start-up banner).
  virtual uint64_t without_event() const { return 0; }
  // Whether an event is open, waiting for more lines (auditd).
  virtual bool open_event() const { return false; }
  // The decoder's state (open events, counts), for a checkpoint; load()
  // reads it into a decoder that has read nothing, false when it cannot.
  virtual void save(std::string& out) const = 0;
  virtual bool load(std::string_view in) = 0;
};

// A decoder for `kind` (Auditd or Sysmon); nullptr for JSON sources.
std::unique_ptr<TextDecoder> make_text_decoder(SourceKind kind, TextDecoder::Emit emit,
                                               TextDecoder::Problem problem);

}  // namespace pickaxe
