#include "event/schema.h"

#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

namespace pickaxe {

namespace {

// Comment lines are blanked, so that lines keep their numbers.
std::string strip_comment_lines(std::string_view text) {
  std::string out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] != '#') out += line;
    out += '\n';
  }
  return out;
}

// Where JSON that simdjson rejected goes wrong: yaml-cpp, whose flow syntax
// JSON is, names the line and column. "" when it does not find the place.
std::string error_place(const std::string& text) {
  try {
    (void)YAML::Load(text);
  } catch (const YAML::Exception& error) {
    if (error.mark.line >= 0)
      return fmt::format("line {}, column {}: ", error.mark.line + 1, error.mark.column + 1);
  }
  return {};
}

std::optional<Scalar> scalar_of(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::STRING:
      return Scalar::of_string(std::string(value.get_string().value()));
    case simdjson::dom::element_type::INT64: return Scalar::of_long(value.get_int64().value());
    case simdjson::dom::element_type::UINT64:
      return Scalar::of_double(static_cast<double>(value.get_uint64().value()));
    case simdjson::dom::element_type::DOUBLE: return Scalar::of_double(value.get_double().value());
    case simdjson::dom::element_type::BOOL: return Scalar::of_bool(value.get_bool().value());
    default: return std::nullopt;
  }
}

}  // namespace

namespace {

// Fields of one type family search alike across indices (keyword, wildcard
// and constant_keyword all read as keyword here).
bool same_family(FieldType a, FieldType b) {
  auto family = [](FieldType type) {
    return type == FieldType::Text || type == FieldType::Keyword ? FieldType::Keyword : type;
  };
  return family(a) == family(b);
}

}  // namespace

std::string Schema::load_mapping(std::string_view json) {
  std::string text = strip_comment_lines(json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text).get(root); error)
    return error_place(text) + simdjson::error_message(error);
  simdjson::dom::element properties;
  simdjson::dom::element mappings = root;
  if (root["mappings"].get(mappings) != simdjson::SUCCESS) mappings = root;
  if (mappings["properties"].get(properties) != simdjson::SUCCESS || !properties.is_object())
    return "no \"properties\" object in the mapping";
  authoritative_ = true;
  std::vector<std::string> problems;
  // Object paths where this mapping's `dynamic` says whether new fields are mapped.
  std::unordered_map<std::string, bool> dynamic;
  auto read_dynamic = [&](const std::string& path, simdjson::dom::element definition) {
    simdjson::dom::element setting;
    if (definition["dynamic"].get(setting) != simdjson::SUCCESS) return;
    std::string_view word;
    bool flag = true;
    if (setting.get_string().get(word) == simdjson::SUCCESS) {
      if (word != "true" && word != "false" && word != "strict" && word != "runtime")
        problems.push_back(
            fmt::format("\"dynamic\" of {} is \"{}\"; it is true, false, strict "
                        "or runtime",
                        path.empty() ? "the mapping" : path, word));
      dynamic[path] = word == "true" || word == "runtime";
    } else if (setting.get_bool().get(flag) == simdjson::SUCCESS) {
      dynamic[path] = flag;
    }
  };
  read_dynamic("", mappings);

  // Walks properties (and multi-field `fields`) with an explicit stack.
  std::vector<std::pair<std::string, simdjson::dom::object>> stack;
  stack.emplace_back("", properties.get_object().value());
  while (!stack.empty()) {
    auto [prefix, object] = stack.back();
    stack.pop_back();
    for (auto [key, definition] : object) {
      if (!definition.is_object()) continue;
      std::string path = prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
      read_dynamic(path, definition);
      std::string_view type;
      if (definition["type"].get_string().get(type) == simdjson::SUCCESS) {
        if (type == "alias") {
          std::string_view target;
          if (definition["path"].get_string().get(target) == simdjson::SUCCESS)
            aliases_[path] = std::string(target);
        } else {
          // Placeholders such as "[runtime_random_keyword_type]" stand for a keyword type.
          FieldType field_type =
              type.starts_with("[") ? FieldType::Keyword : field_type_from_name(type);
          if (auto it = from_mappings_.find(path);
              it != from_mappings_.end() && !same_family(it->second, field_type)) {
            problems.push_back(fmt::format(
                "{} is {} in one mapping and {} in another; a field searched across indices "
                "needs one type",
                path, field_type_name(it->second), field_type_name(field_type)));
          }
          from_mappings_[path] = field_type;
          types_.set(path, field_type);
          if (field_type == FieldType::Date) {
            // Each index's format (the default when it names none), all tried.
            std::string_view spec;
            std::optional<DateFormat> format = DateFormat::standard();
            std::string error;
            if (definition["format"].get_string().get(spec) == simdjson::SUCCESS)
              format = DateFormat::parse(spec, &error);
            if (format) {
              auto [it, fresh] = date_formats_.emplace(path, *format);
              if (!fresh) it->second.merge(*format);
            } else {
              problems.push_back(fmt::format("{}: {}", path, error));
            }
          }
        }
      }
      simdjson::dom::element null_value;
      if (definition["null_value"].get(null_value) == simdjson::SUCCESS) {
        if (auto scalar = scalar_of(null_value)) null_values_[path] = *scalar;
      }
      simdjson::dom::object children;
      if (definition["properties"].get_object().get(children) == simdjson::SUCCESS)
        stack.emplace_back(path, children);
      if (definition["fields"].get_object().get(children) == simdjson::SUCCESS)
        stack.emplace_back(path, children);
    }
  }
  dynamic_by_mapping_.push_back(std::move(dynamic));
  std::string joined;
  for (const std::string& problem : problems) joined += (joined.empty() ? "" : "; ") + problem;
  return joined;
}

