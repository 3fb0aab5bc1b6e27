// `pickaxe lint PATH...`: parse, verify and lint rule files.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "fleet/partitioning.h"
#include "lint/linter.h"
#include "rules/rule_loader.h"
#include "util/json_writer.h"
#include "util/output.h"

namespace pickaxe::cli {

namespace {

struct LintOptions {
  std::vector<std::string> paths;
  std::string format = "text";
  std::string color = "auto";
  bool strict = false;
  std::string sigma_mapping;
  bool fleet = false;
  std::vector<std::string> partition_key;
};

void write_diagnostic_json(JsonWriter& json, const Diagnostic& d) {
  json.begin_object();
  json.key("severity").value(severity_name(d.severity));
  json.key("code").value(d.code);
  json.key("message").value(d.message);
  if (d.source) {
    Position begin = d.source->position(d.span.begin);
    Position end = d.source->position(d.span.end);
    json.key("file").value(d.source->path());
    json.key("line").value(static_cast<int64_t>(begin.line));
    json.key("column").value(static_cast<int64_t>(begin.column));
    json.key("end_line").value(static_cast<int64_t>(end.line));
    json.key("end_column").value(static_cast<int64_t>(end.column));
  }
  if (!d.hint.empty()) json.key("hint").value(d.hint);
  if (!d.fix.empty()) json.key("fix").value(d.fix);
  json.end_object();
}

int run_lint(const LintOptions& options) {
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(options.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  LoadResult result = load_rules(options.paths, *sigma_mapping);
  for (Rule& rule : result.rules) {
    if (!rule.diagnostics.has_errors()) lint(rule.query, FieldTypes::ecs(), rule.diagnostics);
    if (options.fleet && rule.loaded()) {
      // Where `serve` runs the rule: a note for each one partitioning cannot make exact.
      const std::vector<std::string> key =
          options.partition_key.empty() ? fleet::default_partition_key() : options.partition_key;
      fleet::Exactness exactness = fleet::partition_exactness(rule, key, {});
      if (!exactness.exact) {
        const Span span =
            rule.query.alternatives.empty() ? Span{} : rule.query.alternatives[0].span;
        rule.diagnostics.add(
            Severity::Note, "fleet-global-partition", span,
            fmt::format("not partition-exact ({}): `serve` runs it on the global partition, "
                        "exact but not scaled",
                        exactness.reason),
            fmt::format("join it by {} too, or key the fleet by the field it joins on "
                        "(--partition-key)",
                        key.front()));
      }
    }
    if (options.strict) {
      for (Diagnostic& d : rule.diagnostics.items()) {
        if (d.severity == Severity::Warning) d.severity = Severity::Error;
      }
    }
    rule.diagnostics.sort_by_position();
  }
  size_t errors = 0, warnings = 0;
  for (const Rule& rule : result.rules) {
    errors += rule.diagnostics.error_count();
    warnings += rule.diagnostics.warning_count();
  }
  for (const Diagnostics& file : result.file_diagnostics) {
    errors += file.error_count();
    warnings += file.warning_count();
  }
  size_t loaded = 0, skipped = 0;
  for (const Rule& rule : result.rules) loaded += rule.loaded() ? 1 : 0;
  for (const Diagnostics& file : result.file_diagnostics)
    for (const Diagnostic& d : file.items()) skipped += d.code == "sigma-skipped" ? 1 : 0;

  Output out;
  if (options.format == "json") {
    JsonWriter json;
    json.begin_object();
    json.key("files").value(static_cast<int64_t>(result.files_read));
    json.key("rules").begin_array();
    for (const Rule& rule : result.rules) {
      json.begin_object();
      json.key("path").value(rule.path);
      json.key("name").value(rule.name);
      json.key("rule_id").value(rule.rule_id);
      json.key("queries").value(static_cast<int64_t>(rule.query.alternatives.size()));
      json.key("loaded").value(rule.loaded());
      json.key("errors").value(static_cast<int64_t>(rule.diagnostics.error_count()));
      json.key("warnings").value(static_cast<int64_t>(rule.diagnostics.warning_count()));
      json.end_object();
    }
    json.end_array();
    json.key("diagnostics").begin_array();
    for (const Diagnostics& file : result.file_diagnostics) {
      for (const Diagnostic& d : file.items()) write_diagnostic_json(json, d);
    }
    for (const Rule& rule : result.rules) {
      for (const Diagnostic& d : rule.diagnostics.items()) write_diagnostic_json(json, d);
    }
    json.end_array();
    json.key("errors").value(static_cast<int64_t>(errors));
    json.key("warnings").value(static_cast<int64_t>(warnings));
    json.key("skipped").value(static_cast<int64_t>(skipped));
    json.end_object();
    out.record(json.str() + "\n");
  } else {
    bool color = options.color == "always" || (options.color == "auto" && stdout_is_terminal());
    for (const Diagnostics& file : result.file_diagnostics) {
      for (const Diagnostic& d : file.items()) out.record(render_text(d, color) + "\n");
    }
    for (const Rule& rule : result.rules) {
      for (const Diagnostic& d : rule.diagnostics.items()) out.record(render_text(d, color) + "\n");
    }
    out.record(fmt::format("{} rule{} in {} file{}: {} loaded, {} error{}, {} warning{}{}\n",
                           result.rules.size(), result.rules.size() == 1 ? "" : "s",
                           result.files_read, result.files_read == 1 ? "" : "s", loaded, errors,
                           errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
                           skipped ? fmt::format(", {} Sigma rules skipped", skipped) : ""));
  }
  if (!finish_output(out, "diagnostics and summary lines")) return kFindings;
  if (result.files_read == 0) {
    // As hunt on a folder of no logs: nothing to check is an error.
    std::cerr << fmt::format(
        "pickaxe: lint: no rule file in {} (.eql, detection-rules .toml, Sigma .yml, rule pages "
        ".txt)\n",
        fmt::join(options.paths, ", "));
    return kFindings;
  }
  return errors > 0 ? kFindings : kSuccess;
}

}  // namespace

void add_lint_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<LintOptions>();
  CLI::App* command = app.add_subcommand(
      "lint",
      "Parse, verify and lint rules: .eql files, detection-rules TOML, rule pages, or directories "
      "of them (read recursively). Exits 0 when there are no errors (warnings allowed), 1 on "
      "errors.");
  command->add_option("paths", options->paths, "Rule files or directories")->required();
  command->add_option("--format", options->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  command->add_option("--color", options->color, "Colour the text output")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->default_str("auto");
  command->add_flag("--strict", options->strict, "Treat warnings as errors");
  command->add_flag("--fleet", options->fleet,
                    "Note the rules a fleet (pickaxe serve) cannot run partitioned");
  command
      ->add_option("--partition-key", options->partition_key,
                   "With --fleet: the fleet's partition key fields (default: host.id, host.name, "
                   "cloud.account.id, container.id)")
      ->allow_extra_args(false);
  add_sigma_mapping_option(*command, options->sigma_mapping);
  command->callback([options, &run] { run = [options] { return run_lint(*options); }; });
}

}  // namespace pickaxe::cli
