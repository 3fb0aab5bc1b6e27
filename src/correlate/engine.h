// Runs one EQL query over events that arrive in order (timestamp, then
// tiebreaker, then input order): event queries, sequences with
// Elasticsearch's SequenceMatcher semantics, samples, and head/tail.
#pragma once

#include <algorithm>
#include <compare>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eql/ast.h"
#include "event/event.h"
#include "event/packed_event.h"
#include "match/expression.h"
#include "match/predicates.h"

namespace pickaxe {

using EventPtr = std::shared_ptr<const Event>;

struct QueryResult {
  std::vector<EventPtr> events;  // null for a missing-event step
  std::vector<Scalar> join_keys;
};

struct EngineOptions {
  std::string category_field = "event.category";
  std::string timestamp_field = "@timestamp";
  // The field the stream orders events by, when it differs from the query's
  // own timestamp field (a rule's timestamp_override); empty: the same.
  std::string stream_timestamp_field;
  std::string tiebreaker_field;  // empty: none
  std::optional<size_t> size;    // results to return at most
  bool tail = false;             // with size: keep the last results
  size_t max_samples_per_key = 1;
  // Live partial sequences, all keys together; for samples, keys that lack
  // an event for some step.
  size_t max_sequence_state = 1'000'000;
  // Sample keys held in memory; past them (when fewer than
  // max_sequence_state) they go to disk, sorted, and are merged back at the
  // end, so that memory does not grow with the number of keys.
  size_t sample_keys_in_memory = 4096;
  // A rule's index patterns: an event that declares its data stream
  // (data_stream.* or _index) is seen only when the stream matches one.
  std::vector<std::string> index_patterns;
  CompileOptions compile;
};

struct EngineStats {
  uint64_t events = 0;
  uint64_t state_evictions = 0;  // oldest partials dropped to stay within max_sequence_state
  uint64_t expired = 0;          // partials dropped because maxspan had passed
  uint64_t peak_partials = 0;    // most partial sequences alive at once
  // Sample keys on disk (not checkpointed: each run has its own spool).
  uint64_t sample_spill_failures = 0;  // spills that failed: keys stay in memory from then on
  uint64_t sample_read_failures = 0;   // runs that could not be read back: their keys lost
  std::string sample_spill_error;      // why, the last time
  std::string sample_read_error;
};

// A query compiled against the rule set's field index: filters, join keys,
// stages, pipes and the slots it reads. Immutable once its filters are
// attached to the rule program (before any event), so that any number of
// partitions' states can share it.
struct CompiledQuery {
  // Compiles the query; compile errors go to diagnostics. With `shared`, the
  // fields it reads are added to that index, so that several queries read
  // one extraction of each event.
  CompiledQuery(const eql::Query& query, const Schema& schema, EngineOptions options,
                Diagnostics* diagnostics, FieldIndex* shared);
  CompiledQuery(const CompiledQuery&) = delete;
  CompiledQuery& operator=(const CompiledQuery&) = delete;

  struct Stage {
    size_t filter = 0;  // index into filters
    size_t step = 0;    // index of the query step it came from
    bool missing = false;
  };
  struct IndexSlots {
    uint32_t index, type, dataset, name_space;
  };

