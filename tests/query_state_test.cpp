// A query's state written out at any point and read back into a fresh
// partition must go on to give exactly the results of an uninterrupted run;
// a damaged state is refused, never a crash.
#include <limits>
#include <map>
#include <random>

#include <fmt/format.h>

#include "correlate/engine.h"
#include "event/document_spool.h"
#include "event/packed_event.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

// Deterministic events over a few hosts and processes, a second apart.
std::vector<EventPtr> generated_events(const FieldIndex& fields, const Schema& schema,
                                       size_t count) {
  std::mt19937 random(7);
  const char* categories[] = {"process", "network", "file"};
  const char* users[] = {"root", "bob", "eve", "alice"};
  simdjson::dom::parser parser;
  std::vector<EventPtr> events;
  for (size_t i = 0; i < count; ++i) {
    // event.ingested: a second time field, two seconds late, missing from every seventh event.
    std::string ingested = i % 7 == 3
                               ? ""
                               : fmt::format(R"("ingested":"2026-01-01T{:02}:{:02}:{:02}Z",)",
                                             (i + 2) / 3600 % 24, (i + 2) / 60 % 60, (i + 2) % 60);
    std::string json = fmt::format(
        R"({{"@timestamp":"2026-01-01T{:02}:{:02}:{:02}Z","event":{{{}"category":"{}"}},)"
        R"("host":{{"id":"h{}"}},"process":{{"pid":{}}},"user":{{"name":"{}"}}}})",
        i / 3600 % 24, i / 60 % 60, i % 60, ingested, categories[random() % 3], random() % 3,
        random() % 4, users[random() % 4]);
    auto event = std::make_shared<Event>();
    extract_fields(parser.parse(json).value(), fields, schema, *event);
    event->timestamp = 1'767'225'600'000'000'000 + static_cast<int64_t>(i) * 1'000'000'000;
    event->has_timestamp = true;
    event->order = i;
    event->line = i + 1;
    event->owned_source = json;
    events.push_back(std::move(event));
  }
  return events;
}

// Results as text: each event's line (or - for a missing step), then the keys.
std::string describe(const std::vector<QueryResult>& results) {
  std::string out;
  for (const QueryResult& result : results) {
    for (const EventPtr& event : result.events)
      out += event ? fmt::format("{} ", event->line) : "- ";
    out += "|";
    for (const Scalar& key : result.join_keys) out.append(" ").append(key.to_string());
    out += "\n";
  }
  return out;
}

const char* kQueries[] = {
    R"(sequence by host.id with maxspan=30s [process where user.name == "root"] [network where true] [file where true])",
    R"(sequence by host.id with maxspan=20s [process where true] ![network where user.name == "bob"] [file where true])",
    R"(sequence by host.id, process.pid [process where true] [file where true] until [network where user.name == "eve"])",
    R"(sequence by host.id [process where true] with runs=2 [file where true])",
    R"(sample by host.id, process.pid [process where true] [network where true] [file where user.name == "eve"])",
    R"(process where user.name == "root" | tail 3)",
    R"(sequence by host.id [network where true] [file where true] | head 4)",
};

// Sequences whose first stage is rare: they often wait for nothing.
const char* kRarelyBegun[] = {
    R"(sequence by host.id with maxspan=5s [process where user.name == "root" and process.pid == 0] [network where true] [file where true])",
    R"(sequence by host.id with maxspan=5s [process where user.name == "eve" and process.pid == 1] ![network where user.name == "bob"] [file where true])",
    R"(sequence by host.id, process.pid [process where user.name == "root" and process.pid == 2] [file where true] until [network where true])",
    R"(sequence by host.id with maxspan=5s [process where user.name == "alice" and process.pid == 3] with runs=2 [file where true])",
    R"(sequence by host.id with maxspan=5s ![network where user.name == "bob"] [process where user.name == "root" and process.pid == 0] [file where true])",
    R"(sequence by host.id [network where user.name == "eve" and process.pid == 0] [file where user.name == "root"] | head 20)",
};

