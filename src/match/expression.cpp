#include "match/expression.h"

#include "match/predicates.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "util/strings.h"

namespace pickaxe {

using eql::ExprKind;

namespace {

enum Function : int {
  kAdd,
  kBetween,
  kCidrMatch,
  kConcat,
  kDivide,
  kEndsWith,
  kIndexOf,
  kLength,
  kModulo,
  kMultiply,
  kNumber,
  kStartsWith,
  kString,
  kStringContains,
  kSubstring,
  kSubtract,
};

constexpr std::pair<std::string_view, Function> kFunctionIds[] = {
    {"add", kAdd},
    {"between", kBetween},
    {"cidrmatch", kCidrMatch},
    {"concat", kConcat},
    {"divide", kDivide},
    {"endswith", kEndsWith},
    {"indexof", kIndexOf},
    {"length", kLength},
    {"modulo", kModulo},
    {"multiply", kMultiply},
    {"number", kNumber},
    {"startswith", kStartsWith},
    {"string", kString},
    {"stringcontains", kStringContains},
    {"substring", kSubstring},
    {"subtract", kSubtract},
};

Scalar scalar_of(const eql::Value& value) {
  switch (value.type) {
    case eql::Value::Type::Null: return Scalar::null();
    case eql::Value::Type::Bool: return Scalar::of_bool(value.boolean);
    case eql::Value::Type::Integer: return Scalar::of_long(value.integer);
    case eql::Value::Type::Float: return Scalar::of_double(value.number);
    case eql::Value::Type::String: return Scalar::of_string(value.string);
  }
  return Scalar::null();
}

void report(CompileContext& context, Span span, std::string message) {
  if (context.diagnostics) context.diagnostics->error("compile", span, std::move(message));
}

const Node* field_child(const Node& node) {
  for (const auto& child : node.children) {
    if (child->kind == ExprKind::Field) return child.get();
  }
  return nullptr;
}

}  // namespace

// From this many patterns on, a wildcard list is one Vectorscan database.
constexpr size_t kWildcardSetThreshold = 4;

NodePtr compile_expression(const eql::Expr& expr, CompileContext& context) {
  auto node = std::make_unique<Node>();
  node->kind = expr.kind;
  node->insensitive = expr.insensitive;
  node->negated = expr.negated;
  node->compare = expr.compare;
  node->arithmetic = expr.arithmetic;
  node->match = expr.match;
  switch (expr.kind) {
    case ExprKind::Literal: node->literal = scalar_of(expr.literal); break;
    case ExprKind::Field: {
      if (context.schema.authoritative() && !context.schema.in_mappings(expr.name) &&
          !context.schema.maps_new_fields(expr.name)) {
        // As in Elasticsearch: a field that a closed mapping (dynamic: false
        // or strict) does not know is null when optional, else an error.
        node->kind = ExprKind::Literal;
        if (!expr.optional)
          report(context, expr.span,
                 fmt::format("{} is not in the mapping, which takes no new fields (dynamic: "
                             "false or strict); write ?{} to read it as null",
                             expr.name, expr.name));
        break;
      }
      std::string resolved = context.schema.resolve(expr.name);
      node->slot = context.fields.add(resolved);
      node->field_type = context.schema.type(resolved);
      if (node->field_type == FieldType::Date)
        node->date_format = &context.schema.date_format(resolved);
      break;
    }
    case ExprKind::Call: {
      std::string name = to_lower(expr.name);
      for (const auto& [function_name, id] : kFunctionIds) {
        if (name == function_name) node->function = id;
      }
      if (node->function < 0)
        report(context, expr.span, fmt::format("unknown function {}", expr.name));
      break;
    }
    default: break;
  }
  for (const auto& arg : expr.args) node->children.push_back(compile_expression(*arg, context));

  bool insensitive_mode = context.options.insensitive_equality;
  if (expr.kind == ExprKind::Compare && context.options.wildcard_equality &&
      (expr.compare == eql::CompareOp::Equal || expr.compare == eql::CompareOp::NotEqual) &&
      node->children[1]->kind == ExprKind::Literal &&
      node->children[1]->literal.type == Scalar::Type::String &&
      has_wildcards(node->children[1]->literal.string)) {
    // Python EQL: `field == "a*"` is `field like "a*"` (and != its negation).
    auto match = std::make_unique<Node>();
    match->kind = ExprKind::Match;
    match->match = eql::MatchOp::Like;
    match->insensitive = insensitive_mode;
    const std::string& pattern = node->children[1]->literal.string;
    match->wildcards.push_back(insensitive_mode ? fold_case(pattern) : pattern);
    match->children = std::move(node->children);
    if (expr.compare == eql::CompareOp::Equal) return match;
    auto negation = std::make_unique<Node>();
    negation->kind = ExprKind::Not;
    negation->children.push_back(std::move(match));
    return negation;
  }
  if (expr.kind == ExprKind::Compare) {
    const Node* field = field_child(*node);
    if (field && field->field_type == FieldType::Date) {
      node->compare_mode = CompareMode::Date;
      node->date_format = field->date_format;
    }
    if (field && field->field_type == FieldType::Ip) node->compare_mode = CompareMode::Ip;
    if (field && field->field_type == FieldType::Version) node->compare_mode = CompareMode::Version;
    if (insensitive_mode) node->insensitive = true;
  }
  if (expr.kind == ExprKind::Match) {
    if (insensitive_mode) node->insensitive = true;
    const Node* subject = node->children[0].get();
    bool ip_subject = subject->kind == ExprKind::Field && subject->field_type == FieldType::Ip;
    for (size_t i = 1; i < node->children.size(); ++i) {
      const Scalar& pattern = node->children[i]->literal;
      if (pattern.type != Scalar::Type::String) continue;
      if (ip_subject && expr.match != eql::MatchOp::Regex) {
        if (auto cidr = parse_cidr(pattern.string)) {
          node->cidrs.add(*cidr);  // the seed dialect: `:` with CIDRs on an ip field
          continue;
        }
      }
      if (expr.match == eql::MatchOp::Regex) {
        std::string reason;
        auto translated = lucene_to_re2(pattern.string, &reason);
        if (!translated) {
          report(context, expr.args[i]->span,
                 fmt::format("unsupported regular expression: {}", reason));
          continue;
        }
        RE2::Options options;
        options.set_log_errors(false);
        options.set_case_sensitive(!node->insensitive);
        auto regex = std::make_unique<RE2>(*translated, options);
        if (!regex->ok()) {
          report(context, expr.args[i]->span,
                 fmt::format("invalid regular expression: {}", regex->error()));
          continue;
        }
        // Work per byte is bounded by the program's size: past the limit the
        // regexp is refused, as Elasticsearch refuses one too complex to run.
        if (regex->ProgramSize() > kMaxRegexProgram) {
          report(context, expr.args[i]->span,
                 fmt::format("regular expression too complex: it compiles to {} instructions, "
                             "past the {} pickaxe runs",
                             regex->ProgramSize(), kMaxRegexProgram));
          continue;
        }
        node->regexes.push_back(std::move(regex));
      } else {
        node->wildcards.push_back(node->insensitive ? fold_case(pattern.string) : pattern.string);
      }
    }
  }
  if (node->wildcards.size() >= kWildcardSetThreshold) {
    // Patterns are already folded when insensitive: the database matches folded text.
    node->wildcard_set = std::make_unique<WildcardSet>(node->wildcards, false);
  }
  if (expr.kind == ExprKind::In) {
    if (insensitive_mode) node->insensitive = true;
    for (size_t i = 1; i < node->children.size(); ++i) {
      const Node& item = *node->children[i];
      if (item.kind != ExprKind::Literal) {
        node->constant_items = false;
        continue;
      }
      if (item.literal.type == Scalar::Type::String) {
        node->string_set.insert(node->insensitive ? fold_case(item.literal.string)
                                                  : item.literal.string);
      } else if (!item.literal.is_null()) {
        node->other_items.push_back(item.literal);
      }
    }
  }
  if (expr.kind == ExprKind::Call && node->function == kCidrMatch) {
    for (size_t i = 1; i < node->children.size(); ++i) {
      const Node& item = *node->children[i];
      if (item.kind == ExprKind::Literal && item.literal.type == Scalar::Type::String) {
        if (auto cidr = parse_cidr(item.literal.string)) {
          node->cidrs.add(*cidr);
        } else {
          report(context, expr.args[i]->span, fmt::format("invalid CIDR {}", item.literal.string));
        }
      }
    }
  }
  if (expr.kind == ExprKind::Call && insensitive_mode) node->insensitive = true;
  if (node->kind == ExprKind::Literal && !node->literal.is_null()) node->constant = {node->literal};
  return node;
}

// ----- evaluation ---------------------------------------------------------------

namespace {

Tri tri(bool value) {
  return value ? Tri::True : Tri::False;
}

Tri negate(Tri value) {
  return value == Tri::Null ? Tri::Null : value == Tri::True ? Tri::False : Tri::True;
}

void drop_nulls(Values& values) {
  std::erase_if(values, [](const Scalar& s) { return s.is_null(); });
}

// An operand's values without nulls. Fields and constants are read in place,
// without copying; anything else is evaluated into `scratch`.
const Values& operand(const Node& node, const Event& event, Values& scratch) {
  if (node.kind == ExprKind::Literal) return node.constant;
  if (node.kind == ExprKind::Field) {
    const Values& values = event.fields[node.slot];
    if (std::none_of(values.begin(), values.end(), [](const Scalar& s) { return s.is_null(); }))
      return values;
    scratch = values;
  } else {
    evaluate(node, event, scratch);
  }
  drop_nulls(scratch);
  return scratch;
}

// Case-folds into a buffer reused across calls on this thread.
const std::string& folded(const std::string& text) {
  thread_local std::string buffer;
  buffer.assign(text);
  for (char& c : buffer) c = fold(c);
  return buffer;
}

// Semantic versions: numeric parts compare as numbers, a pre-release sorts
// before its release, and text that is no version equals only itself.
std::optional<int> compare_versions(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& text, std::vector<int64_t>& parts, std::string& pre) {
    size_t dash = text.find('-');
    std::string core = text.substr(0, dash);
    pre = dash == std::string::npos ? "" : text.substr(dash + 1);
    size_t start = 0;
    while (start <= core.size()) {
      size_t dot = core.find('.', start);
      std::string part =
          core.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
          part.size() > 18)
        return false;
      parts.push_back(std::stoll(part));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return !parts.empty();
  };
  std::vector<int64_t> x, y;
  std::string pre_x, pre_y;
  bool valid_x = parse(a, x, pre_x), valid_y = parse(b, y, pre_y);
  if (!valid_x || !valid_y) {
    if (a == b) return 0;
    if (valid_x != valid_y) return valid_x ? -1 : 1;  // invalid versions sort after valid ones
    return a < b ? -1 : 1;
  }
  for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    int64_t p = i < x.size() ? x[i] : 0, q = i < y.size() ? y[i] : 0;
    if (p != q) return p < q ? -1 : 1;
  }
  if (pre_x == pre_y) return 0;
  if (pre_x.empty()) return 1;
  if (pre_y.empty()) return -1;
  return pre_x < pre_y ? -1 : 1;
}

