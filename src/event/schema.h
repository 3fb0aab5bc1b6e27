// What pickaxe knows about fields: their types (the built-in ECS set, plus an
// optional Elasticsearch index mapping), alias fields and null_value defaults.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <simdjson.h>

#include "event/value.h"
#include "lint/field_types.h"

namespace pickaxe {

class Schema {
 public:
  // Starts from the built-in ECS field set, or from nothing.
  explicit Schema(bool with_ecs = true) : types_(with_ecs ? FieldTypes::ecs() : FieldTypes()) {}

  // Reads an Elasticsearch mapping (`{"properties": ...}` or `{"mappings": ...}`;
  // lines starting with '#' are comments). Returns an error message, or "".
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
  // True once a mapping was loaded: then, as in Elasticsearch, an optional
  // field the mapping does not know reads as null.
  bool authoritative() const { return authoritative_; }

 private:
  FieldTypes types_;
  std::unordered_map<std::string, std::string> aliases_;
  std::unordered_map<std::string, Scalar> null_values_;
  bool authoritative_ = false;
};

// Parses ISO 8601 ("2020-01-01", "...T10:00:00.123456789Z", "+02:00" offsets)
// or epoch milliseconds ("1580000000000") into nanoseconds since the epoch.
std::optional<int64_t> parse_timestamp(std::string_view text);

// A date value as Elasticsearch reads it: a number is epoch milliseconds, a
// string is parsed as above. Nullopt when it is no date or out of range.
std::optional<int64_t> millis_to_nanos(const Scalar& value);

}  // namespace pickaxe
