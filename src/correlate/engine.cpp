#include "correlate/engine.h"

#include "event/packed_event.h"
#include "event/patterns.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <span>

#include <fmt/format.h>

namespace pickaxe {

namespace {

// b - a, saturating: timestamps may be anywhere in the int64 range.
int64_t elapsed(int64_t a, int64_t b) {
  int64_t result;
  if (__builtin_sub_overflow(b, a, &result)) return b > a ? INT64_MAX : INT64_MIN;
  return result;
}

}  // namespace

std::weak_ordering operator<=>(const Scalar& a, const Scalar& b) {
  if (a.type != b.type) return a.type <=> b.type;
  switch (a.type) {
    case Scalar::Type::Null: return std::weak_ordering::equivalent;
    case Scalar::Type::Bool: return a.boolean <=> b.boolean;
    case Scalar::Type::Long: return a.integer <=> b.integer;
    case Scalar::Type::Double:
      if (a.number < b.number) return std::weak_ordering::less;
      if (b.number < a.number) return std::weak_ordering::greater;
      return std::weak_ordering::equivalent;
    case Scalar::Type::String: return a.string.compare(b.string) <=> 0;
  }
  return std::weak_ordering::equivalent;
}

bool operator<(const Scalar& a, const Scalar& b) {
  return (a <=> b) < 0;
}

size_t JoinKeyHash::operator()(const std::vector<Scalar>& key) const {
  uint64_t hash = 0x9E3779B97F4A7C15ULL;
  auto mix = [&](uint64_t value) { hash = (hash ^ value) * 0x100000001B3ULL + (hash >> 29); };
  for (const Scalar& value : key) {
    mix(static_cast<uint64_t>(value.type));
    switch (value.type) {
      case Scalar::Type::Null: break;
      case Scalar::Type::Bool: mix(value.boolean); break;
      case Scalar::Type::Long: mix(static_cast<uint64_t>(value.integer)); break;
      case Scalar::Type::Double: {
        // Equivalent doubles hash alike: 0 and -0; every NaN.
        double number = value.number == 0 ? 0.0 : value.number;
        mix(std::isnan(number) ? 1 : std::bit_cast<uint64_t>(number));
        break;
      }
      case Scalar::Type::String: mix(std::hash<std::string>{}(value.string)); break;
    }
  }
  return static_cast<size_t>(hash);
}

namespace {

bool is_optional_field(const eql::Expr& expr) {
  return expr.kind == eql::ExprKind::Field && expr.optional;
}

}  // namespace

CompiledQuery::CompiledQuery(const eql::Query& query, const Schema& schema,
                             EngineOptions engine_options, Diagnostics* diagnostics,
                             FieldIndex* shared)
    : kind(query.kind), options(std::move(engine_options)) {
  if (shared) fields = shared;
  CompileContext context{schema, *fields, diagnostics, options.compile};
  timestamp_slot = fields->add(schema.resolve(options.timestamp_field));
  stream_timestamp_slot = options.stream_timestamp_field.empty()
                              ? timestamp_slot
                              : fields->add(schema.resolve(options.stream_timestamp_field));
  own_time = stream_timestamp_slot != timestamp_slot;
  time_format = &schema.date_format(options.timestamp_field);
  stream_time_format = options.stream_timestamp_field.empty()
                           ? time_format
                           : &schema.date_format(options.stream_timestamp_field);
  if (!options.index_patterns.empty()) {
    index_slots =
        IndexSlots{fields->add("_index"), fields->add("data_stream.type"),
                   fields->add("data_stream.dataset"), fields->add("data_stream.namespace")};
  }
  if (!options.tiebreaker_field.empty())
    tiebreaker_slot = fields->add(schema.resolve(options.tiebreaker_field));

  if (query.kind == eql::QueryKind::Event || query.is_single_step_sequence()) {
    // A one-step sequence (the seed dialect) is its event query.
    kind = eql::QueryKind::Event;
    const eql::EventFilter& filter =
        query.kind == eql::QueryKind::Event ? query.event : query.steps[0].filter;
    filters.push_back(compile_filter(filter, options.category_field, context));
  } else {
    std::vector<const eql::Step*> steps;
    for (const eql::Step& step : query.steps) steps.push_back(&step);
    if (query.until) steps.push_back(&*query.until);
    for (size_t s = 0; s < steps.size(); ++s) {
      filters.push_back(compile_filter(steps[s]->filter, options.category_field, context));
      std::vector<NodePtr> keys;
      std::vector<bool> optional;
      for (const auto& key : query.by) {
        keys.push_back(compile_expression(*key, context));
        optional.push_back(is_optional_field(*key));
      }
      for (const auto& key : steps[s]->by) {
        keys.push_back(compile_expression(*key, context));
        optional.push_back(is_optional_field(*key));
      }
      step_keys.push_back(std::move(keys));
      step_key_optional.push_back(std::move(optional));
    }
    if (query.until) {
      until_filter = steps.size() - 1;
      until_step = steps.size() - 1;
    }
    for (size_t s = 0; s < query.steps.size(); ++s) {
      int64_t runs = query.steps[s].runs.value_or(1);
      for (int64_t r = 0; r < runs; ++r) {
        stages.push_back({s, s, query.steps[s].missing});
        if (!query.steps[s].missing) positive.push_back(stages.size() - 1);
        has_missing = has_missing || query.steps[s].missing;
      }
    }
    if (query.maxspan) maxspan = query.maxspan->nanoseconds();
  }
  for (const eql::Pipe& pipe : query.pipes) pipes.push_back(pipe);
  // The constraints the engine index uses: values that recur across events.
  std::vector<uint32_t> indexed;
  for (const CompiledFilter& filter : filters) indexed.push_back(filter.category_slot);
  for (const char* path : {"host.os.type", "event.type"})
    if (auto slot = fields->slot(schema.resolve(path))) indexed.push_back(*slot);
  if (index_slots)
    index_slots_list = {index_slots->index, index_slots->type, index_slots->dataset,
                        index_slots->name_space};
  for (const CompiledFilter& filter : filters) {
    std::vector<ValueConstraint> kept;
    for (ValueConstraint& constraint : required_values(filter)) {
      if (std::find(indexed.begin(), indexed.end(), constraint.slot) == indexed.end()) continue;
      index_slots_list.push_back(constraint.slot);
      kept.push_back(std::move(constraint));
    }
    filter_constraints.push_back(std::move(kept));
  }
  // The stream's time is read once, into Event::timestamp; a query's own
  // timestamp field is read by the engine.
  if (own_time) state_slots.push_back(timestamp_slot);
  if (tiebreaker_slot) state_slots.push_back(*tiebreaker_slot);
  for (const auto& keys : step_keys)
    for (const NodePtr& key : keys) collect_slots(*key, state_slots);
  std::sort(state_slots.begin(), state_slots.end());
  state_slots.erase(std::unique(state_slots.begin(), state_slots.end()), state_slots.end());
  read_slots = state_slots;
  read_slots.insert(read_slots.end(), {timestamp_slot, stream_timestamp_slot});
  if (index_slots)
    read_slots.insert(read_slots.end(), {index_slots->index, index_slots->type,
                                         index_slots->dataset, index_slots->name_space});
  for (const CompiledFilter& filter : filters) {
    read_slots.push_back(filter.category_slot);
    if (filter.condition) collect_slots(*filter.condition, read_slots);
  }
  for (const auto& keys : step_keys)
    for (const NodePtr& key : keys) collect_slots(*key, read_slots);
  std::sort(read_slots.begin(), read_slots.end());
  read_slots.erase(std::unique(read_slots.begin(), read_slots.end()), read_slots.end());
  std::sort(index_slots_list.begin(), index_slots_list.end());
  index_slots_list.erase(std::unique(index_slots_list.begin(), index_slots_list.end()),
                         index_slots_list.end());
}

QueryEngine::QueryEngine(const eql::Query& query, const Schema& schema, EngineOptions options,
                         Diagnostics* diagnostics, FieldIndex* shared)
    : query_(std::make_shared<CompiledQuery>(query, schema, std::move(options), diagnostics,
                                             shared)) {}

QueryEngine::QueryEngine(std::shared_ptr<CompiledQuery> query) : query_(std::move(query)) {}

std::vector<uint32_t> QueryEngine::index_filters(const Event& event) const {
  std::vector<uint32_t> passing;
  if (query_->index_slots && !admits_uncached(event)) return passing;
  for (size_t f = 0; f < query_->filter_constraints.size(); ++f) {
    const auto& constraints = query_->filter_constraints[f];
    if (std::all_of(constraints.begin(), constraints.end(),
                    [&](const ValueConstraint& c) { return c.met_by(event); }))
      passing.push_back(static_cast<uint32_t>(f));
  }
  return passing;
}

namespace {

// Every combination of the keys' values: a multi-valued key joins under each
// of its values, as in Elasticsearch.
void combinations(std::span<const Values> per_key, size_t index, std::vector<Scalar>& current,
                  std::vector<std::vector<Scalar>>& out) {
  if (out.size() >= 64) return;  // bound the fan-out of multi-valued keys
  if (index == per_key.size()) {
    out.push_back(current);
    return;
  }
  for (const Scalar& value : per_key[index]) {
    if (std::find(per_key[index].begin(), per_key[index].begin() + (&value - per_key[index].data()),
                  value) != per_key[index].begin() + (&value - per_key[index].data()))
      continue;  // a duplicate value joins once
    current.push_back(value);
    combinations(per_key, index + 1, current, out);
    current.pop_back();
  }
}

}  // namespace

const std::vector<std::vector<Scalar>>& QueryEngine::keys_for(const Event& event,
                                                              size_t step) const {
  const auto& keys = query_->step_keys[step];
  // Scratch of the engine, reused event after event: most keys have one value.
  std::vector<Values>& per_key = key_scratch_.per_key;
  std::vector<std::vector<Scalar>>& out = key_scratch_.out;
  if (per_key.size() < keys.size()) per_key.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    evaluate(*keys[i], event, per_key[i]);
    std::erase_if(per_key[i], [](const Scalar& s) { return s.is_null(); });
    if (const DateFormat* format = keys[i]->date_format) {
      // A date key is what Elasticsearch joins on: in a sequence, the value
      // written in the field's format (a hit's field value); in a sample,
      // epoch milliseconds (a composite aggregation's key).
      for (Scalar& value : per_key[i]) {
        std::optional<int64_t> nanos = format->read(value);
        if (!nanos) continue;
        if (query_->kind == eql::QueryKind::Sample) {
          int64_t millis = *nanos / 1'000'000 - (*nanos % 1'000'000 < 0 ? 1 : 0);
          value = Scalar::of_long(millis);
        } else {
          value = Scalar::of_string(format->write(*nanos));
        }
      }
    }
    if (per_key[i].empty()) {
      if (!query_->step_key_optional[step][i]) {  // a required key is missing
        out.clear();
        return out;
      }
      per_key[i].push_back(Scalar::null());
    }
  }
  const bool single = std::all_of(per_key.begin(), per_key.begin() + static_cast<long>(keys.size()),
                                  [](const Values& values) { return values.size() == 1; });
  if (single) {  // one combination, written over the last one's storage
    out.resize(1);
    out[0].resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) out[0][i] = per_key[i][0];
    return out;
  }
  out.clear();
  std::vector<Scalar> current;
  combinations({per_key.begin(), per_key.begin() + static_cast<long>(keys.size())}, 0, current,
               out);
  return out;
}

