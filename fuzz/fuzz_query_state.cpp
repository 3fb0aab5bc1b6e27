// libFuzzer target for checkpoints of query state: arbitrary bytes are read
// as a saved state for a sequence with a missing step, a sequence with
// `until`, and a sample. A state that loads and fits its query is restored,
// runs over a few events and finishes; saved again, it must load again and
// save to the same bytes.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "correlate/engine.h"
#include "diag/diagnostic.h"
#include "eql/parser.h"

using namespace pickaxe;

namespace {

const char* kQueries[] = {
    R"(sequence by host.id with maxspan=20s [process where true] ![network where user.name == "bob"] [file where true])",
    R"(sequence by host.id, process.pid [process where true] [file where true] until [network where user.name == "eve"])",
    R"(sample by host.id, process.pid [process where true] [network where true] [file where user.name == "eve"])",
};

struct Prepared {
  Schema schema;
  std::shared_ptr<SourceFile> source;
  eql::QuerySet set;
  std::unique_ptr<QueryEngine> engine;
  std::vector<EventPtr> events;
};

Prepared& prepared(size_t which) {
  static Prepared all[3];
  Prepared& p = all[which];
  if (p.engine) return p;
  p.source = std::make_shared<SourceFile>("fuzz.eql", kQueries[which]);
  Diagnostics diagnostics(p.source);
  p.set = eql::parse_query_set(*p.source, diagnostics);
  if (diagnostics.has_errors()) __builtin_trap();
  p.engine = std::make_unique<QueryEngine>(p.set.alternatives.at(0), p.schema, EngineOptions{});
  simdjson::dom::parser parser;
  const char* categories[] = {"process", "network", "file"};
  for (int i = 0; i < 9; ++i) {
    std::string json = R"({"event":{"category":")" + std::string(categories[i % 3]) +
                       R"("},"host":{"id":"h)" + std::to_string(i % 2) +
                       R"("},"process":{"pid":1},"user":{"name":"eve"}})";
    auto event = std::make_shared<Event>();
    extract_fields(parser.parse(json).value(), p.engine->fields(), p.schema, *event);
    event->timestamp = int64_t{1'000'000'000} * i;
    event->has_timestamp = true;
    event->order = 1000 + static_cast<uint64_t>(i);
    event->owned_source = json;
    p.events.push_back(std::move(event));
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Prepared& p = prepared(data[0] % 3);
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  QueryState state;
  std::string error;
  if (!state.load(bytes, &error)) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  std::string saved;
  state.save(saved);
  QueryState again;
  if (!again.load(saved, &error)) __builtin_trap();
  std::string saved_again;
  again.save(saved_again);
  if (saved_again != saved) __builtin_trap();
  QueryEngine engine(p.engine->shared_query());
  if (!engine.restore(std::move(state), &error)) return 0;
  for (const EventPtr& event : p.events) engine.push(event);
  (void)engine.finish();
  return 0;
}