  eql::QueryKind kind;
  EngineOptions options;
  FieldIndex owned_fields;
  FieldIndex* fields = &owned_fields;
  std::vector<CompiledFilter> filters;
  std::vector<std::vector<NodePtr>> step_keys;  // per step (and until): sequence keys + step keys
  std::vector<std::vector<bool>> step_key_optional;  // per step: which keys are ?optional
  std::vector<Stage> stages;                         // steps expanded by `runs`
  std::vector<size_t> positive;                      // indices into stages of non-missing stages
  std::optional<size_t> until_filter;
  size_t until_step = 0;
  int64_t maxspan = 0;  // nanoseconds, 0 for none
  std::vector<eql::Pipe> pipes;
  uint32_t timestamp_slot = 0;
  uint32_t stream_timestamp_slot = 0;
  std::optional<uint32_t> tiebreaker_slot;
  bool has_missing = false;
  // The query's own timestamp field differs from the stream's (a rule's
  // timestamp_override): the engine reads it itself.
  bool own_time = false;
  const DateFormat* time_format = nullptr;
  const DateFormat* stream_time_format = nullptr;
  std::optional<IndexSlots> index_slots;
  std::vector<std::vector<ValueConstraint>> filter_constraints;  // per filter, on indexed slots
  std::vector<uint32_t> index_slots_list;
  std::vector<uint32_t> read_slots;
  std::vector<uint32_t> state_slots;
  const PredicateProgram* program = nullptr;
};

// Orders scalars for join-key maps: by type, then value. The three-way form
// lets a key (a vector of scalars) be compared in one pass, not two.
std::weak_ordering operator<=>(const Scalar& a, const Scalar& b);
bool operator<(const Scalar& a, const Scalar& b);

// Join keys in hash maps: equal when every scalar is equivalent in that order.
struct JoinKeyHash {
  size_t operator()(const std::vector<Scalar>& key) const;
};
struct JoinKeyEqual {
  bool operator()(const std::vector<Scalar>& a, const std::vector<Scalar>& b) const {
    return (a <=> b) == 0;
  }
};

// A map's entries sorted by key: hash maps are written out in key order, so
// that the same state always gives the same bytes.
template <typename Map>
std::vector<const typename Map::value_type*> entries_in_key_order(const Map& map) {
  std::vector<const typename Map::value_type*> sorted;
  sorted.reserve(map.size());
  for (const auto& entry : map) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return sorted;
}

// What one partition's run of a query has built up: live partial
// sequences, samples, remembered missing-step events, results held for the
// end, counters. It can be written out and read back (a checkpoint), with
// the events it holds.
struct QueryState {
  struct Partial {
    std::vector<EventPtr> events;  // one per positive stage reached
    int64_t start = 0;             // the first event's time, for maxspan
  };
  struct KeyState {
    std::vector<std::optional<Partial>>
        stages;  // stages[i]: has positive stages 0..i, waits for i+1 (none waits after the last)
  };
  // Samples: per key (packed with pack_value), the events matching each
  // step, in the order they came, as (step, event) pairs: one small block
  // per key, however many steps the query has.
  struct SampleKey {
    std::vector<std::pair<uint32_t, EventPtr>> events;
    uint64_t since = 0;          // when the key was first seen (events pushed before it)
    uint32_t steps_matched = 0;  // steps with at least one event
    size_t count(uint32_t step) const;
  };

  // Hashed: looked up for most events. Written out and evicted in key order.
  std::unordered_map<std::vector<Scalar>, KeyState, JoinKeyHash, JoinKeyEqual> sequences;
  using Sequence = std::pair<const std::vector<Scalar>, KeyState>;
  std::vector<const Sequence*> sequences_in_order() const;
  size_t live_partials = 0;
  uint64_t since_sweep = 0;
  uint64_t sweep_every = 8192;
  int64_t swept_at = INT64_MIN;  // the query's clock at the last sweep
  // Events of missing-event stages, per key, by stage index.
  std::map<std::vector<Scalar>, std::vector<std::vector<EventPtr>>, std::less<>> missing_hits;
  // Completed results with their keys, in completion order.
  std::vector<std::pair<QueryResult, std::vector<Scalar>>> completed;
  std::set<std::vector<Scalar>, std::less<>> completed_keys;  // with missing stages only
  std::unordered_map<std::string, SampleKey> samples;
  // Sample keys moved to disk, oldest first. A run is a list of spooled
  // chunks of records sorted by packed key (sample_runs.cpp); its tier is 0
  // when written from memory, t + 1 when merged from runs of tier t.
  struct SampleRun {
    std::vector<SpooledDocument> chunks;
    uint32_t tier = 0;
  };
  std::vector<SampleRun> sample_runs;
  size_t sample_step_cap = SIZE_MAX;  // events held per key and step
  size_t sample_steps = 0;            // the query's steps: a run's record holds no other
  // Every sample key, those in runs merged with those in memory (their
  // events in the order they came, at most sample_step_cap per step), in
  // packed-key order; false, with why, when a run cannot be read back. With
  // `wanted`, a key whose count of steps matched it refuses is skipped, its
  // events unread.
  using SampleVisitor = std::function<bool(std::string&& key, SampleKey&& sample)>;
  using StepsWanted = std::function<bool(uint32_t steps_matched)>;
  bool each_sample(const SampleVisitor& visit, std::string* error = nullptr,
                   const StepsWanted& wanted = {}) const;
  // Moves the keys in memory to a new run on disk. The newest `fan_in` runs
  // of one tier are merged into one of the next, memory included when they
  // are of tier 0, so that each key is rewritten once per tier; at
  // `max_runs`, all are merged into one. False when memory cannot be
  // written (nothing changed), or when a merge of runs fails after it (the
  // runs stay as they were, in age order).
  bool spill_samples(DocumentSpool& spool, size_t fan_in, size_t max_runs,
                     std::string* error = nullptr);
  // How many of the newest runs are of `tier` (tiers never grow from the
  // oldest run to the newest).
  size_t newest_runs_of_tier(uint32_t tier) const;
  EngineStats stats;
  size_t emitted = 0;  // results sent to the sink (for head limits)

