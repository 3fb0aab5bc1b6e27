#include "hunt/hunter.h"

#include <algorithm>

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
      Diagnostics rule_diagnostics(rule.source);
      compiled->engine =
          std::make_unique<QueryEngine>(query, schema, engine_options, &rule_diagnostics, &fields_);
      diagnostics.append(rule_diagnostics);
      if (rule_diagnostics.has_errors()) continue;
      Compiled* target = compiled.get();
      compiled->engine->set_sink([this, target](QueryResult&& result) { emit(*target, result); });
      compiled_.push_back(std::move(compiled));
    }
  }
  std::vector<QueryEngine*> engines;
  for (const auto& compiled : compiled_) engines.push_back(compiled->engine.get());
  if (!engines.empty())
    stream_ =
        std::make_unique<QueryStream>(engines, schema, options_.stream, std::move(on_problem));
}

void Hunter::emit(const Compiled& compiled, const QueryResult& result) {
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

void Hunter::finish() {
  if (!stream_) return;
  stream_->flush();
  for (const auto& compiled : compiled_) {
    for (const QueryResult& result : compiled->engine->finish()) emit(*compiled, result);
  }
}

HuntStats Hunter::stats() const {
  HuntStats stats;
  if (stream_) stats.stream = stream_->stats();
  stats.alerts = alerts_;
  stats.alerts_by_rule = alerts_by_rule_;
  for (const auto& compiled : compiled_)
    stats.state_evictions += compiled->engine->stats().state_evictions;
  return stats;
}

}  // namespace pickaxe
