// Validation: rules replayed against emulations of the seed's five tests and
// against benign baselines, with a coverage matrix of tests by data source
// and, for every miss, the reasons pickaxe can find.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diag/diagnostic.h"
#include "hunt/exceptions.h"
#include "rules/rule.h"

namespace pickaxe {

namespace scan {
class YaraSet;
}

// The data sources of an emulation, in matrix order.
extern const std::vector<std::string> kValidationSources;  // image, endpoint, auditd, ...

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

// One story of the variation corpus (its manifest.toml): a way campaigns vary
// a behaviour (malicious), or the benign activity closest to one.
struct Variation {
  std::string id;
  bool malicious = true;
  std::string source;  // one of kValidationSources
  std::string path;
  std::string story;
  std::string reference;
};

// Reads `dir`/manifest.toml.
std::vector<Variation> load_variations(const std::string& dir, Diagnostics& diagnostics);

struct VariationResult {
  Variation variation;
  std::vector<std::string> rules;  // the rules (the seed apart) that alerted
  bool seed = false;               // the seed rule alerted
};

// How the rules and the seed rule fare on the variation corpus.
struct QualityReport {
  std::string corpus;              // the folder
  std::string seed_name;           // empty: no seed rule to compare with
  std::vector<std::string> rules;  // the rules measured (the seed apart), in order
  std::vector<VariationResult> results;
  // Lines of the corpus that could not be read (file:line: why): a broken
  // corpus gives figures that mean nothing, so validate fails.
  std::vector<std::string> problems;
  // Variations of a kind (in a source; "" for all).
  size_t count(bool malicious, std::string_view source = "") const;
  // Of those, how many raised an alert: by the rules, or by the seed rule.
  size_t alerted(bool malicious, bool by_seed, std::string_view source = "") const;
  bool passed() const { return alerted(false, false) == 0 && problems.empty(); }
};

// Hunts through every variation with `rules` and, apart, with `seed` (the
// seed rule: may be empty), both with `tuning`.
QualityReport measure_quality(const std::vector<Rule>& rules, const std::vector<Rule>& seed,
                              const std::vector<Variation>& variations, const std::string& corpus,
                              const ExceptionSet* tuning);

struct ValidationReport {
  std::optional<QualityReport> quality;
  std::vector<TestResult> tests;
  std::vector<BaselineResult> baselines;
  std::vector<std::string> broken_claims;  // rules that miss a test they declare
  std::vector<std::string> legend;         // rule queries by the fields they read
  uint64_t benign_alerts() const;
  bool passed() const {
    return benign_alerts() == 0 && broken_claims.empty() && (!quality || quality->passed());
  }
};

// Replays every emulation through the source decoders and the rules.
// `tuning` (may be null) applies to every run, as in a hunt.
// An emulation's image.oci.tar is scanned (with `yara`, may be null) and
// the rules run over its scan events: the matrix's "image" column.
ValidationReport validate_rules(const std::vector<Rule>& rules,
                                const std::vector<Emulation>& emulations,
                                const ExceptionSet* tuning, Diagnostics& diagnostics,
                                const scan::YaraSet* yara = nullptr);

std::string render_validation_table(const ValidationReport& report);
std::string render_validation_json(const ValidationReport& report);

}  // namespace pickaxe
