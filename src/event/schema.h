// What pickaxe knows about fields: their types (the built-in ECS set, plus an
// optional Elasticsearch index mapping), alias fields and null_value defaults.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "event/date_format.h"
#include "event/value.h"
#include "event/field_types.h"

namespace pickaxe {

class Schema {
 public:
  // Starts from the built-in ECS field set, or from nothing.
  explicit Schema(bool with_ecs = true) : types_(with_ecs ? FieldTypes::ecs() : FieldTypes()) {}

  // Reads an Elasticsearch mapping (`{"properties": ...}` or `{"mappings": ...}`;
  // lines starting with '#' are comments). Returns an error message, or "".
  // Several mappings (indices searched together) add up: a date field's
  // formats are all tried; a field of two type families is an error.
  std::string load_mapping(std::string_view json);

  // Follows alias fields to the field that holds the data.
  std::string resolve(std::string_view field) const;
  // Maps, as Elasticsearch's dynamic mapping does, the fields of a document
  // that the mapping does not know yet.
  void add_dynamic_fields(simdjson::dom::element document);
  std::optional<FieldType> type(std::string_view field) const {
    return types_.find(resolve(field));
  }
  const Scalar* null_value(std::string_view field) const;
  bool mapped(std::string_view field) const { return type(field).has_value(); }
  // True once a mapping was loaded.
  bool authoritative() const { return authoritative_; }
  // Whether a field no mapping names is still read from events: true unless
  // every mapping's `dynamic` (at the nearest object that sets it) is false
  // or strict. Elasticsearch maps such fields as they first appear.
  bool maps_new_fields(std::string_view field) const;
  // Whether a loaded mapping names the field (the built-in ECS types aside).
  bool in_mappings(std::string_view field) const;
  // The format a date field is read with (the default when the mapping gives none).
  const DateFormat& date_format(std::string_view field) const;

 private:
  FieldTypes types_;
  std::unordered_map<std::string, std::string> aliases_;
  std::unordered_map<std::string, Scalar> null_values_;
  std::unordered_map<std::string, FieldType> from_mappings_;  // types the mappings gave
  std::unordered_map<std::string, DateFormat> date_formats_;
  std::vector<std::unordered_map<std::string, bool>> dynamic_by_mapping_;  // object -> open
  bool authoritative_ = false;
};

// Parses a date in the default format, ISO 8601 ("2020-01-01",
// "...T10:00:00.123456789Z", "+02:00" offsets) or epoch milliseconds
// ("1580000000000"), into nanoseconds since the epoch.
std::optional<int64_t> parse_timestamp(std::string_view text);

// A date value in the default format: a number is epoch milliseconds, a
// string is parsed as above. Nullopt when it is no date or out of range.
std::optional<int64_t> millis_to_nanos(const Scalar& value);

}  // namespace pickaxe
