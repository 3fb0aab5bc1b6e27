// The rule set's predicate program must give every filter the answer its own
// evaluation gives: edge cases by hand, then every detection-rules filter
// over events synthesised from the queries.
#include <fstream>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "correlate/engine.h"
#include "match/predicates.h"
#include "synthetic_events.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

// Engines over one FieldIndex, attached to one program.
struct RuleSet {
  Schema schema;
  FieldIndex fields;
  std::vector<Parsed> parsed;
  std::vector<std::unique_ptr<QueryEngine>> engines;
  PredicateProgram program;

  void add(const std::string& query) {
    parsed.push_back(parse(query));
    ASSERT_TRUE(parsed.back().ok()) << query << "\n" << parsed.back().messages();
    for (const eql::Query& alternative : parsed.back().set.alternatives)
      engines.push_back(
          std::make_unique<QueryEngine>(alternative, schema, EngineOptions{}, nullptr, &fields));
  }
  void build() {
    for (auto& engine : engines) ASSERT_TRUE(engine->attach(program));
    program.build();
  }
  Event event(const std::string& json) {
    simdjson::dom::parser parser;
    Event event;
    event.fields.reset(fields.size());
    extract_fields(parser.parse(json).value(), fields, schema, event);
    return event;
  }
};

// Each filter's answer with the program and without it; the number of
// filters that held.
::testing::AssertionResult same_answers(RuleSet& rules, const Event& event, PredicatePass& pass,
                                        size_t* held = nullptr) {
  for (size_t e = 0; e < rules.engines.size(); ++e) {
    const auto& filters = rules.engines[e]->filters();
    for (size_t f = 0; f < filters.size(); ++f) {
      bool alone = filters[f].matches(event);
      bool grouped;
      {
        ScopedPredicates scope(pass, event);
        grouped = filters[f].matches(event);
      }
      if (alone != grouped)
        return ::testing::AssertionFailure() << "engine " << e << " filter " << f << ": alone "
                                             << alone << ", grouped " << grouped;
      if (held && alone) ++*held;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Predicates, EdgeCasesGiveTheFiltersOwnAnswers) {
  RuleSet rules;
  const std::vector<std::string> queries = {
      R"(process where process.name == "bash")",
      R"(process where process.name != "bash")",
      R"(process where process.name : "BASH")",
      R"(process where process.name in~ ("Bash", "sh"))",
      R"(process where process.name not in ("bash", "sh"))",
      R"(process where process.name like~ "b?sh")",
      R"(process where process.name like "*a*" and process.args : "-c")",
      R"(process where process.args : ("*ls*", "?", "*") or process.name == "x")",
      R"(process where process.name : ("é?", "*sh") and not process.args like~ "*LA*")",
      R"(process where process.name == "bash" and process.pid != 3)",
      R"(process where process.title == "42" or process.title : "4*")",
      R"(process where process.name : "bash" and process.executable : ("/usr/*", "/bin/*"))",
  };
  for (const std::string& query : queries) rules.add(query);
  rules.build();
  EXPECT_GT(rules.program.predicate_count(), 10u);
  EXPECT_GT(rules.program.anchored_filters(), 5u);
  PredicatePass pass(rules.program);
  const std::vector<std::string> events = {
      R"({"event":{"category":"process"},"process":{"name":"bash","args":["ls","-la"],"pid":3}})",
      R"({"event":{"category":"process"},"process":{"name":"BaSh","args":["x"]}})",
      R"({"event":{"category":"process"},"process":{"name":["sh","zsh"],"args":"-c"}})",
      R"({"event":{"category":"process"},"process":{"name":null,"args":[null]}})",
      R"({"event":{"category":"process"},"process":{"args":[]}})",
      R"({"event":{"category":"process"},"process":{"name":"éa","args":["-LA"]}})",
      R"({"event":{"category":"process"},"process":{"name":"busha","title":42}})",
      R"({"event":{"category":"process"},"process":{"name":7,"title":"4x","executable":"/bin/sh"}})",
      R"({"event":{"category":"process"},"process":{"name":"bash","executable":"/opt/bash"}})",
  };
  size_t held = 0;
  for (const std::string& json : events) {
    Event event = rules.event(json);
    EXPECT_TRUE(same_answers(rules, event, pass, &held)) << json;
  }
  EXPECT_GT(held, 15u);  // the cases exercise filters that hold, not only ones that fail
  // Again, each value now remembered; and with a budget so small that what
  // is remembered is forgotten after nearly every value.
  PredicatePass forgetful(rules.program, 64);
  for (int round = 0; round < 2; ++round) {
    for (const std::string& json : events) {
      Event event = rules.event(json);
      EXPECT_TRUE(same_answers(rules, event, pass)) << json;
      EXPECT_TRUE(same_answers(rules, event, forgetful)) << json;
    }
  }
}

// A filter's flat program (FilterCode) asks each subtree for True or for
// False as holds() and refutes() do: each condition below, and its negation,
// over events where its fields are missing, null, arrays or of another type.
TEST(Predicates, FlatProgramsGiveTheTreesAnswers) {
  RuleSet rules;
  const std::vector<std::string> conditions = {
      R"(process.name == "bash" or process.args : "-c")",
      R"(process.name != "bash" and process.name not in ("sh", "zsh"))",
      R"(not process.name != "bash")",
      R"(not process.name not in ("bash") or process.parent.name == "x")",
      R"(process.name : "b*" and not (process.parent.name == "x" or process.args == "-c"))",
      R"(not (process.name like~ "B*" and process.parent.name != "init"))",
      R"(startsWith(process.name, "ba") and not (process.pid == 3 or endsWith(process.name, "h")))",
      R"(not (process.name == "bash" and (process.args : "-l*" or not process.pid in (1, 2))))",
      R"(process.parent.name == null or not process.name == null)",
  };
  for (const std::string& condition : conditions) {
    rules.add("process where " + condition);
    rules.add("process where not (" + condition + ")");
  }
  rules.build();
  for (const auto& engine : rules.engines)
    for (const CompiledFilter& filter : engine->filters())
      EXPECT_FALSE(filter.code.steps.empty());  // every condition was lowered
  PredicatePass pass(rules.program);
  const std::vector<std::string> events = {
      R"({"event":{"category":"process"},"process":{"name":"bash","args":["-la","-c"],"pid":3}})",
      R"({"event":{"category":"process"},"process":{"name":"sh","parent":{"name":"x"},"pid":1}})",
      R"({"event":{"category":"process"},"process":{"name":null,"parent":{"name":null}}})",
      R"({"event":{"category":"process"},"process":{"args":[]}})",
      R"({"event":{"category":"process"},"process":{"name":["bash","zsh"],"pid":[2,3]}})",
      R"({"event":{"category":"process"},"process":{"name":7,"parent":{"name":"init"}}})",
      R"({"event":{"category":"process"},"process":{"name":"BASH","parent":{"name":"Init"}}})",
  };
  size_t held = 0, refuted = 0;
  for (int round = 0; round < 2; ++round) {  // the second time, each value is remembered
    for (const std::string& json : events) {
      Event event = rules.event(json);
      for (const auto& engine : rules.engines) {
        const CompiledFilter& filter = engine->filters().front();
        const bool tree_holds = holds(*filter.condition, event);
        const bool tree_refutes = refutes(*filter.condition, event);
        ScopedPredicates scope(pass, event);
        EXPECT_EQ(pass.holds(filter), tree_holds) << json;
        held += tree_holds;
        refuted += tree_refutes;
      }
    }
  }
  // Both answers occur, and some conditions are null (neither).
  EXPECT_GT(held, 20u);
  EXPECT_GT(refuted, 20u);
  EXPECT_LT(held + refuted, 2 * events.size() * rules.engines.size());
}

size_t count_decided(const Node& node, eql::ExprKind kind) {
  size_t count = node.kind == kind && node.predicate >= 0;
  for (const NodePtr& child : node.children) count += count_decided(*child, kind);
  return count;
}

// Numbers (==, in) and addresses (== in IP mode, cidrMatch) are predicates
// too, with the answers compare_scalars and cidrMatch give.
TEST(Predicates, NumbersAndAddressesGiveTheFiltersOwnAnswers) {
  RuleSet rules;
  const std::vector<std::string> queries = {
      R"(network where destination.port == 445)",
      R"(network where destination.port != 445)",
      R"(network where destination.port in (445, 10250, 1.5))",
      R"(network where source.port == 4444.0 or destination.port in (80, 443))",
      R"(network where process.title in ("x", 7))",
      R"(network where destination.ip == "10.0.0.1")",
      R"(network where destination.ip != "127.0.0.1" and destination.ip != "::1")",
      R"(network where destination.ip == "::ffff:10.0.0.1")",
      R"(network where not cidrmatch(destination.ip, "10.0.0.0/8", "::1/128"))",
      R"(network where cidrmatch(source.ip, "192.168.0.0/16") and destination.port in (22, 3389))",
      R"(network where destination.ip == "10.0.0.1" or destination.ip == null)",
      R"(network where destination.ip : ("10.0.0.0/8", "fe80::/10"))",
      R"(network where process.title regex "[0-9]+" or process.title regex~ "X.*")",
      R"(network where process.title regex ("a[bc]", "x"))",
  };
  for (const std::string& query : queries) rules.add(query);
  rules.build();
  size_t calls = 0, compares = 0, ins = 0;
  for (const auto& engine : rules.engines) {
    for (const CompiledFilter& filter : engine->filters()) {
      calls += count_decided(*filter.condition, eql::ExprKind::Call);
      compares += count_decided(*filter.condition, eql::ExprKind::Compare);
      ins += count_decided(*filter.condition, eql::ExprKind::In);
    }
  }
  EXPECT_EQ(calls, 2u);     // both cidrMatch calls
  EXPECT_EQ(compares, 8u);  // all but `== null`
  EXPECT_EQ(ins, 4u);
  PredicatePass pass(rules.program);
  // Every value of an IP field is an address or a string (the stream skips
  // events with others before filters run).
  const std::vector<std::string> events = {
      R"({"event":{"category":"network"},"destination":{"port":445,"ip":"10.0.0.1"}})",
      R"({"event":{"category":"network"},"destination":{"port":"445","ip":"10.1.2.3"}})",
      R"({"event":{"category":"network"},"destination":{"port":445.0,"ip":"::ffff:10.0.0.1"}})",
      R"({"event":{"category":"network"},"destination":{"port":1.5,"ip":["127.0.0.1","::1"]}})",
      R"({"event":{"category":"network"},"destination":{"port":[80,10250],"ip":"8.8.8.8"}})",
      R"({"event":{"category":"network"},"source":{"port":4444,"ip":"192.168.1.9"},"destination":{"port":22}})",
      R"({"event":{"category":"network"},"source":{"port":4444.5,"ip":"fe80::1"},"destination":{"ip":null}})",
      R"({"event":{"category":"network"},"destination":{"ip":"not-an-address"},"process":{"title":"x"}})",
      R"({"event":{"category":"network"},"destination":{"ip":"::1"},"process":{"title":7}})",
      R"({"event":{"category":"network"},"process":{"title":"7"}})",
      R"({"event":{"category":"network"},"process":{"title":["xyz","ab"]}})",
      R"({"event":{"category":"network"},"process":{"title":"12a"}})",
      R"({"event":{"category":"network"},"process":{"title":"abc"}})",
      R"({"event":{"category":"network"},"process":{"title":["x","12a"]},"destination":{"ip":"fe80::2"}})",
  };
  size_t held = 0;
  for (int round = 0; round < 2; ++round) {  // the second time, values are remembered
    for (const std::string& json : events) {
      Event event = rules.event(json);
      EXPECT_TRUE(same_answers(rules, event, pass, &held)) << json;
    }
  }
  EXPECT_GT(held, 30u);
}

// What values fired is remembered within a budget, however many distinct
// values come: a flood of them is forgotten and started over.
TEST(Predicates, RememberedValuesStayWithinTheirBudget) {
  RuleSet rules;
  rules.add(R"(process where process.name : ("*miner*", "xmrig") or process.args : "-o")");
  rules.build();
  constexpr size_t kBudget = 1 << 20;
  PredicatePass pass(rules.program, kBudget);
  size_t peak = 0, fired = 0;
  for (int i = 0; i < 100'000; ++i) {
    Event event = rules.event(fmt::format(
        R"({{"event":{{"category":"process"}},"process":{{"name":"{}-{}","args":["-o"]}}}})",
        i % 7 == 0 ? "cpuminer" : "proc", i));
    ScopedPredicates scope(pass, event);
    fired += rules.engines[0]->filters()[0].matches(event);
    peak = std::max(peak, pass.remembered_bytes());
  }
  EXPECT_EQ(fired, 100'000u);    // every event has "-o"
  EXPECT_LE(peak, 2 * kBudget);  // capacities round up; the count is bounded
  EXPECT_GT(peak, kBudget / 4);  // values were remembered until the budget
}

// An anchor is a set of predicates one of which must fire: from the most
// telling term of an `and`, from every branch of an `or`; none under `not`.
TEST(Predicates, AnchorsComeFromTheMostTellingTermsAndEveryBranch) {
  RuleSet rules;
  rules.add(R"(process where host.os.type == "linux" and process.executable == "/usr/bin/socat")");
  rules.add(R"(process where host.os.type == "linux" and
      ((process.name == "docker" and process.args : "-i") or
       (process.name == "socat" and process.args : "-d")))");
  rules.add(R"(process where host.os.type == "linux" and (process.name == "tail" or
      not process.name == "cmp"))");
  rules.add(R"(process where process.name != "bash")");
  rules.build();
  auto anchor_fields = [&](size_t engine) {
    std::set<std::string> fields;
    for (uint32_t predicate : rules.engines[engine]->filters()[0].anchor)
      fields.insert(
          rules.fields.path(rules.program.group_slot(rules.program.field_group(predicate))));
    return fields;
  };
  EXPECT_EQ(anchor_fields(0), std::set<std::string>{"process.executable"});
  EXPECT_EQ(rules.engines[1]->filters()[0].anchor.size(), 2u);  // docker, socat: not the short args
  EXPECT_EQ(anchor_fields(1), std::set<std::string>{"process.name"});
  // The `or` has a branch without an anchor: only the ubiquitous field is left.
  EXPECT_EQ(anchor_fields(2), std::set<std::string>{"host.os.type"});
  EXPECT_TRUE(rules.engines[3]->filters()[0].anchor.empty());
}

TEST(Predicates, EveryDetectionRulesFilterGivesItsOwnAnswer) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/detection-rules-queries.jsonl");
  RuleSet rules;
  std::ifstream source(shared_dir() + "/conformance/eql/detection-rules-queries.jsonl");
  simdjson::dom::parser parser;
  std::string line, synthetic;
  size_t number = 0;
  while (std::getline(source, line)) {
    simdjson::dom::element item = parser.parse(line);
    std::string_view text = item["query"].get_string().value();
    Parsed parsed = parse(std::string(text));
    if (!parsed.ok()) continue;
    Diagnostics diagnostics;
    bool compiles = true;
    for (const eql::Query& alternative : parsed.set.alternatives) {
      FieldIndex scratch;
      QueryEngine probe(alternative, rules.schema, EngineOptions{}, &diagnostics, &scratch);
      compiles = compiles && !diagnostics.has_errors();
    }
    if (!compiles) continue;
    rules.add(std::string(text));
    // Every fourth query's events keep the test quick under sanitizers.
    if (number++ % 4 == 0)
      synthesise(parsed.set.alternatives[0], "q" + std::to_string(number), 1'790'000'000'000,
                 synthetic);
  }
  ASSERT_GT(rules.engines.size(), 1000u);
  rules.build();
  std::cout << "predicates: " << rules.program.predicate_count() << " over "
            << rules.program.field_count() << " fields; " << rules.program.anchored_filters()
            << " filters anchored\n";
  PredicatePass pass(rules.program);
  size_t events = 0, held = 0;
  for_each_line(synthetic, [&](std::string_view json, uint64_t) {
    Event event = rules.event(std::string(json));
    ++events;
    EXPECT_TRUE(same_answers(rules, event, pass, &held)) << json;
  });
  EXPECT_GT(events, 500u);
  EXPECT_GT(held, 300u);
}

}  // namespace
}  // namespace pickaxe::testing
