#include "hunt/hunter.h"

#include <chrono>

#include "eql/printer.h"
#include "util/binary_io.h"
#include "util/uuid.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "source/common.h"

namespace pickaxe {

int severity_rank(std::string_view severity) {
  if (severity == "low") return 0;
  if (severity == "medium") return 1;
  if (severity == "high") return 2;
  if (severity == "critical") return 3;
  return -1;
}

bool RuleSelection::selects(const Rule& rule) const {
  if (!rule_ids.empty() &&
      std::find(rule_ids.begin(), rule_ids.end(), rule.rule_id) == rule_ids.end())
    return false;
  if (!tags.empty()) {
    bool tagged = std::any_of(tags.begin(), tags.end(), [&](const std::string& tag) {
      return std::find(rule.tags.begin(), rule.tags.end(), tag) != rule.tags.end();
    });
    if (!tagged) return false;
  }
  if (!min_severity.empty() && severity_rank(rule.severity) < severity_rank(min_severity))
    return false;
  return true;
}

Hunter::Hunter(const std::vector<Rule>& rules, const Schema& schema, HuntOptions options,
               AlertSink sink, JsonEventReader::ProblemHandler on_problem, Diagnostics& diagnostics)
    : options_(std::move(options)), sink_(std::move(sink)), rules_(&rules), schema_(&schema) {
  if (options_.base_fields)
    for (uint32_t slot = 0; slot < options_.base_fields->size(); ++slot)
      fields_.add(options_.base_fields->path(slot));
  // Rules a selected correlation reads run too, and alert on their own only
  // when selected themselves and no correlation that reads them says
  // otherwise (Sigma's `generate`).
  std::map<std::string, const Rule*> by_id;
  for (const Rule& rule : rules)
    if (rule.loaded()) by_id.emplace(rule.rule_id, &rule);
  std::set<std::string>& needed = needed_;
  std::set<std::string> read, generated;
  std::vector<const Rule*> stack;
  for (const Rule& rule : rules) {
    if (!rule.loaded() || !options_.selection.selects(rule)) continue;
    ++rule_count_;
    needed.insert(rule.rule_id);
    stack.push_back(&rule);
  }
  while (!stack.empty()) {
    const Rule* rule = stack.back();
    stack.pop_back();
    if (!rule->correlation) continue;
    for (const auto& input : rule->correlation->inputs) {
      read.insert(input.rule_id);
      if (rule->correlation->generate) generated.insert(input.rule_id);
      auto target = by_id.find(input.rule_id);
      if (target != by_id.end() && needed.insert(input.rule_id).second)
        stack.push_back(target->second);
    }
  }
  auto alerts_alone = [&](const Rule& rule) {
    return options_.selection.selects(rule) &&
           (!read.count(rule.rule_id) || generated.count(rule.rule_id));
  };
  for (const Rule& rule : rules) {
    if (!rule.loaded() || !needed.count(rule.rule_id)) continue;
    const bool alerts = alerts_alone(rule);
    for (size_t i = 0; i < rule.query.alternatives.size(); ++i) {
      const eql::Query& query = rule.query.alternatives[i];
      auto compiled = std::make_unique<Compiled>();
      compiled->rule = &rule;
      compiled->alternative = i;
      compiled->alerts = alerts;
      compiled->sequence =
          query.kind == eql::QueryKind::Sequence && !query.is_single_step_sequence();
      EngineOptions engine_options;
      engine_options.max_sequence_state = options_.max_sequence_state;
      if (!options_.spill_samples) engine_options.sample_keys_in_memory = SIZE_MAX;
      engine_options.index_patterns = rule.index;
      // Events are ordered by @timestamp; a rule's timestamp_override times its sequences.
      engine_options.stream_timestamp_field = "@timestamp";
      if (!rule.timestamp_override.empty())
        engine_options.timestamp_field = rule.timestamp_override;
      Diagnostics rule_diagnostics(rule.source);
      compiled->engine =
          std::make_unique<QueryEngine>(query, schema, engine_options, &rule_diagnostics, &fields_);
      diagnostics.append(rule_diagnostics);
      if (rule_diagnostics.has_errors()) continue;
      compiled_.push_back(std::move(compiled));
    }
  }
  add_correlations(rules, needed, schema, diagnostics);
  for (const auto& correlation : correlations_)
    correlation->alerts = alerts_alone(*correlation->rule);
  if (options_.exceptions)
    exceptions_ = std::make_unique<CompiledExceptions>(*options_.exceptions, schema, fields_);
  for (const std::string& field : options_.suppress_by)
    suppress_slots_.push_back(fields_.add(schema.resolve(field)));
  start_stream(schema, std::move(on_problem), nullptr);
}

Hunter::Hunter(const Hunter& prototype, AlertSink sink, JsonEventReader::ProblemHandler on_problem)
    : options_(prototype.options_),
      sink_(std::move(sink)),
      rules_(prototype.rules_),
      schema_(prototype.schema_),
      needed_(prototype.needed_),
      fields_(prototype.fields_),
      rule_count_(prototype.rule_count_) {
  for (const auto& original : prototype.compiled_) {
    auto compiled = std::make_unique<Compiled>();
    compiled->rule = original->rule;
    compiled->alternative = original->alternative;
    compiled->sequence = original->sequence;
    compiled->alerts = original->alerts;
    compiled->engine = std::make_unique<QueryEngine>(original->engine->shared_query());
    compiled_.push_back(std::move(compiled));
  }
  Diagnostics diagnostics;  // said when the prototype was built
  add_correlations(*rules_, needed_, *schema_, diagnostics);
  for (size_t i = 0; i < correlations_.size(); ++i)
    correlations_[i]->alerts = prototype.correlations_[i]->alerts;
  // Their fields are in the index already: the slots are the prototype's.
  if (options_.exceptions)
    exceptions_ = std::make_unique<CompiledExceptions>(*options_.exceptions, *schema_, fields_);
  suppress_slots_ = prototype.suppress_slots_;
  start_stream(*schema_, std::move(on_problem), prototype.stream_.get());
}

bool Hunter::shares_program_with(const Hunter& other) const {
  if (compiled_.size() != other.compiled_.size() || !stream_ || !other.stream_ ||
      stream_->predicate_program() != other.stream_->predicate_program())
    return false;
  for (size_t i = 0; i < compiled_.size(); ++i)
    if (compiled_[i]->engine->shared_query() != other.compiled_[i]->engine->shared_query())
      return false;
  return true;
}

void Hunter::start_stream(const Schema& schema, JsonEventReader::ProblemHandler on_problem,
                          const QueryStream* program_of) {
  std::vector<QueryEngine*> engines;
  for (const auto& compiled : compiled_) engines.push_back(compiled->engine.get());
  if (!engines.empty()) {
    stream_ = program_of ? std::make_unique<QueryStream>(engines, *program_of, schema,
                                                         options_.stream, std::move(on_problem))
                         : std::make_unique<QueryStream>(engines, schema, options_.stream,
                                                         std::move(on_problem));
    if (exceptions_) stream_->keep_slots(exceptions_->slots());
    stream_->keep_slots(suppress_slots_);
    stream_->keep_slots(correlation_slots_);
    stream_->set_result_handler(
        [this](size_t engine, QueryResult&& result) { emit(*compiled_[engine], result); },
        options_.threads);
  }
}

void Hunter::add_correlations(const std::vector<Rule>& rules, const std::set<std::string>& needed,
                              const Schema& schema, Diagnostics& diagnostics) {
  std::map<std::string, size_t> correlation_of;  // rule id -> index in correlations_
  std::vector<const Rule*> waiting;
  for (const Rule& rule : rules)
    if (rule.loaded() && rule.correlation && needed.count(rule.rule_id)) waiting.push_back(&rule);
  auto compiled_of = [&](const std::string& id) {
    std::vector<Compiled*> found;
    for (auto& compiled : compiled_)
      if (compiled->rule->rule_id == id) found.push_back(compiled.get());
    return found;
  };
  // Inputs before the correlations that read them; what cannot be placed
  // reads a rule that did not load.
  for (bool progress = true; progress;) {
    progress = false;
    for (auto it = waiting.begin(); it != waiting.end();) {
      const Rule& rule = **it;
      const RuleCorrelation& spec = *rule.correlation;
      bool ready = true;
      for (const auto& input : spec.inputs)
        ready =
            ready && (correlation_of.count(input.rule_id) || !compiled_of(input.rule_id).empty());
      if (!ready) {
        ++it;
        continue;
      }
      const size_t index = correlations_.size();
      auto node = std::make_unique<Correlation>();
      node->rule = &rule;
      std::vector<CorrelationEngine::Input> inputs;
      for (size_t i = 0; i < spec.inputs.size(); ++i) {
        const auto& input = spec.inputs[i];
        CorrelationEngine::Input reads;
        for (const std::string& field : input.group_fields)
          reads.group_slots.push_back(fields_.add(schema.resolve(field)));
        if (!input.value_field.empty())
          reads.value_slot = fields_.add(schema.resolve(input.value_field));
        correlation_slots_.insert(correlation_slots_.end(), reads.group_slots.begin(),
                                  reads.group_slots.end());
        if (reads.value_slot) correlation_slots_.push_back(*reads.value_slot);
        inputs.push_back(std::move(reads));
        if (auto found = correlation_of.find(input.rule_id); found != correlation_of.end())
          correlations_[found->second]->feeds.emplace_back(index, i);
        else
          for (Compiled* compiled : compiled_of(input.rule_id))
            compiled->feeds.emplace_back(index, i);
      }
      node->term_fields = spec.inputs.front().group_fields;
      node->value_field = spec.inputs.front().value_field;
      node->engine = std::make_unique<CorrelationEngine>(
          spec, std::move(inputs), [this, index](CorrelationResult&& result) {
            emit_correlation(index, std::move(result));
          });
      correlations_.push_back(std::move(node));
      correlation_of[rule.rule_id] = index;
      it = waiting.erase(it);
      progress = true;
    }
  }
  for (const Rule* rule : waiting) {
    diagnostics.error(
        "sigma-correlation", {0, 0},
        fmt::format("correlation \"{}\" cannot run: a rule it reads did not load", rule->name));
  }
}

void Hunter::feed(const Feeds& feeds, const std::vector<EventPtr>& events) {
  if (feeds.empty()) return;
  CorrelationHit hit;
  for (const EventPtr& event : events)
    if (event) hit.events.push_back(event);
  if (hit.events.empty()) return;
  hit.time = hit.events.back()->timestamp;
  for (const auto& [correlation, input] : feeds)
    correlations_[correlation]->engine->push(input, hit);
}

namespace {

// The time a result is found at: its last event's.
int64_t result_time(const std::vector<EventPtr>& events) {
  int64_t time = std::numeric_limits<int64_t>::min();
  for (const auto& event : events)
    if (event) time = std::max(time, event->timestamp);
  return time;
}

}  // namespace

void Hunter::emit_correlation(size_t index, CorrelationResult&& result) {
  const Correlation& node = *correlations_[index];
  const Rule& rule = *node.rule;
  if (exceptions_) {
    for (const auto& event : result.events) {
      if (const std::string* item = exceptions_->match(rule.rule_id, *event)) {
        ++excepted_by_item_[*item];
        return;
      }
    }
  }
  // Its own alerts come before those of the correlations it feeds.
  if (node.alerts && under_max_signals(rule, result_time(result.events))) {
    CorrelationSummary summary;
    for (size_t i = 0; i < node.term_fields.size() && i < result.group.size(); ++i)
      summary.terms.emplace_back(node.term_fields[i], result.group[i]);
    summary.count = result.count;
    if (rule.correlation->type == RuleCorrelation::Type::ValueCount)
      summary.value_field = node.value_field;
    summary.from = source::format_timestamp(result.from);
    summary.building_blocks = rule.correlation->type == RuleCorrelation::Type::Temporal ||
                              rule.correlation->type == RuleCorrelation::Type::TemporalOrdered;
    AlertContext context{&rule, 0, detection_time(), &summary};
    send(build_alerts(context, QueryResult{result.events, {}}, true));
  }
  feed(node.feeds, result.events);
}

// Kibana runs a rule every `interval`, each execution over one interval of
// events plus a look-back, and raises at most max_signals alerts per
// execution. In event time: windows of `interval` from the epoch; a result
// counts against the window of its last event, or, when that one is full
// and the result lies in the next window's look-back, against the next.
bool Hunter::under_max_signals(const Rule& rule, int64_t time) {
  if (options_.max_signals == std::numeric_limits<uint64_t>::max()) return true;
  const int64_t interval = std::max<int64_t>(1, rule.interval);
  int64_t into = time % interval;  // how far into its window, in [0, interval)
  if (into < 0) into += interval;
  const int64_t window = time / interval - (time % interval < 0 ? 1 : 0);
  const uint64_t cap =
      options_.max_signals.value_or(static_cast<uint64_t>(std::max(0, rule.max_signals)));
  std::map<int64_t, uint64_t>& windows = alerts_by_execution_[&rule];
  auto take = [&](int64_t at) {
    uint64_t& alerted = windows[at];
    if (alerted >= cap) return false;
    ++alerted;
    return true;
  };
  bool taken =
      take(window) || (rule.lookback > 0 && interval - into <= rule.lookback && take(window + 1));
  // The newest windows are kept (results come nearly in time order; samples
  // come at the end, in key order): 1024 intervals, 3.5 days at 5m.
  while (windows.size() > 1024) windows.erase(windows.begin());
  if (!taken) ++over_max_signals_[rule.name];
  return taken;
}

void Hunter::send(const std::vector<Alert>& alerts) {
  for (const Alert& alert : alerts) {
    if (!alert.building_block) {
      ++alerts_;
      ++alerts_by_rule_[alert.rule_name];
    }
    sink_(alert);
  }
}

void Hunter::emit(const Compiled& compiled, const QueryResult& result) {
  const Rule& rule = *compiled.rule;
  // Exceptions: a result goes when any of its events matches an item.
  if (exceptions_) {
    for (const auto& event : result.events) {
      if (!event) continue;
      if (const std::string* item = exceptions_->match(rule.rule_id, *event)) {
        ++excepted_by_item_[*item];
        return;
      }
    }
  }
  // The rule's own alerts come before those of the correlations it feeds.
  if (compiled.alerts) alert(compiled, result);
  feed(compiled.feeds, result.events);
}

void Hunter::alert(const Compiled& compiled, const QueryResult& result) {
  const Rule& rule = *compiled.rule;
  const Event* first = nullptr;
  for (const auto& event : result.events) {
    if (event && !first) first = event.get();
  }
  // Suppression: one alert per group of field values within the window.
  if (!suppress_slots_.empty() && first) {
    std::vector<std::string> group{rule.rule_id};
    for (uint32_t slot : suppress_slots_) {
      std::string values;
      for (const Scalar& value : first->fields[slot]) values += value.to_string() + "\x1f";
      group.push_back(values);
    }
    // Groups whose window has passed long ago go, now and then: an endless
    // stream of new values keeps memory bounded (a group that comes back
    // later starts anew, as it would have anyway).
    if (suppression_groups_.size() >= prune_groups_at_) {
      const int64_t newest = first->timestamp;
      std::erase_if(suppression_groups_, [&](const auto& entry) {
        return newest - entry.second > 2 * options_.suppress_window;
      });
      prune_groups_at_ = std::max<size_t>(kPruneGroupsAt, 2 * suppression_groups_.size());
    }
    auto [it, inserted] = suppression_groups_.try_emplace(group, first->timestamp);
    if (!inserted) {
      if (first->timestamp - it->second <= options_.suppress_window) {
        ++suppressed_by_rule_[rule.name];
        return;
      }
      it->second = first->timestamp;  // the window has passed: a new group
    }
  }
  if (!under_max_signals(rule, result_time(result.events))) return;
  AlertContext context{compiled.rule, compiled.alternative, detection_time()};
  send(build_alerts(context, result, compiled.sequence));
}

namespace {

// What makes a compiled query the same query in another rule set.
std::string identity_of(const Rule& rule, size_t alternative) {
  return rule.rule_id + "\n" + std::to_string(alternative) + "\n" + eql::print(rule.query) + "\n" +
         rule.timestamp_override + "\n";
}

// ... and a correlation the same correlation (its YAML as written).
std::string identity_of_correlation(const Rule& rule) {
  return rule.rule_id + "\n" + (rule.sigma_source ? rule.sigma_source->text() : "") + "\n";
}

}  // namespace

uint64_t Hunter::partial_sequences() const {
  uint64_t partials = 0;
  for (const auto& compiled : compiled_) partials += compiled->engine->state().live_partials;
  return partials;
}

size_t Hunter::adopt(Hunter& previous) {
  std::map<std::string, const Compiled*> old;
  for (const auto& compiled : previous.compiled_)
    old.emplace(identity_of(*compiled->rule, compiled->alternative), compiled.get());
  size_t kept = 0;
  for (const auto& compiled : compiled_) {
    auto it = old.find(identity_of(*compiled->rule, compiled->alternative));
    if (it == old.end()) continue;
    if (compiled->engine->restore(it->second->engine->state())) ++kept;
  }
  alerts_ = previous.alerts_;
  alerts_by_rule_ = previous.alerts_by_rule_;
  excepted_by_item_ = previous.excepted_by_item_;
  suppressed_by_rule_ = previous.suppressed_by_rule_;
  over_max_signals_ = previous.over_max_signals_;
  suppression_groups_ = previous.suppression_groups_;
  prune_groups_at_ = previous.prune_groups_at_;
  for (const auto& [rule, windows] : previous.alerts_by_execution_)
    for (const auto& compiled : compiled_)
      if (compiled->rule->rule_id == rule->rule_id) alerts_by_execution_[compiled->rule] = windows;
  for (const auto& node : correlations_) {
    for (const auto& old_node : previous.correlations_) {
      if (identity_of_correlation(*old_node->rule) != identity_of_correlation(*node->rule))
        continue;
      std::string state;
      old_node->engine->save(state);
      if (node->engine->load(state, nullptr)) ++kept;
    }
  }
  if (stream_ && previous.stream_) stream_->adopt(*previous.stream_);
  return kept;
}

std::string Hunter::rule_set_identity() const {
  std::string text;
  for (const auto& compiled : compiled_)
    text += identity_of(*compiled->rule, compiled->alternative);
  for (const auto& correlation : correlations_) text += identity_of_correlation(*correlation->rule);
  return stable_uuid(text);
}

namespace {

constexpr StateHeader kHuntHeader{"PXHS", 1, "hunt state"};

// The front of a hunt state: its header, the rule set's identity and the
// field slots its events use.
bool read_front(BinaryReader& reader, std::string_view& in, std::string& identity,
                FieldIndex& fields, std::string* error) {
  if (!kHuntHeader.get(in, error)) return false;
  reader = BinaryReader(in);
  uint64_t slots = 0;
  if (!reader.bytes(identity) || !reader.count(slots, 8)) return false;
  for (uint64_t slot = 0; slot < slots; ++slot) {
    std::string path;
    if (!reader.bytes(path)) return false;
    fields.add(path);
  }
  return true;
}

}  // namespace

void Hunter::save(std::string& out) const {
  kHuntHeader.put(out);
  put_bytes(out, rule_set_identity());
  // The field slots the state's events use: a hunter of the same rules
  // numbers them otherwise after a reload (see saved_fields).
  put(out, static_cast<uint64_t>(fields_.size()));
  for (uint32_t slot = 0; slot < fields_.size(); ++slot) put_bytes(out, fields_.path(slot));
  std::string stream;
  if (stream_) stream_->save(stream);
  put_bytes(out, stream);
  put(out, alerts_);
  put_counts(out, alerts_by_rule_);
  put_counts(out, excepted_by_item_);
  put_counts(out, suppressed_by_rule_);
  put_counts(out, over_max_signals_);
  put(out, static_cast<uint64_t>(prune_groups_at_));
  put(out, static_cast<uint64_t>(suppression_groups_.size()));
  for (const auto& [group, start] : suppression_groups_) {
    put(out, static_cast<uint64_t>(group.size()));
    for (const std::string& part : group) put_bytes(out, part);
    put(out, start);
  }
  put(out, static_cast<uint64_t>(alerts_by_execution_.size()));
  for (const auto& [rule, windows] : alerts_by_execution_) {
    put_bytes(out, rule->rule_id);
    put(out, static_cast<uint64_t>(windows.size()));
    for (const auto& [window, count] : windows) {
      put(out, window);
      put(out, count);
    }
  }
  put(out, static_cast<uint64_t>(correlations_.size()));
  std::string correlation;
  for (const auto& node : correlations_) {
    correlation.clear();
    node->engine->save(correlation);
    put_bytes(out, correlation);
  }
}

bool Hunter::load(std::string_view in, std::string* error) {
  auto failed = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  BinaryReader reader(in);
  std::string identity, why;
  FieldIndex fields;
  if (!read_front(reader, in, identity, fields, &why))
    return failed(why.empty() ? "truncated" : why);
  if (identity != rule_set_identity())
    return failed("it was taken with another rule set (rules added, removed or changed)");
  bool same_fields = fields.size() == fields_.size();
  for (uint32_t slot = 0; same_fields && slot < fields.size(); ++slot)
    same_fields = fields.path(slot) == fields_.path(slot);
  if (!same_fields) return failed("its events number their fields otherwise");
  std::string_view stream;
  if (!reader.bytes(stream)) return failed("truncated");
  if (stream_ && !stream_->load(stream, error)) return false;
  if (!reader.get(alerts_) || !reader.counts(alerts_by_rule_) ||
      !reader.counts(excepted_by_item_) || !reader.counts(suppressed_by_rule_) ||
      !reader.counts(over_max_signals_))
    return failed("truncated");
  uint64_t groups = 0, prune_at = 0;
  if (!reader.get(prune_at) || !reader.count(groups, 16)) return failed("truncated");
  prune_groups_at_ = std::max<size_t>(kPruneGroupsAt, prune_at);
  for (uint64_t i = 0; i < groups; ++i) {
    uint64_t parts = 0;
    if (!reader.count(parts, 8)) return failed("truncated");
    std::vector<std::string> group(parts);
    for (std::string& part : group)
      if (!reader.bytes(part)) return failed("truncated");
    int64_t start = 0;
    if (!reader.get(start)) return failed("truncated");
    suppression_groups_[std::move(group)] = start;
  }
  uint64_t rules = 0;
  if (!reader.count(rules, 16)) return failed("truncated");
  for (uint64_t i = 0; i < rules; ++i) {
    std::string rule_id;
    uint64_t windows = 0;
    if (!reader.bytes(rule_id) || !reader.count(windows, 16)) return failed("truncated");
    const Rule* rule = nullptr;
    for (const auto& compiled : compiled_)
      if (compiled->rule->rule_id == rule_id) rule = compiled->rule;
    for (const auto& correlation : correlations_)  // a correlation alerts too
      if (correlation->rule->rule_id == rule_id) rule = correlation->rule;
    if (!rule) return failed("it names a rule that is not loaded: " + rule_id);
    for (uint64_t j = 0; j < windows; ++j) {
      int64_t window = 0;
      uint64_t count = 0;
      if (!reader.get(window) || !reader.get(count)) return failed("truncated");
      alerts_by_execution_[rule][window] = count;
    }
  }
  uint64_t correlations = 0;
  if (!reader.get(correlations) || correlations != correlations_.size()) return failed("truncated");
  for (const auto& node : correlations_) {
    std::string_view bytes;
    if (!reader.bytes(bytes)) return failed("truncated");
    if (!node->engine->load(bytes, error)) return false;
  }
  if (!reader.at_end()) return failed("trailing bytes");
  return true;
}

std::optional<FieldIndex> Hunter::saved_fields(std::string_view in) {
  BinaryReader reader(in);
  std::string identity;
  FieldIndex fields;
  if (!read_front(reader, in, identity, fields, nullptr)) return std::nullopt;
  return fields;
}

std::string Hunter::detection_time() const {
  if (!options_.detection_time.empty()) return options_.detection_time;
  // In milliseconds, as Elastic dates alerts.
  const int64_t millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return source::format_timestamp(millis * 1'000'000);
}

void Hunter::read(std::istream& in, const std::string& name) {
  if (stream_) stream_->read(in, name);
}

bool Hunter::read_file(const std::string& path) {
  return stream_ && stream_->read_file(path, options_.threads);
}

void Hunter::finish() {
  if (!stream_) return;
  stream_->flush();
  for (const auto& compiled : compiled_) {
    for (const QueryResult& result : compiled->engine->finish()) emit(*compiled, result);
  }
  for (const auto& correlation : correlations_) correlation->engine->finish();
}

std::string Hunter::prefilter_note() const {
  if (!stream_) return "";
  std::string note = stream_->prefilter_note();
  if (auto blocker = stream_->prefilter_blocker()) {
    const Compiled& compiled = *compiled_[*blocker];
    note = fmt::format("rule \"{}\"{}: {}", compiled.rule->name,
                       compiled.rule->query.alternatives.size() > 1
                           ? fmt::format(" (query {})", compiled.alternative + 1)
                           : std::string(),
                       note);
  }
  return note;
}

HuntStats Hunter::stats() const {
  HuntStats stats;
  if (stream_) stats.stream = stream_->stats();
  stats.alerts = alerts_;
  stats.alerts_by_rule = alerts_by_rule_;
  for (const auto& compiled : compiled_) {
    const EngineStats& engine = compiled->engine->stats();
    stats.state_evictions += engine.state_evictions;
    stats.sample_disk.sample_spill_failures += engine.sample_spill_failures;
    stats.sample_disk.sample_read_failures += engine.sample_read_failures;
    if (!engine.sample_spill_error.empty())
      stats.sample_disk.sample_spill_error = engine.sample_spill_error;
    if (!engine.sample_read_error.empty())
      stats.sample_disk.sample_read_error = engine.sample_read_error;
  }
  stats.excepted_by_item = excepted_by_item_;
  stats.suppressed_by_rule = suppressed_by_rule_;
  stats.over_max_signals = over_max_signals_;
  return stats;
}

}  // namespace pickaxe
