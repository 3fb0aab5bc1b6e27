// Validation: rules replayed against emulations of the seed's five tests and
// against benign baselines, with a coverage matrix of tests by data source
// and, for every miss, the reasons pickaxe can find.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "diag/diagnostic.h"
#include "hunt/exceptions.h"
#include "rules/rule.h"

namespace pickaxe {

// The data sources of an emulation, in matrix order.
extern const std::vector<std::string> kValidationSources;  // endpoint, auditd, sysmon, ...

// One folder of emulations/: a test (id 1-5), a benign baseline, or a
// false-positive scenario with the tuning meant to silence it.
struct Emulation {
  enum class Kind { Test, Benign, FalsePositive };
  Kind kind = Kind::Test;
  int id = 0;  // tests only
  std::string name;
  std::string folder;
  std::map<std::string, std::string> files;  // source -> path
  // Sources whose telemetry is there but cannot show the behaviour, and why.
  std::map<std::string, std::string> not_carried;
  std::string tuning;  // false positives: an exceptions file
};

// Reads every folder under `dir` that holds a test.toml.
std::vector<Emulation> load_emulations(const std::string& dir, Diagnostics& diagnostics);

struct RuleHit {
  std::string rule;
  std::vector<size_t> queries;  // 1-based numbers of the rule's queries that matched
  size_t of = 1;                // how many queries the rule has
};

struct Cell {
  bool caught = false;
  bool carries = true;  // false: the source cannot show this behaviour (see the note)
  std::string note;
  std::vector<RuleHit> hits;
  std::vector<std::string> reasons;  // why a rule reading this source did not match
};

struct TestResult {
  const Emulation* emulation = nullptr;
  std::map<std::string, Cell> cells;  // source -> cell
};

struct BaselineResult {
  const Emulation* emulation = nullptr;
  uint64_t alerts = 0;  // with the pack's tuning, plus the scenario's own for false positives
  std::map<std::string, uint64_t> by_rule;
  uint64_t untuned_alerts = 0;  // false positives: without their tuning
};

struct ValidationReport {
  std::vector<TestResult> tests;
  std::vector<BaselineResult> baselines;
  std::vector<std::string> broken_claims;  // rules that miss a test they declare
  std::vector<std::string> legend;         // rule queries by the fields they read
  uint64_t benign_alerts() const;
  bool passed() const { return benign_alerts() == 0 && broken_claims.empty(); }
};

// Replays every emulation through the source decoders and the rules.
// `tuning` (may be null) applies to every run, as in a hunt.
ValidationReport validate_rules(const std::vector<Rule>& rules,
                                const std::vector<Emulation>& emulations,
                                const ExceptionSet* tuning, Diagnostics& diagnostics);

std::string render_validation_table(const ValidationReport& report);
std::string render_validation_json(const ValidationReport& report);

}  // namespace pickaxe
