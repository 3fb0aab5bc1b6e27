#include "source/common.h"

#include <ctime>

#include <fmt/format.h>

namespace pickaxe::source {

bool has(simdjson::dom::element element, std::string_view key) {
  simdjson::dom::element value;
  return element.is_object() && element[key].get(value) == simdjson::SUCCESS;
}

std::string_view text(simdjson::dom::element element, std::string_view key) {
  std::string_view value;
  if (element.is_object() && element[key].get_string().get(value) == simdjson::SUCCESS)
    return value;
  return {};
}

void maybe(JsonWriter& json, std::string_view key, std::string_view value) {
  if (!value.empty()) json.key(key).value(value);
}

void close_event(JsonWriter& json, std::string_view dataset, std::string_view module) {
  json.key("dataset").value(dataset).key("module").value(module).end_object();
  json.key("data_stream").begin_object().key("type").value("logs").key("dataset").value(dataset);
  json.key("namespace").value("default").end_object();
}

std::string valid_utf8(std::string_view bytes) {
  if (simdjson::validate_utf8(bytes.data(), bytes.size())) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t i = 0;
  while (i < bytes.size()) {
    auto byte = static_cast<unsigned char>(bytes[i]);
    size_t length = byte < 0x80           ? 1
                    : (byte >> 5) == 0x6  ? 2
                    : (byte >> 4) == 0xE  ? 3
                    : (byte >> 3) == 0x1E ? 4
                                          : 0;
    if (length > 0 && i + length <= bytes.size() &&
        simdjson::validate_utf8(bytes.data() + i, length)) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string format_timestamp(int64_t nanos) {
  int64_t seconds = nanos / 1'000'000'000;
  int64_t fraction = nanos % 1'000'000'000;
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  std::time_t whole = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  std::string digits = fraction % 1'000'000 == 0 ? fmt::format("{:03}", fraction / 1'000'000)
                                                 : fmt::format("{:09}", fraction);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, digits);
}

}  // namespace pickaxe::source
