// Sigma correlation rules through `pickaxe hunt`: group-by, windows and their
// boundaries, order, conditions, aliases, chains and `generate`.
#include <unistd.h>

#include <fmt/format.h>
#include <simdjson.h>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

// A process start at second `second` (with milliseconds), by `user` on `host`.
std::string process(double second, const std::string& user, const std::string& executable,
                    const std::string& host = "h1", const std::string& command_line = "") {
  return fmt::format(
      R"({{"@timestamp":"2026-01-01T00:{:02}:{:06.3f}Z","event":{{"category":["process"],"type":["start"]}},"host":{{"name":"{}","os":{{"type":"linux"}}}},"user":{{"name":"{}"}},"process":{{"executable":"{}","command_line":"{}"}}}})",
      static_cast<int>(second) / 60, second - 60 * (static_cast<int>(second) / 60), host, user,
      executable, command_line);
}

std::string connection(double second, const std::string& source, const std::string& destination) {
  return fmt::format(
      R"({{"@timestamp":"2026-01-01T00:{:02}:{:06.3f}Z","event":{{"category":["network"],"type":["start"]}},"host":{{"name":"h1","os":{{"type":"linux"}}}},"source":{{"ip":"{}"}},"destination":{{"ip":"{}"}},"process":{{"executable":"/usr/bin/curl"}}}})",
      static_cast<int>(second) / 60, second - 60 * (static_cast<int>(second) / 60), source,
      destination);
}

// The base rules the correlations below read: shells, ls, curl and connections.
const char* kBaseRules = R"(
---
title: Shell
name: shell
id: 00000000-0000-4000-8000-00000000000a
logsource: {product: linux, category: process_creation}
detection:
  sel: {Image|endswith: /bash}
  condition: sel
---
title: Listing
name: listing
id: 00000000-0000-4000-8000-00000000000b
logsource: {product: linux, category: process_creation}
detection:
  sel: {Image|endswith: /ls}
  condition: sel
---
title: Outbound connection
name: outbound
id: 00000000-0000-4000-8000-00000000000c
logsource: {product: linux, category: network_connection}
detection:
  sel: {DestinationIp|cidr: 203.0.113.0/24}
  condition: sel
)";

struct Alerts {
  std::vector<std::string> main;   // "rule terms count" per correlation alert (no building blocks)
  std::vector<std::string> plain;  // the names of the rules that alerted on their own
  size_t building_blocks = 0;
  std::string err;
  int exit_code = -1;
};

Alerts hunt(const std::string& correlation, const std::vector<std::string>& events) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string rules = dir / fmt::format("pickaxe-correlation-{}.yml", ::getpid());
  const std::string input = dir / fmt::format("pickaxe-correlation-{}.ndjson", ::getpid());
  const std::string err = dir / fmt::format("pickaxe-correlation-{}.err", ::getpid());
  std::ofstream(rules) << correlation << kBaseRules;
  {
    std::ofstream out(input);
    for (const std::string& event : events) out << event << "\n";
  }
  Alerts alerts;
  std::string out = run_command(
      fmt::format("{} hunt --detection-time 2026-11-29T00:00:00.000Z --rules {} {} 2>{}",
                  PICKAXE_BINARY, rules, input, err),
      alerts.exit_code);
  alerts.err = read_text(err);
  for (const auto& path : {rules, input, err}) std::filesystem::remove(path);
  simdjson::dom::parser parser;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element alert = parser.parse(line).value();
    simdjson::dom::element ignored;
    if (alert["kibana.alert.building_block_type"].get(ignored) == simdjson::SUCCESS) {
      ++alerts.building_blocks;
      continue;
    }
    std::string entry(alert["kibana.alert.rule.name"].get_string().value());
    simdjson::dom::element result;
    if (alert["kibana.alert.threshold_result"].get(result) != simdjson::SUCCESS) {
      alerts.plain.push_back(entry);
      continue;
    }
    for (simdjson::dom::element term : result["terms"].get_array())
      entry += fmt::format(" {}={}", std::string_view(term["field"].get_string().value()),
                           std::string_view(term["value"].get_string().value()));
    entry += fmt::format(" {}", result["count"].get_int64().value());
    alerts.main.push_back(entry);
  }
  return alerts;
}

using Lines = std::vector<std::string>;

// A hunt that ran and raised no correlation alert: exit 0, its rules loaded,
// its events read, and a summary that counts only the plain alerts.
::testing::AssertionResult no_correlation(const Alerts& alerts) {
  HuntSummary summary = hunt_summary(alerts.err);
  if (alerts.exit_code != 0)
    return ::testing::AssertionFailure() << "exit code " << alerts.exit_code << "\n" << alerts.err;
  if (summary.rules <= 0 || summary.events <= 0)
    return ::testing::AssertionFailure() << "no rules or no events in the summary\n" << alerts.err;
  if (!alerts.main.empty() || summary.alerts != static_cast<long>(alerts.plain.size()))
    return ::testing::AssertionFailure() << alerts.main.size() << " correlation alerts\n"
                                         << alerts.err;
  return ::testing::AssertionSuccess();
}

