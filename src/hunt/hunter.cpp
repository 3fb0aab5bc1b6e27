#include "hunt/hunter.h"

#include <algorithm>

#include <fmt/format.h>

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
    : schema_(schema), options_(std::move(options)), sink_(std::move(sink)) {
  for (const Rule& rule : rules) {
    if (!rule.loaded() || !options_.selection.selects(rule)) continue;
    ++rule_count_;
    for (size_t i = 0; i < rule.query.alternatives.size(); ++i) {
      const eql::Query& query = rule.query.alternatives[i];
      auto compiled = std::make_unique<Compiled>();
      compiled->rule = &rule;
      compiled->alternative = i;
      compiled->sequence =
          query.kind == eql::QueryKind::Sequence && !query.is_single_step_sequence();
      EngineOptions engine_options;
      engine_options.max_sequence_state = options_.max_sequence_state;
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
  if (options_.exceptions)
    exceptions_ = std::make_unique<CompiledExceptions>(*options_.exceptions, schema, fields_);
  for (const std::string& field : options_.suppress_by)
    suppress_slots_.push_back(fields_.add(schema.resolve(field)));
  std::vector<QueryEngine*> engines;
  for (const auto& compiled : compiled_) engines.push_back(compiled->engine.get());
  if (!engines.empty()) {
    stream_ =
        std::make_unique<QueryStream>(engines, schema, options_.stream, std::move(on_problem));
    if (exceptions_) stream_->keep_slots(exceptions_->slots());
    stream_->keep_slots(suppress_slots_);
    stream_->set_result_handler(
        [this](size_t engine, QueryResult&& result) { emit(*compiled_[engine], result); },
        options_.threads);
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
    auto [it, inserted] = suppression_groups_.try_emplace(group, first->timestamp);
    if (!inserted) {
      if (first->timestamp - it->second <= options_.suppress_window) {
        ++suppressed_by_rule_[rule.name];
        return;
      }
      it->second = first->timestamp;  // the window has passed: a new group
    }
  }
  auto emitted = alerts_by_rule_.find(rule.name);
  if (emitted != alerts_by_rule_.end() &&
      emitted->second >= static_cast<uint64_t>(std::max(0, rule.max_signals))) {
    ++over_max_signals_[rule.name];
    return;
  }
  AlertContext context{compiled.rule, compiled.alternative, options_.detection_time};
  for (const Alert& alert : build_alerts(context, result, compiled.sequence)) {
    if (!alert.building_block) {
      ++alerts_;
      ++alerts_by_rule_[compiled.rule->name];
    }
    sink_(alert);
  }
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
  for (const auto& compiled : compiled_)
    stats.state_evictions += compiled->engine->stats().state_evictions;
  stats.excepted_by_item = excepted_by_item_;
  stats.suppressed_by_rule = suppressed_by_rule_;
  stats.over_max_signals = over_max_signals_;
  return stats;
}

}  // namespace pickaxe
