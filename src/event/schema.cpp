#include "event/schema.h"

#include <charconv>
#include <sstream>

#include <simdjson.h>

namespace pickaxe {

namespace {

std::string strip_comment_lines(std::string_view text) {
  std::string out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '#') continue;
    out += line;
    out += '\n';
  }
  return out;
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

std::string Schema::load_mapping(std::string_view json) {
  std::string text = strip_comment_lines(json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text).get(root); error) return simdjson::error_message(error);
  simdjson::dom::element properties;
  if (root["mappings"]["properties"].get(properties) != simdjson::SUCCESS &&
      root["properties"].get(properties) != simdjson::SUCCESS)
    return "no \"properties\" object in the mapping";
  authoritative_ = true;

  // Walks properties (and multi-field `fields`) with an explicit stack.
  std::vector<std::pair<std::string, simdjson::dom::object>> stack;
  stack.emplace_back("", properties.get_object().value());
  while (!stack.empty()) {
    auto [prefix, object] = stack.back();
    stack.pop_back();
    for (auto [key, definition] : object) {
      if (!definition.is_object()) continue;
      std::string path = prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
      std::string_view type;
      if (definition["type"].get_string().get(type) == simdjson::SUCCESS) {
        if (type == "alias") {
          std::string_view target;
          if (definition["path"].get_string().get(target) == simdjson::SUCCESS)
            aliases_[path] = std::string(target);
        } else {
          // Placeholders such as "[runtime_random_keyword_type]" stand for a keyword type.
          types_.set(path, type.starts_with("[") ? FieldType::Keyword : field_type_from_name(type));
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
  return {};
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

namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_digits(std::string_view text, size_t& pos, size_t count, int64_t& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += count;
  return true;
}

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Epoch milliseconds, possibly with a fraction ("1.5" ms).
  bool numeric = text.find_first_not_of("0123456789.-") == std::string_view::npos;
  if (numeric && text.find('-', 1) == std::string_view::npos) {
    size_t dot = text.find('.');
    int64_t millis = 0;
    auto [end, error] = std::from_chars(
        text.data(), text.data() + (dot == std::string_view::npos ? text.size() : dot), millis);
    if (error != std::errc()) return std::nullopt;
    int64_t nanos = 0;
    if (dot != std::string_view::npos) {
      std::string_view fraction = text.substr(dot + 1, 6);
      for (size_t i = 0; i < 6; ++i)
        nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
      if (millis < 0) nanos = -nanos;
    }
    int64_t result;
    if (__builtin_mul_overflow(millis, int64_t{1'000'000}, &result) ||
        __builtin_add_overflow(result, nanos, &result))
      return std::nullopt;
    return result;
  }
  size_t pos = 0;
  int64_t year, month, day, hour = 0, minute = 0, second = 0, nanos = 0;
  if (!read_digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
    ++pos;
    if (!read_digits(text, pos, 2, hour)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!read_digits(text, pos, 2, minute)) return std::nullopt;
      if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (!read_digits(text, pos, 2, second)) return std::nullopt;
        if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
          ++pos;
          int digits = 0;
          while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
            ++digits;
            ++pos;
          }
          if (digits == 0) return std::nullopt;
          for (int i = digits; i < 9; ++i) nanos *= 10;
        }
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  }
  int64_t offset_seconds = 0;
  if (pos < text.size()) {
    char sign = text[pos];
    if (sign == 'Z' || sign == 'z') {
      ++pos;
    } else if (sign == '+' || sign == '-') {
      ++pos;
      int64_t offset_hours = 0, offset_minutes = 0;
      if (!read_digits(text, pos, 2, offset_hours)) return std::nullopt;
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (pos < text.size() && !read_digits(text, pos, 2, offset_minutes)) return std::nullopt;
      offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (sign == '-' ? -1 : 1);
    }
  }
  if (pos != text.size()) return std::nullopt;
  int64_t seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_seconds;
  int64_t result;
  if (__builtin_mul_overflow(seconds, int64_t{1'000'000'000}, &result) ||
      __builtin_add_overflow(result, nanos, &result))
    return std::nullopt;  // outside 1677-2262, the range of nanosecond timestamps
  return result;
}

std::optional<int64_t> millis_to_nanos(const Scalar& value) {
  if (value.type == Scalar::Type::Long) {
    int64_t result;
    if (__builtin_mul_overflow(value.integer, int64_t{1'000'000}, &result)) return std::nullopt;
    return result;
  }
  if (value.type == Scalar::Type::Double) {
    double nanos = value.number * 1e6;
    if (!(nanos > -9.2e18 && nanos < 9.2e18)) return std::nullopt;  // also rejects NaN
    return static_cast<int64_t>(nanos);
  }
  if (value.type == Scalar::Type::String) return parse_timestamp(value.string);
  return std::nullopt;
}

}  // namespace pickaxe