// Three-way comparison, or nullopt when the values cannot be compared.
std::optional<int> compare_scalars(const Scalar& a, const Scalar& b, CompareMode mode,
                                   bool insensitive, const DateFormat* date_format) {
  if (mode == CompareMode::Date) {
    // Both sides are read with the field's format, as Elasticsearch parses
    // a range query's bounds with the field's mapping.
    const DateFormat& format = date_format ? *date_format : DateFormat::standard();
    auto x = format.read(a), y = format.read(b);
    if (x && y) return *x < *y ? -1 : *x > *y ? 1 : 0;
  }
  if (mode == CompareMode::Ip && a.type == Scalar::Type::String && b.type == Scalar::Type::String) {
    auto x = parse_ip(a.string), y = parse_ip(b.string);
    if (x && y) {
      int c = std::memcmp(x->bytes.data(), y->bytes.data(), 16);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
  }
  if (mode == CompareMode::Version && a.type == Scalar::Type::String &&
      b.type == Scalar::Type::String)
    return compare_versions(a.string, b.string);
  if (a.is_number() && b.is_number()) {
    if (a.type == Scalar::Type::Long && b.type == Scalar::Type::Long)
      return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
    double x = a.as_double(), y = b.as_double();
    if (std::isnan(x) || std::isnan(y)) return std::nullopt;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.type == Scalar::Type::String && b.type == Scalar::Type::String) {
    int c =
        insensitive ? fold_case(a.string).compare(fold_case(b.string)) : a.string.compare(b.string);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.type == Scalar::Type::Bool && b.type == Scalar::Type::Bool)
    return a.boolean == b.boolean ? 0 : a.boolean ? 1 : -1;
  return std::nullopt;
}

bool compare_holds(eql::CompareOp op, int c) {
  switch (op) {
    case eql::CompareOp::Equal: return c == 0;
    case eql::CompareOp::NotEqual: return c != 0;
    case eql::CompareOp::Less: return c < 0;
    case eql::CompareOp::LessEqual: return c <= 0;
    case eql::CompareOp::Greater: return c > 0;
    case eql::CompareOp::GreaterEqual: return c >= 0;
  }
  return false;
}

bool is_null_literal(const Node& node) {
  return node.kind == ExprKind::Literal && node.literal.is_null();
}

Tri test_compare(const Node& node, const Event& event) {
  const Node& left_node = *node.children[0];
  const Node& right_node = *node.children[1];
  bool equality = node.compare == eql::CompareOp::Equal || node.compare == eql::CompareOp::NotEqual;
  if (equality && (is_null_literal(left_node) || is_null_literal(right_node))) {
    Values scratch;
    bool is_null =
        operand(is_null_literal(left_node) ? right_node : left_node, event, scratch).empty();
    return tri(node.compare == eql::CompareOp::Equal ? is_null : !is_null);
  }
  Values left_scratch, right_scratch;
  const Values& left = operand(left_node, event, left_scratch);
  const Values& right = operand(right_node, event, right_scratch);
  if (left.empty() || right.empty()) return Tri::Null;
  // != is the negation of ==, as Elasticsearch's must_not: an array holding the value is no match.
  eql::CompareOp op =
      node.compare == eql::CompareOp::NotEqual ? eql::CompareOp::Equal : node.compare;
  bool any = false;
  for (const Scalar& a : left) {
    for (const Scalar& b : right) {
      auto c = compare_scalars(a, b, node.compare_mode, node.insensitive, node.date_format);
      if (c && compare_holds(op, *c)) any = true;
    }
  }
  return node.compare == eql::CompareOp::NotEqual ? tri(!any) : tri(any);
}

Tri test_match(const Node& node, const Event& event) {
  Values scratch;
  const Values& subject = operand(*node.children[0], event, scratch);
  if (subject.empty()) return Tri::Null;
  for (const Scalar& value : subject) {
    if (value.type != Scalar::Type::String) continue;
    if (!node.cidrs.empty()) {
      if (auto address = parse_ip(value.string); address && node.cidrs.contains(*address))
        return Tri::True;
    }
    const std::string& text =
        node.insensitive && !node.wildcards.empty() ? folded(value.string) : value.string;
    if (node.wildcard_set) {
      if (node.wildcard_set->matches(text)) return Tri::True;
    } else {
      for (const std::string& pattern : node.wildcards) {
        if (wildcard_match(text, pattern, false)) return Tri::True;
      }
    }
    for (const auto& regex : node.regexes) {
      if (RE2::FullMatch(value.string, *regex)) return Tri::True;
    }
  }
  return Tri::False;
}

Tri test_in(const Node& node, const Event& event) {
  Values scratch;
  const Values& subject = operand(*node.children[0], event, scratch);
  if (subject.empty()) return Tri::Null;
  bool found = false;
  for (const Scalar& value : subject) {
    if (value.type == Scalar::Type::String && !node.string_set.empty()) {
      if (node.string_set.contains(node.insensitive ? folded(value.string) : value.string))
        found = true;
    }
    for (const Scalar& item : node.other_items) {
      auto c = compare_scalars(value, item, CompareMode::Generic, node.insensitive, nullptr);
      if (c && *c == 0) found = true;
    }
    if (!node.constant_items) {
      for (size_t i = 1; i < node.children.size() && !found; ++i) {
        if (node.children[i]->kind == ExprKind::Literal) continue;
        Values items;
        evaluate(*node.children[i], event, items);
        for (const Scalar& item : items) {
          auto c = compare_scalars(value, item, CompareMode::Generic, node.insensitive, nullptr);
          if (c && *c == 0) found = true;
        }
      }
    }
    if (found) break;
  }
  return node.negated ? tri(!found) : tri(found);
}

Tri truthiness(const Values& values) {
  bool any_value = false;
  for (const Scalar& value : values) {
    if (value.is_null()) continue;
    any_value = true;
    if (value.type == Scalar::Type::Bool && value.boolean) return Tri::True;
  }
  return any_value ? Tri::False : Tri::Null;
}

// ----- arithmetic and functions ------------------------------------------------------

std::optional<Scalar> arithmetic(eql::ArithmeticOp op, const Scalar& a, const Scalar& b) {
  if (!a.is_number() || !b.is_number()) return std::nullopt;
  if (a.type == Scalar::Type::Long && b.type == Scalar::Type::Long) {
    int64_t x = a.integer, y = b.integer, result = 0;
    switch (op) {
      case eql::ArithmeticOp::Add:
        if (__builtin_add_overflow(x, y, &result)) return std::nullopt;
        return Scalar::of_long(result);
      case eql::ArithmeticOp::Subtract:
        if (__builtin_sub_overflow(x, y, &result)) return std::nullopt;
        return Scalar::of_long(result);
      case eql::ArithmeticOp::Multiply:
        if (__builtin_mul_overflow(x, y, &result)) return std::nullopt;
        return Scalar::of_long(result);
      case eql::ArithmeticOp::Divide:
        if (y == 0 || (x == std::numeric_limits<int64_t>::min() && y == -1)) return std::nullopt;
        return Scalar::of_long(x / y);  // Elastic's integer division truncates
      case eql::ArithmeticOp::Modulo:
        if (y == 0 || y == -1)
          return y == -1 ? std::optional<Scalar>(Scalar::of_long(0)) : std::nullopt;
        return Scalar::of_long(x % y);
    }
  }
  double x = a.as_double(), y = b.as_double();
  switch (op) {
    case eql::ArithmeticOp::Add: return Scalar::of_double(x + y);
    case eql::ArithmeticOp::Subtract: return Scalar::of_double(x - y);
    case eql::ArithmeticOp::Multiply: return Scalar::of_double(x * y);
    case eql::ArithmeticOp::Divide:
      if (y == 0) return std::nullopt;
      return Scalar::of_double(x / y);
    case eql::ArithmeticOp::Modulo:
      if (y == 0) return std::nullopt;
      return Scalar::of_double(std::fmod(x, y));
  }
  return std::nullopt;
}

const Scalar* first(const Values& values) {
  for (const Scalar& value : values) {
    if (!value.is_null()) return &value;
  }
  return nullptr;
}

std::optional<std::string> text_of(const Values& values) {
  const Scalar* value = first(values);
  if (!value) return std::nullopt;
  return value->to_string();
}

std::optional<int64_t> integer_of(const Values& values) {
  const Scalar* value = first(values);
  if (!value) return std::nullopt;
  if (value->type == Scalar::Type::Long) return value->integer;
  if (value->type == Scalar::Type::Double) return static_cast<int64_t>(value->number);
  return std::nullopt;
}

std::optional<Scalar> parse_number(std::string text, int base) {
  std::string_view view = trim(text);
  bool negative = false;
  if (!view.empty() && (view[0] == '-' || view[0] == '+')) {
    negative = view[0] == '-';
    view.remove_prefix(1);
  }
  if (base == 16 && (view.starts_with("0x") || view.starts_with("0X"))) view.remove_prefix(2);
  if (view.empty()) return std::nullopt;
  int64_t integer = 0;
  auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), integer, base);
  if (error == std::errc() && end == view.data() + view.size())
    return Scalar::of_long(negative ? -integer : integer);
  if (base != 10) return std::nullopt;
  double number = 0;
  auto [end2, error2] = std::from_chars(view.data(), view.data() + view.size(), number);
  if (error2 == std::errc() && end2 == view.data() + view.size())
    return Scalar::of_double(negative ? -number : number);
  return std::nullopt;
}

