#include "source/common.h"

#include <fmt/format.h>

#include "event/date_format.h"

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
  return format_iso8601(nanos);
}

}  // namespace pickaxe::source
