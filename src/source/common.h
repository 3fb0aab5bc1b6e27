// Helpers the decoders share: reading simdjson objects and closing the ECS
// `event` object with the data stream Elastic would index the document in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "util/json_writer.h"

namespace pickaxe::source {

bool has(simdjson::dom::element element, std::string_view key);
// The string at `key`, or "" when it is missing or not a string.
std::string_view text(simdjson::dom::element element, std::string_view key);
// Writes key: value only when the value is not empty.
void maybe(JsonWriter& json, std::string_view key, std::string_view value);
// Closes the `event` object with dataset and module, then writes data_stream.
void close_event(JsonWriter& json, std::string_view dataset, std::string_view module);
// The text as valid UTF-8: invalid bytes become U+FFFD, so that decoded raw
// bytes (hex-encoded audit values) always make a parsable JSON document.
std::string valid_utf8(std::string_view bytes);
// Nanoseconds since the epoch as an RFC 3339 UTC timestamp: milliseconds, or
// nanoseconds when there are any below the millisecond.
std::string format_timestamp(int64_t nanos);

}  // namespace pickaxe::source