// Python-style slice bounds.
int64_t clamp_index(int64_t index, int64_t size) {
  if (index < 0) index += size;
  return std::clamp<int64_t>(index, 0, size);
}

void call(const Node& node, const Event& event, Values& out) {
  // cidrMatch reads its CIDRs compiled (node.cidrs): only the address is evaluated.
  const size_t evaluated = node.function == kCidrMatch ? std::min<size_t>(1, node.children.size())
                                                       : node.children.size();
  std::vector<Values> args(evaluated);
  for (size_t i = 0; i < evaluated; ++i) evaluate(*node.children[i], event, args[i]);
  bool insensitive = node.insensitive;
  auto fold_if = [insensitive](std::string text) { return insensitive ? fold_case(text) : text; };

  switch (node.function) {
    case kAdd:
    case kSubtract:
    case kMultiply:
    case kDivide:
    case kModulo: {
      const Scalar* a = args.size() > 0 ? first(args[0]) : nullptr;
      const Scalar* b = args.size() > 1 ? first(args[1]) : nullptr;
      if (!a || !b) return;
      eql::ArithmeticOp op = node.function == kAdd        ? eql::ArithmeticOp::Add
                             : node.function == kSubtract ? eql::ArithmeticOp::Subtract
                             : node.function == kMultiply ? eql::ArithmeticOp::Multiply
                             : node.function == kDivide   ? eql::ArithmeticOp::Divide
                                                          : eql::ArithmeticOp::Modulo;
      if (auto result = arithmetic(op, *a, *b)) out.push_back(*result);
      return;
    }
    case kConcat: {
      std::string result;
      for (const Values& arg : args) {
        auto text = text_of(arg);
        if (!text) return;
        result += *text;
      }
      out.push_back(Scalar::of_string(std::move(result)));
      return;
    }
    case kCidrMatch: {
      if (args.empty()) return;
      bool any_value = false;
      for (const Scalar& value : args[0]) {
        if (value.type != Scalar::Type::String) continue;
        any_value = true;
        if (auto address = parse_ip(value.string); address && node.cidrs.contains(*address)) {
          out.push_back(Scalar::of_bool(true));
          return;
        }
      }
      if (any_value) out.push_back(Scalar::of_bool(false));
      return;
    }
    default: break;
  }

  // String functions apply to each value of their first argument.
  if (args.empty()) return;
  for (const Scalar& subject : args[0]) {
    if (subject.is_null()) continue;
    std::string source = subject.to_string();
    switch (node.function) {
      case kStartsWith:
      case kEndsWith:
      case kStringContains: {
        auto needle = args.size() > 1 ? text_of(args[1]) : std::nullopt;
        if (!needle) return;
        std::string haystack = fold_if(source), pattern = fold_if(*needle);
        bool result = node.function == kStartsWith ? haystack.starts_with(pattern)
                      : node.function == kEndsWith ? haystack.ends_with(pattern)
                                                   : haystack.find(pattern) != std::string::npos;
        out.push_back(Scalar::of_bool(result));
        break;
      }
      case kBetween: {
        auto left = args.size() > 1 ? text_of(args[1]) : std::nullopt;
        auto right = args.size() > 2 ? text_of(args[2]) : std::nullopt;
        if (!left || !right) return;
        bool greedy = false;
        if (args.size() > 3) {
          const Scalar* flag = first(args[3]);
          if (!flag) return;
          greedy = flag->type == Scalar::Type::Bool && flag->boolean;
        }
        std::string haystack = fold_if(source);
        size_t start = haystack.find(fold_if(*left));
        if (start == std::string::npos) {
          out.push_back(Scalar::of_string(""));
          break;
        }
        start += left->size();
        std::string right_folded = fold_if(*right);
        size_t end = greedy ? haystack.rfind(right_folded) : haystack.find(right_folded, start);
        if (end == std::string::npos || end < start) {
          out.push_back(Scalar::of_string(""));
          break;
        }
        out.push_back(Scalar::of_string(source.substr(start, end - start)));
        break;
      }
      case kIndexOf: {
        auto needle = args.size() > 1 ? text_of(args[1]) : std::nullopt;
        if (!needle) return;
        int64_t start = 0;
        if (args.size() > 2) {
          auto given = integer_of(args[2]);
          if (!given) return;
          start = std::max<int64_t>(0, *given);
        }
        if (start > static_cast<int64_t>(source.size())) break;
        size_t found = fold_if(source).find(fold_if(*needle), static_cast<size_t>(start));
        if (found != std::string::npos) out.push_back(Scalar::of_long(static_cast<int64_t>(found)));
        break;
      }
      case kLength: {
        int64_t count = 0;
        for (char c : source) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        out.push_back(Scalar::of_long(count));
        break;
      }
      case kNumber: {
        int base = 10;
        if (args.size() > 1 && first(args[1])) {  // a null base means 10
          auto given = integer_of(args[1]);
          if (!given || *given < 2 || *given > 36) return;
          base = static_cast<int>(*given);
        }
        if (subject.is_number() && base == 10) {
          out.push_back(subject);
          break;
        }
        if (auto number = parse_number(source, base)) out.push_back(*number);
        break;
      }
      case kString: out.push_back(Scalar::of_string(source)); break;
      case kSubstring: {
        int64_t size = static_cast<int64_t>(source.size());
        auto start = args.size() > 1 ? integer_of(args[1]) : std::nullopt;
        if (!start) return;
        int64_t end = size;
        if (args.size() > 2) {
          if (auto given = integer_of(args[2])) end = *given;
        }
        int64_t from = clamp_index(*start, size), to = clamp_index(end, size);
        out.push_back(
            Scalar::of_string(from < to ? source.substr(from, to - from) : std::string()));
        break;
      }
      default: return;
    }
  }
}

}  // namespace