std::string correlation(const std::string& title, const std::string& body) {
  return fmt::format(
      "title: {}\nid: 00000000-0000-4000-8000-0000000000{:02}\nauthor: tester\nlevel: high\n"
      "correlation:\n{}",
      title, title.size(), body);
}

TEST(Correlation, EventCountIsPerGroup) {
  const std::string rule = correlation("Many shells",
                                       "  type: event_count\n  rules: [shell]\n  group-by: [User]\n"
                                       "  timespan: 10s\n  condition: {gte: 3}\n");
  Alerts alerts = hunt(rule, {process(0, "bob", "/bin/bash"), process(1, "alice", "/bin/bash"),
                              process(2, "bob", "/bin/bash"), process(3, "alice", "/bin/bash"),
                              process(4, "bob", "/bin/ls"), process(5, "bob", "/bin/bash")});
  ASSERT_EQ(alerts.exit_code, 0) << alerts.err;
  // Bob's three shells; Alice's two do not reach three, and ls is no shell.
  EXPECT_EQ(alerts.main, Lines({"Many shells user.name=bob 3"}));
  // The shells are read by the correlation; ls, read by none, alerts on its own.
  EXPECT_EQ(alerts.plain, Lines({"Listing"}));
  // The count alerts as a threshold rule: no building blocks.
  EXPECT_EQ(alerts.building_blocks, 0u);
  // Grouped by host instead, the four shells on h1 fire at the third.
  Alerts by_host = hunt(correlation("Many shells",
                                    "  type: event_count\n  rules: [shell]\n"
                                    "  group-by: [Computer]\n  timespan: 10s\n"
                                    "  condition: {gte: 3}\n"),
                        {process(0, "bob", "/bin/bash"), process(1, "alice", "/bin/bash"),
                         process(2, "bob", "/bin/bash")});
  // Computer has no mapping for process creation: events without it are left out.
  EXPECT_TRUE(no_correlation(by_host));
}

TEST(Correlation, WindowBoundaries) {
  const std::string rule = correlation("Three in ten",
                                       "  type: event_count\n  rules: [shell]\n  group-by: [User]\n"
                                       "  timespan: 10s\n  condition: {gte: 3}\n");
  // The first and last are exactly the timespan apart: inside.
  EXPECT_EQ(hunt(rule, {process(0, "bob", "/bin/bash"), process(5, "bob", "/bin/bash"),
                        process(10, "bob", "/bin/bash")})
                .main.size(),
            1u);
  // A millisecond more and the first has left the window.
  EXPECT_TRUE(
      no_correlation(hunt(rule, {process(0, "bob", "/bin/bash"), process(5, "bob", "/bin/bash"),
                                 process(10.001, "bob", "/bin/bash")})));
  // The window slides: the 2nd, 3rd and 4th make it.
  EXPECT_EQ(hunt(rule, {process(0, "bob", "/bin/bash"), process(8, "bob", "/bin/bash"),
                        process(12, "bob", "/bin/bash"), process(15, "bob", "/bin/bash")})
                .main,
            Lines({"Three in ten user.name=bob 3"}));
  // After it fires, a group starts over.
  EXPECT_EQ(hunt(rule, {process(0, "bob", "/bin/bash"), process(1, "bob", "/bin/bash"),
                        process(2, "bob", "/bin/bash"), process(3, "bob", "/bin/bash"),
                        process(4, "bob", "/bin/bash"), process(5, "bob", "/bin/bash")})
                .main.size(),
            2u);
}

TEST(Correlation, UpperBoundsAreDecidedWhenTheWindowEnds) {
  // At most two shells in a window that starts with a user's first shell.
  const std::string rule = correlation("Few shells",
                                       "  type: event_count\n  rules: [shell]\n  group-by: [User]\n"
                                       "  timespan: 10s\n  condition: {lte: 2}\n");
  Alerts alerts = hunt(rule, {process(0, "bob", "/bin/bash"), process(1, "alice", "/bin/bash"),
                              process(2, "alice", "/bin/bash"), process(3, "alice", "/bin/bash"),
                              process(4, "bob", "/bin/bash"), process(30, "carol", "/bin/bash")});
  // Bob's window (2 shells) closes when carol's event passes its end; carol's at the end of
  // input; alice had three.
  EXPECT_EQ(alerts.main, Lines({"Few shells user.name=bob 2", "Few shells user.name=carol 1"}));
  // A range: more than one and at most two.
  Alerts range = hunt(correlation("Two shells",
                                  "  type: event_count\n  rules: [shell]\n"
                                  "  group-by: [User]\n  timespan: 10s\n"
                                  "  condition: {gt: 1, lte: 2}\n"),
                      {process(0, "bob", "/bin/bash"), process(1, "alice", "/bin/bash"),
                       process(4, "bob", "/bin/bash")});
  EXPECT_EQ(range.main, Lines({"Two shells user.name=bob 2"}));
}