bool QueryEngine::attach(PredicateProgram& program) {
  if (query_->program) return query_->program == &program;
  query_->program = &program;
  for (CompiledFilter& filter : query_->filters) program.add(filter, *query_->fields);
  return true;
}

bool QueryEngine::admits(const Event& event) const {
  if (!query_->index_slots) return true;
  // Events come from a few data streams: the answers for the last ones are kept.
  auto same = [&](uint32_t slot, const std::string& seen) {
    const Values& values = event.fields[slot];
    if (values.empty()) return seen.empty();
    const Scalar& value = values.front();
    return value.type == Scalar::Type::String && !value.string.empty() && value.string == seen;
  };
  const CompiledQuery::IndexSlots& slots = *query_->index_slots;
  for (const AdmitCache& seen : admit_cache_)
    if (same(slots.index, seen.index) && same(slots.type, seen.type) &&
        same(slots.dataset, seen.dataset) && same(slots.name_space, seen.name_space))
      return seen.admitted;
  bool admitted = admits_uncached(event);
  auto text_of = [&](uint32_t slot) -> std::string {
    const Values& values = event.fields[slot];
    return values.empty() || values.front().type != Scalar::Type::String ? std::string()
                                                                         : values.front().string;
  };
  bool cacheable = true;
  for (uint32_t slot : {slots.index, slots.type, slots.dataset, slots.name_space}) {
    const Values& values = event.fields[slot];
    if (!values.empty() &&
        (values.front().type != Scalar::Type::String || values.front().string.empty()))
      cacheable = false;
  }
  // A few data streams at a time (process, network, file...); the oldest goes.
  if (cacheable) {
    if (admit_cache_.size() >= 8) admit_cache_.erase(admit_cache_.begin());
    admit_cache_.push_back(AdmitCache{text_of(slots.index), text_of(slots.type),
                                      text_of(slots.dataset), text_of(slots.name_space), admitted});
  }
  return admitted;
}