  // Appends the state, and every event it holds (values, time, order, line
  // and document), to `out`.
  void save(std::string& out) const;
  // Reads what save() wrote; false, with the reason, when it cannot.
  bool load(std::string_view in, std::string* error);
};

// A compiled query and one partition's state: runs the query over events
// that arrive in order.
class QueryEngine {
 public:
  // Compiles the query; compile errors go to diagnostics.
  // With `shared`, the engine adds the fields it reads to that index, so that
  // several engines can read one extraction of each event.
  QueryEngine(const eql::Query& query, const Schema& schema, EngineOptions options,
              Diagnostics* diagnostics = nullptr, FieldIndex* shared = nullptr);
  // Another partition of an already compiled query, with a fresh state.
  explicit QueryEngine(std::shared_ptr<CompiledQuery> query);

  const CompiledQuery& query() const { return *query_; }
  // The compiled query, to give other partitions (QueryEngine(query)).
  const std::shared_ptr<CompiledQuery>& shared_query() const { return query_; }
  // The fields events must carry (fill them with extract_fields).
  const FieldIndex& fields() const { return *query_->fields; }
  uint32_t timestamp_slot() const { return query_->timestamp_slot; }
  uint32_t stream_timestamp_slot() const { return query_->stream_timestamp_slot; }
  // How the stream's timestamp field is read (its mapping's date format).
  const DateFormat& stream_time_format() const { return *query_->stream_time_format; }
  std::optional<uint32_t> tiebreaker_slot() const { return query_->tiebreaker_slot; }

  // Sends results out as soon as they are final, when the query allows it
  // (no tail, no missing-event steps); finish() then returns the rest.
  using ResultSink = std::function<void(QueryResult&&)>;
  void set_sink(ResultSink sink);
  // True once a head limit is reached: later input cannot change the results.
  bool done() const { return streaming_ && state_.emitted >= limit_; }
  // Samples are unordered: they take events without a timestamp too.
  bool needs_time() const { return query_->kind != eql::QueryKind::Sample; }

  // Feeds the next event in order.
  void push(const EventPtr& event);
  // The same for an event whose filters the caller has evaluated: bit f of
  // `matched` says whether filters()[f] matches it (at most 32 filters), and
  // the caller checked the engine's index (index_filters) for it.
  void push(const EventPtr& event, uint32_t matched);
  // Takes such an event without reading its values, when the engine can: a
  // sequence that waits for nothing needs no event its first stage does not
  // match. Its counters and clock move as push() moves them. True when taken.
  bool pass_over(const PackedEvent& event, uint32_t matched);
  // Says that no event comes after those still to be pushed: sample keys
  // on disk then stop merging by tiers, which finish() does once for all.
  void input_ending() { input_ending_ = true; }
  // Ends the input and returns the results, in Elasticsearch's order.
  std::vector<QueryResult> finish();
  const EngineStats& stats() const { return state_.stats; }
  // The partition's state, to checkpoint or to restore. A state restored
  // must fit the query (its stages and steps); false, with why, when not.
  const QueryState& state() const { return state_; }
  bool restore(QueryState state, std::string* error = nullptr);