struct QueryRun {
  Schema schema;
  Parsed parsed;
  std::unique_ptr<QueryEngine> engine;
  std::vector<QueryResult> streamed;
  explicit QueryRun(const char* query, EngineOptions options = {}) : parsed(parse(query)) {
    EXPECT_TRUE(parsed.ok()) << query << "\n" << parsed.messages();
    engine = std::make_unique<QueryEngine>(parsed.query(), schema, options);
    engine->set_sink([this](QueryResult&& result) { streamed.push_back(std::move(result)); });
  }
  // Another partition of the same compiled query.
  std::unique_ptr<QueryEngine> partition() {
    auto other = std::make_unique<QueryEngine>(engine->shared_query());
    other->set_sink([this](QueryResult&& result) { streamed.push_back(std::move(result)); });
    return other;
  }
  std::string finish(QueryEngine& engine) {
    std::vector<QueryResult> results = std::move(streamed);
    for (QueryResult& result : engine.finish()) results.push_back(std::move(result));
    return describe(results);
  }
};

TEST(QueryState, ARestoredStateGoesOnAsIfNeverStopped) {
  std::vector<const char*> queries(std::begin(kQueries), std::end(kQueries));
  queries.insert(queries.end(), std::begin(kRarelyBegun), std::end(kRarelyBegun));
  for (size_t index = 0; index < queries.size(); ++index) {
    const char* query = queries[index];
    QueryRun whole(query);
    // Past 8192 events: expired partials are swept (see QueryEngine::tick).
    const size_t count = 9000;
    std::vector<EventPtr> events = generated_events(whole.engine->fields(), whole.schema, count);
    for (const EventPtr& event : events) whole.engine->push(event);
    const std::string expected = whole.finish(*whole.engine);
    EXPECT_FALSE(expected.empty()) << query << ": the events must give results";
    for (size_t split : {size_t{0}, size_t{1}, size_t{57}, size_t{5000}, count - 1, count}) {
      QueryRun first(query);
      for (size_t i = 0; i < split; ++i) first.engine->push(events[i]);
      std::string saved;
      first.engine->state().save(saved);
      // Read back into a fresh partition, as after a restart.
      QueryState loaded;
      std::string error;
      ASSERT_TRUE(loaded.load(saved, &error)) << query << " at " << split << ": " << error;
      std::unique_ptr<QueryEngine> second = first.partition();
      ASSERT_TRUE(second->restore(std::move(loaded), &error)) << error;
      // The state is written in key order, not in the order of its hash
      // maps: written again, it is the same bytes.
      std::string again;
      second->state().save(again);
      EXPECT_EQ(again, saved) << query << " at " << split;
      // Events come back as copies: the rest of the input refers to them by their values.
      for (size_t i = split; i < events.size(); ++i) second->push(events[i]);
      EXPECT_EQ(first.finish(*second), expected) << query << ", saved after " << split << " events";
      // It sweeps at the same events: partials expire alike.
      EXPECT_EQ(second->stats().expired, whole.engine->stats().expired)
          << query << ", saved after " << split << " events";
      // PICKAXE_STATE_CORPUS=dir writes seeds for fuzz_query_state (its
      // first byte picks the query: 0, 1 and 2 are kQueries 1, 2 and 4).
      const char* corpus = std::getenv("PICKAXE_STATE_CORPUS");
      if (corpus && (index == 1 || index == 2 || index == 4) && split == 57) {
        std::ofstream seed(fmt::format("{}/state-{}", corpus, index));
        seed << static_cast<char>(index == 1 ? 0 : index == 2 ? 1 : 2) << saved;
      }
    }
  }
}