bool QueryEngine::admits_uncached(const Event& event) const {
  auto text = [&](uint32_t slot) -> std::string {
    const Values& values = event.fields[slot];
    return values.empty() ? std::string() : values.front().to_string();
  };
  std::string index = text(query_->index_slots->index);
  if (index.empty()) {
    std::string dataset = text(query_->index_slots->dataset);
    if (dataset.empty()) return true;  // the event does not say where it belongs
    std::string type = text(query_->index_slots->type);
    std::string name_space = text(query_->index_slots->name_space);
    index = (type.empty() ? "logs" : type) + "-" + dataset + "-" +
            (name_space.empty() ? "default" : name_space);
  }
  for (const std::string& pattern : query_->options.index_patterns) {
    // Data streams are backed by .ds-<stream>-<date>-<n> indices; either name matches.
    if (wildcard_match(index, pattern, false)) return true;
    if (index.starts_with(".ds-") && wildcard_match(index.substr(4), pattern, false)) return true;
  }
  return false;
}

void QueryEngine::tick(int64_t time, int64_t stream_time) {
  // Also once a maxspan has passed on the stream's clock since the last
  // sweep: a query that sees few events would otherwise hold what maxspan
  // put out of reach until thousands came. Such a sweep waits until there
  // are at least a quarter as many events since the last one as keys held,
  // so it stays amortized. Not on a query's own timestamp field, which the
  // stream does not order: it may go back to a partial a sweep let go.
  ++state_.since_sweep;
  auto window_passed = [&] {
    if (query_->maxspan <= 0 || query_->own_time ||
        elapsed(state_.swept_at, time) <= query_->maxspan)
      return false;
    const size_t held =
        state_.sequences.size() + state_.missing_hits.size() + state_.completed.size();
    return held > 0 && 4 * state_.since_sweep >= held;
  };
  if (state_.since_sweep >= state_.sweep_every || window_passed()) {
    sweep(time, stream_time);
    // Sweep again once as many events came as there are keys left: amortized O(1).
    state_.sweep_every =
        std::max<size_t>(8192, state_.sequences.size() + state_.missing_hits.size());
  }
}

