// Runs one query through a QueryStream over NDJSON text, for tests.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "correlate/stream.h"
#include "test_util.h"

namespace pickaxe::testing {

struct RunOutput {
  std::vector<std::string> results;  // each result's event sources, joined
  StreamStats stats;
  EngineStats engine;
  std::vector<InputProblem> problems;
};

// With `file_threads`, the input is written to a file and read through
// QueryStream::read_file (mapped, in chunks) with that many threads.
inline RunOutput run_stream(const std::string& query, const std::string& input,
                            StreamOptions stream_options = {}, EngineOptions engine_options = {},
                            size_t file_threads = 0) {
  Parsed parsed = parse(query);
  EXPECT_TRUE(parsed.ok()) << parsed.messages();
  Schema schema;
  engine_options.tiebreaker_field = "event.sequence";
  QueryEngine engine(parsed.query(), schema, engine_options);
  RunOutput output;
  QueryStream stream(engine, schema, stream_options,
                     [&](const InputProblem& problem) { output.problems.push_back(problem); });
  if (file_threads > 0) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              fmt::format("pickaxe-stream-{}.ndjson", ::getpid()))
                                 .string();
    std::ofstream(path, std::ios::binary) << input;
    EXPECT_TRUE(stream.read_file(path, file_threads));
    std::filesystem::remove(path);  // the mapping outlives the name
  } else {
    std::istringstream in(input);
    stream.read(in, "input.ndjson");
  }
  for (const QueryResult& result : stream.finish()) {
    std::string joined;
    for (const auto& event : result.events)
      joined += event ? event->document() : std::string("null");
    output.results.push_back(joined);
  }
  output.stats = stream.stats();
  output.engine = engine.stats();
  return output;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

}  // namespace pickaxe::testing