bool is_cidr_match(const Node& node) {
  return node.kind == ExprKind::Call && node.function == kCidrMatch;
}

// A leaf the installed predicate pass decides: null without a value, as
// the leaf's own test would say.
static Tri test_predicate(const Node& node, PredicatePass& pass) {
  switch (pass.answer(static_cast<uint32_t>(node.predicate))) {
    case PredicatePass::Answer::NoValue: return Tri::Null;
    case PredicatePass::Answer::Fired: return tri(!node.predicate_inverted);
    case PredicatePass::Answer::NotFired: break;
  }
  return tri(node.predicate_inverted);
}

Tri test(const Node& node, const Event& event) {
  if (node.predicate >= 0) {
    if (PredicatePass* pass = predicates_for(event)) return test_predicate(node, *pass);
  }
  switch (node.kind) {
    case ExprKind::And: {
      Tri result = Tri::True;
      for (const auto& child : node.children) {
        Tri value = test(*child, event);
        if (value == Tri::False) return Tri::False;
        if (value == Tri::Null) result = Tri::Null;
      }
      return result;
    }
    case ExprKind::Or: {
      Tri result = Tri::False;
      for (const auto& child : node.children) {
        Tri value = test(*child, event);
        if (value == Tri::True) return Tri::True;
        if (value == Tri::Null) result = Tri::Null;
      }
      return result;
    }
    case ExprKind::Not: return negate(test(*node.children[0], event));
    case ExprKind::Compare: return test_compare(node, event);
    case ExprKind::Match: return test_match(node, event);
    case ExprKind::In: return test_in(node, event);
    case ExprKind::Error: return Tri::Null;
    default: {
      Values values;
      evaluate(node, event, values);
      return truthiness(values);
    }
  }
}