void QueryEngine::push(const EventPtr& event) {
  ++state_.stats.events;
  if (admits(*event)) dispatch(event);
}

void QueryEngine::push(const EventPtr& event, uint32_t matched) {
  ++state_.stats.events;
  matched_ = matched;
  dispatch(event);
  matched_.reset();
}

void QueryEngine::dispatch(const EventPtr& event) {
  switch (query_->kind) {
    case eql::QueryKind::Event:
      if (query_->own_time && !time_of(*event))
        break;  // no value in the query's own timestamp field
      if (matches(0, *event)) add_result(QueryResult{{event}, {}}, {});
      break;
    case eql::QueryKind::Sequence: push_sequence(event); break;
    case eql::QueryKind::Sample: push_sample(event); break;
  }
}

void QueryEngine::sweep(int64_t now, int64_t stream_now) {
  state_.since_sweep = 0;
  state_.swept_at = now;
  if (query_->maxspan <= 0) return;
  // A candidate held for its missing steps is decided once no event to come
  // can fall in its window (events come in stream time), before the
  // missing-step events it is checked against are let go below.
  std::erase_if(state_.completed, [&](const auto& held) {
    const auto& [candidate, key] = held;
    auto first = std::find_if(candidate.events.begin(), candidate.events.end(),
                              [](const EventPtr& event) { return event != nullptr; });
    return first != candidate.events.end() &&
           elapsed((*first)->timestamp, stream_now) > query_->maxspan &&
           !missing_ok(candidate, key);
  });
  for (auto it = state_.sequences.begin(); it != state_.sequences.end();) {
    bool any = false;
    for (auto& partial : it->second.stages) {
      if (partial && elapsed(partial->start, now) > query_->maxspan) {
        partial.reset();
        --state_.live_partials;
        ++state_.stats.expired;
      }
      any = any || partial.has_value();
    }
    it = any ? std::next(it) : state_.sequences.erase(it);
  }
  // A missing-step event older than two maxspans can no longer fall in the
  // window of a candidate not yet decided.
  for (auto it = state_.missing_hits.begin(); it != state_.missing_hits.end();) {
    bool any = false;
    for (auto& hits : it->second) {
      std::erase_if(hits, [&](const EventPtr& hit) {
        return elapsed(hit->timestamp, stream_now) / 2 > query_->maxspan;
      });
      any = any || !hits.empty();
    }
    it = any ? std::next(it) : state_.missing_hits.erase(it);
  }
}

std::optional<int64_t> QueryEngine::time_of(const Event& event) const {
  if (!query_->own_time) return event.timestamp;
  const Values& values = event.fields[query_->timestamp_slot];
  if (values.empty()) return std::nullopt;
  return query_->time_format->read(values.front());
}

bool QueryEngine::pass_over(const PackedEvent& event, uint32_t matched) {
  if (query_->kind != eql::QueryKind::Sequence || query_->positive.empty()) return false;
  // Events of a leading missing step are remembered even before any partial.
  if (query_->stages.front().missing) return false;
  if (anything_begun()) return false;
  const size_t first = query_->stages[query_->positive.front()].filter;
  if (first >= 32 || (matched >> first & 1)) return false;
  ++state_.stats.events;
  std::optional<int64_t> time = event.timestamp();
  if (query_->own_time) {
    std::optional<Scalar> value = event.first_value(query_->timestamp_slot);
    time = value ? query_->time_format->read(*value) : std::nullopt;
  }
  if (time) tick(*time, event.timestamp());
  return true;
}

