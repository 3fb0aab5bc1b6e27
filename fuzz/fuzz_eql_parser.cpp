// libFuzzer target for the EQL front end: lexer, parser, verifier, lint,
// diagnostics rendering, and the printer round trip parse(print(ast)) == ast.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "eql/functions.h"
#include "eql/parser.h"
#include "eql/printer.h"
#include "lint/linter.h"

using namespace pickaxe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto source = std::make_shared<SourceFile>(
      "fuzz.eql", std::string(reinterpret_cast<const char*>(data), size));
  Diagnostics diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
  for (const Diagnostic& d : diagnostics.items()) (void)render_text(d);
  if (diagnostics.has_errors()) return 0;
  eql::verify(set, diagnostics);
  lint(set, FieldTypes::ecs(), diagnostics);
  for (const Diagnostic& d : diagnostics.items()) (void)render_text(d);

  std::string printed = eql::print(set);
  auto reprinted_source = std::make_shared<SourceFile>("printed.eql", printed);
  Diagnostics reparse(reprinted_source);
  eql::QuerySet again = eql::parse_query_set(*reprinted_source, reparse);
  if (reparse.has_errors() || !(again == set)) {
    std::fprintf(stderr, "round trip failed\n--- input\n%s\n--- printed\n%s\n",
                 source->text().c_str(), printed.c_str());
    for (const Diagnostic& d : reparse.items()) std::fprintf(stderr, "%s", render_text(d).c_str());
    std::abort();
  }
  return 0;
}
