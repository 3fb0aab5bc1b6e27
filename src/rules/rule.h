// A detection rule as pickaxe holds it: metadata from detection-rules TOML or
// the seed page, the query text's place in its file, and the parsed query.
#pragma once

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
  std::vector<std::string> author;  // kept on every alert (the Detection Rule License asks it)
  std::vector<std::string> references;
  std::string timestamp_override;
  int max_signals = 100;
  std::vector<Threat> threats;
  // `pickaxe validate` tests the rule claims to catch ([pickaxe] validates = [1, 2]).
  std::vector<int> validates;

  std::shared_ptr<const SourceFile> source;  // what the query's spans point into
  // A Sigma rule's own YAML (`source` is then the EQL it was rendered as).
  std::shared_ptr<const SourceFile> sigma_source;
  uint32_t query_begin = 0;
  uint32_t query_end = 0;
  eql::QuerySet query;
  Diagnostics diagnostics;  // syntax, verification and lint findings for this rule
  bool loaded() const { return !diagnostics.has_errors(); }
};

}  // namespace pickaxe