// Whether test() gives True (holds) or False (refutes), stopping as soon as
// the answer is known: `a and b` cannot hold once `a` is null or false,
// where test() must go on to tell null from false.
bool holds(const Node& node, const Event& event) {
  switch (node.kind) {
    case ExprKind::And:
      for (const auto& child : node.children)
        if (!holds(*child, event)) return false;
      return true;
    case ExprKind::Or:
      for (const auto& child : node.children)
        if (holds(*child, event)) return true;
      return false;
    case ExprKind::Not: return refutes(*node.children[0], event);
    default: return test(node, event) == Tri::True;
  }
}

bool refutes(const Node& node, const Event& event) {
  switch (node.kind) {
    case ExprKind::And:
      for (const auto& child : node.children)
        if (refutes(*child, event)) return true;
      return false;
    case ExprKind::Or:
      for (const auto& child : node.children)
        if (!refutes(*child, event)) return false;
      return true;
    case ExprKind::Not: return holds(*node.children[0], event);
    default: return test(node, event) == Tri::False;
  }
}

void evaluate(const Node& node, const Event& event, Values& out) {
  out.clear();
  switch (node.kind) {
    case ExprKind::Literal:
      if (!node.literal.is_null()) out.push_back(node.literal);
      return;
    case ExprKind::Field:
      if (node.slot < event.fields.size()) out = event.fields[node.slot];
      return;
    case ExprKind::Arithmetic: {
      Values left, right;
      evaluate(*node.children[0], event, left);
      evaluate(*node.children[1], event, right);
      const Scalar* a = first(left);
      const Scalar* b = first(right);
      if (!a || !b) return;
      if (auto result = arithmetic(node.arithmetic, *a, *b)) out.push_back(*result);
      return;
    }
    case ExprKind::Negate: {
      Values operand;
      evaluate(*node.children[0], event, operand);
      const Scalar* value = first(operand);
      if (!value) return;
      if (value->type == Scalar::Type::Long &&
          value->integer != std::numeric_limits<int64_t>::min())
        out.push_back(Scalar::of_long(-value->integer));
      if (value->type == Scalar::Type::Double) out.push_back(Scalar::of_double(-value->number));
      return;
    }
    case ExprKind::Call: call(node, event, out); return;
    case ExprKind::Error: return;
    default: {
      Tri value = test(node, event);
      if (value != Tri::Null) out.push_back(Scalar::of_bool(value == Tri::True));
      return;
    }
  }
}

