// libFuzzer target for the evaluator: arbitrary bytes as event input (NDJSON
// or a JSON array) through reading, extraction, type checks, the reorder
// buffer and the engine, for an event query, a sequence with until and a
// missing step, and a sample. The first byte picks the query. Every query
// runs twice, with and without the prefilter: the results must be equal.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "correlate/stream.h"
#include "eql/parser.h"

using namespace pickaxe;

namespace {

const char* kQueries[] = {
    "process where process.name : (\"xmr*\", \"*miner*\", \"a\", \"b\") and not "
    "cidrMatch(destination.ip, "
    "\"10.0.0.0/8\", \"::1\") or length(process.args) > 2 or process.pid / 2 == 3 | head 5",
    "sequence by host.name with maxspan=5s [process where true] by process.pid ![file where true] "
    "[network where destination.port in (1, 2, \"3\")] with runs=2 until [process where event.type "
    "== \"end\"]",
    "sample by host.name [process where true] [network where startsWith~(destination.domain, "
    "\"a\")]",
    "sequence [any where ?x == null] [any where between(message, \"a\", \"b\") regex \"a.*\"] | "
    "tail 2",
    // Queries the prefilter works for: every filter has literals.
    "process where process.name : (\"xmr*\", \"*miner*\") and destination.port in (3333, 4444)",
    "sequence by host.name with maxspan=5s [process where process.name == \"xmrig\"] [network "
    "where destination.port == 3333]",
    "any where process.args : \"*stratum+tcp://*\" or dns.question.name in~ (\"pool.minexmr.com\", "
    "\"a/b\") or process.pid == 7",
};

std::vector<std::string> run(const char* query, const uint8_t* data, size_t size, bool prefilter) {
  auto source = std::make_shared<SourceFile>("q", query);
  Diagnostics diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
  if (diagnostics.has_errors()) __builtin_trap();
  Schema schema;
  EngineOptions options;
  options.max_sequence_state = 64;
  options.tiebreaker_field = "event.sequence";
  QueryEngine engine(set.alternatives[0], schema, options);
  StreamOptions stream_options;
  stream_options.max_lateness = (data[0] & 0x80) ? 0 : 1'000'000'000;
  stream_options.reader.max_line_bytes = 4096;
  stream_options.prefilter = prefilter;
  QueryStream stream(engine, schema, stream_options, nullptr);
  std::vector<std::string> results;
  auto describe = [&](const QueryResult& result) {
    std::string text;
    for (const auto& event : result.events)
      text += event ? std::to_string(event->line) + "," : "-,";
    results.push_back(text);
  };
  engine.set_sink([&](QueryResult&& result) { describe(result); });
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  stream.read(in, "fuzz");
  for (const QueryResult& result : stream.finish()) describe(result);
  return results;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* query = kQueries[data[0] % (sizeof kQueries / sizeof kQueries[0])];
  std::vector<std::string> prefiltered = run(query, data, size, true);
  if (prefiltered != run(query, data, size, false))
    __builtin_trap();  // the prefilter changed a result
  return 0;
}
