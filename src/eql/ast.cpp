#include "eql/ast.h"

#include <cstring>
#include <limits>

namespace pickaxe::eql {

namespace {

bool same_exprs(const std::vector<ExprPtr>& a, const std::vector<ExprPtr>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] == nullptr) != (b[i] == nullptr)) return false;
    if (a[i] && !(*a[i] == *b[i])) return false;
  }
  return true;
}

bool same_ptr(const ExprPtr& a, const ExprPtr& b) {
  if (!a || !b) return a == b;
  return *a == *b;
}

}  // namespace

bool Value::operator==(const Value& other) const {
  if (type != other.type) return false;
  switch (type) {
    case Type::Null: return true;
    case Type::Bool: return boolean == other.boolean;
    case Type::Integer: return integer == other.integer;
    case Type::Float: return std::memcmp(&number, &other.number, sizeof number) == 0;
    case Type::String: return string == other.string;
  }
  return false;
}

bool Expr::operator==(const Expr& other) const {
  if (kind != other.kind || args.size() != other.args.size()) return false;
  switch (kind) {
    case ExprKind::Literal:
      if (!(literal == other.literal)) return false;
      break;
    case ExprKind::Field:
      if (name != other.name || optional != other.optional) return false;
      break;
    case ExprKind::Compare:
      if (compare != other.compare) return false;
      break;
    case ExprKind::Arithmetic:
      if (arithmetic != other.arithmetic) return false;
      break;
    case ExprKind::Match:
      if (match != other.match || insensitive != other.insensitive || list != other.list)
        return false;
      break;
    case ExprKind::In:
      if (insensitive != other.insensitive || negated != other.negated) return false;
      break;
    case ExprKind::Call:
      if (name != other.name || insensitive != other.insensitive) return false;
      break;
    default: break;
  }
  return same_exprs(args, other.args);
}

ExprPtr make_expr(ExprKind kind, Span span) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->span = span;
  return expr;
}

bool EventFilter::operator==(const EventFilter& other) const {
  return category == other.category && any == other.any && same_ptr(condition, other.condition);
}

int64_t Duration::nanoseconds() const {
  int64_t factor = 1;
  switch (unit) {
    case TimeUnit::Days: factor = 86'400'000'000'000; break;
    case TimeUnit::Hours: factor = 3'600'000'000'000; break;
    case TimeUnit::Minutes: factor = 60'000'000'000; break;
    case TimeUnit::Seconds: factor = 1'000'000'000; break;
    case TimeUnit::Millis: factor = 1'000'000; break;
    case TimeUnit::Micros: factor = 1'000; break;
    case TimeUnit::Nanos: factor = 1; break;
  }
  if (amount > std::numeric_limits<int64_t>::max() / factor)
    return std::numeric_limits<int64_t>::max();
  return amount * factor;
}

std::string_view time_unit_suffix(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::Days: return "d";
    case TimeUnit::Hours: return "h";
    case TimeUnit::Minutes: return "m";
    case TimeUnit::Seconds: return "s";
    case TimeUnit::Millis: return "ms";
    case TimeUnit::Micros: return "micros";
    case TimeUnit::Nanos: return "nanos";
  }
  return "s";
}

std::optional<TimeUnit> time_unit_of(std::string_view suffix) {
  static constexpr TimeUnit kUnits[] = {TimeUnit::Days,    TimeUnit::Hours,  TimeUnit::Minutes,
                                        TimeUnit::Seconds, TimeUnit::Millis, TimeUnit::Micros,
                                        TimeUnit::Nanos};
  for (TimeUnit unit : kUnits)
    if (time_unit_suffix(unit) == suffix) return unit;
  return std::nullopt;
}

std::optional<Duration> parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18) return std::nullopt;
  std::optional<TimeUnit> unit = time_unit_of(text.substr(digits));
  if (!unit) return std::nullopt;
  Duration duration;
  duration.amount = std::stoll(std::string(text.substr(0, digits)));
  duration.unit = *unit;
  return duration;
}

bool Step::operator==(const Step& other) const {
  return filter == other.filter && same_exprs(by, other.by) && runs == other.runs &&
         missing == other.missing;
}

bool Query::operator==(const Query& other) const {
  if (kind != other.kind || pipes != other.pipes) return false;
  if (kind == QueryKind::Event) return event == other.event;
  return same_exprs(by, other.by) && maxspan == other.maxspan && steps == other.steps &&
         until == other.until;
}

}  // namespace pickaxe::eql
