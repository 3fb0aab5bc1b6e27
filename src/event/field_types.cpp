#include "event/field_types.h"

#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace pickaxe {

extern const std::string_view kEcsFieldsText;

FieldType field_type_from_name(std::string_view name) {
  if (name == "version") return FieldType::Version;
  if (name == "keyword" || name == "wildcard" || name == "constant_keyword")
    return FieldType::Keyword;
  if (name == "text" || name == "match_only_text") return FieldType::Text;
  if (name == "long" || name == "integer" || name == "short" || name == "byte" ||
      name == "unsigned_long")
    return FieldType::Long;
  if (name == "double" || name == "float" || name == "half_float" || name == "scaled_float")
    return FieldType::Double;
  if (name == "boolean") return FieldType::Boolean;
  if (name == "date" || name == "date_nanos") return FieldType::Date;
  if (name == "ip") return FieldType::Ip;
  if (name == "geo_point") return FieldType::GeoPoint;
  if (name == "flattened") return FieldType::Flattened;
  if (name == "object" || name == "nested") return FieldType::Object;
  return FieldType::Other;
}

std::string_view field_type_name(FieldType type) {
  switch (type) {
    case FieldType::Keyword: return "keyword";
    case FieldType::Text: return "text";
    case FieldType::Long: return "long";
    case FieldType::Double: return "double";
    case FieldType::Boolean: return "boolean";
    case FieldType::Date: return "date";
    case FieldType::Ip: return "ip";
    case FieldType::Version: return "version";
    case FieldType::GeoPoint: return "geo_point";
    case FieldType::Flattened: return "flattened";
    case FieldType::Object: return "object";
    case FieldType::Other: return "other";
  }
  return "other";
}

FieldTypes FieldTypes::parse(std::string_view text, std::string* error) {
  FieldTypes result;
  std::vector<std::pair<std::string, FieldType>> ordered;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream words(line);
    std::string first;
    if (!(words >> first) || first[0] == '#') continue;
    if (first == "%copy") {
      std::string from;
      words >> from;
      std::vector<std::pair<std::string, FieldType>> originals;
      for (const auto& [field, type] : ordered) {
        if (field.starts_with(from + ".")) originals.emplace_back(field.substr(from.size()), type);
      }
      std::string to;
      while (words >> to) {
        for (const auto& [suffix, type] : originals) ordered.emplace_back(to + suffix, type);
      }
      continue;
    }
    std::string type;
    if (!(words >> type)) {
      if (error && error->empty()) *error = fmt::format("line {}: expected `field type`", number);
      continue;
    }
    ordered.emplace_back(first, field_type_from_name(type));
  }
  for (auto& [field, type] : ordered) result.types_[field] = type;
  return result;
}

const FieldTypes& FieldTypes::ecs() {
  static const FieldTypes types = parse(kEcsFieldsText);
  return types;
}

std::optional<FieldType> FieldTypes::find(std::string_view field) const {
  auto it = types_.find(std::string(field));
  if (it != types_.end()) return it->second;
  // A key inside a flattened field is a keyword, as Elasticsearch indexes it.
  for (size_t dot = field.rfind('.'); dot != std::string_view::npos && dot > 0;
       dot = field.rfind('.', dot - 1)) {
    auto parent = types_.find(std::string(field.substr(0, dot)));
    if (parent != types_.end())
      return parent->second == FieldType::Flattened ? std::optional(FieldType::Keyword)
                                                    : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace pickaxe
