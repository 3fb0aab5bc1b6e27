#include "eql/functions.h"
#include "util/strings.h"

#include <cctype>

#include <fmt/format.h>

namespace pickaxe::eql {

namespace {

constexpr FunctionInfo kFunctions[] = {
    {"add", 2, 2, false},      {"between", 3, 4, true},        {"cidrMatch", 2, -1, false},
    {"concat", 1, -1, false},  {"divide", 2, 2, false},        {"endsWith", 2, 2, true},
    {"indexOf", 2, 3, true},   {"length", 1, 1, false},        {"modulo", 2, 2, false},
    {"multiply", 2, 2, false}, {"number", 1, 2, false},        {"startsWith", 2, 2, true},
    {"string", 1, 1, false},   {"stringContains", 2, 2, true}, {"substring", 2, 3, false},
    {"subtract", 2, 2, false},
};

// Functions of the legacy Python EQL that Elasticsearch dropped.
constexpr std::pair<std::string_view, std::string_view> kLegacyFunctions[] = {
    {"wildcard", "use `field : \"pattern\"` or `like`"},
    {"arraycontains", "a predicate on an array field already holds when any element matches"},
    {"arraycount", "Elasticsearch EQL has no array functions"},
    {"arraysearch", "a predicate on an array field already holds when any element matches"},
    {"match", "use `regex`"},
    {"matchlite", "use `regex`"},
    {"safe", "Elasticsearch EQL has no safe(); missing values are already null"},
};

class Verifier {
 public:
  explicit Verifier(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  void query(const Query& q) {
    for_each_filter(q, [&](const EventFilter& filter) {
      if (filter.condition) expressions(*filter.condition);
    });
    for (const auto& key : q.by) expressions(*key);
    for (const Step& step : q.steps) {
      for (const auto& key : step.by) expressions(*key);
    }
    if (q.until) {
      for (const auto& key : q.until->by) expressions(*key);
    }
    if (q.kind == QueryKind::Event) return;
    join_keys(q);
    bool has_missing = false;
    for (const Step& step : q.steps) {
      if (step.runs && (*step.runs < 1 || *step.runs > 100)) {
        diagnostics_.error("runs-range", step.span,
                           fmt::format("runs must be between 1 and 100, not {}", *step.runs));
      }
      has_missing = has_missing || step.missing;
    }
    if (has_missing && !q.maxspan) {
      diagnostics_.error("missing-without-maxspan", q.keyword_span,
                         "a sequence with a missing-event step `![ ]` needs a maxspan",
                         "add `with maxspan=<duration>` after the sequence's `by` keys");
    }
    if (!q.steps.empty() && q.steps.front().missing && q.steps.size() > 1) {
      bool all_missing = true;
      for (const Step& step : q.steps) all_missing = all_missing && step.missing;
      if (all_missing)
        diagnostics_.error("all-missing", q.keyword_span,
                           "a sequence needs at least one step that is not a missing-event step");
    }
    if (q.kind == QueryKind::Sample && q.steps.size() == 1) {
      diagnostics_.error("one-step-sample", q.keyword_span, "a sample needs at least two steps");
    }
    if (q.kind == QueryKind::Sample && q.by.empty()) {
      bool keyed = !q.steps.empty();
      for (const Step& step : q.steps) keyed = keyed && !step.by.empty();
      if (!keyed)
        diagnostics_.error("sample-without-keys", q.keyword_span, "a sample needs join keys",
                           "write `sample by <field> [...] [...]`");
    }
    if (q.maxspan && q.maxspan->amount <= 0) {
      diagnostics_.error("maxspan-range", q.maxspan->span, "maxspan must be greater than zero");
    }
  }

 private:
  void join_keys(const Query& q) {
    std::optional<size_t> expected;
    const Step* first = nullptr;
    auto check = [&](const Step& step) {
      if (!expected) {
        expected = step.by.size();
        first = &step;
        return;
      }
      if (step.by.size() != *expected) {
        diagnostics_.error(
            "join-key-count", step.span,
            fmt::format("inconsistent number of join keys: this step has {}, the first step has {}",
                        step.by.size(), *expected),
            "every step (and until) needs the same number of `by` keys, matched by position");
      }
    };
    for (const Step& step : q.steps) check(step);
    if (q.until) check(*q.until);
    (void)first;
  }

  void expressions(const Expr& root) {
    walk(root, [&](const Expr& expr) {
      if (expr.kind == ExprKind::Call) call(expr);
    });
  }

  void call(const Expr& expr) {
    const FunctionInfo* info = find_function(expr.name);
    if (!info) {
      std::string hint;
      for (const auto& [legacy, legacy_hint] : kLegacyFunctions) {
        if (equals_ignore_case(legacy, expr.name))
          hint = fmt::format("{}() is legacy EQL; {}", expr.name, legacy_hint);
      }
      if (hint.empty()) {
        hint =
            "functions are add, between, cidrMatch, concat, divide, endsWith, indexOf, length, "
            "modulo, multiply, number, startsWith, string, stringContains, substring, subtract";
      }
      diagnostics_.error("unknown-function", expr.span,
                         fmt::format("unknown function `{}`", expr.name), hint);
      return;
    }
    if (expr.insensitive && !info->allows_insensitive) {
      diagnostics_.error(
          "insensitive-function", expr.span,
          fmt::format("`{}` has no case-insensitive `~` form", info->name),
          "`~` applies to between, endsWith, indexOf, startsWith and stringContains");
    }
    int count = static_cast<int>(expr.args.size());
    if (count < info->min_args || (info->max_args >= 0 && count > info->max_args)) {
      std::string expected = info->max_args < 0 ? fmt::format("at least {}", info->min_args)
                             : info->min_args == info->max_args
                                 ? fmt::format("{}", info->min_args)
                                 : fmt::format("{} to {}", info->min_args, info->max_args);
      diagnostics_.error("function-arity", expr.span,
                         fmt::format("{}() takes {} argument{}, not {}", info->name, expected,
                                     expected == "1" ? "" : "s", count));
    }
  }

  Diagnostics& diagnostics_;
};

}  // namespace

const FunctionInfo* find_function(std::string_view name) {
  for (const FunctionInfo& info : kFunctions) {
    if (equals_ignore_case(info.name, name)) return &info;
  }
  return nullptr;
}

void verify(const QuerySet& set, Diagnostics& diagnostics) {
  Verifier verifier(diagnostics);
  for (const Query& query : set.alternatives) verifier.query(query);
}

}  // namespace pickaxe::eql
