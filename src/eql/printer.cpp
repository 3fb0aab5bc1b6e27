#include "eql/printer.h"

#include <fmt/format.h>

#include "eql/lexer.h"

namespace pickaxe::eql {

namespace {

// Binding strength, loosest first; a child binding looser than its slot needs
// parentheses.
enum Precedence : int {
  kOr = 1,
  kAnd = 2,
  kNot = 3,
  kCompare = 4,
  kAdditive = 5,
  kMultiplicative = 6,
  kUnary = 7,
  kPredicate = 8,
  kPrimary = 9,
};

int precedence(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::Or: return kOr;
    case ExprKind::And: return kAnd;
    case ExprKind::Not: return kNot;
    case ExprKind::Compare: return kCompare;
    case ExprKind::Arithmetic:
      return expr.arithmetic == ArithmeticOp::Add || expr.arithmetic == ArithmeticOp::Subtract
                 ? kAdditive
                 : kMultiplicative;
    case ExprKind::Negate: return kUnary;
    case ExprKind::Match:
    case ExprKind::In: return kPredicate;
    case ExprKind::Literal:
      if ((expr.literal.type == Value::Type::Integer && expr.literal.integer < 0) ||
          (expr.literal.type == Value::Type::Float && std::signbit(expr.literal.number)))
        return kUnary;
      return kPrimary;
    default: return kPrimary;
  }
}

std::string_view compare_text(CompareOp op) {
  switch (op) {
    case CompareOp::Equal: return "==";
    case CompareOp::NotEqual: return "!=";
    case CompareOp::Less: return "<";
    case CompareOp::LessEqual: return "<=";
    case CompareOp::Greater: return ">";
    case CompareOp::GreaterEqual: return ">=";
  }
  return "==";
}

std::string_view arithmetic_text(ArithmeticOp op) {
  switch (op) {
    case ArithmeticOp::Add: return "+";
    case ArithmeticOp::Subtract: return "-";
    case ArithmeticOp::Multiply: return "*";
    case ArithmeticOp::Divide: return "/";
    case ArithmeticOp::Modulo: return "%";
  }
  return "+";
}

std::string print_number(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

void print_expr(const Expr& expr, std::string& out);

void print_child(const Expr& child, int minimum, std::string& out) {
  bool parens = precedence(child) < minimum;
  if (parens) out += '(';
  print_expr(child, out);
  if (parens) out += ')';
}

void print_list(const std::vector<ExprPtr>& args, size_t first, std::string& out) {
  for (size_t i = first; i < args.size(); ++i) {
    if (i > first) out += ", ";
    print_expr(*args[i], out);
  }
}

void print_expr(const Expr& expr, std::string& out) {
  switch (expr.kind) {
    case ExprKind::Error: out += "<error>"; return;
    case ExprKind::Literal: out += print_literal(expr.literal); return;
    case ExprKind::Field:
      if (expr.optional) out += '?';
      out += print_field_name(expr.name);
      return;
    case ExprKind::Not:
      out += "not ";
      print_child(*expr.args[0], kNot, out);
      return;
    case ExprKind::And:
    case ExprKind::Or: {
      int own = precedence(expr);
      for (size_t i = 0; i < expr.args.size(); ++i) {
        if (i > 0) out += expr.kind == ExprKind::And ? " and " : " or ";
        print_child(*expr.args[i], own + 1, out);
      }
      return;
    }
    case ExprKind::Compare:
      print_child(*expr.args[0], kAdditive, out);
      out += fmt::format(" {} ", compare_text(expr.compare));
      print_child(*expr.args[1], kAdditive, out);
      return;
    case ExprKind::Arithmetic: {
      int own = precedence(expr);
      print_child(*expr.args[0], own, out);
      out += fmt::format(" {} ", arithmetic_text(expr.arithmetic));
      print_child(*expr.args[1], own + 1, out);
      return;
    }
    case ExprKind::Negate: {
      out += '-';
      std::string operand;
      print_child(*expr.args[0], kUnary, operand);
      if (!operand.empty() && operand[0] == '-') out += ' ';
      out += operand;
      return;
    }
    case ExprKind::Match: {
      print_child(*expr.args[0], kPrimary, out);
      switch (expr.match) {
        case MatchOp::Colon: out += " : "; break;
        case MatchOp::Like: out += expr.insensitive ? " like~ " : " like "; break;
        case MatchOp::Regex: out += expr.insensitive ? " regex~ " : " regex "; break;
      }
      if (expr.list) out += '(';
      print_list(expr.args, 1, out);
      if (expr.list) out += ')';
      return;
    }
    case ExprKind::In:
      print_child(*expr.args[0], kPrimary, out);
      out += expr.negated ? " not in" : " in";
      if (expr.insensitive) out += '~';
      out += " (";
      print_list(expr.args, 1, out);
      out += ')';
      return;
    case ExprKind::Call:
      out += expr.name;
      if (expr.insensitive) out += '~';
      out += '(';
      print_list(expr.args, 0, out);
      out += ')';
      return;
  }
}

std::string print_filter(const EventFilter& filter) {
  std::string out;
  if (filter.any) {
    out = "any";
  } else if (filter.quoted_category || filter.category.empty() ||
             !is_identifier_start(filter.category[0]) || is_keyword(filter.category) ||
             filter.category.find_first_not_of(
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@") !=
                 std::string::npos) {
    out = quote_string(filter.category);
  } else {
    out = filter.category;
  }
  out += " where ";
  if (filter.condition) print_expr(*filter.condition, out);
  return out;
}

std::string print_keys(const std::vector<ExprPtr>& keys) {
  std::string out = " by ";
  print_list(keys, 0, out);
  return out;
}

std::string print_step(const Step& step) {
  std::string out = step.missing ? "![" : "[";
  out += print_filter(step.filter);
  out += ']';
  if (!step.by.empty()) out += print_keys(step.by);
  if (step.runs) out += fmt::format(" with runs={}", *step.runs);
  return out;
}

}  // namespace

std::string print_literal(const Value& value) {
  switch (value.type) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return value.boolean ? "true" : "false";
    case Value::Type::Integer: return fmt::format("{}", value.integer);
    case Value::Type::Float: return print_number(value.number);
    case Value::Type::String: return quote_string(value.string);
  }
  return "null";
}

std::string quote_string(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{{{:02X}}}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string print_field_name(std::string_view name) {
  // Plain when every dotted part is an identifier and the first is no keyword.
  bool plain = !name.empty();
  size_t start = 0;
  bool first = true;
  while (plain && start <= name.size()) {
    size_t dot = name.find('.', start);
    std::string_view part = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty() || !is_identifier_start(part[0])) plain = false;
    for (char c : part) plain = plain && is_identifier_char(c);
    if (first && is_keyword(part)) plain = false;
    first = false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (plain) return std::string(name);
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
  return out;
}

std::string print(const Expr& expr) {
  std::string out;
  print_expr(expr, out);
  return out;
}

std::string print(const Query& query) {
  std::string out;
  switch (query.kind) {
    case QueryKind::Event: out = print_filter(query.event); break;
    case QueryKind::Sequence:
    case QueryKind::Sample:
      out = query.kind == QueryKind::Sequence ? "sequence" : "sample";
      if (!query.by.empty()) out += print_keys(query.by);
      if (query.maxspan)
        out += fmt::format(" with maxspan={}{}", query.maxspan->amount,
                           time_unit_suffix(query.maxspan->unit));
      for (const Step& step : query.steps) out += "\n  " + print_step(step);
      if (query.until) out += "\nuntil " + print_step(*query.until);
      break;
  }
  for (const Pipe& pipe : query.pipes)
    out += fmt::format("\n| {} {}", pipe.kind == PipeKind::Head ? "head" : "tail", pipe.count);
  return out;
}

std::string print(const QuerySet& set) {
  std::string out;
  for (size_t i = 0; i < set.alternatives.size(); ++i) {
    if (i > 0) out += "\n\nnor\n\n";
    out += print(set.alternatives[i]);
  }
  return out;
}

}  // namespace pickaxe::eql