  // The filters: the event's, or each stage's and until's.
  const std::vector<CompiledFilter>& filters() const { return query_->filters; }
  // Gives the filters' leaves to the rule set's predicate program (once:
  // false, and nothing done, when the engine already serves another).
  bool attach(PredicateProgram& program);
  // An index over engines: the slots that decide `index_filters` (data
  // stream, category, host.os.type, event.type). Events alike in these slots
  // get the same answer, so a stream asks once per distinct combination.
  const std::vector<uint32_t>& index_slots() const { return query_->index_slots_list; }
  // Every slot the engine reads from an event (filters, keys, times, data stream).
  const std::vector<uint32_t>& read_slots() const { return query_->read_slots; }
  // The slots it still reads from an event whose filters were evaluated for
  // it (push with `matched`): times, tiebreaker and join keys.
  const std::vector<uint32_t>& state_slots() const { return query_->state_slots; }
  // The filters (indices into filters()) whose required values of those
  // slots the event has; none when its data stream is not read.
  std::vector<uint32_t> index_filters(const Event& event) const;

 private:
  using Stage = CompiledQuery::Stage;
  using Partial = QueryState::Partial;
  using KeyState = QueryState::KeyState;
  using SampleKey = QueryState::SampleKey;

  // The join keys of an event for a step; none when a required key is missing.
  // The result is scratch of the engine, valid until the next call.
  const std::vector<std::vector<Scalar>>& keys_for(const Event& event, size_t step) const;
  struct KeyScratch {
    std::vector<Values> per_key;
    std::vector<std::vector<Scalar>> out;
    std::string packed;  // a sample key, packed
  };
  mutable KeyScratch key_scratch_;
  static bool earlier(const Event& a, const Event& b);
  void push_sequence(const EventPtr& event);
  void push_sample(const EventPtr& event);
  void advance(KeyState& state, size_t p, const EventPtr& event, int64_t time,
               const std::vector<Scalar>& key);
  // Whether the key has a live partial or a completed candidate.
  bool begun(const std::vector<Scalar>& key) const;
  // Whether any key has.
  bool anything_begun() const { return state_.live_partials > 0 || !state_.completed_keys.empty(); }
  void evict_oldest(const KeyState* keep);
  void complete(Partial partial, const std::vector<Scalar>& key);
  void add_result(QueryResult result, std::vector<Scalar> key);
  // Drops partials (and remembered missing-step events) that maxspan has put
  // out of reach, and decides the held candidates whose window has closed;
  // runs every so often, amortized over the events. `time` is the query's
  // clock (its own timestamp field), `stream_time` the stream's.
  void tick(int64_t time, int64_t stream_time);  // counts an event; sweeps now and then
  void sweep(int64_t now, int64_t stream_now);
  bool missing_ok(const QueryResult& candidate, const std::vector<Scalar>& key) const;
  std::vector<QueryResult> finish_samples();
  bool complete(const SampleKey& sample) const {
    return sample.steps_matched == query_->filters.size();
  }
  void evict_oldest_samples();
  // Sample keys past sample_keys_in_memory go to disk (an unlinked temporary
  // file of this engine's own); in memory, as before, when they cannot.
  void spill_samples_if_due();
  std::shared_ptr<DocumentSpool> sample_spool_;
  bool sample_spool_failed_ = false;
  bool input_ending_ = false;
  bool admits(const Event& event) const;
  void dispatch(const EventPtr& event);
  // Whether filters[f] matches: the caller's answer when it gave one.
  bool matches(size_t filter, const Event& event) const {
    return matched_ ? (*matched_ >> filter) & 1 : query_->filters[filter].matches(event);
  }
  // The event's time for this query: the stream's, or the query's own
  // timestamp field when it has one (a rule's timestamp_override).
  std::optional<int64_t> time_of(const Event& event) const;
  bool admits_uncached(const Event& event) const;

  std::shared_ptr<CompiledQuery> query_;
  QueryState state_;
  std::optional<uint32_t> matched_;
  struct AdmitCache {
    std::string index, type, dataset, name_space;
    bool admitted = false;
  };
  mutable std::vector<AdmitCache> admit_cache_;  // the last data streams seen
  ResultSink sink_;
  bool streaming_ = false;
  size_t limit_ = SIZE_MAX;  // head pipes and size, when streaming
};

}  // namespace pickaxe