bool Schema::in_mappings(std::string_view field) const {
  if (aliases_.contains(std::string(field))) return true;
  return from_mappings_.contains(resolve(field));
}

bool Schema::maps_new_fields(std::string_view field) const {
  if (dynamic_by_mapping_.empty()) return true;
  // As in Elasticsearch: the nearest object that says, else the mapping's root, else true.
  for (const auto& dynamic : dynamic_by_mapping_) {
    std::string path(field);
    bool open = true;
    while (true) {
      size_t dot = path.rfind('.');
      path = dot == std::string::npos ? std::string() : path.substr(0, dot);
      if (auto it = dynamic.find(path); it != dynamic.end()) {
        open = it->second;
        break;
      }
      if (path.empty()) break;
    }
    if (open) return true;  // a field new to one index of several is mapped there
  }
  return false;
}

const DateFormat& Schema::date_format(std::string_view field) const {
  auto it = date_formats_.find(resolve(field));
  return it == date_formats_.end() ? DateFormat::standard() : it->second;
}

void Schema::add_dynamic_fields(simdjson::dom::element document) {
  std::vector<std::pair<std::string, simdjson::dom::element>> stack{{"", document}};
  while (!stack.empty()) {
    auto [path, element] = stack.back();
    stack.pop_back();
    switch (element.type()) {
      case simdjson::dom::element_type::OBJECT:
        for (auto [key, value] : simdjson::dom::object(element)) {
          stack.emplace_back(path.empty() ? std::string(key) : path + "." + std::string(key),
                             value);
        }
        break;
      case simdjson::dom::element_type::ARRAY:
        for (simdjson::dom::element item : simdjson::dom::array(element))
          stack.emplace_back(path, item);
        break;
      case simdjson::dom::element_type::NULL_VALUE: break;
      default: {
        if (path.empty() || types_.find(resolve(path))) break;
        FieldType type = element.is_string() ? FieldType::Keyword
                         : element.is_bool() ? FieldType::Boolean
                         : element.type() == simdjson::dom::element_type::DOUBLE ? FieldType::Double
                                                                                 : FieldType::Long;
        types_.set(path, type);
      }
    }
  }
}

std::string Schema::resolve(std::string_view field) const {
  std::string current(field);
  for (int hops = 0; hops < 8; ++hops) {
    auto it = aliases_.find(current);
    if (it == aliases_.end()) break;
    current = it->second;
  }
  return current;
}

const Scalar* Schema::null_value(std::string_view field) const {
  auto it = null_values_.find(std::string(field));
  return it == null_values_.end() ? nullptr : &it->second;
}

std::optional<int64_t> parse_timestamp(std::string_view text) {
  return DateFormat::standard().read(text);
}

std::optional<int64_t> millis_to_nanos(const Scalar& value) {
  return DateFormat::standard().read(value);
}

}  // namespace pickaxe
