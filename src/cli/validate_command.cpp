// `pickaxe validate [--rules PATH...] [--format table|json]`: replay the
// emulations of the seed's five tests and the benign baselines through the
// decoders and the rules, and print the coverage matrix.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "rules/rule_loader.h"
#include "scan/yara_set.h"
#include "util/output.h"
#include "validate/validate.h"

namespace pickaxe::cli {

namespace {

// The seed rule, as the bundled pack ships it: the baseline the rules are measured against.
constexpr const char* kSeedRuleId = "3c0f5d0e-6a51-4c1b-9e1e-0f2d1c7a5e01";
constexpr const char* kSeedRuleFile = "seed_detect_malicious_image.toml";

struct ValidateOptions {
  std::vector<std::string> rules;
  std::string format = "table";
  std::string emulations;
  std::string variations;
  std::string exceptions;
  std::string sigma_mapping;
};

int run_validate(const ValidateOptions& options) {
  std::string pack = bundled_pack_dir();
  std::vector<std::string> rule_paths =
      options.rules.empty() ? std::vector<std::string>{pack} : options.rules;
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(options.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  std::optional<LoadResult> loaded =
      load_rules_or_report(rule_paths, "validate", false, *sigma_mapping);
  if (!loaded) return kFindings;
  if (loaded->rules.empty()) {
    std::cerr << "pickaxe: validate: no rules found\n";
    return kUsage;
  }
  // Tuning: --exceptions, else the bundled pack's own when validating the pack.
  std::string tuning_path = options.exceptions;
  if (tuning_path.empty() && options.rules.empty() &&
      std::filesystem::exists(pack + "/tuning/exceptions.yaml"))
    tuning_path = pack + "/tuning/exceptions.yaml";
  ExceptionSet tuning;
  if (!tuning_path.empty()) {
    Diagnostics diagnostics;
    tuning = load_exceptions(tuning_path, diagnostics);
    for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
    if (diagnostics.has_errors()) return kFindings;
  }
  std::string dir = options.emulations.empty() ? bundled_dir("emulations", PICKAXE_EMULATIONS_DIR)
                                               : options.emulations;
  Diagnostics diagnostics;
  std::vector<Emulation> emulations = load_emulations(dir, diagnostics);
  if (diagnostics.has_errors() || emulations.empty()) {
    for (const Diagnostic& d : diagnostics.items()) std::cerr << "pickaxe: " << d.message << "\n";
    if (emulations.empty()) std::cerr << fmt::format("pickaxe: {}: no emulations found\n", dir);
    return kFindings;
  }
  const ExceptionSet* tuned = tuning_path.empty() ? nullptr : &tuning;
  // Emulations' images are scanned with the bundled YARA set, as pickaxe scan does.
  std::unique_ptr<scan::YaraSet> yara;
  if (std::vector<std::string> problems; std::filesystem::exists(pack + "/scan/yara")) {
    yara = scan::YaraSet::compile({pack + "/scan/yara"}, problems);
    for (const std::string& problem : problems) std::cerr << "pickaxe: yara: " << problem << "\n";
  }
  ValidationReport report =
      validate_rules(loaded->rules, emulations, tuned, diagnostics, yara.get());
  // The variation corpus: the rules, the seed rule apart, against the seed rule alone.
  std::string corpus = options.variations.empty()
                           ? bundled_dir("variations", PICKAXE_VARIATIONS_DIR)
                           : options.variations;
  if (!options.variations.empty() || std::filesystem::exists(corpus + "/manifest.toml")) {
    std::vector<Variation> variations = load_variations(corpus, diagnostics);
    if (diagnostics.has_errors()) {
      for (const Diagnostic& d : diagnostics.items()) std::cerr << "pickaxe: " << d.message << "\n";
      return kFindings;
    }
    std::vector<Rule> rules, seed;
    // The corpus is runtime telemetry: rules that read only scan events sit it out.
    auto scan_only = [](const Rule& rule) {
      return !rule.index.empty() &&
             std::all_of(rule.index.begin(), rule.index.end(), [](const std::string& index) {
               return index.starts_with("logs-pickaxe.scan");
             });
    };
    for (Rule& rule : loaded->rules)
      if (!scan_only(rule)) (rule.rule_id == kSeedRuleId ? seed : rules).push_back(std::move(rule));
    if (rules.empty()) {
      std::swap(rules, seed);  // the seed rule alone: nothing to compare it with
    } else if (seed.empty() && std::filesystem::exists(pack + "/" + kSeedRuleFile)) {
      std::optional<LoadResult> bundled =
          load_rules_or_report({pack + "/" + kSeedRuleFile}, "validate", false, *sigma_mapping);
      if (bundled) seed = std::move(bundled->rules);
    }
    // Named as the user would: relative to the working folder when inside it.
    std::error_code error;
    std::string shown = std::filesystem::relative(corpus, error).string();
    if (error || shown.empty() || shown.starts_with("..")) shown = corpus;
    report.quality = measure_quality(rules, seed, variations, shown, tuned);
  }
  for (const Diagnostic& d : diagnostics.items()) std::cerr << "pickaxe: " << d.message << "\n";
  Output out;
  out.record(options.format == "json" ? render_validation_json(report)
                                      : render_validation_table(report));
  if (!finish_output(out, "reports")) return kFindings;
  return report.passed() ? kSuccess : kFindings;
}

}  // namespace

void add_validate_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* command = app.add_subcommand(
      "validate",
      "Replay emulations of the seed's five tests and benign baselines through the source "
      "decoders and the rules; print which tests each data source catches, and why a miss");
  command->add_option("--rules", options->rules,
                      "Rule files or folders (default: the bundled T1204.003 pack)");
  command->add_option("--format", options->format, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->default_str("table");
  add_sigma_mapping_option(*command, options->sigma_mapping);
  command->add_option("--emulations", options->emulations,
                      "Folder of emulations, one sub-folder per test (default: the bundled ones)");
  command->add_option("--variations", options->variations,
                      "Variation corpus: a folder with a manifest.toml (default: the bundled "
                      "tests/data/rules/variations)");
  command->add_option("--exceptions", options->exceptions,
                      "Tuning applied to every run (default: the pack's tuning/exceptions.yaml "
                      "when validating the bundled pack)");
  command->callback([options, &run] { run = [options] { return run_validate(*options); }; });
}

}  // namespace pickaxe::cli