void QueryEngine::push_sequence(const EventPtr& event) {
  const size_t stage_count = query_->positive.size();
  if (stage_count == 0) return;
  const std::optional<int64_t> time = time_of(*event);
  if (!time) return;  // no value in the query's own timestamp field
  tick(*time, event->timestamp);
  // Remember events of missing steps, per key, to check gaps later. Unless
  // the sequence starts with a missing step, an event of one is checked only
  // against candidates that had begun when it came: a live partial, or a
  // completed candidate waiting for its trailing gap.
  const bool leading_missing = query_->stages.front().missing;
  const bool anything_begun = this->anything_begun();
  for (size_t m = 0; m < query_->stages.size(); ++m) {
    if (!query_->stages[m].missing || (!leading_missing && !anything_begun)) continue;
    if (!matches(query_->stages[m].filter, *event)) continue;
    for (const auto& key : keys_for(*event, query_->stages[m].step)) {
      if (!leading_missing && !begun(key)) continue;
      auto& hits = state_.missing_hits[key];
      hits.resize(query_->stages.size());
      hits[m].push_back(event);
    }
  }
  // Later stages first, so that one event never fills two stages of one sequence.
  for (size_t p = stage_count; p-- > 0;) {
    if (p > 0 && state_.live_partials == 0) continue;  // nothing to advance
    const Stage& stage = query_->stages[query_->positive[p]];
    if (!matches(stage.filter, *event)) continue;
    for (const auto& key : keys_for(*event, stage.step)) {
      if (stage_count == 1) {
        complete(Partial{{event}, *time}, key);
        continue;
      }
      if (p > 0) {
        auto it = state_.sequences.find(key);
        if (it == state_.sequences.end()) continue;
        advance(it->second, p, event, *time, key);
        continue;
      }
      // A partial that has reached the last stage is complete: it waits nowhere.
      KeyState& state = state_.sequences[key];
      if (state.stages.size() != stage_count - 1) state.stages.resize(stage_count - 1);
      {
        Partial partial{{event}, *time};
        if (!state.stages[0]) {
          if (state_.live_partials >= query_->options.max_sequence_state) evict_oldest(&state);
          ++state_.live_partials;
          state_.stats.peak_partials =
              std::max<uint64_t>(state_.stats.peak_partials, state_.live_partials);
        }
        state.stages[0] = std::move(partial);  // a newer partial replaces the older one
      }
    }
  }
  // `until` ends the partials of its key, after this event completed what it could.
  if (query_->until_filter && matches(*query_->until_filter, *event)) {
    for (const auto& key : keys_for(*event, query_->until_step)) {
      auto it = state_.sequences.find(key);
      if (it == state_.sequences.end()) continue;
      for (auto& partial : it->second.stages) {
        if (partial) {
          partial.reset();
          --state_.live_partials;
        }
      }
    }
  }
}

// Past --max-sequence-state, the oldest partials go (by their first event's
// time), a tenth of them at once so that a flood costs O(1) a key: a flood
// of new keys cannot block the sequences that begin after it.
void QueryEngine::evict_oldest(const KeyState* keep) {
  std::vector<int64_t> starts;
  starts.reserve(state_.live_partials);
  for (const auto& [key, state] : state_.sequences)
    for (const auto& partial : state.stages)
      if (partial) starts.push_back(partial->start);
  if (starts.empty()) return;
  size_t count = std::max<size_t>(1, starts.size() / 10);
  std::nth_element(starts.begin(), starts.begin() + static_cast<long>(count - 1), starts.end());
  const int64_t threshold = starts[count - 1];
  // Of the partials begun by the threshold, the first `count` in key order go.
  for (const QueryState::Sequence* sequence : state_.sequences_in_order()) {
    if (count == 0) break;
    for (auto& partial : const_cast<KeyState&>(sequence->second).stages) {
      if (count > 0 && partial && partial->start <= threshold) {
        partial.reset();
        --state_.live_partials;
        ++state_.stats.state_evictions;
        --count;
      }
    }
  }
  // Keys left with nothing go, but for the one being filled in.
  std::erase_if(state_.sequences, [&](const auto& entry) {
    return &entry.second != keep &&
           std::none_of(entry.second.stages.begin(), entry.second.stages.end(),
                        [](const auto& partial) { return partial.has_value(); });
  });
}

// Moves the key's partial waiting for positive stage p on with the event.
void QueryEngine::advance(KeyState& state, size_t p, const EventPtr& event, int64_t time,
                          const std::vector<Scalar>& key) {
  std::optional<Partial>& previous = state.stages[p - 1];
  if (!previous) return;
  if (query_->maxspan > 0 && elapsed(previous->start, time) > query_->maxspan) {
    previous.reset();  // expired
    --state_.live_partials;
    return;
  }
  Partial advanced = std::move(*previous);
  previous.reset();
  advanced.events.push_back(event);
  if (p + 1 == query_->positive.size()) {
    --state_.live_partials;
    complete(std::move(advanced), key);
  } else {
    if (state.stages[p]) --state_.live_partials;
    state.stages[p] = std::move(advanced);
  }
}