// A sequence that waits for nothing lets the events its first stage does not
// match pass over unread: what it gives and what it holds, counters and all,
// are what pushing them would have left.
TEST(QueryState, EventsPassedOverLeaveWhatPushingThemLeaves) {
  size_t passed_over = 0;
  for (bool own_time : {false, true}) {
    EngineOptions options;
    if (own_time) {  // the query's own clock, as a rule's timestamp_override gives
      options.timestamp_field = "event.ingested";
      options.stream_timestamp_field = "@timestamp";
    }
    for (const char* query : kRarelyBegun) {
      QueryRun pushed(query, options), passing(query, options);
      const std::vector<CompiledFilter>& filters = pushed.engine->filters();
      ASSERT_LE(filters.size(), 32u);
      std::vector<EventPtr> events =
          generated_events(pushed.engine->fields(), pushed.schema, 20'000);
      for (size_t i = 0; i < events.size(); ++i) {
        uint32_t matched = 0;
        for (size_t f = 0; f < filters.size(); ++f)
          if (filters[f].matches(*events[i])) matched |= uint32_t{1} << f;
        pushed.engine->push(events[i], matched);
        if (passing.engine->pass_over(PackedEvent(*events[i]), matched))
          ++passed_over;
        else
          passing.engine->push(events[i], matched);
        if (i % 97 != 0) continue;
        std::string expected, state;
        pushed.engine->state().save(expected);
        passing.engine->state().save(state);
        ASSERT_EQ(state, expected) << query << " after " << i + 1 << " events";
      }
      const std::string expected = pushed.finish(*pushed.engine);
      EXPECT_FALSE(expected.empty()) << query << ": the events must give results";
      EXPECT_EQ(passing.finish(*passing.engine), expected) << query;
    }
  }
  EXPECT_GT(passed_over, 10'000u) << "the events must test passing over";
  // A leading missing step's events count before any sequence has begun.
  QueryRun run(kRarelyBegun[4]);
  const char* lines[] = {
      R"({"event":{"category":"network"},"host":{"id":"h0"},"user":{"name":"bob"}})",
      R"({"event":{"category":"process"},"host":{"id":"h0"},"process":{"pid":0},"user":{"name":"root"}})",
      R"({"event":{"category":"file"},"host":{"id":"h0"}})",
  };
  simdjson::dom::parser parser;
  for (size_t i = 0; i < std::size(lines); ++i) {
    auto event = std::make_shared<Event>();
    extract_fields(parser.parse(std::string(lines[i])).value(), run.engine->fields(), run.schema,
                   *event);
    event->timestamp = 1'767'225'600'000'000'000 + static_cast<int64_t>(i) * 1'000'000'000;
    event->has_timestamp = true;
    event->order = i;
    uint32_t matched = 0;
    for (size_t f = 0; f < run.engine->filters().size(); ++f)
      if (run.engine->filters()[f].matches(*event)) matched |= uint32_t{1} << f;
    if (!run.engine->pass_over(PackedEvent(*event), matched)) run.engine->push(event, matched);
  }
  EXPECT_EQ(run.finish(*run.engine), "") << "bob's connection came a second before";
}

// Sweeps let go of what maxspan puts out of reach; what a query gives must
// not depend on when they run. The same events through an engine that never
// sweeps (its state read back with an endless interval, last swept at the
// end of time) give the same.
TEST(QueryState, ResultsDoNotDependOnSweeps) {
  const char* queries[] = {
      R"(sequence by host.id with maxspan=20s [process where true] ![network where user.name == "bob"] [file where true])",
      R"(sequence by host.id with maxspan=5s ![network where user.name == "bob"] [process where user.name == "root"] [file where true])",
      R"(sequence by host.id with maxspan=5s [process where user.name == "root"] [file where true] ![network where user.name == "bob"])",
      R"(sequence by host.id with maxspan=10s ![file where user.name == "eve"] [process where true] ![network where true] [file where user.name == "root"] ![process where user.name == "bob"])",
  };
  auto hits_held = [](const QueryEngine& engine) {
    size_t held = 0;
    for (const auto& [key, stages] : engine.state().missing_hits)
      for (const auto& hits : stages) held += hits.size();
    return held;
  };
  for (bool own_time : {false, true}) {
    for (const char* query : queries) {
      EngineOptions options;
      if (own_time) {
        options.timestamp_field = "event.ingested";
        options.stream_timestamp_field = "@timestamp";
      }
      QueryRun swept(query, options), unswept(query, options);
      QueryState endless;
      endless.sweep_every = std::numeric_limits<uint64_t>::max();
      endless.swept_at = std::numeric_limits<int64_t>::max();  // nor by its clock
      std::string error;
      ASSERT_TRUE(unswept.engine->restore(std::move(endless), &error)) << error;
      for (const EventPtr& event : generated_events(swept.engine->fields(), swept.schema, 30'000)) {
        swept.engine->push(event);
        unswept.engine->push(event);
      }
      // The sweeps let go of missing-step events the other engine still holds.
      EXPECT_LT(hits_held(*swept.engine), hits_held(*unswept.engine)) << query;
      const std::string expected = unswept.finish(*unswept.engine);
      EXPECT_FALSE(expected.empty()) << query << ": the events must give results";
      EXPECT_EQ(swept.finish(*swept.engine), expected) << query;
    }
  }
}

// Sample keys past sample_keys_in_memory go to disk and are merged back at
// the end: the results, events and documents alike, are those of a run that
// held every key in memory, also through a checkpoint taken while keys are
// on disk. Documents in an input's mapping stay there.
TEST(QueryState, SampleKeysOnDiskGiveTheResultsOfKeysInMemory) {
  const char* queries[] = {
      kQueries[4],
      // An event of two steps: held once, not picked twice.
      R"(sample by host.id [process where true] [any where user.name != "eve"])",
      R"(sample by host.id, user.name [file where true] [network where true] [process where true])",
  };
  for (const char* query : queries) {
    for (size_t per_key : {size_t{1}, size_t{3}}) {
      EngineOptions in_memory;
      in_memory.max_samples_per_key = per_key;
      QueryRun whole(query, in_memory);
      const size_t count = 3000;
      std::vector<EventPtr> events = generated_events(whole.engine->fields(), whole.schema, count);
      // Every other document is a view into a buffer that outlives the run,
      // as into an input's mapping.
      std::string mapping;
      for (const EventPtr& event : events) mapping += event->owned_source;
      for (size_t i = 0, at = 0; i < events.size(); ++i) {
        auto& event = const_cast<Event&>(*events[i]);
        const size_t size = event.owned_source.size();
        if (i % 2 == 0) {
          event.mapped_source = std::string_view(mapping).substr(at, size);
          std::string().swap(event.owned_source);
        }
        at += size;
      }
      auto documents = [](const std::vector<QueryResult>& results) {
        std::string out;
        for (const QueryResult& result : results)
          for (const EventPtr& event : result.events) out.append(event->source()).append("\n");
        return out;
      };
      for (const EventPtr& event : events) whole.engine->push(event);
      const std::vector<QueryResult> expected_results = whole.engine->finish();
      const std::string expected = describe(expected_results);
      ASSERT_FALSE(expected.empty()) << query;
      for (size_t in_memory_keys : {size_t{1}, size_t{2}, size_t{5}}) {
        EngineOptions options = in_memory;
        options.sample_keys_in_memory = in_memory_keys;
        QueryRun spilling(query, options);
        for (size_t i = 0; i < count / 2; ++i) spilling.engine->push(events[i]);
        // Every query has at least 3 keys (hosts).
        if (in_memory_keys < 3) {
          EXPECT_FALSE(spilling.engine->state().sample_runs.empty()) << query;
        }
        // A checkpoint while keys are on disk, read back into a fresh partition.
        std::string saved, error;
        spilling.engine->state().save(saved);
        QueryState loaded;
        ASSERT_TRUE(loaded.load(saved, &error)) << error;
        std::unique_ptr<QueryEngine> resumed = spilling.partition();
        ASSERT_TRUE(resumed->restore(std::move(loaded), &error)) << error;
        for (size_t i = count / 2; i < count; ++i) {
          spilling.engine->push(events[i]);
          resumed->push(events[i]);
        }
        const std::vector<QueryResult> results = spilling.engine->finish();
        EXPECT_EQ(describe(results), expected)
            << query << ", " << per_key << " per key, " << in_memory_keys << " keys in memory";
        EXPECT_EQ(documents(results), documents(expected_results)) << query;
        EXPECT_EQ(spilling.engine->stats().state_evictions, 0u);
        EXPECT_EQ(describe(resumed->finish()), expected)
            << query << " resumed, " << per_key << " per key, " << in_memory_keys;
      }
    }
  }
}

// Once the input is ending, sample keys still go to disk, to keep memory
// bounded, but runs no longer merge by tiers: finish() reads them all once,
// so a merge just before it would only copy them. When the runs would reach
// their bound (64), the newest of tier 0 merge with memory, never all of
// them. The results are the same.
TEST(QueryState, AnEndingInputSpillsSampleKeysWithoutMergingThem) {
  const char* query = kQueries[4];
  QueryRun in_memory(query);
  std::vector<EventPtr> events =
      generated_events(in_memory.engine->fields(), in_memory.schema, 1200);
  for (const EventPtr& event : events) in_memory.engine->push(event);
  const std::string expected = describe(in_memory.engine->finish());
  ASSERT_FALSE(expected.empty());
  auto newest_of_tier_0 = [](const QueryState& state) { return state.newest_runs_of_tier(0); };
  EngineOptions options;
  options.sample_keys_in_memory = 1;  // a spill at nearly every event
  for (bool ending : {false, true}) {
    QueryRun spilling(query, options);
    const size_t ends_at = events.size() / 4;
    size_t most_of_tier_0 = 0, most_runs = 0, older = 0, fewest_runs_since = SIZE_MAX;
    for (size_t i = 0; i < events.size(); ++i) {
      const QueryState& state = spilling.engine->state();
      if (i == ends_at) {
        // The runs before the newest of tier 0.
        older = state.sample_runs.size() - newest_of_tier_0(state);
        if (ending) spilling.engine->input_ending();
      }
      spilling.engine->push(events[i]);
      if (i < ends_at) continue;
      most_of_tier_0 = std::max(most_of_tier_0, newest_of_tier_0(state));
      most_runs = std::max(most_runs, state.sample_runs.size());
      fewest_runs_since = std::min(fewest_runs_since, state.sample_runs.size());
    }
    ASSERT_GT(older, 1u);
    if (ending) {
      // Tier 0 piles up to one short of the bound, then merges with memory
      // into one run: the older runs are never merged again.
      EXPECT_EQ(most_of_tier_0, 63u - older);
      EXPECT_EQ(most_runs, 63u);
      EXPECT_EQ(fewest_runs_since, older + 1);
    } else {
      EXPECT_LT(most_of_tier_0, 16u);  // 16 runs of one tier merge
    }
    EXPECT_EQ(describe(spilling.engine->finish()), expected) << (ending ? "ending" : "not ending");
  }
}

TEST(QueryState, SavedEventsKeepTheirValuesAndDocument) {
  QueryRun run(kQueries[0]);
  std::vector<EventPtr> events = generated_events(run.engine->fields(), run.schema, 3);
  std::string bytes;
  write_event(bytes, *events[1]);
  std::string_view in = bytes;
  Event back;
  ASSERT_TRUE(read_event(in, back));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(back.source(), events[1]->source());
  EXPECT_EQ(back.order, 1u);
  EXPECT_EQ(back.timestamp, events[1]->timestamp);
  ASSERT_EQ(back.fields.entries().size(), events[1]->fields.entries().size());
  for (size_t i = 0; i < back.fields.entries().size(); ++i)
    EXPECT_TRUE(back.fields.entries()[i].second == events[1]->fields.entries()[i].second);
}

TEST(QueryState, ADamagedStateIsRefusedNotACrash) {
  for (const char* query : {kQueries[1], kQueries[4]}) {
    QueryRun run(query);
    std::vector<EventPtr> events = generated_events(run.engine->fields(), run.schema, 300);
    for (size_t i = 0; i < 150; ++i) run.engine->push(events[i]);
    std::string saved;
    run.engine->state().save(saved);
    ASSERT_GT(saved.size(), 1000u);
    std::string error;
    // Cut short anywhere: refused, with a reason.
    for (size_t size = 0; size < saved.size(); size += size < 256 ? 1 : 13) {
      QueryState state;
      EXPECT_FALSE(state.load(std::string_view(saved).substr(0, size), &error)) << size;
      EXPECT_FALSE(error.empty());
    }
    // A byte changed anywhere: refused, or a state that fits the query and runs.
    size_t loaded = 0, refused = 0;
    for (size_t at = 0; at < saved.size(); at += 3) {
      std::string damaged = saved;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
      QueryState state;
      if (!state.load(damaged, &error)) {
        ++refused;
        continue;
      }
      std::unique_ptr<QueryEngine> engine = run.partition();
      if (!engine->restore(std::move(state), &error)) {
        ++refused;
        continue;
      }
      ++loaded;
      for (size_t i = 150; i < events.size(); ++i) engine->push(events[i]);
      run.finish(*engine);
    }
    EXPECT_GT(refused, 0u);
    EXPECT_GT(loaded, 0u);  // values inside events change nothing structural
    QueryState other;
    EXPECT_FALSE(other.load("PXQS\x09\0\0\0", &error));
    EXPECT_NE(error.find("version"), std::string::npos) << error;
    EXPECT_FALSE(other.load("{\"not\":\"a state\"}", &error));
  }
}

// A run that cannot be read back (its file damaged) loses its own keys; the
// other runs and memory still give theirs, and the merge says which run.
TEST(QueryState, ADamagedSampleRunLosesItsKeysOnly) {
  auto sample = [](uint32_t step) {
    QueryState::SampleKey key;
    key.events.emplace_back(step, std::make_shared<Event>());
    key.steps_matched = 1;
    return key;
  };
  auto keys_of = [](const QueryState& state, std::string* error) {
    std::vector<std::string> seen;
    bool whole = state.each_sample(
        [&](std::string&& key, QueryState::SampleKey&&) {
          seen.push_back(key);
          return true;
        },
        error);
    return std::make_pair(whole, seen);
  };
  DocumentSpool spool;
  QueryState state;
  state.sample_steps = 2;
  state.sample_step_cap = 4;
  state.samples.emplace("a", sample(0));
  state.samples.emplace("c", sample(1));
  ASSERT_TRUE(state.spill_samples(spool, 16, 64));
  std::optional<SpooledDocument> damaged = spool.store("no record at all");
  ASSERT_TRUE(damaged);
  state.sample_runs.push_back({{*damaged}});
  state.samples.emplace("b", sample(0));
  state.samples.emplace("d", sample(1));
  std::string error;
  auto [whole, seen] = keys_of(state, &error);
  EXPECT_FALSE(whole);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_NE(error.find("(run 2) cannot be read back"), std::string::npos) << error;
  // A record of a step the query does not have is damage too.
  QueryState other;
  other.sample_steps = 1;
  other.samples.emplace("e", sample(0));
  other.samples.emplace("f", sample(1));
  ASSERT_TRUE(other.spill_samples(spool, 16, 64));
  other.samples.emplace("g", sample(0));
  error.clear();
  auto [other_whole, other_seen] = keys_of(other, &error);
  EXPECT_FALSE(other_whole);
  EXPECT_EQ(other_seen, (std::vector<std::string>{"e", "g"}));
  EXPECT_NE(error.find("(run 1)"), std::string::npos) << error;
}

// Runs merge by tiers: the newest `fan_in` runs of a tier become one of the
// next (memory joining tier 0), and all become one past `max_runs`. Keys
// seen across many spills come back whole, their events in the order they
// came, whatever was merged on the way.
TEST(QueryState, SampleRunsMergeByTiersAndKeepEveryKeysOrder) {
  auto event_named = [](const std::string& name) {
    auto event = std::make_shared<Event>();
    event->owned_source = name;
    return EventPtr(event);
  };
  DocumentSpool spool;
  QueryState state;
  state.sample_steps = 2;
  state.sample_step_cap = 1000;
  std::map<std::string, std::vector<std::string>> expected;
  std::vector<std::vector<uint32_t>> tiers;
  std::mt19937 random(7);
  for (int spill = 0; spill < 30; ++spill) {
    for (int i = 0; i < 6; ++i) {
      const std::string key = fmt::format("k{:02}", random() % 40);
      const uint32_t step = static_cast<uint32_t>(random() % 2);
      const std::string name = fmt::format("{} s{} at {}.{}", key, step, spill, i);
      QueryState::SampleKey& sample = state.samples[key];
      if (sample.count(step) == 0) ++sample.steps_matched;
      sample.events.emplace_back(step, event_named(name));
      expected[key].push_back(name);
    }
    std::string error;
    ASSERT_TRUE(state.spill_samples(spool, 3, 64, &error)) << error;
    EXPECT_TRUE(state.samples.empty());
    std::vector<uint32_t> now;
    for (const QueryState::SampleRun& run : state.sample_runs) now.push_back(run.tier);
    tiers.push_back(now);
  }
  // Like counting in base 3: 9 spills are one run of tier 2, 26 are 2,2,1,1,0,0.
  EXPECT_EQ(tiers[8], (std::vector<uint32_t>{2}));
  EXPECT_EQ(tiers[25], (std::vector<uint32_t>{2, 2, 1, 1, 0, 0}));
  EXPECT_EQ(tiers[26], (std::vector<uint32_t>{3}));
  std::map<std::string, std::vector<std::string>> seen;
  std::string error;
  ASSERT_TRUE(state.each_sample(
      [&](std::string&& key, QueryState::SampleKey&& sample) {
        for (const auto& [step, event] : sample.events) seen[key].emplace_back(event->source());
        return true;
      },
      &error))
      << error;
  EXPECT_EQ(seen, expected);
  // At max_runs, every run becomes one, each key's events still in order.
  QueryState capped;
  capped.sample_steps = 1;
  capped.sample_step_cap = 1000;
  std::map<std::string, std::vector<std::string>> capped_expected;
  for (int spill = 0; spill < 4; ++spill) {
    for (const char* key : {"a", "b"}) {
      const std::string name = fmt::format("{} at {}", key, spill);
      capped.samples[key].events.emplace_back(0, event_named(name));
      capped_expected[key].push_back(name);
    }
    ASSERT_TRUE(capped.spill_samples(spool, 16, 4));
  }
  ASSERT_EQ(capped.sample_runs.size(), 1u);
  EXPECT_EQ(capped.sample_runs.front().tier, 1u);
  seen.clear();
  ASSERT_TRUE(capped.each_sample([&](std::string&& key, QueryState::SampleKey&& sample) {
    for (const auto& [step, event] : sample.events) seen[key].emplace_back(event->source());
    return true;
  }));
  EXPECT_EQ(seen, capped_expected);
}

// A spill that cannot write memory changes nothing; one whose merge meets a
// damaged run keeps memory and the runs as they were, and names the run.
TEST(QueryState, AFailedSpillLeavesMemoryAndRunsAsTheyWere) {
  auto one_event = [](const std::string& name) {
    QueryState::SampleKey sample;
    auto event = std::make_shared<Event>();
    event->owned_source = name;
    sample.events.emplace_back(0, std::move(event));
    sample.steps_matched = 1;
    return sample;
  };
  QueryState state;
  state.sample_steps = 1;
  state.sample_step_cap = 10;
  state.samples.emplace("a", one_event("a"));
  DocumentSpool nowhere("/nonexistent/spool");
  std::string error;
  EXPECT_FALSE(state.spill_samples(nowhere, 2, 64, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(state.samples.size(), 1u);
  EXPECT_TRUE(state.sample_runs.empty());
  // Two spills make one run of tier 1; a damaged run of tier 0 after it
  // fails the next spill, which would merge it with memory.
  DocumentSpool spool;
  ASSERT_TRUE(state.spill_samples(spool, 2, 64));
  state.samples.emplace("b", one_event("b"));
  ASSERT_TRUE(state.spill_samples(spool, 2, 64));
  ASSERT_EQ(state.sample_runs.size(), 1u);
  std::optional<SpooledDocument> damaged = spool.store("no record at all");
  ASSERT_TRUE(damaged);
  state.sample_runs.push_back({{*damaged}, 0});
  state.samples.emplace("c", one_event("c"));
  error.clear();
  EXPECT_FALSE(state.spill_samples(spool, 2, 64, &error));
  EXPECT_NE(error.find("(run 2) cannot be read back"), std::string::npos) << error;
  EXPECT_EQ(state.samples.size(), 1u);
  ASSERT_EQ(state.sample_runs.size(), 2u);
  EXPECT_EQ(state.sample_runs[0].tier, 1u);
}

}  // namespace
}  // namespace pickaxe::testing
