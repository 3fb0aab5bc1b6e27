#include "test_util.h"

namespace pickaxe::testing {
namespace {

using eql::ExprKind;
using eql::QueryKind;

TEST(Parser, EventQueryWithCategoryAndAny) {
  Parsed p = parse("process where process.name == \"xmrig\"");
  ASSERT_TRUE(p.ok()) << p.messages();
  EXPECT_EQ(p.query().kind, QueryKind::Event);
  EXPECT_EQ(p.query().event.category, "process");
  EXPECT_EQ(p.condition().kind, ExprKind::Compare);
  Parsed any = parse("any where true");
  EXPECT_TRUE(any.query().event.any);
  Parsed quoted = parse("\"process\" where true");
  EXPECT_EQ(quoted.query().event.category, "process");
}

TEST(Parser, PrecedenceNotBindsTighterThanAndOr) {
  Parsed p = parse("any where not a == 1 and b == 2 or c == 3");
  ASSERT_TRUE(p.ok());
  const auto& root = p.condition();
  ASSERT_EQ(root.kind, ExprKind::Or);
  ASSERT_EQ(root.args[0]->kind, ExprKind::And);
  EXPECT_EQ(root.args[0]->args[0]->kind, ExprKind::Not);
}

TEST(Parser, ArithmeticPrecedenceAndNegativeLiterals) {
  Parsed p = parse("any where a + b * -2 == 7 % 3");
  ASSERT_TRUE(p.ok());
  const auto& compare = p.condition();
  const auto& sum = *compare.args[0];
  EXPECT_EQ(sum.arithmetic, eql::ArithmeticOp::Add);
  EXPECT_EQ(sum.args[1]->arithmetic, eql::ArithmeticOp::Multiply);
  EXPECT_EQ(sum.args[1]->args[1]->literal.integer, -2);
}

TEST(Parser, PredicatesAndLists) {
  Parsed p = parse(
      "any where a : \"x*\" and b like (\"a\", \"b\") and c like~ \"C\" and d regex \".*\" and "
      "e regex~ \"x\" and f in (1, 2) and g in~ (\"A\") and h not in (3)");
  ASSERT_TRUE(p.ok()) << p.messages();
  const auto& args = p.condition().args;
  EXPECT_EQ(args[0]->match, eql::MatchOp::Colon);
  EXPECT_TRUE(args[0]->insensitive);
  EXPECT_TRUE(args[1]->list);
  EXPECT_EQ(args[1]->args.size(), 3u);
  EXPECT_TRUE(args[2]->insensitive);
  EXPECT_EQ(args[3]->match, eql::MatchOp::Regex);
  EXPECT_TRUE(args[4]->insensitive);
  EXPECT_EQ(args[5]->kind, ExprKind::In);
  EXPECT_TRUE(args[6]->insensitive);
  EXPECT_TRUE(args[7]->negated);
}

TEST(Parser, FunctionsOptionalFieldsAndBackticks) {
  Parsed p = parse("any where startsWith~(?process.name, \"x\") and `my field`.sub == `sequence`");
  ASSERT_TRUE(p.ok()) << p.messages();
  const auto& call = *p.condition().args[0];
  EXPECT_EQ(call.kind, ExprKind::Call);
  EXPECT_TRUE(call.insensitive);
  EXPECT_TRUE(call.args[0]->optional);
  EXPECT_EQ(p.condition().args[1]->args[0]->name, "my field.sub");
  EXPECT_EQ(p.condition().args[1]->args[1]->name, "sequence");
}

TEST(Parser, KeywordsAfterDotAreFieldNames) {
  Parsed p = parse("any where event.sequence > 1");
  ASSERT_TRUE(p.ok()) << p.messages();
  EXPECT_EQ(p.condition().args[0]->name, "event.sequence");
}

TEST(Parser, SequenceWithEverything) {
  Parsed p = parse(R"(sequence by host.id with maxspan=30s
  [process where true] by process.entity_id with runs=2
 ![file where true] by process.entity_id
  [network where true] by process.entity_id
until [process where event.type == "end"] by process.entity_id
| head 5 | tail 2)");
  ASSERT_TRUE(p.ok()) << p.messages();
  const auto& q = p.query();
  EXPECT_EQ(q.kind, QueryKind::Sequence);
  EXPECT_EQ(q.by.size(), 1u);
  EXPECT_EQ(q.maxspan->nanoseconds(), 30'000'000'000);
  ASSERT_EQ(q.steps.size(), 3u);
  EXPECT_EQ(q.steps[0].runs, 2);
  EXPECT_TRUE(q.steps[1].missing);
  ASSERT_TRUE(q.until.has_value());
  ASSERT_EQ(q.pipes.size(), 2u);
  EXPECT_EQ(q.pipes[1].kind, eql::PipeKind::Tail);
  EXPECT_EQ(q.pipes[1].count, 2);
}

TEST(Parser, AllTimeUnits) {
  for (auto [unit, nanos] : std::vector<std::pair<std::string, int64_t>>{{"d", 86'400'000'000'000},
                                                                         {"h", 3'600'000'000'000},
                                                                         {"m", 60'000'000'000},
                                                                         {"s", 1'000'000'000},
                                                                         {"ms", 1'000'000},
                                                                         {"micros", 1'000},
                                                                         {"nanos", 1}}) {
    Parsed p = parse("sequence with maxspan=2" + unit + " [a where true] [b where true]");
    ASSERT_TRUE(p.ok()) << unit << p.messages();
    EXPECT_EQ(p.query().maxspan->nanoseconds(), 2 * nanos) << unit;
  }
}

TEST(Parser, Sample) {
  Parsed p =
      parse("sample by host.id [process where true] by user.id [network where true] by user.id");
  ASSERT_TRUE(p.ok()) << p.messages();
  EXPECT_EQ(p.query().kind, QueryKind::Sample);
  EXPECT_EQ(p.query().steps.size(), 2u);
}

TEST(Parser, SeedDialectWarnsAndLoads) {
  Parsed p = parse(
      "sequence by host.name with maxspan=5m\n[process where true] by process.entity_id\n\nnor\n\n"
      "network where destination.port == 3333");
  ASSERT_TRUE(p.ok()) << p.messages();
  EXPECT_EQ(p.set.alternatives.size(), 2u);
  EXPECT_TRUE(p.query().is_single_step_sequence());
  EXPECT_TRUE(p.has_code("nor-alternatives"));
  EXPECT_TRUE(p.has_code("one-step-sequence"));
  Position nor = p.source->position(p.diagnostics.items()[1].span.begin);
  EXPECT_EQ(nor.line, 4u);
  EXPECT_EQ(nor.column, 1u);
}

TEST(Parser, AssignmentGetsHint) {
  Parsed p = parse("process where process.name = \"x\"");
  ASSERT_FALSE(p.ok());
  const auto& d = p.diagnostics.items().at(0);
  EXPECT_EQ(d.code, "assignment-operator");
  EXPECT_EQ(d.hint, "use == or :");
  EXPECT_EQ(p.source->position(d.span.begin).column, 28u);
}

TEST(Parser, CollectsAllErrors) {
  Parsed p = parse(
      "process where a = 1 and b == 'x' and c in \"y\" and startsWith(d\n"
      "| count");
  EXPECT_GE(p.diagnostics.error_count(), 4u) << p.messages();
  EXPECT_TRUE(p.has_code("assignment-operator"));
  EXPECT_TRUE(p.has_code("single-quoted-string"));
  EXPECT_TRUE(p.has_code("legacy-pipe"));
}

TEST(Parser, HelpfulErrors) {
  struct Case {
    std::string query;
    std::string message_part;
    std::string hint_part;
  };
  std::vector<Case> cases = {
      {"process.name == \"x\"", "expected 'where'", "any where"},
      {"process where a == 1 b == 2", "after the end of the query", "and"},
      {"process where a == (1, 2)", "parenthesised list", "in ("},
      {"process where a in [1]", "expected '(' after `in`", "parenthesised list"},
      {"process where a == 1 AND b == 2", "after the end", "lowercase"},
      {"sequence with maxspan=5 [a where true] [b where true]", "time unit", "maxspan=5s"},
      {"sequence with maxspan=5m by x [a where true] [b where true]", "before `with maxspan`",
       "sequence by"},
      {"process where true | sort a", "legacy", "head"},
      {"join [a where true] [b where true]", "legacy", "sample"},
      {"process where descendant of [a where true]", "legacy", "process.parent"},
      {"process where a not like \"x\"", "`not` cannot come before", "negate"},
      {"process where a < b < c", "chained", "and"},
      {"", "empty", "where"},
      {"process where", "expected an expression", "incomplete"},
  };
  for (const Case& c : cases) {
    Parsed p = parse(c.query);
    ASSERT_FALSE(p.ok()) << c.query;
    bool found = false;
    for (const auto& d : p.diagnostics.items()) {
      if (d.message.find(c.message_part) != std::string::npos &&
          d.hint.find(c.hint_part) != std::string::npos)
        found = true;
    }
    EXPECT_TRUE(found) << c.query << "\n" << p.messages();
  }
}

TEST(Parser, VerifierChecks) {
  struct Case {
    std::string query;
    std::string code;
  };
  std::vector<Case> cases = {
      {"any where foo(a)", "unknown-function"},
      {"any where wildcard(a, \"x\")", "unknown-function"},
      {"any where length(a, b)", "function-arity"},
      {"any where length~(a)", "insensitive-function"},
      {"sequence [a where true] by x [b where true] by x, y", "join-key-count"},
      {"sequence [a where true] with runs=0 [b where true]", "runs-range"},
      {"sequence [a where true] ![b where true] [c where true]", "missing-without-maxspan"},
      {"sample [a where true] [b where true]", "sample-without-keys"},
  };
  for (const Case& c : cases) {
    Parsed p = parse(c.query);
    EXPECT_TRUE(p.has_code(c.code)) << c.query << "\n" << p.messages();
  }
  EXPECT_TRUE(parse("any where CIDRMATCH(ip, \"10.0.0.0/8\") and stringContains~(a, \"b\")").ok());
}

TEST(Parser, DeepNestingIsRejectedNotCrashed) {
  std::string deep = "any where " + std::string(5000, '(') + "a" + std::string(5000, ')');
  Parsed p = parse(deep);
  EXPECT_TRUE(p.has_code("too-deep"));
  std::string chain = "any where 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  Parsed q = parse(chain);
  EXPECT_TRUE(q.has_code("too-deep"));
  std::string nots = "any where ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  Parsed r = parse(nots + "a");
  EXPECT_TRUE(r.has_code("too-deep"));
  std::string wide = "any where a == 1";
  for (int i = 0; i < 20000; ++i) wide += " or a == 1";
  EXPECT_TRUE(parse(wide).ok());
}

TEST(Parser, SpansPointIntoTheSource) {
  Parsed p = parse("any where\n  process.name : \"x\"");
  const auto& match = p.condition();
  Position begin = p.source->position(match.span.begin);
  EXPECT_EQ(begin.line, 2u);
  EXPECT_EQ(begin.column, 3u);
  EXPECT_EQ(p.source->text().substr(match.span.begin, match.span.end - match.span.begin),
            "process.name : \"x\"");
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST(Durations, ParseAsEqlWritesThem) {
  EXPECT_EQ(eql::parse_duration("30s")->nanoseconds(), 30'000'000'000);
  EXPECT_EQ(eql::parse_duration("5m")->nanoseconds(), 300'000'000'000);
  EXPECT_EQ(eql::parse_duration("250ms")->nanoseconds(), 250'000'000);
  EXPECT_EQ(eql::parse_duration("7micros")->nanoseconds(), 7'000);
  EXPECT_EQ(eql::parse_duration("2d")->unit, eql::TimeUnit::Days);
  EXPECT_EQ(eql::parse_duration("999999999999999999d")->nanoseconds(),
            std::numeric_limits<int64_t>::max());  // saturates
  for (const char* bad :
       {"", "5", "m", "5 m", " 5m", "5m ", "-5m", "5.5s", "5x", "5M", "9999999999999999999s"})
    EXPECT_FALSE(eql::parse_duration(bad)) << bad;
}

}  // namespace
}  // namespace pickaxe::testing
