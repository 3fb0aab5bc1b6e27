// `pickaxe rules [PATH...]`: the rules a path holds, as Falco's -L lists
// them: id, name, severity, language, ATT&CK techniques, index and tags.
#include <unistd.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/alert_output.h"
#include "cli/commands.h"
#include "cli/hunt_options.h"
#include "hunt/hunter.h"
#include "rules/rule_loader.h"
#include "util/json_writer.h"
#include "util/output.h"

namespace pickaxe::cli {

namespace {

struct RulesOptions {
  std::vector<std::string> paths;
  std::string format;  // empty: table on a terminal, json otherwise
  std::vector<std::string> tags;
  std::string min_severity;
  std::string sigma_mapping;
};

const char* language_of(const Rule& rule) {
  if (rule.format == RuleFormat::Sigma) return rule.correlation ? "sigma-correlation" : "sigma";
  return "eql";
}

int run_rules(const RulesOptions& options) {
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(options.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  const std::vector<std::string> paths =
      options.paths.empty() ? std::vector<std::string>{bundled_pack_dir()} : options.paths;
  LoadResult loaded = load_rules(paths, *sigma_mapping);
  bool unreadable = false;
  for (const Diagnostics& file : loaded.file_diagnostics)
    for (const Diagnostic& d : file.items())
      if (d.severity == Severity::Error) {
        std::cerr << render_text(d);
        unreadable = true;
      }
  RuleSelection selection{{}, options.tags, options.min_severity};
  std::vector<const Rule*> rules;
  size_t broken = 0;
  for (const Rule& rule : loaded.rules) {
    if (!selection.selects(rule)) continue;
    rules.push_back(&rule);
    if (!rule.loaded()) ++broken;
  }
  if (!options.tags.empty() || !options.min_severity.empty())
    if (!check_selection(loaded.rules, selection, "rules")) return kUsage;
  if (rules.empty()) {
    std::cerr << fmt::format("pickaxe: rules: no rule found in {}\n", fmt::join(paths, ", "));
    return kFindings;
  }
  const bool table = options.format == "table" || (options.format.empty() && isatty(STDOUT_FILENO));
  Output out(STDOUT_FILENO);
  if (table) {
    const size_t width = terminal_width(STDOUT_FILENO);
    size_t name_width = 4;
    for (const Rule* rule : rules) name_width = std::max(name_width, rule->name.size());
    // ID, SEVERITY, LANGUAGE and ATT&CK are fixed; NAME, then INDEX and TAGS share the rest.
    constexpr size_t kFixed = 36 + 2 + 8 + 2 + 8 + 2 + 20 + 2;
    const size_t rest = width > kFixed + 20 ? width - kFixed : 20;
    name_width = std::min(name_width, std::max<size_t>(30, rest * 55 / 100));
    name_width = std::min(name_width, rest);
    const size_t after = rest > name_width + 2 ? rest - name_width - 2 : 0;
    auto line = [&](std::string id, std::string severity, std::string language,
                    std::string techniques, std::string name, std::string where) {
      std::string text = fmt::format("{:<36}  {:<8}  {:<8}  {:<20}  {}", clip(id, 36),
                                     clip(severity, 8), clip(language, 8), clip(techniques, 20),
                                     fmt::format("{:<{}}", clip(name, name_width), name_width));
      if (after >= 10) text += "  " + clip(where, after);
      while (!text.empty() && text.back() == ' ') text.pop_back();
      return text + "\n";
    };
    out.write(line("RULE ID", "SEVERITY", "LANGUAGE", "ATT&CK", "NAME", "INDEX; TAGS"));
    for (const Rule* rule : rules)
      out.record(
          line(rule->rule_id, rule->severity, rule->loaded() ? language_of(*rule) : "ERRORS",
               fmt::format("{}", fmt::join(technique_ids(*rule), ",")), rule->name,
               fmt::format("{}; {}",
                           rule->index.empty() ? std::string("-")
                                               : fmt::format("{}", fmt::join(rule->index, ", ")),
                           fmt::join(rule->tags, ", "))));
  } else {
    JsonWriter json;
    json.begin_array();
    for (const Rule* rule : rules) {
      json.begin_object();
      json.key("rule_id").value(rule->rule_id);
      json.key("name").value(rule->name);
      json.key("severity").value(rule->severity);
      json.key("risk_score").value(static_cast<int64_t>(rule->risk_score));
      json.key("language").value(language_of(*rule));
      json.key("type").value(rule->type);
      json.key("index").begin_array();
      for (const std::string& index : rule->index) json.value(index);
      json.end_array();
      json.key("tags").begin_array();
      for (const std::string& tag : rule->tags) json.value(tag);
      json.end_array();
      json.key("techniques").begin_array();
      for (const std::string& id : technique_ids(*rule)) json.value(id);
      json.end_array();
      json.key("path").value(rule->path);
      json.key("loaded").value(rule->loaded());
      json.end_object();
    }
    json.end_array();
    out.record(json.str() + "\n");
  }
  if (!finish_output(out, "rules")) return kFindings;
  std::cerr << fmt::format("{} rules in {} files", rules.size(), loaded.files_read);
  if (broken > 0)
    std::cerr << fmt::format("; {} with errors, which do not run (`pickaxe lint` says why)",
                             broken);
  std::cerr << "\n";
  return unreadable || broken > 0 ? kFindings : kSuccess;
}

}  // namespace

void add_rules_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<RulesOptions>();
  CLI::App* command = app.add_subcommand(
      "rules",
      "List rules with their id, name, severity, language, ATT&CK techniques, index patterns and "
      "tags. Without PATH, the bundled T1204.003 pack.");
  command->add_option("paths", options->paths, "Rule files or directories (as for --rules)");
  command
      ->add_option("-r,--rules", options->paths,
                   "Rule files or directories, as the paths (so that pickaxe.toml's `rules` "
                   "applies)")
      ->allow_extra_args(false);
  command
      ->add_option("--format", options->format,
                   "table (default on a terminal) or json (one array, default otherwise)")
      ->check(CLI::IsMember({"table", "json"}));
  command->add_option("--tag", options->tags, "Only rules with this tag (repeatable: any of them)")
      ->allow_extra_args(false);
  command
      ->add_option("--min-severity", options->min_severity, "Only rules of this severity or higher")
      ->check(CLI::IsMember({"low", "medium", "high", "critical"}));
  add_sigma_mapping_option(*command, options->sigma_mapping);
  command->callback([options, &run] { run = [options] { return run_rules(*options); }; });
}

}  // namespace pickaxe::cli