bool QueryEngine::begun(const std::vector<Scalar>& key) const {
  if (state_.completed_keys.contains(key)) return true;
  auto it = state_.sequences.find(key);
  if (it == state_.sequences.end()) return false;
  return std::any_of(it->second.stages.begin(), it->second.stages.end(),
                     [](const std::optional<Partial>& partial) { return partial.has_value(); });
}

void QueryEngine::complete(Partial partial, const std::vector<Scalar>& key) {
  // Lay the events out over all stages, missing stages as null.
  QueryResult result;
  result.join_keys = key;
  size_t next = 0;
  for (const Stage& stage : query_->stages)
    result.events.push_back(stage.missing ? nullptr : partial.events[next++]);
  add_result(std::move(result), key);
}

void QueryEngine::set_sink(ResultSink sink) {
  bool missing = std::any_of(query_->stages.begin(), query_->stages.end(),
                             [](const Stage& s) { return s.missing; });
  bool tail = query_->options.tail && query_->options.size;
  size_t limit = query_->options.size.value_or(SIZE_MAX);
  for (const eql::Pipe& pipe : query_->pipes) {
    if (pipe.kind == eql::PipeKind::Tail) tail = true;
    limit = std::min(limit, static_cast<size_t>(std::max<int64_t>(0, pipe.count)));
  }
  if (query_->kind == eql::QueryKind::Sample || missing || tail)
    return;  // results need the whole input
  sink_ = std::move(sink);
  streaming_ = true;
  limit_ = limit;
}

void QueryEngine::add_result(QueryResult result, std::vector<Scalar> key) {
  if (!streaming_) {
    if (query_->has_missing) state_.completed_keys.insert(key);
    state_.completed.push_back({std::move(result), std::move(key)});
    return;
  }
  if (state_.emitted >= limit_) return;
  ++state_.emitted;
  sink_(std::move(result));
}

// Events arrive in order; `order` numbers them as they arrive.
bool QueryEngine::earlier(const Event& a, const Event& b) {
  return a.order < b.order;
}

// A candidate is dropped when an event of one of its missing steps, with the
// same keys, occurs where the step stands: between its neighbours for a step
// inside the sequence; for steps at the edges, such that the sequence grown
// by the edge events (a leading and a trailing one together, when the query
// has both) still fits in maxspan.
bool QueryEngine::missing_ok(const QueryResult& candidate, const std::vector<Scalar>& key) const {
  auto it = state_.missing_hits.find(key);
  if (it == state_.missing_hits.end()) return true;
  const auto& hits = it->second;
  const size_t n = query_->stages.size();
  size_t first = 0, last = n;
  while (first < n && !candidate.events[first]) ++first;
  while (last > 0 && !candidate.events[last - 1]) --last;
  if (first == n) return true;
  const Event& first_event = *candidate.events[first];
  const Event& last_event = *candidate.events[last - 1];
  auto hits_of = [&](size_t stage) -> const std::vector<EventPtr>& {
    static const std::vector<EventPtr> kNone;
    return stage < hits.size() ? hits[stage] : kNone;
  };
  // Inside the sequence.
  for (size_t m = first + 1; m < last; ++m) {
    if (!query_->stages[m].missing) continue;
    const Event* previous = nullptr;
    const Event* next = nullptr;
    for (size_t i = m; i-- > first && !previous;) previous = candidate.events[i].get();
    for (size_t i = m + 1; i < last && !next; ++i) next = candidate.events[i].get();
    for (const EventPtr& hit : hits_of(m)) {
      if (earlier(*previous, *hit) && earlier(*hit, *next)) return false;
    }
  }
  // At the edges: the latest leading and the earliest trailing event.
  const int64_t span = query_->maxspan > 0 ? query_->maxspan : std::numeric_limits<int64_t>::max();
  std::optional<int64_t> leading, trailing;
  bool has_leading = first > 0, has_trailing = last < n;
  for (size_t m = 0; m < first; ++m) {
    for (const EventPtr& hit : hits_of(m)) {
      if (earlier(*hit, first_event) && (!leading || hit->timestamp > *leading))
        leading = hit->timestamp;
    }
  }
  for (size_t m = last; m < n; ++m) {
    for (const EventPtr& hit : hits_of(m)) {
      if (earlier(last_event, *hit) && (!trailing || hit->timestamp < *trailing))
        trailing = hit->timestamp;
    }
  }
  if (has_leading && has_trailing)
    return !(leading && trailing && elapsed(*leading, *trailing) <= span);
  if (has_leading) return !(leading && elapsed(*leading, last_event.timestamp) <= span);
  if (has_trailing) return !(trailing && elapsed(first_event.timestamp, *trailing) <= span);
  return true;
}

