// `pickaxe convert --to eql PATH...`: render rules in another language.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "export/export.h"
#include "export/from_eql.h"
#include "rules/rule_loader.h"
#include "util/output.h"

namespace pickaxe::cli {

namespace {

struct ConvertOptions {
  std::vector<std::string> paths;
  std::string to = "eql";
  std::string sigma_mapping;
  bool print_mapping = false;
};

int run_convert(const ConvertOptions& options) {
  if (options.print_mapping) {
    Output out;
    out.record(sigma::Mapping::builtin_yaml());
    return finish_output(out, "lines") ? kSuccess : kFindings;
  }
  if (options.paths.empty()) {
    std::cerr << "pickaxe: convert: name the rules to convert (or --print-mapping)\n";
    return kUsage;
  }
  std::optional<const sigma::Mapping*> mapping = load_sigma_mapping(options.sigma_mapping);
  if (!mapping) return kUsage;
  if (!*mapping) *mapping = &builtin_sigma_mapping();
  LoadResult result = load_rules(options.paths, *mapping);
  bool failed = false;
  for (const Diagnostics& file : result.file_diagnostics) {
    for (const Diagnostic& d : file.items()) std::cerr << render_text(d);
    failed = failed || file.has_errors();
  }
  Output out;
  bool first = true;
  for (const Rule& rule : result.rules) {
    if (!rule.loaded()) {
      for (const Diagnostic& d : rule.diagnostics.items())
        if (d.severity == Severity::Error) std::cerr << render_text(d);
      failed = true;
      continue;
    }
    std::string text;
    if (options.to == "sigma") {
      // A Sigma rule is written as it was read; an EQL rule is translated.
      if (rule.format == RuleFormat::Sigma) {
        text = rule.sigma_source->text();
      } else {
        Diagnostics diagnostics(rule.source);
        text = sigma::to_sigma(rule, **mapping, diagnostics);
        for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
        if (text.empty()) {
          failed = true;
          continue;
        }
      }
    } else if (options.to != "eql") {
      const exporter::Target target = options.to == "esql"  ? exporter::Target::Esql
                                      : options.to == "spl" ? exporter::Target::Spl
                                                            : exporter::Target::Kql;
      Diagnostics diagnostics(rule.source);
      text = exporter::render(rule, result.rules, target, diagnostics);
      for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
      if (text.empty()) {
        failed = true;
        continue;
      }
    } else if (rule.correlation) {
      std::cerr << fmt::format(
          "pickaxe: convert: {}: \"{}\" is a Sigma correlation, which no single EQL query "
          "says; pickaxe runs it natively\n",
          rule.path, rule.name);
      failed = true;
      continue;
    } else {
      // The query as it runs: a Sigma rule's rendering, an EQL rule's own text.
      std::string_view query(rule.source->text());
      text = std::string(query.substr(rule.query_begin, rule.query_end - rule.query_begin)) + "\n";
    }
    if (!first) out.write(options.to == "sigma" ? "---\n" : "\n");
    first = false;
    if (result.rules.size() > 1) {
      const std::string header = fmt::format("{}: {}", rule.path, rule.name);
      out.write((options.to == "sigma" ? "# " + header
                 : options.to == "spl" ? "``` " + header + " ```"
                                       : "// " + header) +
                "\n");
    }
    out.record(text);
  }
  if (!finish_output(out, "rules")) return kFindings;
  return failed ? kFindings : kSuccess;
}

}  // namespace

void add_convert_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* command = app.add_subcommand(
      "convert",
      "Render rules in another language: --to eql gives the Elastic EQL query a Sigma rule "
      "runs as (an EQL rule's own query). Exit 1 when a rule cannot be rendered.");
  command->add_option("paths", options->paths, "Rule files or directories");
  command->add_option("--to", options->to, "The language to write")
      ->check(CLI::IsMember({"eql", "sigma", "esql", "spl", "kql"}))
      ->default_str("eql");
  add_sigma_mapping_option(*command, options->sigma_mapping);
  command->add_flag("--print-mapping", options->print_mapping,
                    "Print the built-in Sigma mapping (the shape of a --sigma-mapping file)");
  command->callback([options, &run] { run = [options] { return run_convert(*options); }; });
}

}  // namespace pickaxe::cli
