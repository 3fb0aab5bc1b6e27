#include "lint/linter.h"

#include <set>

#include <simdjson.h>

#include "rules/rule_loader.h"

#include "test_util.h"

namespace pickaxe::testing {
namespace {

std::vector<Diagnostic> lint_query(const std::string& query) {
  Parsed p = parse(query);
  EXPECT_TRUE(p.ok()) << p.messages();
  Diagnostics diagnostics(p.source);
  lint(p.set, FieldTypes::ecs(), diagnostics);
  return diagnostics.items();
}

std::vector<Diagnostic> with_code(const std::vector<Diagnostic>& all, const std::string& code) {
  std::vector<Diagnostic> out;
  for (const auto& d : all) {
    if (d.code == code) out.push_back(d);
  }
  return out;
}

TEST(FieldTypes, EcsSetHasReusedFields) {
  const FieldTypes& types = FieldTypes::ecs();
  EXPECT_GT(types.size(), 500u);
  EXPECT_EQ(types.find("destination.ip"), FieldType::Ip);
  EXPECT_EQ(types.find("client.ip"), FieldType::Ip);
  EXPECT_EQ(types.find("destination.port"), FieldType::Long);
  EXPECT_EQ(types.find("process.parent.args"), FieldType::Keyword);
  EXPECT_EQ(types.find("process.entry_leader.pid"), FieldType::Long);
  EXPECT_EQ(types.find("@timestamp"), FieldType::Date);
  EXPECT_FALSE(types.find("process.parent.parent.name").has_value());
  EXPECT_FALSE(types.find("no.such.field").has_value());
}

TEST(Lint, ArgsWithWhitespace) {
  auto found =
      with_code(lint_query("process where process.args : (\"-o pool.*\", \"--donate-level\")"),
                "args-whitespace");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fix, "process.command_line : \"*-o pool.*\"");
  EXPECT_NE(found[0].hint.find("process.args : \"-o\" and process.args : \"pool.*\""),
            std::string::npos);
  EXPECT_TRUE(with_code(lint_query("process where process.command_line : \"*-o pool.*\""),
                        "args-whitespace")
                  .empty());
  EXPECT_EQ(
      with_code(lint_query("process where process.parent.args == \"-c x\""), "args-whitespace")
          .size(),
      1u);
  // Quoted arguments may contain spaces: no warning.
  EXPECT_TRUE(
      with_code(
          lint_query("process where process.args : (\"BEGIN {system(*)}\", \"Elastic Agent\", "
                     "\"--config=C:\\\\Program Files\\\\x\", \"-o \", \" -x\")"),
          "args-whitespace")
          .empty());
}

TEST(Lint, CidrWithColonOnIpField) {
  auto found =
      with_code(lint_query("network where not destination.ip : (\"10.0.0.0/8\", \"127.0.0.0/8\")"),
                "ip-wildcard-cidr");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fix, "cidrMatch(destination.ip, \"10.0.0.0/8\", \"127.0.0.0/8\")");
  EXPECT_TRUE(
      with_code(lint_query("network where process.name : \"10.0.0.0/8\""), "ip-wildcard-cidr")
          .empty());
  EXPECT_TRUE(
      with_code(lint_query("network where destination.ip : \"10.*\""), "ip-wildcard-cidr").empty());
}

TEST(Lint, DnsGatedOnConnection) {
  auto found = with_code(lint_query("any where event.category == \"network\" and event.type == "
                                    "\"connection\" and dns.question.name == \"a.b\""),
                         "dns-event-type");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fix, "network.protocol == \"dns\"");
  EXPECT_TRUE(
      with_code(
          lint_query("network where network.protocol == \"dns\" and dns.question.name : \"*.b\""),
          "dns-event-type")
          .empty());
  // A negated gate is not a gate.
  EXPECT_TRUE(
      with_code(
          lint_query("any where not event.type == \"connection\" and dns.question.name : \"*.b\""),
          "dns-event-type")
          .empty());
}

