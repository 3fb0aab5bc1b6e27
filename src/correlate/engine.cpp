#include "correlate/engine.h"

#include <algorithm>

namespace pickaxe {

bool operator<(const Scalar& a, const Scalar& b) {
  if (a.type != b.type) return a.type < b.type;
  switch (a.type) {
    case Scalar::Type::Null: return false;
    case Scalar::Type::Bool: return a.boolean < b.boolean;
    case Scalar::Type::Long: return a.integer < b.integer;
    case Scalar::Type::Double: return a.number < b.number;
    case Scalar::Type::String: return a.string < b.string;
  }
  return false;
}

namespace {

// Every combination of the keys' values (a multi-valued key joins under each value).
void combinations(const std::vector<Values>& per_key, size_t index, std::vector<Scalar>& current,
                  std::vector<std::vector<Scalar>>& out) {
  if (out.size() >= 64) return;  // bound the fan-out of multi-valued keys
  if (index == per_key.size()) {
    out.push_back(current);
    return;
  }
  for (const Scalar& value : per_key[index]) {
    current.push_back(value);
    combinations(per_key, index + 1, current, out);
    current.pop_back();
  }
}

bool is_optional_field(const eql::Expr& expr) { return expr.kind == eql::ExprKind::Field && expr.optional; }

}  // namespace

QueryEngine::QueryEngine(const eql::Query& query, const Schema& schema, EngineOptions options,
                         Diagnostics* diagnostics)
    : kind_(query.kind), options_(std::move(options)) {
  CompileContext context{schema, fields_, diagnostics, options_.compile};
  timestamp_slot_ = fields_.add(schema.resolve(options_.timestamp_field));
  if (!options_.tiebreaker_field.empty()) tiebreaker_slot_ = fields_.add(schema.resolve(options_.tiebreaker_field));

  if (query.kind == eql::QueryKind::Event || query.is_single_step_sequence()) {
    // A one-step sequence (the seed dialect) is its event query.
    kind_ = eql::QueryKind::Event;
    const eql::EventFilter& filter = query.kind == eql::QueryKind::Event ? query.event : query.steps[0].filter;
    filters_.push_back(compile_filter(filter, options_.category_field, context));
  } else {
    std::vector<const eql::Step*> steps;
    for (const eql::Step& step : query.steps) steps.push_back(&step);
    if (query.until) steps.push_back(&*query.until);
    for (size_t s = 0; s < steps.size(); ++s) {
      filters_.push_back(compile_filter(steps[s]->filter, options_.category_field, context));
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
      step_keys_.push_back(std::move(keys));
      step_key_optional_.push_back(std::move(optional));
    }
    if (query.until) {
      until_filter_ = steps.size() - 1;
      until_step_ = steps.size() - 1;
    }
    for (size_t s = 0; s < query.steps.size(); ++s) {
      int64_t runs = query.steps[s].runs.value_or(1);
      for (int64_t r = 0; r < runs; ++r) {
        stages_.push_back({s, s, query.steps[s].missing});
        if (!query.steps[s].missing) positive_.push_back(stages_.size() - 1);
      }
    }
    if (query.maxspan) maxspan_ = query.maxspan->nanoseconds();
  }
  for (const eql::Pipe& pipe : query.pipes) pipes_.push_back(pipe);
}

std::optional<std::vector<std::vector<Scalar>>> QueryEngine::keys_for(const Event& event, size_t step) const {
  const auto& keys = step_keys_[step];
  std::vector<Values> per_key(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    evaluate(*keys[i], event, per_key[i]);
    std::erase_if(per_key[i], [](const Scalar& s) { return s.is_null(); });
    if (per_key[i].empty()) {
      if (!step_key_optional_[step][i]) return std::nullopt;
      per_key[i].push_back(Scalar::null());
    }
  }
  std::vector<std::vector<Scalar>> out;
  std::vector<Scalar> current;
  combinations(per_key, 0, current, out);
  return out;
}

void QueryEngine::push(const EventPtr& event) {
  ++stats_.events;
  switch (kind_) {
    case eql::QueryKind::Event:
      if (filters_[0].matches(*event)) completed_.push_back({QueryResult{{event}, {}}, {}});
      break;
    case eql::QueryKind::Sequence: push_sequence(event); break;
    case eql::QueryKind::Sample: push_sample(event); break;
  }
}

void QueryEngine::push_sequence(const EventPtr& event) {
  const size_t stage_count = positive_.size();
  if (stage_count == 0) return;
  // `until` first: it ends the partials of its key.
  if (until_filter_ && filters_[*until_filter_].matches(*event)) {
    if (auto keys = keys_for(*event, until_step_)) {
      for (const auto& key : *keys) {
        auto it = sequences_.find(key);
        if (it == sequences_.end()) continue;
        for (auto& partial : it->second.stages) {
          if (partial) --live_partials_;
          partial.reset();
        }
      }
    }
  }
  // Remember events of missing steps, per key, to check gaps later.
  for (size_t m = 0; m < stages_.size(); ++m) {
    if (!stages_[m].missing || !filters_[stages_[m].filter].matches(*event)) continue;
    if (auto keys = keys_for(*event, stages_[m].step)) {
      for (const auto& key : *keys) {
        auto& hits = missing_hits_[key];
        hits.resize(stages_.size());
        hits[m].push_back(event);
      }
    }
  }
  // Later stages first, so that one event never fills two stages of one sequence.
  for (size_t p = stage_count; p-- > 0;) {
    const Stage& stage = stages_[positive_[p]];
    if (!filters_[stage.filter].matches(*event)) continue;
    auto keys = keys_for(*event, stage.step);
    if (!keys) continue;
    for (const auto& key : *keys) {
      KeyState& state = sequences_[key];
      if (state.stages.size() != stage_count) state.stages.resize(stage_count);
      if (p == 0) {
        Partial partial{{event}};
        if (stage_count == 1) {
          complete(std::move(partial), key);
          continue;
        }
        if (!state.stages[0]) {
          if (live_partials_ >= options_.max_sequence_state) {
            ++stats_.state_evictions;
            continue;
          }
          ++live_partials_;
        }
        state.stages[0] = std::move(partial);  // a newer partial replaces the older one
        continue;
      }
      std::optional<Partial>& previous = state.stages[p - 1];
      if (!previous) continue;
      const Event& first = *previous->events.front();
      if (maxspan_ > 0 && event->timestamp - first.timestamp > maxspan_) {
        previous.reset();  // expired
        --live_partials_;
        continue;
      }
      Partial advanced = std::move(*previous);
      previous.reset();
      advanced.events.push_back(event);
      if (p + 1 == stage_count) {
        --live_partials_;
        complete(std::move(advanced), key);
      } else {
        if (state.stages[p]) --live_partials_;
        state.stages[p] = std::move(advanced);
      }
    }
  }
}

void QueryEngine::complete(Partial partial, const std::vector<Scalar>& key) {
  // Lay the events out over all stages, missing stages as null.
  QueryResult result;
  result.join_keys = key;
  size_t next = 0;
  for (const Stage& stage : stages_) result.events.push_back(stage.missing ? nullptr : partial.events[next++]);
  completed_.push_back({std::move(result), key});
}

// Events arrive in order; `order` numbers them as they arrive.
bool QueryEngine::earlier(const Event& a, const Event& b) { return a.order < b.order; }

bool QueryEngine::missing_ok(const QueryResult& candidate, const std::vector<Scalar>& key) const {
  auto it = missing_hits_.find(key);
  if (it == missing_hits_.end()) return true;
  const auto& hits = it->second;
  const Event* first = nullptr;
  for (const auto& event : candidate.events) {
    if (event && !first) first = event.get();
  }
  if (!first) return true;
  for (size_t m = 0; m < stages_.size(); ++m) {
    if (!stages_[m].missing || m >= hits.size()) continue;
    // The positive events around the missing stage.
    const Event* before = nullptr;
    const Event* after = nullptr;
    for (size_t i = m; i-- > 0 && !before;) before = candidate.events[i].get();
    for (size_t i = m + 1; i < stages_.size() && !after; ++i) after = candidate.events[i].get();
    for (const EventPtr& hit : hits[m]) {
      bool violates = false;
      if (before && after) {
        violates = earlier(*before, *hit) && earlier(*hit, *after);
      } else if (after) {  // leading: within maxspan before the sequence
        violates = earlier(*hit, *after) && hit->timestamp >= after->timestamp - maxspan_;
      } else if (before) {  // trailing: within maxspan of the sequence's start
        violates = earlier(*before, *hit) && hit->timestamp <= first->timestamp + maxspan_;
      }
      if (violates) return false;
    }
  }
  return true;
}

void QueryEngine::push_sample(const EventPtr& event) {
  for (size_t s = 0; s < filters_.size(); ++s) {
    if (!filters_[s].matches(*event)) continue;
    auto keys = keys_for(*event, s);
    if (!keys) continue;
    for (const auto& key : *keys) {
      auto& per_step = samples_[key];
      per_step.resize(filters_.size());
      // Enough candidates for max_samples_per_key samples, even when events match several steps.
      if (per_step[s].size() < options_.max_samples_per_key * filters_.size()) per_step[s].push_back(event);
    }
  }
}

std::vector<QueryResult> QueryEngine::finish_samples() {
  std::vector<QueryResult> results;
  for (const auto& [key, per_step] : samples_) {
    std::vector<std::vector<bool>> used(per_step.size());
    for (size_t s = 0; s < per_step.size(); ++s) used[s].assign(per_step[s].size(), false);
    for (size_t n = 0; n < options_.max_samples_per_key; ++n) {
      QueryResult sample;
      std::vector<size_t> picks;
      for (size_t s = 0; s < per_step.size(); ++s) {
        std::optional<size_t> pick;
        for (size_t i = 0; i < per_step[s].size() && !pick; ++i) {
          if (used[s][i]) continue;
          bool taken = std::any_of(sample.events.begin(), sample.events.end(),
                                   [&](const EventPtr& e) { return e == per_step[s][i]; });
          if (!taken) pick = i;
        }
        if (!pick) break;
        picks.push_back(*pick);
        sample.events.push_back(per_step[s][*pick]);
      }
      if (sample.events.size() != per_step.size()) break;
      for (size_t s = 0; s < picks.size(); ++s) used[s][picks[s]] = true;
      sample.join_keys = key;
      results.push_back(std::move(sample));
    }
  }
  return results;
}

std::vector<QueryResult> QueryEngine::finish() {
  std::vector<QueryResult> results;
  if (kind_ == eql::QueryKind::Sample) {
    results = finish_samples();
  } else {
    for (auto& [result, key] : completed_) {
      if (kind_ == eql::QueryKind::Sequence && !missing_ok(result, key)) continue;
      results.push_back(std::move(result));
    }
    completed_.clear();
  }
  if (kind_ == eql::QueryKind::Sequence) {
    // Sequences come back in the order of their first event.
    auto first_of = [](const QueryResult& r) -> const Event* {
      for (const auto& e : r.events) {
        if (e) return e.get();
      }
      return nullptr;
    };
    std::stable_sort(results.begin(), results.end(), [&](const QueryResult& a, const QueryResult& b) {
      const Event* x = first_of(a);
      const Event* y = first_of(b);
      return x && y && earlier(*x, *y);
    });
  }
  // head and tail count whole results, in pipe order; then the requested size.
  auto keep = [&results](size_t count, bool tail) {
    if (results.size() <= count) return;
    if (tail) {
      results.erase(results.begin(), results.end() - static_cast<long>(count));
    } else {
      results.resize(count);
    }
  };
  for (const eql::Pipe& pipe : pipes_) {
    keep(static_cast<size_t>(std::max<int64_t>(0, pipe.count)), pipe.kind == eql::PipeKind::Tail);
  }
  if (options_.size) keep(*options_.size, options_.tail);
  return results;
}

}  // namespace pickaxe
