// Shared body of the source-decoder fuzz targets: arbitrary bytes read as one
// source, forced with --source. Every document a decoder writes must be valid
// JSON, and every event must reach the engine or be counted as rejected.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include <simdjson.h>

#include "correlate/stream.h"
#include "eql/parser.h"
#include "source/source.h"

namespace pickaxe::fuzz {

inline void check_decoded(std::string_view ecs) {
  static simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(ecs.data(), ecs.size()).get(document) || !document.is_object()) __builtin_trap();
}

inline int fuzz_source(SourceKind kind, const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // The decoder alone: each document it writes must parse.
  if (auto decoder = make_text_decoder(
          kind, [](std::string ecs, uint64_t) { check_decoded(ecs); },
          [](uint64_t, std::string, bool) {})) {
    std::istringstream lines(text);
    uint64_t number = 0;
    for (std::string line; std::getline(lines, line);) decoder->add_line(line, ++number);
    decoder->finish();
  } else {
    static simdjson::dom::parser parser;
    simdjson::dom::element record;
    if (!parser.parse(text).get(record)) {
      std::string out, error;
      if (decode_record(kind, record, out, error)) check_decoded(out);
    }
  }
  // The whole stream, with the source forced.
  auto source = std::make_shared<SourceFile>("q", "any where true");
  Diagnostics diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
  Schema schema;
  QueryEngine engine(set.alternatives[0], schema, EngineOptions{});
  StreamOptions options;
  options.source = kind;
  options.reader.max_line_bytes = 4096;
  QueryStream stream(engine, schema, options, nullptr);
  std::istringstream in(text);
  stream.read(in, "fuzz");
  stream.finish();
  return 0;
}

}  // namespace pickaxe::fuzz
