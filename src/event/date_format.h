// Date formats as an Elasticsearch mapping gives them (`"format": ...`):
// built-in names (strict_date_optional_time, epoch_millis, epoch_second,
// date_time, basic_date, ...), Java DateTimeFormatter patterns such as
// `dd-MM-yyyy` or `yyyy-MM-dd'T'HH:mm:ss.SSSXXX`, and `||` alternatives,
// tried in order. Without a format a date field reads
// `strict_date_optional_time||epoch_millis`, Elasticsearch's default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/value.h"

namespace pickaxe {

class DateFormat {
 public:
  // Elasticsearch's default: strict_date_optional_time||epoch_millis.
  DateFormat();
  // Parses a mapping's format; nullopt with `error` set when a part of it is
  // no format pickaxe reads (the error names the part).
  static std::optional<DateFormat> parse(std::string_view spec, std::string* error);
  static const DateFormat& standard();

  // The value as nanoseconds since the epoch, by the first alternative that
  // reads it. A number is read as its digits, as Elasticsearch does.
  std::optional<int64_t> read(const Scalar& value) const;
  std::optional<int64_t> read(std::string_view text) const;
  // The time written in the first alternative (as Elasticsearch renders a
  // date field's values). Epoch formats write a number as text.
  std::string write(int64_t nanos) const;
  // Adds `other`'s alternatives after this one's (a field that two indices
  // map with different formats); duplicates are left out.
  void merge(const DateFormat& other);
  const std::string& spec() const { return spec_; }
  bool operator==(const DateFormat& other) const { return spec_ == other.spec_; }

  // One element of a pattern: a field of so many letters, or literal text.
  struct Element {
    char letter = 0;    // 0: literal text; '[' and ']': optional section bounds
    int count = 0;      // pattern letters (yyyy: 4)
    int min_width = 0;  // digits read for numeric fields
    int max_width = 0;
    std::string text;  // the literal
  };
  enum class Kind : uint8_t { Iso, EpochMillis, EpochSecond, Pattern };
  struct Alternative {
    Kind kind = Kind::Iso;
    std::string name;               // as written in the mapping
    std::vector<Element> elements;  // Pattern
  };

 private:
  std::vector<Alternative> alternatives_;
  std::string spec_;
};

// Reads ISO 8601 as strict_date_optional_time does: a date, optionally a time
// at any precision and an offset. Nullopt when it is not one, or not a valid
// calendar date and time.
std::optional<int64_t> parse_iso8601(std::string_view text);
// Reads epoch milliseconds ("1580000000000", "-5", "1.5"); nullopt otherwise.
std::optional<int64_t> parse_epoch(std::string_view text, int64_t nanos_per_unit);
// Writes nanoseconds since the epoch as ISO 8601 UTC with milliseconds
// (`2024-01-02T03:04:05.678Z`), with more digits only when they are not zero.
std::string format_iso8601(int64_t nanos);

}  // namespace pickaxe