TEST(Correlation, ValueCountCountsDistinctValues) {
  const std::string rule = correlation("Many users",
                                       "  type: value_count\n  rules: [shell]\n"
                                       "  group-by: [Computer, Image]\n  timespan: 1m\n"
                                       "  condition: {field: User, gte: 3}\n");
  // Computer is unmapped for processes: map hosts through an alias-free field instead.
  const std::string by_image = correlation("Many users",
                                           "  type: value_count\n  rules: [shell]\n"
                                           "  group-by: [Image]\n  timespan: 1m\n"
                                           "  condition: {field: User, gte: 3}\n");
  Alerts alerts = hunt(by_image, {process(0, "bob", "/bin/bash"), process(1, "bob", "/bin/bash"),
                                  process(2, "alice", "/bin/bash"), process(3, "bob", "/bin/bash"),
                                  process(4, "carol", "/bin/bash")});
  EXPECT_EQ(alerts.main, Lines({"Many users process.executable=/bin/bash 3"}));
  EXPECT_TRUE(no_correlation(hunt(rule, {process(0, "bob", "/bin/bash")})));
}

TEST(Correlation, TemporalOrderedKeepsTheOrder) {
  const std::string ordered = correlation("Shell then ls",
                                          "  type: temporal_ordered\n  rules: [shell, listing]\n"
                                          "  group-by: [User]\n  timespan: 5s\n");
  EXPECT_EQ(hunt(ordered, {process(0, "bob", "/bin/bash"), process(2, "bob", "/bin/ls")}).main,
            Lines({"Shell then ls user.name=bob 2"}));
  // The wrong order, another user, or too late: nothing.
  EXPECT_TRUE(no_correlation(
      hunt(ordered, {process(0, "bob", "/bin/ls"), process(2, "bob", "/bin/bash")})));
  EXPECT_TRUE(no_correlation(
      hunt(ordered, {process(0, "bob", "/bin/bash"), process(2, "alice", "/bin/ls")})));
  EXPECT_TRUE(no_correlation(
      hunt(ordered, {process(0, "bob", "/bin/bash"), process(5.5, "bob", "/bin/ls")})));
  // A sequence alert with a building block per event.
  Alerts alerts = hunt(ordered, {process(0, "bob", "/bin/bash"), process(2, "bob", "/bin/ls")});
  EXPECT_EQ(alerts.building_blocks, 2u);
  // The unordered form takes either order.
  const std::string temporal = correlation("Shell and ls",
                                           "  type: temporal\n  rules: [shell, listing]\n"
                                           "  group-by: [User]\n  timespan: 5s\n");
  EXPECT_EQ(hunt(temporal, {process(0, "bob", "/bin/ls"), process(2, "bob", "/bin/bash")}).main,
            Lines({"Shell and ls user.name=bob 2"}));
  EXPECT_TRUE(
      no_correlation(hunt(temporal, {process(0, "bob", "/bin/ls"), process(2, "bob", "/bin/ls")})));
}

TEST(Correlation, AliasesJoinDifferentFields) {
  // A shell run by a user, and a connection from the address named as that user (a made-up
  // join, to join two fields of two logsources).
  const std::string rule = correlation("Shell and connection",
                                       "  type: temporal\n  rules: [shell, outbound]\n"
                                       "  group-by: [who]\n  timespan: 1m\n"
                                       "  aliases:\n    who:\n      shell: User\n"
                                       "      outbound: SourceIp\n");
  // The alert names the group by the first rule's field.
  EXPECT_EQ(
      hunt(rule, {process(0, "10.0.0.5", "/bin/bash"), connection(3, "10.0.0.5", "203.0.113.9")})
          .main,
      Lines({"Shell and connection user.name=10.0.0.5 2"}));
  EXPECT_TRUE(no_correlation(
      hunt(rule, {process(0, "10.0.0.5", "/bin/bash"), connection(3, "10.0.0.6", "203.0.113.9")})));
}