void QueryEngine::push_sample(const EventPtr& event) {
  // Before the event, never between its steps: an event held for two steps
  // of a key stays one event.
  spill_samples_if_due();
  std::string& packed = key_scratch_.packed;
  for (size_t s = 0; s < query_->filters.size(); ++s) {
    if (!matches(s, *event)) continue;
    for (const auto& key : keys_for(*event, s)) {
      packed.clear();
      for (const Scalar& value : key) pack_value(packed, value);
      auto found = state_.samples.find(packed);
      if (found == state_.samples.end()) {
        if (state_.samples.size() >= query_->options.max_sequence_state) evict_oldest_samples();
        found = state_.samples.emplace(packed, SampleKey{}).first;
        found->second.since = state_.stats.events;
      }
      SampleKey& sample = found->second;
      const uint32_t step = static_cast<uint32_t>(s);
      // A few spare candidates, for events that match several steps.
      const size_t held = sample.count(step);
      if (held >= query_->options.max_samples_per_key + query_->filters.size()) continue;
      if (held == 0) ++sample.steps_matched;
      sample.events.emplace_back(step, event);
    }
  }
}

// Runs on disk are merged by 16 of a tier (each key rewritten once per
// 16-fold growth), and all into one past 64, so that a merge reads a bounded
// number of chunks at once. Once the input is ending, runs of tier 0 pile
// up until the runs would reach that bound, and then only they merge (with
// memory): finish() merges every run anyway, and a merge before it would be
// a copy.
constexpr size_t kSampleFanIn = 16;
constexpr size_t kSampleRuns = 64;

void QueryEngine::spill_samples_if_due() {
  const EngineOptions& options = query_->options;
  if (state_.samples.size() < options.sample_keys_in_memory ||
      options.sample_keys_in_memory >= options.max_sequence_state || sample_spool_failed_)
    return;
  if (!sample_spool_) sample_spool_ = std::make_shared<DocumentSpool>();
  state_.sample_step_cap = options.max_samples_per_key + query_->filters.size();
  state_.sample_steps = query_->filters.size();
  // When the disk cannot take them, keys stay in memory, bounded by
  // max_sequence_state as before.
  size_t fan_in = kSampleFanIn;
  if (input_ending_) {
    // Memory joins the newest runs of tier 0 when they and the older runs
    // fill all but one place of kSampleRuns.
    const size_t older = state_.sample_runs.size() - state_.newest_runs_of_tier(0);
    fan_in = kSampleRuns - std::min(older, kSampleRuns - 2);
  }
  std::string error;
  if (!state_.spill_samples(*sample_spool_, fan_in, kSampleRuns, &error)) {
    sample_spool_failed_ = true;
    ++state_.stats.sample_spill_failures;
    state_.stats.sample_spill_error = std::move(error);
  }
}

// Past --max-sequence-state keys, the oldest tenth of the incomplete ones go,
// as partial sequences do: a flood of keys cannot grow memory without end.
// Complete keys are results and stay.
void QueryEngine::evict_oldest_samples() {
  std::vector<uint64_t> since;
  for (const auto& [key, sample] : state_.samples)
    if (!complete(sample)) since.push_back(sample.since);
  if (since.empty()) return;
  size_t count = std::max<size_t>(1, since.size() / 10);
  std::nth_element(since.begin(), since.begin() + static_cast<long>(count - 1), since.end());
  const uint64_t threshold = since[count - 1];
  for (auto it = state_.samples.begin(); it != state_.samples.end();) {
    if (count > 0 && it->second.since <= threshold && !complete(it->second)) {
      it = state_.samples.erase(it);
      ++state_.stats.state_evictions;
      --count;
    } else {
      ++it;
    }
  }
}

// Per key, sample i takes the i-th event of each step (or its last one, when
// the step has fewer), skipping events already in the sample; keys come in
// sorted order.
std::vector<QueryResult> QueryEngine::finish_samples() {
  std::vector<std::pair<std::vector<Scalar>, const SampleKey*>> keys;
  auto take = [&](std::string_view packed, const SampleKey& sample) {
    if (!complete(sample)) return;
    std::vector<Scalar> key;
    for (std::string_view rest = packed; !rest.empty();) key.push_back(*unpack_value(rest));
    keys.emplace_back(std::move(key), &sample);
  };
  // Keys on disk come back merged with those in memory; only the complete
  // ones (results) are held.
  std::vector<std::pair<std::string, SampleKey>> merged;
  if (state_.sample_runs.empty()) {
    for (const auto& [packed, sample] : state_.samples) take(packed, sample);
  } else {
    // An unreadable run (its disk gone) loses its keys: counted as dropped.
    const uint32_t steps = static_cast<uint32_t>(query_->filters.size());
    std::string error;
    if (!state_.each_sample(
            [&](std::string&& packed, SampleKey&& sample) {
              merged.emplace_back(std::move(packed), std::move(sample));
              return true;
            },
            &error, [&](uint32_t matched) { return matched == steps; })) {
      ++state_.stats.state_evictions;
      ++state_.stats.sample_read_failures;
      state_.stats.sample_read_error = std::move(error);
    }
    for (const auto& [packed, sample] : merged) take(packed, sample);
  }
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return std::less<>{}(a.first, b.first); });
  std::vector<QueryResult> results;
  std::vector<std::vector<EventPtr>> per_step(query_->filters.size());
  for (auto& [key, sample] : keys) {
    for (auto& events : per_step) events.clear();
    for (const auto& [step, event] : sample->events) per_step[step].push_back(event);
    size_t most = 0;
    for (const auto& events : per_step) most = std::max(most, events.size());
    for (size_t i = 0; i < std::min(most, query_->options.max_samples_per_key); ++i) {
      QueryResult result;
      result.join_keys = key;
      for (const auto& events : per_step) {
        auto unused = [&](const EventPtr& e) {
          return std::find(result.events.begin(), result.events.end(), e) == result.events.end();
        };
        std::optional<size_t> pick;
        for (size_t j = std::min(i, events.empty() ? 0 : events.size() - 1);
             j < events.size() && !pick; ++j) {
          if (unused(events[j])) pick = j;
        }
        for (size_t j = 0; j < events.size() && !pick; ++j) {
          if (unused(events[j])) pick = j;
        }
        if (!pick) break;
        result.events.push_back(events[*pick]);
      }
      if (result.events.size() == query_->filters.size()) results.push_back(std::move(result));
    }
  }
  return results;
}

