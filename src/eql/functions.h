// The Elasticsearch EQL function set, and the semantic checks that
// Elasticsearch's verifier applies after parsing (function names and arity,
// join key counts, runs, missing steps, pipes).
#pragma once

#include <optional>
#include <string_view>

#include "diag/diagnostic.h"
#include "eql/ast.h"

namespace pickaxe::eql {

struct FunctionInfo {
  std::string_view name;  // canonical spelling
  int min_args;
  int max_args;             // -1: unbounded
  bool allows_insensitive;  // has a `name~` variant
};

// Looks a function up by name, case-insensitively as Elasticsearch does.
const FunctionInfo* find_function(std::string_view name);

// Checks what the grammar cannot: reports errors for unknown functions,
// wrong arity, inconsistent join keys, `runs` out of range and missing steps
// without maxspan.
void verify(const QuerySet& set, Diagnostics& diagnostics);

}  // namespace pickaxe::eql