TEST(Lint, NetworkGatedOnConnection) {
  auto found =
      with_code(lint_query("any where event.type == \"connection\" and destination.port == 3333"),
                "network-event-type");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(
      with_code(
          lint_query(
              "any where event.type in (\"start\", \"connection\") and destination.port == 3333"),
          "network-event-type")
          .empty());
}

TEST(Lint, ExactDomainList) {
  auto found =
      with_code(lint_query("network where dns.question.name in (\"minexmr.com\", \"f2pool.com\")"),
                "exact-domain-match");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(
      found[0].fix,
      "dns.question.name : (\"minexmr.com\", \"*.minexmr.com\", \"f2pool.com\", \"*.f2pool.com\")");
  EXPECT_TRUE(with_code(lint_query("network where dns.question.name : (\"*.minexmr.com\")"),
                        "exact-domain-match")
                  .empty());
  EXPECT_TRUE(with_code(lint_query("network where not dns.question.name in (\"a.com\")"),
                        "exact-domain-match")
                  .empty());
}

TEST(Lint, Ipv6Gap) {
  auto found = with_code(
      lint_query("network where not cidrmatch(destination.ip, \"10.0.0.0/8\", \"127.0.0.0/8\")"),
      "ipv6-gap");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(
      found[0].fix,
      "cidrMatch(destination.ip, \"10.0.0.0/8\", \"127.0.0.0/8\", \"fc00::/7\", \"::1/128\")");
  EXPECT_NE(found[0].message.find("excluded"), std::string::npos);
  EXPECT_TRUE(
      with_code(
          lint_query("network where not cidrmatch(destination.ip, \"10.0.0.0/8\", \"fc00::/7\")"),
          "ipv6-gap")
          .empty());
  EXPECT_TRUE(
      with_code(lint_query("network where cidrmatch(destination.ip, \"8.8.8.0/24\")"), "ipv6-gap")
          .empty());
}

TEST(Lint, WildcardInEquality) {
  auto found =
      with_code(lint_query("process where process.name == \"*miner*\""), "wildcard-in-equality");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fix, "process.name like \"*miner*\"");
  auto in_list = with_code(lint_query("process where process.name not in (\"a\", \"b*\")"),
                           "wildcard-in-equality");
  ASSERT_EQ(in_list.size(), 1u);
  EXPECT_EQ(in_list[0].fix, "not process.name like (\"a\", \"b*\")");
}

TEST(Lint, WindowsOnlyExclusion) {
  auto found =
      with_code(lint_query("network where not process.name in (\"chrome.exe\", \"firefox.exe\")"),
                "windows-only-exclusion");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fix,
            "process.name in (\"chrome.exe\", \"firefox.exe\", \"chrome\", \"firefox\")");
  EXPECT_TRUE(with_code(lint_query("network where host.os.type == \"windows\" and not process.name "
                                   "in (\"chrome.exe\", \"firefox.exe\")"),
                        "windows-only-exclusion")
                  .empty());
}

TEST(Lint, TypeMismatch) {
  auto found = with_code(lint_query("network where destination.port == \"3333\""), "type-mismatch");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fix, "3333");
  EXPECT_EQ(
      with_code(lint_query("network where destination.port : \"33*\""), "type-mismatch").size(),
      1u);
  EXPECT_TRUE(
      with_code(lint_query("network where destination.port == 3333"), "type-mismatch").empty());
}

