// EQL parser: a hand-written recursive-descent parser for Elasticsearch 8.x
// EQL, with the seed dialect (alternatives joined by `nor`, one-step
// sequences) read leniently and reported as warnings.
//
// Grammar (lowest precedence first):
//   query_set   := query ("nor" query)*
//   query       := (event_query | sequence | sample) ("|" pipe)*
//   event_query := ("any" | category) "where" expr
//   sequence    := "sequence" ["by" keys] ["with" "maxspan" "=" INT unit]
//                  step+ ["until" step]
//   step        := ("[" | "![") event_query "]" ["by" keys] ["with" "runs" "=" INT]
//   sample      := "sample" ["by" keys] ("[" event_query "]" ["by" keys])+
//   pipe        := ("head" | "tail") INT
//   expr        := and ("or" and)*
//   and         := not ("and" not)*
//   not         := "not" not | compare
//   compare     := additive [("=="|"!="|"<"|"<="|">"|">=") additive]
//   additive    := multiplicative (("+"|"-") multiplicative)*
//   multiplicative := unary (("*"|"/"|"%") unary)*
//   unary       := ("-"|"+") unary | postfix
//   postfix     := primary [["not"] ("in"|"in~") "(" expr ("," expr)* ")"
//                          | (":"|"like"|"like~"|"regex"|"regex~") (constant | "(" constant,...
//                          ")")]
//   primary     := constant | ["?"] field | name["~"] "(" [expr ("," expr)*] ")" | "(" expr ")"
#pragma once

#include "diag/diagnostic.h"
#include "eql/ast.h"

namespace pickaxe::eql {

// Nesting deeper than this is rejected, so that every walk of the AST is safe.
inline constexpr int kMaxNestingDepth = 128;

// Parses text[begin, end) of source. Syntax errors and seed-dialect warnings
// go to diagnostics; the result holds what could be parsed.
QuerySet parse_query_set(const SourceFile& source, uint32_t begin, uint32_t end,
                         Diagnostics& diagnostics);
QuerySet parse_query_set(const SourceFile& source, Diagnostics& diagnostics);

// Parses a single expression (no event category), for tests and tools.
ExprPtr parse_expression(const SourceFile& source, Diagnostics& diagnostics);

}  // namespace pickaxe::eql
