// The EQL abstract syntax tree. Every node carries the source span it came
// from; equality (operator==) compares structure and values, not spans.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diag/diagnostic.h"

namespace pickaxe::eql {

struct Value {
  enum class Type : uint8_t { Null, Bool, Integer, Float, String };
  Type type = Type::Null;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string string;

  static Value null() { return {}; }
  static Value of_bool(bool v) { return {Type::Bool, v, 0, 0, {}}; }
  static Value of_integer(int64_t v) { return {Type::Integer, false, v, 0, {}}; }
  static Value of_float(double v) { return {Type::Float, false, 0, v, {}}; }
  static Value of_string(std::string v) { return {Type::String, false, 0, 0, std::move(v)}; }
  bool is_string() const { return type == Type::String; }
  bool operator==(const Value& other) const;
};

enum class ExprKind : uint8_t {
  Error,  // placeholder where parsing failed (already reported)
  Literal,
  Field,
  Not,
  And,         // n-ary
  Or,          // n-ary
  Compare,     // args: left, right
  Arithmetic,  // args: left, right
  Negate,      // args: operand
  Match,       // `:` like like~ regex regex~; args: subject, pattern...
  In,          // in in~ not in; args: subject, item...
  Call,        // args: arguments
};

enum class CompareOp : uint8_t { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual };
enum class ArithmeticOp : uint8_t { Add, Subtract, Multiply, Divide, Modulo };
enum class MatchOp : uint8_t { Colon, Like, Regex };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::Error;
  Span span;
  Value literal;             // Literal
  std::string name;          // Field: dotted name; Call: function name as written
  bool optional = false;     // Field written as ?field
  bool insensitive = false;  // in~ like~ regex~ fn~
  bool negated = false;      // not in
  bool list = false;         // Match: right side written as a parenthesised list
  CompareOp compare = CompareOp::Equal;
  ArithmeticOp arithmetic = ArithmeticOp::Add;
  MatchOp match = MatchOp::Colon;
  std::vector<ExprPtr> args;
  uint32_t height = 1;  // longest path to a leaf; bounded by the parser

  bool operator==(const Expr& other) const;
};

ExprPtr make_expr(ExprKind kind, Span span);

struct EventFilter {
  std::string category;  // empty for `any`
  bool any = false;
  bool quoted_category = false;
  ExprPtr condition;
  Span span;
  Span category_span;
  bool operator==(const EventFilter& other) const;
};

enum class TimeUnit : uint8_t { Days, Hours, Minutes, Seconds, Millis, Micros, Nanos };

struct Duration {
  int64_t amount = 0;
  TimeUnit unit = TimeUnit::Seconds;
  Span span;
  int64_t nanoseconds() const;  // saturates on overflow
  bool operator==(const Duration& other) const {
    return amount == other.amount && unit == other.unit;
  }
};

std::string_view time_unit_suffix(TimeUnit unit);
// The unit a suffix names (d h m s ms micros nanos), if any.
std::optional<TimeUnit> time_unit_of(std::string_view suffix);
// A duration as EQL writes one (`30s`, `5m`, `250ms`): a whole number and
// its unit, nothing else. Saturates as Duration::nanoseconds does.
std::optional<Duration> parse_duration(std::string_view text);

struct Step {
  EventFilter filter;
  std::vector<ExprPtr> by;
  std::optional<int64_t> runs;  // `with runs=N`
  bool missing = false;         // ![ ... ]
  Span span;
  bool operator==(const Step& other) const;
};

enum class PipeKind : uint8_t { Head, Tail };

struct Pipe {
  PipeKind kind = PipeKind::Head;
  int64_t count = 0;
  Span span;
  bool operator==(const Pipe& other) const { return kind == other.kind && count == other.count; }
};

enum class QueryKind : uint8_t { Event, Sequence, Sample };

struct Query {
  QueryKind kind = QueryKind::Event;
  EventFilter event;                // Event
  std::vector<ExprPtr> by;          // Sequence, Sample: shared join keys
  std::optional<Duration> maxspan;  // Sequence
  std::vector<Step> steps;          // Sequence, Sample
  std::optional<Step> until;        // Sequence
  std::vector<Pipe> pipes;
  Span span;
  Span keyword_span;  // `sequence` / `sample` keyword

  bool operator==(const Query& other) const;
  // The seed dialect: a sequence of one step behaves as its event query.
  // A step `with runs=N` (N > 1) stands for N steps, so it is a real sequence.
  bool is_single_step_sequence() const {
    return kind == QueryKind::Sequence && steps.size() == 1 &&
           (!steps[0].runs || *steps[0].runs <= 1);
  }
};

// What one rule's query text holds: usually one query; the seed dialect
// joins alternative queries with `nor`, and each alternative alerts.
struct QuerySet {
  std::vector<Query> alternatives;
  bool operator==(const QuerySet& other) const { return alternatives == other.alternatives; }
};

// Visits every expression below `expr` (pre-order, iterative).
template <typename Visitor>
void walk(const Expr& expr, Visitor&& visit) {
  std::vector<const Expr*> stack{&expr};
  while (!stack.empty()) {
    const Expr* node = stack.back();
    stack.pop_back();
    visit(*node);
    for (auto it = node->args.rbegin(); it != node->args.rend(); ++it) stack.push_back(it->get());
  }
}

// Visits each event filter of a query: the event, each step and `until`.
template <typename Visitor>
void for_each_filter(const Query& query, Visitor&& visit) {
  if (query.kind == QueryKind::Event) {
    visit(query.event);
    return;
  }
  for (const Step& step : query.steps) visit(step.filter);
  if (query.until) visit(query.until->filter);
}

}  // namespace pickaxe::eql
