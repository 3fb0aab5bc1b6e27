// A detection rule as pickaxe holds it: metadata from detection-rules TOML or
// the seed page, the query text's place in its file, and the parsed query.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "diag/diagnostic.h"
#include "eql/ast.h"

namespace pickaxe {

struct ThreatTechnique {
  std::string id;  // T1204 or T1204.003
  std::string name;
  std::vector<ThreatTechnique> subtechniques;
};

struct Threat {
  std::string framework = "MITRE ATT&CK";
  std::string tactic_id;  // TA0002
  std::string tactic_name;
  std::vector<ThreatTechnique> techniques;
};

enum class RuleFormat { Eql, DetectionRulesToml, SeedPage, Sigma };

// A Sigma correlation rule, linked to the rules it correlates.
struct RuleCorrelation {
  enum class Type { EventCount, ValueCount, Temporal, TemporalOrdered };
  Type type = Type::EventCount;
  std::string type_name;                                  // as Sigma writes it
  std::vector<std::string> group_by;                      // fields or aliases, as written
  int64_t timespan = 0;                                   // nanoseconds
  std::vector<std::pair<std::string, double>> condition;  // gt, gte, lt, lte, eq, neq
  std::string field;                                      // value_count: the field counted
  bool generate = false;  // the correlated rules also alert on their own
  // alias -> (rule name -> field), as written
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> aliases;
  // One input per correlated rule, in the rule's order.
  struct Input {
    std::string reference;                  // the id or name as written
    std::string rule_id;                    // the linked rule
    std::vector<std::string> group_fields;  // ECS field of each group_by entry
    std::string value_field;                // ECS field of `field`
  };
  std::vector<Input> inputs;
};

struct Rule {
  RuleFormat format = RuleFormat::Eql;
  std::string path;
  std::string name;
  std::string rule_id;
  std::string description;
  std::string severity = "medium";
  int risk_score = 47;
  std::string language = "eql";
  std::string type = "eql";
  std::vector<std::string> index;
  std::vector<std::string> tags;
  std::vector<std::string> false_positives;
  std::string note;  // the investigation guide (Markdown), as detection-rules writes it
  std::vector<std::string> author;  // kept on every alert (the Detection Rule License asks it)
  std::vector<std::string> references;
  std::string timestamp_override;
  int max_signals = 100;  // alerts per execution
  // Kibana runs a rule every `interval` over events back to `from` (now-6m):
  // each execution covers one interval plus this look-back.
  int64_t interval = 300'000'000'000;  // nanoseconds
  int64_t lookback = 60'000'000'000;
  std::vector<Threat> threats;
  // `pickaxe validate` tests the rule claims to catch ([pickaxe] validates = [1, 2]).
  std::vector<int> validates;

  std::shared_ptr<const SourceFile> source;  // what the query's spans point into
  // A Sigma rule's own YAML (`source` is then the EQL it was rendered as).
  std::shared_ptr<const SourceFile> sigma_source;
  std::string sigma_name;  // a Sigma rule's `name`, by which correlations refer to it
  // How the Sigma rule's fields map to ECS (for correlations that refer to it).
  std::function<std::string(const std::string&)> sigma_field;
  // A Sigma correlation: no query of its own; it counts or orders the
  // results of the rules it refers to.
  std::shared_ptr<const RuleCorrelation> correlation;
  uint32_t query_begin = 0;
  uint32_t query_end = 0;
  eql::QuerySet query;
  Diagnostics diagnostics;  // syntax, verification and lint findings for this rule
  bool loaded() const { return !diagnostics.has_errors(); }
};

}  // namespace pickaxe