bool QueryEngine::restore(QueryState state, std::string* error) {
  const CompiledQuery& query = *query_;
  auto unfit = [&](const char* what) {
    if (error) *error = fmt::format("the saved state does not fit this query: {}", what);
    return false;
  };
  const size_t positive = query.positive.size();
  size_t live = 0;
  for (const auto& [key, key_state] : state.sequences) {
    if (key_state.stages.size() + 1 != positive) return unfit("partial sequence stages");
    for (size_t p = 0; p < key_state.stages.size(); ++p) {
      const auto& partial = key_state.stages[p];
      if (!partial) continue;
      ++live;
      if (partial->events.size() != p + 1 ||
          std::any_of(partial->events.begin(), partial->events.end(),
                      [](const EventPtr& event) { return !event; }))
        return unfit("partial sequence events");
    }
  }
  if (live != state.live_partials) return unfit("live partial count");
  for (const auto& [key, stages] : state.missing_hits)
    if (stages.size() != query.stages.size()) return unfit("missing-step events");
  for (const auto& [result, key] : state.completed) {
    const size_t expected = query.kind == eql::QueryKind::Event ? 1 : query.stages.size();
    if (result.events.size() != expected) return unfit("result events");
    for (size_t i = 0; i < result.events.size(); ++i) {
      const bool missing = query.kind != eql::QueryKind::Event && query.stages[i].missing;
      if (!result.events[i] != missing) return unfit("result events");
    }
  }
  const size_t key_count = query.step_keys.empty() ? 0 : query.step_keys.front().size();
  for (const auto& [key, sample] : state.samples) {
    size_t values = 0;
    for (std::string_view rest = key; !rest.empty(); ++values) {
      std::optional<Scalar> value = unpack_value(rest);
      if (!value || (value->type == Scalar::Type::Double && std::isnan(value->number)))
        return unfit("sample keys");
    }
    if (values != key_count) return unfit("sample keys");
    std::vector<bool> seen(query.filters.size(), false);
    for (const auto& [step, event] : sample.events) {
      if (step >= query.filters.size() || !event) return unfit("sample steps");
      seen[step] = true;
    }
    if (static_cast<size_t>(std::count(seen.begin(), seen.end(), true)) != sample.steps_matched)
      return unfit("sample steps");
  }
  state_ = std::move(state);
  return true;
}

std::vector<QueryResult> QueryEngine::finish() {
  std::vector<QueryResult> results;
  if (query_->kind == eql::QueryKind::Sample) {
    results = finish_samples();
  } else {
    for (auto& [result, key] : state_.completed) {
      if (query_->kind == eql::QueryKind::Sequence && !missing_ok(result, key)) continue;
      results.push_back(std::move(result));
    }
    state_.completed.clear();
    state_.completed_keys.clear();
  }
  // Sequences come back in the order they completed, as in Elasticsearch.
  // head and tail count whole results, in pipe order; then the requested size.
  auto keep = [&results](size_t count, bool tail) {
    if (results.size() <= count) return;
    if (tail) {
      results.erase(results.begin(), results.end() - static_cast<long>(count));
    } else {
      results.resize(count);
    }
  };
  for (const eql::Pipe& pipe : query_->pipes) {
    keep(static_cast<size_t>(std::max<int64_t>(0, pipe.count)), pipe.kind == eql::PipeKind::Tail);
  }
  // Samples come in key order and ignore the result position, as in
  // Elasticsearch, which pages through its samples from the first key.
  if (query_->options.size)
    keep(*query_->options.size, query_->options.tail && query_->kind != eql::QueryKind::Sample);
  return results;
}

}  // namespace pickaxe
