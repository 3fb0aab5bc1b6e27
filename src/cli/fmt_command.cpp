// `pickaxe fmt PATH...`: print each rule's query as canonical EQL.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "eql/printer.h"
#include "rules/rule_loader.h"
#include "util/output.h"

namespace pickaxe::cli {

namespace {

int run_fmt(const std::vector<std::string>& paths) {
  LoadResult result = load_rules(paths);
  bool failed = false;
  for (const Diagnostics& file : result.file_diagnostics) {
    for (const Diagnostic& d : file.items()) std::cerr << render_text(d);
    failed = failed || file.has_errors();
  }
  Output out;
  bool first = true;
  for (const Rule& rule : result.rules) {
    if (!rule.loaded()) {
      for (const Diagnostic& d : rule.diagnostics.items()) {
        if (d.severity == Severity::Error) std::cerr << render_text(d);
      }
      failed = true;
      continue;
    }
    if (!first) out.write("\n");
    first = false;
    if (result.rules.size() > 1) out.write(fmt::format("// {}: {}\n", rule.path, rule.name));
    if (rule.correlation) {  // no query of its own
      out.record(fmt::format("// a Sigma {} correlation: it has no EQL query\n",
                             rule.correlation->type_name));
      continue;
    }
    out.record(eql::print(rule.query) + "\n");
  }
  if (!finish_output(out, "rules")) return kFindings;
  return failed ? kFindings : kSuccess;
}

}  // namespace

void add_fmt_command(CLI::App& app, std::function<int()>& run) {
  auto paths = std::make_shared<std::vector<std::string>>();
  CLI::App* command = app.add_subcommand(
      "fmt", "Print each rule's query as canonical EQL (errors go to stderr, exit 1).");
  command->add_option("paths", *paths, "Rule files or directories")->required();
  command->callback([paths, &run] { run = [paths] { return run_fmt(*paths); }; });
}

}  // namespace pickaxe::cli