TEST(Lint, SeedPageWarningsWithPositions) {
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  std::string text = read_text(shared_dir() + "/seed/T1204.003-detect-malicious-image.txt");
  Parsed page = parse(text.substr(text.find("sequence by host.name"),
                                  text.find("high severity") - text.find("sequence by host.name")));
  ASSERT_TRUE(page.ok()) << page.messages();
  Diagnostics diagnostics(page.source);
  lint(page.set, FieldTypes::ecs(), diagnostics);
  std::set<std::string> codes;
  for (const auto& d : diagnostics.items()) codes.insert(d.code);
  for (const auto& d : page.diagnostics.items()) codes.insert(d.code);
  for (const char* expected : {"nor-alternatives", "one-step-sequence", "args-whitespace",
                               "ip-wildcard-cidr", "dns-event-type", "exact-domain-match",
                               "ipv6-gap", "network-event-type", "windows-only-exclusion"}) {
    EXPECT_TRUE(codes.contains(expected)) << expected;
  }
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

std::set<std::string> fields_of(const eql::QuerySet& set) {
  std::set<std::string> fields;
  auto collect = [&](const eql::Expr& root) {
    eql::walk(root, [&](const eql::Expr& e) {
      if (e.kind == eql::ExprKind::Field) fields.insert(e.name);
    });
  };
  for (const auto& query : set.alternatives) {
    eql::for_each_filter(query, [&](const eql::EventFilter& f) {
      if (f.condition) collect(*f.condition);
    });
    for (const auto& key : query.by) collect(*key);
    for (const auto& step : query.steps) {
      for (const auto& key : step.by) collect(*key);
    }
  }
  return fields;
}

TEST(FieldTypes, CoverEveryEcsFieldOfTheProductionRules) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/detection-rules-queries.jsonl");
  static const std::set<std::string> kEcsFieldsets = {
      "agent",   "client", "cloud",     "container", "data_stream",  "destination", "dll",
      "dns",     "ecs",    "error",     "event",     "file",         "group",       "host",
      "http",    "log",    "network",   "observer",  "orchestrator", "process",     "registry",
      "related", "rule",   "server",    "service",   "source",       "threat",      "tls",
      "url",     "user",   "user_agent"};
  std::string text = read_text(shared_dir() + "/conformance/eql/detection-rules-queries.jsonl");
  simdjson::dom::parser parser;
  std::set<std::string> missing;
  size_t used = 0;
  for (simdjson::dom::element doc : parser.parse_many(text)) {
    Parsed p = parse(std::string(doc["query"].get_string().value()));
    for (const std::string& field : fields_of(p.set)) {
      if (!kEcsFieldsets.contains(field.substr(0, field.find('.')))) continue;
      ++used;
      if (!FieldTypes::ecs().find(field)) missing.insert(field);
    }
  }
  EXPECT_GT(used, 1000u);
  std::string list;
  for (const auto& field : missing) list += field + "\n";
  EXPECT_TRUE(missing.empty()) << list;
}

TEST(Lint, BundledSeedRuleHasItsTenWarningsAndTheFixedRulesNone) {
  LoadResult result = load_rules({std::string(PICKAXE_SOURCE_DIR) + "/rules/t1204_003"});
  ASSERT_GT(scan_rule_count(), 6u);
  ASSERT_EQ(result.rules.size(), 19u + scan_rule_count());  // the scan rules load with it
  for (Rule& rule : result.rules) {
    ASSERT_TRUE(rule.loaded()) << rule.path;
    lint(rule.query, FieldTypes::ecs(), rule.diagnostics);
    std::multiset<std::string> codes;
    for (const auto& d : rule.diagnostics.items()) codes.insert(d.code);
    if (rule.path.ends_with("seed_detect_malicious_image.toml")) {
      EXPECT_EQ(codes, (std::multiset<std::string>{
                           "nor-alternatives", "nor-alternatives", "one-step-sequence",
                           "args-whitespace", "ip-wildcard-cidr", "ipv6-gap", "network-event-type",
                           "windows-only-exclusion", "dns-event-type", "exact-domain-match"}));
    } else {
      EXPECT_TRUE(codes.empty()) << rule.path;
    }
    for (const std::string& field : fields_of(rule.query)) {
      EXPECT_TRUE(FieldTypes::ecs().find(field).has_value()) << rule.path << ": " << field;
    }
  }
}

}  // namespace
}  // namespace pickaxe::testing
