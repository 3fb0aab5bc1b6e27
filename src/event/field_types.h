// Field types: the built-in ECS field set (data/ecs_fields.txt), which lint
// and the evaluator use to know that destination.ip is an ip, and so on.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pickaxe {

enum class FieldType {
  Keyword,
  Text,
  Long,
  Double,
  Boolean,
  Date,
  Ip,
  Version,
  GeoPoint,
  Flattened,
  Object,
  Other
};

FieldType field_type_from_name(std::string_view elasticsearch_type);
std::string_view field_type_name(FieldType type);
inline bool is_numeric(FieldType type) {
  return type == FieldType::Long || type == FieldType::Double;
}
inline bool is_string_like(FieldType type) {
  return type == FieldType::Keyword || type == FieldType::Text || type == FieldType::Flattened ||
         type == FieldType::Version;
}

class FieldTypes {
 public:
  // Parses `field type` lines with `%copy` reuse; errors name the line.
  static FieldTypes parse(std::string_view text, std::string* error = nullptr);
  static const FieldTypes& ecs();  // the built-in set

  std::optional<FieldType> find(std::string_view field) const;
  size_t size() const { return types_.size(); }
  void set(std::string field, FieldType type) { types_[std::move(field)] = type; }

 private:
  std::unordered_map<std::string, FieldType> types_;
};

}  // namespace pickaxe
