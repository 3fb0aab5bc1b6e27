// What pickaxe knows about fields: their types (the built-in ECS set, plus an
// optional Elasticsearch index mapping), alias fields and null_value defaults.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "event/value.h"
#include "lint/field_types.h"

namespace pickaxe {

class Schema {
 public:
  Schema() : types_(FieldTypes::ecs()) {}

  // Reads an Elasticsearch mapping (`{"properties": ...}` or `{"mappings": ...}`;
  // lines starting with '#' are comments). Returns an error message, or "".
  std::string load_mapping(std::string_view json);

  // Follows alias fields to the field that holds the data.
  std::string resolve(std::string_view field) const;
  std::optional<FieldType> type(std::string_view field) const { return types_.find(resolve(field)); }
  const Scalar* null_value(std::string_view field) const;
  bool mapped(std::string_view field) const { return type(field).has_value(); }

 private:
  FieldTypes types_;
  std::unordered_map<std::string, std::string> aliases_;
  std::unordered_map<std::string, Scalar> null_values_;
};

// Parses ISO 8601 ("2020-01-01", "...T10:00:00.123456789Z", "+02:00" offsets)
// or epoch milliseconds ("1580000000000") into nanoseconds since the epoch.
std::optional<int64_t> parse_timestamp(std::string_view text);

}  // namespace pickaxe