bool CompiledFilter::matches(const Event& event) const {
  if (!any) {
    if (category_slot >= event.fields.size()) return false;
    bool found = false;
    for (const Scalar& value : event.fields[category_slot]) {
      if (value.type == Scalar::Type::String && value.string == category) found = true;
    }
    if (!found) return false;
  }
  if (PredicatePass* pass = predicates_for(event)) {
    if (!anchor.empty() && std::none_of(anchor.begin(), anchor.end(),
                                        [&](uint32_t predicate) { return pass->fired(predicate); }))
      return false;
    return pass->holds(*this);  // the pass is the event's
  }
  return !condition || holds(*condition, event);
}

void collect_slots(const Node& node, std::vector<uint32_t>& slots) {
  std::vector<const Node*> stack{&node};
  while (!stack.empty()) {
    const Node* current = stack.back();
    stack.pop_back();
    if (current->kind == ExprKind::Field) slots.push_back(current->slot);
    for (const NodePtr& child : current->children) stack.push_back(child.get());
  }
}

bool ValueConstraint::met_by(const Event& event) const {
  for (const Scalar& value : event.fields[slot]) {
    if (value.type != Scalar::Type::String) continue;
    std::string folded_value = folded ? fold_case(value.string) : std::string();
    const std::string& text = folded ? folded_value : value.string;
    if (std::find(values.begin(), values.end(), text) != values.end()) return true;
  }
  return false;
}

