// libFuzzer target for rule files: detection-rules TOML, rule pages, .eql
// text and Sigma YAML, through loading, rendering, verification and lint.
// The first byte picks the format.
#include <cstdint>
#include <string>

#include "lint/linter.h"
#include "rules/rule_loader.h"

using namespace pickaxe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kNames[] = {"rule.toml", "page.txt", "rule.eql", "rule.yml"};
  std::string name = kNames[data[0] % 4];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (name == "page.txt") text = "Title\n\nElastic Detection Query\n\neql\n" + text;
  LoadResult result;
  load_rule_text(name, std::move(text), result);
  for (Rule& rule : result.rules) {
    lint(rule.query, FieldTypes::ecs(), rule.diagnostics);
    for (const Diagnostic& d : rule.diagnostics.items()) (void)render_text(d);
  }
  for (const Diagnostics& file : result.file_diagnostics) {
    for (const Diagnostic& d : file.items()) (void)render_text(d);
  }
  return 0;
}
