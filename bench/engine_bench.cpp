// Micro-benchmarks of the evaluator: field extraction, predicate evaluation,
// wildcard and `in` matching, the prefilter's scan, and the sequence matcher
// with one million keys.
#include <malloc.h>

#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <fstream>
#include <optional>

#include "correlate/engine.h"
#include "eql/parser.h"
#include "match/literals.h"
#include "match/predicates.h"

namespace {

using namespace pickaxe;

eql::QuerySet parse_text(const std::string& text) {
  auto source = std::make_shared<SourceFile>("bench", text);
  Diagnostics diagnostics(source);
  return eql::parse_query_set(*source, diagnostics);
}

std::string event_json(int i) {
  return fmt::format(
      R"({{"@timestamp":{},"event":{{"category":["process"],"type":["start"]}},"host":{{"name":"host-{}"}},)"
      R"("process":{{"name":"{}","pid":{},"args":["{}","-c","echo {}"],"parent":{{"name":"containerd-shim"}}}}}})",
      1'700'000'000'000 + i, i % 2000, i % 50 == 0 ? "xmrig" : "bash", i,
      i % 50 == 0 ? "xmrig" : "bash", i);
}

void BM_ExtractFields(benchmark::State& state) {
  Schema schema;
  FieldIndex fields;
  for (const char* path :
       {"@timestamp", "event.category", "process.name", "process.args", "host.name"})
    fields.add(path);
  std::vector<simdjson::padded_string> documents;
  for (int i = 0; i < 1000; ++i) documents.emplace_back(event_json(i));
  simdjson::dom::parser parser;
  int64_t bytes = 0;
  for (const auto& d : documents) bytes += static_cast<int64_t>(d.size());
  for (auto _ : state) {
    for (const auto& document : documents) {
      Event event;
      extract_fields(parser.parse(document).value(), fields, schema, event);
      benchmark::DoNotOptimize(event);
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_ExtractFields);

// The whole rule set's filters (every detection-rules query, or the bundled
// pack without ../shared) over 1000 events, with the predicate program
// (`grouped`: each field's predicates decided once per event, filters read
// the answers and skip an event whose anchor did not fire) and without it
// (`alone`: each filter matches its own strings), the baseline in the same
// run. BM_RuleSetPredicatePass decides every field group, nothing else, with
// the values' answers remembered and without.
struct RuleSetBench {
  Schema schema;
  FieldIndex fields;
  std::vector<eql::QuerySet> sets;
  std::vector<std::unique_ptr<QueryEngine>> engines;
  PredicateProgram program;
  std::vector<Event> events;
  std::vector<uint32_t> one_per_group;  // a predicate of each field group

  RuleSetBench() {
    std::vector<std::string> queries;
    std::ifstream source(std::string(PICKAXE_SHARED_DIR) +
                         "/conformance/eql/detection-rules-queries.jsonl");
    simdjson::dom::parser parser;
    for (std::string line; std::getline(source, line);) {
      std::string_view query;
      if (parser.parse(line)["query"].get(query) == simdjson::SUCCESS) queries.emplace_back(query);
    }
    if (queries.empty()) {
      queries = {
          R"(process where process.name in ("xmrig", "minerd") or process.args : "*stratum*")",
          R"(network where destination.port in (3333, 4444) and process.name != "bash")"};
    }
    for (const std::string& text : queries) {
      auto source_file = std::make_shared<SourceFile>("bench", text);
      Diagnostics diagnostics(source_file);
      eql::QuerySet set = eql::parse_query_set(*source_file, diagnostics);
      if (diagnostics.has_errors()) continue;
      for (const eql::Query& query : set.alternatives) {
        FieldIndex probe_fields;
        Diagnostics compile(source_file);
        QueryEngine probe(query, schema, EngineOptions{}, &compile, &probe_fields);
        if (compile.has_errors()) continue;
        engines.push_back(
            std::make_unique<QueryEngine>(query, schema, EngineOptions{}, nullptr, &fields));
        engines.back()->attach(program);
      }
      sets.push_back(std::move(set));
    }
    program.build();
    std::vector<bool> seen(program.field_count());
    for (uint32_t predicate = 0; predicate < program.predicate_count(); ++predicate) {
      if (seen[program.field_group(predicate)]) continue;
      seen[program.field_group(predicate)] = true;
      one_per_group.push_back(predicate);
    }
    events.resize(1000);
    for (int i = 0; i < 1000; ++i) {
      simdjson::padded_string json(event_json(i));
      events[i].fields.reset(fields.size());
      extract_fields(parser.parse(json).value(), fields, schema, events[i]);
    }
  }
  size_t run(PredicatePass* pass) {
    size_t held = 0;
    for (const Event& event : events) {
      std::optional<ScopedPredicates> scope;
      if (pass) scope.emplace(*pass, event);
      for (const auto& engine : engines)
        for (const CompiledFilter& filter : engine->filters()) held += filter.matches(event);
    }
    return held;
  }
  // Per event, the filters whose category and anchor let them through: the
  // ones whose condition the stream evaluates.
  std::vector<std::vector<const CompiledFilter*>> candidates() {
    std::vector<std::vector<const CompiledFilter*>> out(events.size());
    PredicatePass pass(program);
    for (size_t e = 0; e < events.size(); ++e) {
      ScopedPredicates scope(pass, events[e]);
      for (const auto& engine : engines) {
        for (const CompiledFilter& filter : engine->filters()) {
          if (!filter.any &&
              std::none_of(events[e].fields[filter.category_slot].begin(),
                           events[e].fields[filter.category_slot].end(), [&](const Scalar& value) {
                             return value.type == Scalar::Type::String &&
                                    value.string == filter.category;
                           }))
            continue;
          if (std::any_of(filter.anchor.begin(), filter.anchor.end(),
                          [&](uint32_t predicate) { return pass.fired(predicate); }) ||
              filter.anchor.empty())
            out[e].push_back(&filter);
        }
      }
    }
    return out;
  }
};

RuleSetBench& rule_set() {
  static RuleSetBench bench;
  return bench;
}

void BM_RuleSetFilters(benchmark::State& state, bool grouped) {
  RuleSetBench& bench = rule_set();
  PredicatePass pass(bench.program);
  size_t held = 0;
  for (auto _ : state) held += bench.run(grouped ? &pass : nullptr);
  benchmark::DoNotOptimize(held);
  state.SetItemsProcessed(state.iterations() * 1000);
  state.counters["filters"] = 0;
  for (const auto& engine : bench.engines) state.counters["filters"] += engine->filters().size();
  state.counters["predicates"] = static_cast<double>(bench.program.predicate_count());
}
BENCHMARK_CAPTURE(BM_RuleSetFilters, alone, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RuleSetFilters, grouped, true)->Unit(benchmark::kMillisecond);

// The conditions of the filters the stream evaluates (category and anchor
// passed), over the predicate pass's answers: each run as its flat
// FilterCode (`program`), and walked as a tree of nodes whose leaves read
// the same answers (`tree`), the baseline in the same run.
void BM_RuleSetConditions(benchmark::State& state, bool tree) {
  RuleSetBench& bench = rule_set();
  static const auto candidates = bench.candidates();
  PredicatePass pass(bench.program);
  size_t held = 0, evaluated = 0;
  for (auto _ : state) {
    for (size_t e = 0; e < bench.events.size(); ++e) {
      const Event& event = bench.events[e];
      ScopedPredicates scope(pass, event);
      for (const CompiledFilter* filter : candidates[e]) {
        held += tree ? !filter->condition || holds(*filter->condition, event) : pass.holds(*filter);
        ++evaluated;
      }
    }
  }
  benchmark::DoNotOptimize(held);
  state.SetItemsProcessed(static_cast<int64_t>(evaluated));
  state.counters["held"] = static_cast<double>(held) / static_cast<double>(evaluated);
}
BENCHMARK_CAPTURE(BM_RuleSetConditions, tree, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RuleSetConditions, program, false)->Unit(benchmark::kMillisecond);

void BM_RuleSetPredicatePass(benchmark::State& state, size_t memory_budget) {
  RuleSetBench& bench = rule_set();
  PredicatePass pass(bench.program, memory_budget);
  size_t fired = 0;
  for (auto _ : state) {
    for (const Event& event : bench.events) {
      ScopedPredicates scope(pass, event);
      for (uint32_t predicate : bench.one_per_group) fired += pass.fired(predicate);
    }
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(state.iterations() * 1000);
  state.counters["fields"] = static_cast<double>(bench.program.field_count());
}
// What each value fires, remembered (the default) and decided every time.
BENCHMARK_CAPTURE(BM_RuleSetPredicatePass, remembered, PredicatePass::kMemoryBudget)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RuleSetPredicatePass, decided_each_time, 0)->Unit(benchmark::kMillisecond);

// Evaluates one predicate over 1000 prepared events.
void run_predicate(benchmark::State& state, const std::string& condition) {
  eql::QuerySet set = parse_text("process where " + condition);
  Schema schema;
  FieldIndex fields;
  CompileContext context{schema, fields, nullptr, {}};
  NodePtr node = compile_expression(*set.alternatives[0].event.condition, context);
  simdjson::dom::parser parser;
  std::vector<Event> events(1000);
  for (int i = 0; i < 1000; ++i) {
    simdjson::padded_string json(event_json(i));
    extract_fields(parser.parse(json).value(), fields, schema, events[i]);
  }
  size_t matches = 0;
  for (auto _ : state) {
    for (const Event& event : events) matches += test(*node, event) == Tri::True;
  }
  benchmark::DoNotOptimize(matches);
  state.SetItemsProcessed(state.iterations() * 1000);
}

void BM_PredicateEquality(benchmark::State& state) {
  run_predicate(state, "process.name == \"xmrig\"");
}
BENCHMARK(BM_PredicateEquality);

void BM_PredicateInList(benchmark::State& state) {
  run_predicate(
      state,
      "process.name in (\"xmrig\", \"minerd\", \"cpuminer\", \"nbminer\", \"t-rex\", \"lolminer\", "
      "\"ethminer\", \"cgminer\", \"bfgminer\", \"teamtntbot\")");
}
BENCHMARK(BM_PredicateInList);

void BM_PredicateWildcardList(benchmark::State& state) {
  run_predicate(
      state,
      "process.args : (\"stratum+tcp://*\", \"stratum+ssl://*\", \"--donate-level*\", "
      "\"*xmrpool*\", "
      "\"*supportxmr*\", \"*minexmr*\", \"*moneroocean*\", \"*hashvault*\", \"*nanopool*\")");
}
BENCHMARK(BM_PredicateWildcardList);

void BM_PredicateSingleWildcard(benchmark::State& state) {
  run_predicate(state, "process.args : \"*minexmr*\"");
}
BENCHMARK(BM_PredicateSingleWildcard);

// The prefilter's scan of 1000 lines for the seed rule's first query: the
// bytes per second that are not parsed when no line holds a literal.
void BM_PrefilterScan(benchmark::State& state) {
  eql::QuerySet set = parse_text(
      "process where process.name in (\"xmrig\", \"minerd\", \"cpuminer\", \"nbminer\", "
      "\"t-rex\") or process.args : (\"stratum+tcp://*\", \"*xmrpool*\", \"*minexmr*\")");
  Schema schema;
  QueryEngine engine(set.alternatives[0], schema, {});
  auto prefilter = build_prefilter({{&engine.filters().front()}}, engine.fields(), true);
  if (!prefilter) {
    state.SkipWithError("no prefilter");
    return;
  }
  std::string text;
  for (int i = 0; i < 1000; ++i) text += event_json(i * 50 + 1) + "\n";  // no xmrig
  Prefilter::Scanner scanner(*prefilter);
  std::vector<Prefilter::Scanner::Hit> hits;
  for (auto _ : state) {
    scanner.scan(text, hits);
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_PrefilterScan);

// One million distinct join keys, each opening a partial sequence that never
// completes: throughput and the state the matcher holds.
void BM_SequenceOneMillionKeys(benchmark::State& state) {
  eql::QuerySet set = parse_text(
      "sequence by host.name [process where process.name == \"xmrig\"] [network where "
      "destination.port == 3333]");
  constexpr int kKeys = 1'000'000;
  Schema schema;
  std::vector<EventPtr> events;
  {
    QueryEngine probe(set.alternatives[0], schema, {});
    events.reserve(kKeys);
    for (int i = 0; i < kKeys; ++i) {
      auto event = std::make_shared<Event>();
      event->fields.reset(probe.fields().size());
      event->fields.at(*probe.fields().slot("event.category")) = {Scalar::of_string("process")};
      event->fields.at(*probe.fields().slot("process.name")) = {Scalar::of_string("xmrig")};
      event->fields.at(*probe.fields().slot("host.name")) = {
          Scalar::of_string(fmt::format("host-{}", i))};
      event->timestamp = i;
      event->order = static_cast<uint64_t>(i);
      events.push_back(std::move(event));
    }
  }
  uint64_t peak = 0;
  double bytes_per_key = 0;
  for (auto _ : state) {
    EngineOptions options;
    options.max_sequence_state = static_cast<size_t>(state.range(0));
    size_t heap_before = mallinfo2().uordblks;
    QueryEngine engine(set.alternatives[0], schema, options);
    for (const EventPtr& event : events) engine.push(event);
    // The matcher's own state (the events are held by `events` anyway).
    size_t heap_live = mallinfo2().uordblks - heap_before;
    peak = engine.stats().peak_partials;
    // Partials never complete here, so the peak is what is alive at the end.
    bytes_per_key = peak ? static_cast<double>(heap_live) / static_cast<double>(peak) : 0;
    benchmark::DoNotOptimize(engine.finish());
    state.counters["evicted"] = static_cast<double>(engine.stats().state_evictions);
  }
  state.counters["peak_partials"] = static_cast<double>(peak);
  state.counters["bytes_per_key"] = bytes_per_key;
  state.SetItemsProcessed(state.iterations() * kKeys);
}
BENCHMARK(BM_SequenceOneMillionKeys)
    ->Arg(1'000'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