TEST(Correlation, ChainsAndGenerate) {
  // Two shells, then ls, by one user: a count feeding an ordered correlation.
  const std::string chain =
      "title: Shells then ls\nid: 00000000-0000-4000-8000-000000000101\nlevel: high\n"
      "correlation:\n  type: temporal_ordered\n  rules: [two_shells, listing]\n"
      "  group-by: [User]\n  timespan: 30s\n"
      "---\ntitle: Two shells\nname: two_shells\nid: 00000000-0000-4000-8000-000000000102\n"
      "correlation:\n  type: event_count\n  rules: [shell]\n  group-by: [User]\n"
      "  timespan: 10s\n  condition: {gte: 2}\n";
  Alerts alerts = hunt(chain, {process(0, "bob", "/bin/bash"), process(1, "bob", "/bin/bash"),
                               process(3, "bob", "/bin/ls"), process(4, "alice", "/bin/ls")});
  ASSERT_EQ(alerts.exit_code, 0) << alerts.err;
  // Only the outer correlation alerts: the inner one and the shells are read, not reported.
  EXPECT_EQ(alerts.main, Lines({"Shells then ls user.name=bob 3"}));
  EXPECT_TRUE(alerts.plain.empty());
  // With generate, the rules a correlation reads alert on their own too.
  const std::string generating = correlation("Shell then ls",
                                             "  type: temporal_ordered\n  rules: [shell, listing]\n"
                                             "  group-by: [User]\n  timespan: 5s\n"
                                             "  generate: true\n");
  Alerts both = hunt(generating, {process(0, "bob", "/bin/bash"), process(2, "bob", "/bin/ls")});
  EXPECT_EQ(both.main, Lines({"Shell then ls user.name=bob 2"}));
  EXPECT_EQ(both.plain, Lines({"Shell", "Listing"}));
  // The connection rule, read by no correlation, alerts on its own either way.
  Alerts alone = hunt(correlation("Shell then ls",
                                  "  type: temporal_ordered\n  rules: [shell, listing]\n"
                                  "  group-by: [User]\n  timespan: 5s\n"),
                      {connection(0, "10.0.0.1", "203.0.113.1")});
  EXPECT_TRUE(no_correlation(alone));
  EXPECT_EQ(alone.plain, Lines({"Outbound connection"}));
}

TEST(Correlation, FmtSaysACorrelationHasNoQuery) {
  const std::string path = std::filesystem::temp_directory_path() /
                           fmt::format("pickaxe-correlation-fmt-{}.yml", ::getpid());
  std::ofstream(path) << correlation("Many shells",
                                     "  type: event_count\n  rules: [shell]\n  group-by: [User]\n"
                                     "  timespan: 10s\n  condition: {gte: 3}\n")
                      << kBaseRules;
  int exit_code = -1;
  std::string out = run_command(fmt::format("{} fmt {}", PICKAXE_BINARY, path), exit_code);
  std::filesystem::remove(path);
  EXPECT_EQ(exit_code, 0) << out;
  EXPECT_NE(out.find("// a Sigma event_count correlation: it has no EQL query"), std::string::npos)
      << out;
  EXPECT_NE(out.find("process where"), std::string::npos) << out;
}

TEST(Correlation, BadCorrelationsAreReported) {
  Alerts missing = hunt(correlation("Lost",
                                    "  type: temporal\n  rules: [nowhere]\n"
                                    "  group-by: [User]\n  timespan: 5s\n"),
                        {process(0, "bob", "/bin/bash")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("refers to `nowhere`"), std::string::npos) << missing.err;
  Alerts cycle = hunt(
      "title: A\nname: a\ncorrelation:\n  type: temporal\n  rules: [b, shell]\n"
      "  group-by: [User]\n  timespan: 5s\n---\ntitle: B\nname: b\ncorrelation:\n"
      "  type: temporal\n  rules: [a, shell]\n  group-by: [User]\n  timespan: 5s\n",
      {process(0, "bob", "/bin/bash")});
  EXPECT_EQ(cycle.exit_code, 1);
  EXPECT_NE(cycle.err.find("cycle"), std::string::npos) << cycle.err;
  for (const char* body :
       {"  type: event_count\n  rules: [shell]\n  group-by: [User]\n  timespan: 5s\n",
        "  type: event_count\n  rules: [shell]\n  group-by: [User]\n  condition: {gte: 2}\n",
        "  type: value_count\n  rules: [shell]\n  group-by: [User]\n  timespan: 5s\n"
        "  condition: {gte: 2}\n",
        "  type: value_sum\n  rules: [shell]\n  group-by: [User]\n  timespan: 5s\n"
        "  condition: {field: x, gte: 2}\n",
        "  type: temporal_ordered\n  rules: [shell]\n  group-by: [User]\n  timespan: 5s\n"
        "  condition: {gte: 1}\n",
        "  type: event_count\n  rules: [shell]\n  group-by: [User]\n  timespan: 5 minutes\n"
        "  condition: {gte: 2}\n"}) {
    Alerts bad = hunt(correlation("Bad", body), {process(0, "bob", "/bin/bash")});
    EXPECT_EQ(bad.exit_code, 1) << body;
    EXPECT_NE(bad.err.find("error[sigma-correlation]"), std::string::npos) << body << bad.err;
  }
}

}  // namespace
}  // namespace pickaxe::testing
