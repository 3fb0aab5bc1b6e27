// Compiled expressions: an EQL AST resolved against the schema and lowered
// once into matchers (hash sets for `in`, compiled wildcards and RE2 regexps,
// CIDR tables), then evaluated per event with Elasticsearch's semantics:
// three-valued logic (null is neither true nor false), any-element matching on
// arrays, and Elastic's case rules.
#pragma once

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <re2/re2.h>

#include "diag/diagnostic.h"
#include "eql/ast.h"
#include "event/event.h"
#include "event/patterns.h"
#include "match/wildcard_set.h"

namespace pickaxe {

enum class Tri : uint8_t { False, True, Null };

struct CompileOptions {
  // Python EQL's case-insensitive mode: ==, !=, in, like and regex ignore case.
  bool insensitive_equality = false;
  // Python EQL's wildcard equality: `==` and `!=` with `*` or `?` in a string
  // literal match it as a wildcard pattern.
  bool wildcard_equality = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

enum class CompareMode : uint8_t { Generic, Date, Ip, Version };

struct Node {
  eql::ExprKind kind = eql::ExprKind::Error;
  Scalar literal;
  Values constant;  // Literal: the literal as values (none for null), read without copying
  uint32_t slot = 0;
  std::optional<FieldType> field_type;
  eql::CompareOp compare = eql::CompareOp::Equal;
  eql::ArithmeticOp arithmetic = eql::ArithmeticOp::Add;
  eql::MatchOp match = eql::MatchOp::Colon;
  CompareMode compare_mode = CompareMode::Generic;
  const DateFormat* date_format = nullptr;  // CompareMode::Date: the field's format
  bool insensitive = false;
  bool negated = false;
  int function = -1;
  std::vector<NodePtr> children;

  // Lowered matchers.
  std::vector<std::string> wildcards;         // Match: like and `:`
  std::unique_ptr<WildcardSet> wildcard_set;  // Match: the same patterns in one Vectorscan database
  std::vector<std::unique_ptr<RE2>> regexes;  // Match: regex
  CidrTable cidrs;                            // Match on an ip field (seed dialect), cidrMatch
  std::unordered_set<std::string> string_set;  // In: string items (folded when insensitive)
  std::vector<Scalar> other_items;             // In: non-string constant items
  bool constant_items = true;                  // In: every item is a constant

  // A leaf the rule set's PredicateProgram decides (-1: none): its id, the
  // field it reads, and whether the leaf is true when the predicate does not
  // fire (!=, not in).
  int32_t predicate = -1;
  uint32_t predicate_slot = 0;
  bool predicate_inverted = false;
};

struct CompileContext {
  const Schema& schema;
  FieldIndex& fields;
  Diagnostics* diagnostics = nullptr;  // semantic errors (bad regex, bad CIDR)
  CompileOptions options;
};

NodePtr compile_expression(const eql::Expr& expr, CompileContext& context);

Tri test(const Node& node, const Event& event);
// test(node, event) == Tri::True, and == Tri::False, decided with less work.
bool holds(const Node& node, const Event& event);
bool refutes(const Node& node, const Event& event);
// Adds the slots of the fields the expression reads.
void collect_slots(const Node& node, std::vector<uint32_t>& slots);
void evaluate(const Node& node, const Event& event, Values& out);
// Whether the node is a call of cidrMatch (its CIDRs compiled into node.cidrs).
bool is_cidr_match(const Node& node);

// A condition as the rule set's PredicatePass decides it: a flat program,
// in prefix order, of `all`/`any` over leaves, with negations pushed down to
// the leaves (De Morgan), so that each leaf is asked for True or for False
// as holds() and refutes() would ask. A leaf the pass decides is one
// comparison of its answer; any other is tested on the event.
struct FilterCode {
  enum class Op : uint8_t { All, Any, Predicate, Test };
  struct Step {
    Op op = Op::Test;
    // Predicate: the PredicatePass::Answer wanted; Test: the Tri wanted.
    uint8_t want = 0;
    // All, Any: how many subtrees follow.
    uint16_t count = 0;
    // Predicate: its id; Test: its index in `tests`; All, Any: the index
    // of the step after the subtrees.
    uint32_t arg = 0;
    uint32_t group = 0;  // Predicate: its field group
  };
  // Empty: no condition, or not lowered (the condition's tree is walked).
  std::vector<Step> steps;
  // Test leaves: nodes of the filter's own condition, which outlives them.
  std::vector<const Node*> tests;
};

// An event query's filter: the category and the condition.
struct CompiledFilter {
  bool any = false;
  std::string category;
  uint32_t category_slot = 0;
  NodePtr condition;
  // Predicates of which one must fire for the condition to hold (none: no
  // such conjunct); read when a PredicatePass is installed for the event.
  std::vector<uint32_t> anchor;
  // The condition for the PredicatePass (set with the anchor).
  FilterCode code;
  bool matches(const Event& event) const;
};

CompiledFilter compile_filter(const eql::EventFilter& filter, const std::string& category_field,
                              CompileContext& context);

// A condition every event the filter matches meets: the field at `slot`
// holds one of the string `values` (compared case-folded when `folded`).
struct ValueConstraint {
  uint32_t slot = 0;
  std::vector<std::string> values;
  bool folded = false;
  bool met_by(const Event& event) const;
};
// The filter's category and its top-level `and` terms that are equalities
// with string constants (==, in, `:` without wildcards).
std::vector<ValueConstraint> required_values(const CompiledFilter& filter);

}  // namespace pickaxe