namespace {

std::optional<ValueConstraint> constraint_of(const Node& node) {
  if (node.children.empty() || node.children[0]->kind != ExprKind::Field) return std::nullopt;
  ValueConstraint constraint;
  constraint.slot = node.children[0]->slot;
  constraint.folded = node.insensitive;
  auto add = [&](const std::string& text) {
    constraint.values.push_back(constraint.folded ? fold_case(text) : text);
  };
  switch (node.kind) {
    case ExprKind::Compare: {
      if (node.compare != eql::CompareOp::Equal || node.compare_mode != CompareMode::Generic ||
          node.children.size() != 2 || node.children[1]->kind != ExprKind::Literal ||
          node.children[1]->literal.type != Scalar::Type::String)
        return std::nullopt;
      add(node.children[1]->literal.string);
      return constraint;
    }
    case ExprKind::In: {
      if (node.negated || !node.constant_items || !node.other_items.empty()) return std::nullopt;
      for (size_t i = 1; i < node.children.size(); ++i) {
        const Node& item = *node.children[i];
        if (item.kind != ExprKind::Literal || item.literal.type != Scalar::Type::String)
          return std::nullopt;
        add(item.literal.string);
      }
      return constraint;
    }
    case ExprKind::Match: {
      if (node.match == eql::MatchOp::Regex || !node.cidrs.empty() || !node.regexes.empty() ||
          node.wildcards.empty())
        return std::nullopt;
      for (const std::string& pattern : node.wildcards) {
        if (pattern.find_first_of("*?\\") != std::string::npos) return std::nullopt;
        constraint.values.push_back(pattern);  // already folded when insensitive
      }
      return constraint;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::vector<ValueConstraint> required_values(const CompiledFilter& filter) {
  std::vector<ValueConstraint> constraints;
  if (!filter.any) constraints.push_back({filter.category_slot, {filter.category}, false});
  if (!filter.condition) return constraints;
  const Node& condition = *filter.condition;
  if (condition.kind == ExprKind::And) {
    for (const NodePtr& term : condition.children)
      if (auto constraint = constraint_of(*term)) constraints.push_back(std::move(*constraint));
  } else if (auto constraint = constraint_of(condition)) {
    constraints.push_back(std::move(*constraint));
  }
  return constraints;
}

CompiledFilter compile_filter(const eql::EventFilter& filter, const std::string& category_field,
                              CompileContext& context) {
  CompiledFilter compiled;
  compiled.any = filter.any;
  compiled.category = filter.category;
  compiled.category_slot = context.fields.add(context.schema.resolve(category_field));
  if (filter.condition) compiled.condition = compile_expression(*filter.condition, context);
  return compiled;
}

}  // namespace pickaxe
