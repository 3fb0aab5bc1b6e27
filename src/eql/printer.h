// Renders an AST back to canonical EQL text, such that parsing the output
// gives an equal AST: parse(print(ast)) == ast.
#pragma once

#include <string>

#include "eql/ast.h"

namespace pickaxe::eql {

std::string print(const Expr& expr);
std::string print(const Query& query);
// Alternatives are separated by a `nor` line (the seed dialect).
std::string print(const QuerySet& set);

std::string quote_string(std::string_view value);
// A literal as EQL writes it: null, true, 42, 1.5, "text".
std::string print_literal(const Value& value);
std::string print_field_name(std::string_view name);

}  // namespace pickaxe::eql
