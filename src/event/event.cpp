#include "event/event.h"

#include <charconv>
#include <cmath>

namespace pickaxe {

uint32_t FieldIndex::add(const std::string& path) {
  if (auto existing = slot(path)) return *existing;
  uint32_t slot = static_cast<uint32_t>(paths_.size());
  paths_.push_back(path);
  slots_.emplace(path, slot);
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1))
    prefixes_.insert(path.substr(0, dot));
  return slot;
}

std::optional<uint32_t> FieldIndex::slot(std::string_view path) const {
  auto it = slots_.find(std::string(path));
  if (it == slots_.end()) return std::nullopt;
  return it->second;
}

namespace {

Scalar coerce(Scalar value, std::optional<FieldType> type) {
  if (!type) return value;
  if ((*type == FieldType::Keyword || *type == FieldType::Text) && value.is_number()) {
    return Scalar::of_string(value.to_string());
  }
  if ((*type == FieldType::Long || *type == FieldType::Double) &&
      value.type == Scalar::Type::String) {
    const std::string& text = value.string;
    int64_t integer = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
    if (error == std::errc() && end == text.data() + text.size()) return Scalar::of_long(integer);
    double number = 0;
    auto [end2, error2] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error2 == std::errc() && end2 == text.data() + text.size())
      return Scalar::of_double(number);
  }
  return value;
}

class Extractor {
 public:
  Extractor(const FieldIndex& index, const Schema& schema, Event& event)
      : index_(index), schema_(schema), event_(event) {
    event_.fields.assign(index.size(), Values{});
  }

  void visit(simdjson::dom::element element, const std::string& path) {
    using simdjson::dom::element_type;
    switch (element.type()) {
      case element_type::OBJECT: {
        simdjson::dom::object object = element.get_object().value_unsafe();
        for (auto [key, value] : object) {
          std::string child = path.empty() ? std::string(key) : path + "." + std::string(key);
          if (index_.slot(child) || index_.is_prefix(child)) visit(value, child);
        }
        return;
      }
      case element_type::ARRAY: {
        simdjson::dom::array array = element.get_array().value_unsafe();
        for (simdjson::dom::element item : array) visit(item, path);
        return;
      }
      default: break;
    }
    auto slot = index_.slot(path);
    if (!slot) return;
    Scalar value;
    switch (element.type()) {
      case element_type::STRING:
        value = Scalar::of_string(std::string(element.get_string().value()));
        break;
      case element_type::INT64: value = Scalar::of_long(element.get_int64().value()); break;
      case element_type::UINT64:
        value = Scalar::of_double(static_cast<double>(element.get_uint64().value()));
        break;
      case element_type::DOUBLE: value = Scalar::of_double(element.get_double().value()); break;
      case element_type::BOOL: value = Scalar::of_bool(element.get_bool().value()); break;
      case element_type::NULL_VALUE:
        if (const Scalar* null_value = schema_.null_value(path))
          event_.fields[*slot].push_back(*null_value);
        return;
      default: return;
    }
    event_.fields[*slot].push_back(coerce(std::move(value), schema_.type(path)));
  }

 private:
  const FieldIndex& index_;
  const Schema& schema_;
  Event& event_;
};

}  // namespace

void extract_fields(simdjson::dom::element document, const FieldIndex& index, const Schema& schema,
                    Event& event) {
  Extractor extractor(index, schema, event);
  extractor.visit(document, "");
}

}  // namespace pickaxe
