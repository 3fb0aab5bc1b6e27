// libFuzzer target for mappings and date formats: with an even first byte,
// the first line is a date format (Java pattern, built-in names, `||`) and
// every later line a value read with it; with an odd one, the bytes are an
// Elasticsearch mapping. Every date read must write back as ISO 8601 that
// reads as the same instant.
#include <cstdint>
#include <string>
#include <string_view>

#include "event/date_format.h"
#include "event/schema.h"

using namespace pickaxe;

namespace {

void check_round_trip(int64_t nanos) {
  if (parse_iso8601(format_iso8601(nanos)) != nanos) __builtin_trap();
}

void read_values(const DateFormat& format, std::string_view values) {
  while (!values.empty()) {
    size_t end = values.find('\n');
    std::string_view value = values.substr(0, end);
    if (auto nanos = format.read(value)) {
      check_round_trip(*nanos);
      (void)format.write(*nanos);
    }
    if (auto nanos = format.read(Scalar::of_string(std::string(value)))) check_round_trip(*nanos);
    values = end == std::string_view::npos ? std::string_view{} : values.substr(end + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    size_t end = text.find('\n');
    std::string error;
    std::optional<DateFormat> format = DateFormat::parse(text.substr(0, end), &error);
    if (!format) {
      if (error.empty()) __builtin_trap();  // a refusal says why
      return 0;
    }
    if (end != std::string_view::npos) read_values(*format, text.substr(end + 1));
    for (int64_t probe : {int64_t{0}, int64_t{-1}, int64_t{1'700'000'000'123'456'789}})
      (void)format->write(probe);
    return 0;
  }
  Schema schema(false);
  (void)schema.load_mapping(text);
  (void)schema.load_mapping(text);  // a second index with the same mapping
  for (const char* field : {"@timestamp", "a", "a.b", "event.category", "date"}) {
    (void)schema.maps_new_fields(field);
    read_values(schema.date_format(field), "2024-01-02\n1700000000000\n12-12-2022");
  }
  return 0;
}
