// pickaxe hunt: rules to ECS alert documents.
#include <sys/wait.h>

#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

struct HuntRun {
  int exit_code = -1;
  std::vector<std::string> lines;
  std::string err;
};

::testing::AssertionResult quiet(const HuntRun& run) {
  std::string out;
  for (const std::string& line : run.lines) out += line + "\n";
  return quiet_hunt(run.exit_code, out, run.err);
}

HuntRun hunt(const std::string& arguments) {
  std::string err_path =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-hunt-{}.err", ::getpid());
  std::string command = fmt::format("{} hunt --detection-time 2026-11-29T00:00:00.000Z {} 2>{}",
                                    PICKAXE_BINARY, arguments, err_path);
  HuntRun run;
  std::istringstream in(run_command(command, run.exit_code));
  for (std::string line; std::getline(in, line);) run.lines.push_back(line);
  run.err = read_text(err_path);
  std::filesystem::remove(err_path);
  return run;
}

std::string source(const std::string& relative) {
  return std::string(PICKAXE_SOURCE_DIR) + "/" + relative;
}

// The documented alert schema: these keys, with these JSON types.
void expect_alert_schema(simdjson::dom::element alert, bool building_block) {
  using simdjson::dom::element_type;
  const std::vector<std::pair<const char*, element_type>> required = {
      {"@timestamp", element_type::STRING},
      {"kibana.alert.rule.name", element_type::STRING},
      {"kibana.alert.rule.rule_id", element_type::STRING},
      {"kibana.alert.rule.uuid", element_type::STRING},
      {"kibana.alert.rule.severity", element_type::STRING},
      {"kibana.alert.rule.risk_score", element_type::INT64},
      {"kibana.alert.rule.type", element_type::STRING},
      {"kibana.alert.rule.description", element_type::STRING},
      {"kibana.alert.rule.tags", element_type::ARRAY},
      {"kibana.alert.rule.threat", element_type::ARRAY},
      {"kibana.alert.severity", element_type::STRING},
      {"kibana.alert.risk_score", element_type::INT64},
      {"kibana.alert.reason", element_type::STRING},
      {"kibana.alert.uuid", element_type::STRING},
      {"kibana.alert.workflow_status", element_type::STRING},
      {"kibana.alert.original_time", element_type::STRING},
  };
  for (const auto& [key, type] : required) {
    simdjson::dom::element value;
    ASSERT_EQ(alert[key].get(value), simdjson::SUCCESS) << key;
    EXPECT_EQ(value.type(), type) << key;
  }
  EXPECT_EQ(alert["@timestamp"].get_string().value(), "2026-11-29T00:00:00.000Z");
  EXPECT_EQ(alert["kibana.alert.workflow_status"].get_string().value(), "open");
  EXPECT_EQ(alert["kibana.alert.uuid"].get_string().value().size(), 36u);
  std::string_view kind;
  if (alert["event"]["kind"].get_string().get(kind) != simdjson::SUCCESS)
    kind = alert["event.kind"].get_string().value();
  EXPECT_EQ(kind, "signal");
  simdjson::dom::element ignored;
  EXPECT_EQ(alert["kibana.alert.building_block_type"].get(ignored) == simdjson::SUCCESS,
            building_block);
}

TEST(Hunt, BundledPackRaisesSchemaValidAlerts) {
  HuntRun run = hunt(source("examples/events.ndjson"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.lines.size(), 7u) << run.err;
  simdjson::dom::parser parser;
  std::multiset<std::string> rules;
  for (const std::string& line : run.lines) {
    simdjson::dom::element alert;
    ASSERT_EQ(parser.parse(line).get(alert), simdjson::SUCCESS) << line;
    expect_alert_schema(alert, false);
    rules.insert(std::string(alert["kibana.alert.rule.name"].get_string().value()));
    // The source event's event.* fields are kept under original_event too.
    simdjson::dom::element category;
    EXPECT_EQ(alert["kibana.alert.original_event.category"].get(category), simdjson::SUCCESS);
  }
  EXPECT_EQ(
      rules,
      (std::multiset<std::string>{
          "Container Image with a Miner Name Pulled or Run", "Cryptocurrency Miner Command Line",
          "Cryptocurrency Miner Process Started", "Cryptocurrency Miner Started in a Container",
          "Detect Malicious Image (seed, as published)",
          "Outbound Connection to a Mining Pool Port", "DNS Lookup of a Mining Pool Domain"}));
  EXPECT_NE(run.err.find("hunt: 19 rules, 5 events"), std::string::npos) << run.err;
  // Deterministic: the same input gives byte-identical alerts.
  EXPECT_EQ(hunt(source("examples/events.ndjson")).lines, run.lines);
}

// Alert documents against goldens written by hand from the rule and the
// events (tests/data/alerts/*/): every field, in order. Hashed ids are
// "<uuid>" there: here they must be UUIDs, stable from run to run, with the
// rule's and a sequence's group id shared and each alert's own.
TEST(Hunt, AlertsEqualHandWrittenGoldens) {
  std::regex uuid_form("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  for (const char* name : {"event", "sequence"}) {
    const std::string dir = source(std::string("tests/data/alerts/") + name);
    HuntRun run = hunt("--rules " + dir + "/rule.toml " + dir + "/events.ndjson");
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(hunt("--rules " + dir + "/rule.toml " + dir + "/events.ndjson").lines, run.lines)
        << "alert ids change from run to run";
    std::vector<std::string> expected;
    for_each_line(read_text(dir + "/expected.ndjson"),
                  [&](std::string_view line, uint64_t) { expected.emplace_back(line); });
    ASSERT_EQ(run.lines.size(), expected.size()) << name << "\n" << run.err;
    simdjson::dom::parser parser;
    std::map<std::string, std::set<std::string>> ids;  // key -> the values seen
    for (size_t i = 0; i < expected.size(); ++i) {
      std::string actual = run.lines[i];
      simdjson::dom::object golden = parser.parse(expected[i]).get_object().value();
      simdjson::dom::parser actual_parser;
      simdjson::dom::object ours = actual_parser.parse(actual).get_object().value();
      for (auto [key, value] : golden) {
        std::string_view text;
        if (value.get_string().get(text) != simdjson::SUCCESS || text != "<uuid>") continue;
        std::string_view id;
        ASSERT_EQ(ours[key].get_string().get(id), simdjson::SUCCESS) << key << " is missing";
        EXPECT_TRUE(std::regex_match(std::string(id), uuid_form)) << key << ": " << id;
        ids[std::string(key)].insert(std::string(id));
        std::string quoted = fmt::format("\"{}\":\"{}\"", std::string_view(key), id);
        size_t at = actual.find(quoted);
        ASSERT_NE(at, std::string::npos) << key;
        actual.replace(at, quoted.size(), fmt::format("\"{}\":\"<uuid>\"", std::string_view(key)));
      }
      EXPECT_EQ(actual, expected[i]) << name << " alert " << i;
    }
    EXPECT_EQ(ids["kibana.alert.rule.uuid"].size(), 1u);
    EXPECT_EQ(ids["kibana.alert.uuid"].size(), expected.size());
    if (std::string(name) == "sequence") {
      EXPECT_EQ(ids["kibana.alert.group.id"].size(), 1u);
    }
  }
}

TEST(Hunt, SequencesRaiseBuildingBlocksLinkedByGroupId) {
  std::string rule =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-seq-{}.eql", ::getpid());
  std::ofstream(rule) << "sequence by host.name with maxspan=1m\n"
                         "  [process where process.name == \"xmrig\"]\n"
                         "  [network where destination.port == 4444]\n";
  HuntRun run = hunt("--rules " + rule + " " + source("examples/events.ndjson"));
  std::filesystem::remove(rule);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.lines.size(), 3u);
  simdjson::dom::parser parser;
  std::vector<std::string> groups;
  for (size_t i = 0; i < run.lines.size(); ++i) {
    simdjson::dom::element alert;
    ASSERT_EQ(parser.parse(run.lines[i]).get(alert), simdjson::SUCCESS);
    expect_alert_schema(alert, i > 0);
    groups.emplace_back(alert["kibana.alert.group.id"].get_string().value());
    if (i > 0) {
      EXPECT_EQ(alert["kibana.alert.group.index"].get_int64().value(), static_cast<int64_t>(i - 1));
    }
  }
  EXPECT_EQ(groups[0], groups[1]);
  EXPECT_EQ(groups[1], groups[2]);
  EXPECT_NE(run.err.find("1 alerts"), std::string::npos)
      << run.err;  // building blocks are not counted
}

TEST(Hunt, SelectionAndExitCodes) {
  std::string events = source("examples/events.ndjson");
  EXPECT_EQ(hunt("--min-severity high " + events).lines.size(), 5u);
  EXPECT_EQ(hunt("--rule-id 9a7c3e1b-5d2f-4b8a-9c6d-1e2f3a4b5c62 " + events).lines.size(), 1u);
  EXPECT_EQ(hunt("--tag 'Domain: Network' " + events).lines.size(), 1u);
  // A filter that selects no rule is a usage error naming it.
  HuntRun none = hunt("--tag 'No Such Tag' " + events);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(none.lines.empty());
  EXPECT_NE(none.err.find("--tag No Such Tag: no rule has this tag"), std::string::npos)
      << none.err;
  EXPECT_EQ(hunt("--fail-on-alert " + events).exit_code, 3);  // alerts: not 1, which is errors
  EXPECT_EQ(hunt("--fail-on-alert --min-severity critical " + events).exit_code, 2);
  EXPECT_EQ(hunt("--min-severity extreme " + events).exit_code, 2);
  EXPECT_EQ(hunt("--rules " + source("tests/data/broken.eql") + " " + events).exit_code, 1);
}

TEST(Hunt, TableFormat) {
  HuntRun run = hunt("--format table " + source("examples/events.ndjson"));
  ASSERT_EQ(run.lines.size(), 8u);
  EXPECT_TRUE(run.lines[0].starts_with("TIME")) << run.lines[0];
  EXPECT_NE(run.lines[7].find("pool.minexmr.com"), std::string::npos) << run.lines[7];
}

TEST(Hunt, SeedPageRunsItsAlternativesAsEventQueries) {
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  HuntRun run = hunt("--rules " + shared_dir() + "/seed/T1204.003-detect-malicious-image.txt " +
                     source("examples/events.ndjson"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Only the miner process matches: Endpoint's network events say "start", not "connection".
  ASSERT_EQ(run.lines.size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element alert = parser.parse(run.lines[0]).value();
  expect_alert_schema(alert, false);
  EXPECT_EQ(alert["kibana.alert.rule.name"].get_string().value(), "Detect Malicious Image");
  EXPECT_EQ(alert["process"]["name"].get_string().value(), "xmrig");
}

}  // namespace
}  // namespace pickaxe::testing

#include <arpa/inet.h>

#include <regex>

namespace pickaxe::testing {
namespace {

// The seed rule's three queries, written out by hand with std::regex and
// inet_pton: an evaluation that shares no code with the engine.
bool any_string(simdjson::dom::element value,
                const std::function<bool(std::string_view)>& predicate) {
  if (value.is_string()) return predicate(value.get_string().value());
  if (value.is_array()) {
    for (simdjson::dom::element item : value.get_array()) {
      if (item.is_string() && predicate(item.get_string().value())) return true;
    }
  }
  return false;
}

bool has(simdjson::dom::element document, const char* object, const char* key,
         std::string_view wanted) {
  simdjson::dom::element value;
  if (document[object][key].get(value) != simdjson::SUCCESS) return false;
  return any_string(value, [&](std::string_view s) { return s == wanted; });
}

std::regex glob(const std::string& pattern) {
  std::string re;
  for (char c : pattern) {
    if (c == '*') {
      re += ".*";
    } else if (c == '?') {
      re += '.';
    } else {
      if (std::string("\\^$.|+()[]{}").find(c) != std::string::npos) re += '\\';
      re += c;
    }
  }
  return std::regex(re, std::regex::icase);
}

bool in_private_ipv4(std::string_view ip) {
  in_addr address{};
  if (inet_pton(AF_INET, std::string(ip).c_str(), &address) != 1) return false;
  uint32_t a = ntohl(address.s_addr);
  return (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) ||
         (a >> 24) == 127;
}

std::multiset<std::string> seed_matches(const std::string& path) {
  const std::set<std::string> miners = {"xmrig",        "xmrig-notls", "minerd",   "cpuminer",
                                        "cryptonight",  "nbminer",     "t-rex",    "lolminer",
                                        "ethminer",     "cgminer",     "bfgminer", "claymore",
                                        "phoenixminer", "teamtntbot"};
  std::vector<std::regex> arg_patterns;
  for (const char* p :
       {"stratum+tcp://*", "stratum+ssl://*", "--donate-level", "-o pool.*", "*xmrpool*",
        "*supportxmr*", "*minexmr*", "*moneroocean*", "*hashvault*", "*nanopool*"})
    arg_patterns.push_back(glob(p));
  const std::set<int64_t> ports = {3333, 3334, 4444, 4445, 14444, 45560,
                                   5555, 8333, 7777, 9999, 13333, 19999};
  const std::set<std::string> browsers = {"firefox.exe", "chrome.exe", "msedge.exe",
                                          "brave.exe",   "opera.exe",  "iexplore.exe"};
  const std::set<std::string> domains = {
      "minexmr.com",        "supportxmr.com", "nanopool.org",  "f2pool.com",         "antpool.com",
      "pool.minergate.com", "xmrpool.eu",     "hashvault.pro", "moneroocean.stream", "xmr.pool"};
  std::multiset<std::string> ids;
  simdjson::dom::parser parser;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element doc = parser.parse(line).value();
    std::string id(doc["event"]["id"].get_string().value());
    simdjson::dom::element value;
    // 1. A process start by miner name or mining arguments.
    if (has(doc, "event", "category", "process") && has(doc, "event", "type", "start")) {
      std::string_view name;
      bool by_name = doc["process"]["name"].get_string().get(name) == simdjson::SUCCESS &&
                     miners.contains(std::string(name));
      bool by_args = doc["process"]["args"].get(value) == simdjson::SUCCESS &&
                     any_string(value, [&](std::string_view arg) {
                       for (const auto& pattern : arg_patterns) {
                         if (std::regex_match(std::string(arg), pattern)) return true;
                       }
                       return false;
                     });
      if (by_name || by_args) ids.insert(id);
    }
    bool connection =
        has(doc, "event", "category", "network") && has(doc, "event", "type", "connection");
    // 2. A connection to a pool port, not to a private address, not by a browser.
    int64_t port = 0;
    if (connection && doc["destination"]["port"].get_int64().get(port) == simdjson::SUCCESS &&
        ports.contains(port)) {
      std::string_view ip, process;
      bool private_ip =
          doc["destination"]["ip"].get_string().get(ip) == simdjson::SUCCESS && in_private_ipv4(ip);
      bool browser = doc["process"]["name"].get_string().get(process) == simdjson::SUCCESS &&
                     browsers.contains(std::string(process));
      if (!private_ip && !browser) ids.insert(id);
    }
    // 3. A DNS question for a pool domain, exactly.
    std::string_view question;
    if (connection &&
        doc["dns"]["question"]["name"].get_string().get(question) == simdjson::SUCCESS &&
        domains.contains(std::string(question)))
      ids.insert(id);
  }
  return ids;
}

TEST(Hunt, SeedRuleOverGeneratedTelemetryMatchesAnIndependentEvaluation) {
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  if (std::system("python3 --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 is not installed";
  std::string events =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-gen-{}.ndjson", ::getpid());
  ASSERT_EQ(
      std::system(
          fmt::format("python3 {}/tools/gen_ecs.py --events 30000 --hosts 300 --miners 20 > {}",
                      shared_dir(), events)
              .c_str()),
      0);
  std::multiset<std::string> expected = seed_matches(events);
  HuntRun run =
      hunt("--rules " + shared_dir() + "/seed/T1204.003-detect-malicious-image.txt " + events);
  std::filesystem::remove(events);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::multiset<std::string> got;
  simdjson::dom::parser parser;
  for (const std::string& line : run.lines) {
    got.emplace(parser.parse(line).value()["event"]["id"].get_string().value());
  }
  EXPECT_GT(expected.size(), 20u);
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

class Tuning : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / fmt::format("pickaxe-tuning-{}", ::getpid());
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name) << text;
    dir_ = dir;
    return (dir / name).string();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

std::multiset<std::string> rule_names(const HuntRun& run) {
  std::multiset<std::string> names;
  simdjson::dom::parser parser;
  for (const std::string& line : run.lines)
    names.emplace(parser.parse(line).value()["kibana.alert.rule.name"].get_string().value());
  return names;
}

TEST_F(Tuning, AnExceptionRemovesItsFalsePositiveAndNothingElse) {
  std::string events = source("examples/events.ndjson");
  std::multiset<std::string> before = rule_names(hunt(events));
  ASSERT_EQ(before.size(), 7u);
  // node-7 is a research sandbox: the miner rule's alert there goes, the rest stay.
  std::string file = write("exceptions.yaml", R"(
value_lists:
  research-hosts: hosts.txt
exceptions:
  - name: Research sandbox
    rule_ids: ["6f4b8a2e-1d3c-4e5f-8a9b-0c1d2e3f4a51"]
    entries:
      - {field: host.name, operator: included, type: list, list: research-hosts}
)");
  write("hosts.txt", "# sandboxes\nnode-7\n");
  HuntRun run = hunt("--exceptions " + file + " " + events);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::multiset<std::string> after = rule_names(run);
  std::multiset<std::string> expected = before;
  expected.erase(expected.find("Cryptocurrency Miner Process Started"));
  EXPECT_EQ(after, expected);
  EXPECT_NE(run.err.find("1  removed by exception \"Research sandbox\""), std::string::npos)
      << run.err;
}

TEST_F(Tuning, EntryTypesAndOperators) {
  std::string events = source("examples/events.ndjson");
  struct Case {
    std::string entry;
    size_t alerts;  // of the 7
  };
  std::vector<Case> cases = {
      {"{field: process.name, type: match, value: xmrig}", 0},
      {"{field: process.name, type: match, value: XMRIG}", 7},  // match is case-sensitive
      {"{field: process.name, type: match_any, value: [curl, xmrig]}", 0},
      {"{field: dns.question.name, type: wildcard, value: \"*.minexmr.com\"}", 6},
      {"{field: dns.question.name, type: exists}", 6},
      {"{field: destination.ip, type: cidr, value: 203.0.113.0/24}", 6},
      {"{field: container.id, operator: excluded, type: exists}",
       5},  // only the alerts with a container stay
      {"{field: host.name, operator: excluded, type: match, value: node-7}", 7},
  };
  for (const Case& c : cases) {
    std::string file =
        write("e.yaml", "exceptions:\n  - name: t\n    entries:\n      - " + c.entry + "\n");
    HuntRun run = hunt("--exceptions " + file + " " + events);
    EXPECT_EQ(run.exit_code, 0) << c.entry << run.err;
    EXPECT_EQ(run.lines.size(), c.alerts) << c.entry << "\n" << run.err;
  }
  // A disabled item does nothing.
  std::string file = write("d.yaml",
                           "exceptions:\n  - name: off\n    enabled: false\n    entries:\n"
                           "      - {field: host.name, type: match, value: node-7}\n");
  EXPECT_EQ(hunt("--exceptions " + file + " " + events).lines.size(), 7u);
}

TEST_F(Tuning, BadExceptionFilesAreReportedWithPositions) {
  std::string file =
      write("bad.yaml",
            "exceptions:\n  - name: x\n    entries:\n      - {field: a, type: nope, value: 1}\n");
  HuntRun run = hunt("--exceptions " + file + " " + source("examples/events.ndjson"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("bad.yaml:4:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("unknown entry type `nope`"), std::string::npos) << run.err;
  std::string broken = write("broken.yaml", "exceptions: [\n");
  EXPECT_EQ(hunt("--exceptions " + broken + " " + source("examples/events.ndjson")).exit_code, 1);
}

TEST_F(Tuning, ShippedSeedExceptionsAreValidAndDisabled) {
  std::string events = source("examples/events.ndjson");
  HuntRun run =
      hunt("--exceptions " + source("rules/t1204_003/tuning/exceptions.yaml") + " " + events);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.lines.size(), 7u);
}

TEST_F(Tuning, SuppressionKeepsOneAlertPerGroupAndCountsTheRest) {
  std::string lines;
  for (int i = 0; i < 10; ++i) {
    lines += fmt::format(
        R"({{"@timestamp":"2026-11-01T10:00:{:02}.000Z","event":{{"category":["process"],"type":["start"]}},)"
        R"("host":{{"name":"node-{}"}},"process":{{"name":"xmrig","pid":{}}}}})"
        "\n",
        i, i % 2, i);
  }
  std::string events = write("miners.ndjson", lines);
  std::string rule = "--rule-id 6f4b8a2e-1d3c-4e5f-8a9b-0c1d2e3f4a51 ";
  EXPECT_EQ(hunt(rule + events).lines.size(), 10u);
  HuntRun run = hunt(rule + "--suppress-by host.name --suppress-window 1m " + events);
  EXPECT_EQ(run.lines.size(), 2u);  // one per host
  EXPECT_NE(run.err.find("8  suppressed for Cryptocurrency Miner Process Started"),
            std::string::npos)
      << run.err;
  // Each host alerts every 2 s: a 3 s window keeps every other alert, a 1 s window keeps all.
  EXPECT_EQ(hunt(rule + "--suppress-by host.name --suppress-window 3s " + events).lines.size(), 6u);
  EXPECT_EQ(hunt(rule + "--suppress-by host.name --suppress-window 1s " + events).lines.size(),
            10u);
  // A rule's max_signals caps its alerts, and the rest are counted.
  std::string capped =
      write("capped.toml",
            "[rule]\nname = \"Capped\"\nrule_id = \"c1\"\nlanguage = \"eql\"\n"
            "max_signals = 3\nquery = 'process where process.name == \"xmrig\"'\n");
  HuntRun limited = hunt("--rules " + capped + " " + events);
  EXPECT_EQ(limited.lines.size(), 3u);
  EXPECT_NE(limited.err.find("7  past max_signals in their execution for Capped"),
            std::string::npos)
      << limited.err;
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST_F(Tuning, IndexPatternsApplyWhenTheEventDeclaresItsDataStream) {
  const std::string base =
      R"("@timestamp":"2026-11-01T10:00:00Z","event":{"category":["process"],"type":["start"]},"process":{"name":"xmrig"})";
  std::string rule =
      "--rule-id 6f4b8a2e-1d3c-4e5f-8a9b-0c1d2e3f4a51 ";  // index logs-endpoint.events.process-*,
                                                          // ...
  auto alerts = [&](const std::string& extra) {
    return hunt(rule + write("e.ndjson", "{" + base + extra + "}\n")).lines.size();
  };
  EXPECT_EQ(alerts(""), 1u);  // no data stream declared: every rule sees the event
  EXPECT_EQ(
      alerts(
          R"(,"data_stream":{"type":"logs","dataset":"endpoint.events.process","namespace":"prod"})"),
      1u);
  EXPECT_EQ(
      alerts(
          R"(,"data_stream":{"type":"logs","dataset":"endpoint.events.file","namespace":"prod"})"),
      0u);
  EXPECT_EQ(alerts(R"(,"data_stream.dataset":"auditd_manager.auditd")"),
            1u);  // logs-auditd_manager.auditd-default
  EXPECT_EQ(alerts(R"(,"_index":".ds-logs-endpoint.events.process-default-2026.11.01-000001")"),
            1u);
  EXPECT_EQ(alerts(R"(,"_index":"winlogbeat-8.11")"), 0u);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST(Hunt, AlertsAreByteIdenticalForOneAndTwoThreadsAndSplitInput) {
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  if (std::system("python3 --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 is not installed";
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-threads-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string events = (dir / "events.ndjson").string();
  ASSERT_EQ(
      std::system(
          fmt::format("python3 {}/tools/gen_ecs.py --events 20000 --hosts 100 --miners 20 > {}",
                      shared_dir(), events)
              .c_str()),
      0);
  // The bundled pack plus a sequence, so that sequences and building blocks are covered.
  std::ofstream(dir / "sequence.eql")
      << "sequence by host.name with maxspan=10m\n"
         "  [process where process.name : \"xmrig*\"]\n"
         "  [network where destination.port in (3333, 4444, 5555, 14444)]\n";
  std::string rules =
      "--rules " + source("rules") + " --rules " + (dir / "sequence.eql").string() + " ";
  HuntRun one = hunt(rules + "--threads 1 " + events);
  HuntRun two = hunt(rules + "--threads 2 " + events);
  // The same events split into files at other boundaries, and compressed.
  std::vector<std::string> lines;
  {
    std::ifstream in(events);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::string split_files;
  const size_t cuts[] = {0, lines.size() / 7, lines.size() / 2, lines.size() - 1, lines.size()};
  std::filesystem::create_directories(dir / "parts");
  for (size_t part = 0; part + 1 < std::size(cuts); ++part) {
    std::string name = (dir / "parts" / fmt::format("part{}.ndjson", part)).string();
    std::ofstream out(name);
    for (size_t i = cuts[part]; i < cuts[part + 1]; ++i) out << lines[i] << "\n";
    split_files += name + " ";
  }
  ASSERT_EQ(
      std::system(fmt::format("gzip -f {}", (dir / "parts" / "part1.ndjson").string()).c_str()), 0);
  size_t at = split_files.find("part1.ndjson");
  split_files.insert(at + std::string("part1.ndjson").size(), ".gz");
  HuntRun split = hunt(rules + "--threads 2 " + split_files);
  // A folder stands for its files in path order; hidden files are passed over.
  std::filesystem::create_directories(dir / "parts" / ".hidden");
  std::ofstream(dir / "parts" / ".hidden" / "junk.ndjson") << "not json\n";
  std::ofstream(dir / "parts" / ".junk.ndjson") << "not json\n";
  HuntRun folder = hunt(rules + "--threads 2 " + (dir / "parts").string());
  std::filesystem::create_directories(dir / "empty");
  HuntRun empty = hunt(rules + (dir / "empty").string());
  // Bad lines among them: reported at the same lines, in the same order,
  // whether the file is read by 1 or 2 threads or streamed from stdin.
  std::string flawed = (dir / "flawed.ndjson").string();
  {
    std::ofstream out(flawed);
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i % 3001 == 7) out << "{\"@timestamp\": \"cut short\n";
      if (i % 4001 == 9)
        out << R"({"event":{"category":"process"},"process":{"name":"xmrig"}})"
            << "\n";
      out << lines[i] << "\n";
    }
  }
  auto problems = [](const std::string& err) {
    std::vector<std::string> found;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) {
      size_t at = line.find(".ndjson:");
      if (at == std::string::npos) at = line.find("<stdin>:");
      if (at != std::string::npos) found.push_back(line.substr(at + 8));
    }
    return found;
  };
  HuntRun flawed_one = hunt(rules + "--threads 1 " + flawed);
  HuntRun flawed_two = hunt(rules + "--threads 2 " + flawed);
  HuntRun flawed_stdin = hunt(rules + "--threads 2 - < " + flawed);
  HuntRun flawed_full = hunt(rules + "--threads 2 --no-prefilter " + flawed);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(flawed_one.lines, one.lines);
  EXPECT_EQ(flawed_two.lines, one.lines);
  EXPECT_EQ(flawed_stdin.lines, one.lines);
  EXPECT_EQ(flawed_full.lines, one.lines);
  EXPECT_GT(problems(flawed_one.err).size(), 6u) << flawed_one.err;
  EXPECT_EQ(problems(flawed_two.err), problems(flawed_one.err));
  EXPECT_EQ(problems(flawed_stdin.err), problems(flawed_one.err));
  EXPECT_EQ(problems(flawed_full.err), problems(flawed_one.err));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_GT(one.lines.size(), 100u);
  EXPECT_EQ(one.lines, two.lines);
  EXPECT_EQ(one.lines, split.lines) << split.err;
  EXPECT_EQ(one.lines, folder.lines) << folder.err;
  EXPECT_EQ(folder.err.find("junk"), std::string::npos) << folder.err;
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.err.find("the folder holds no log files"), std::string::npos) << empty.err;
  size_t building_blocks = 0;
  for (const auto& line : one.lines)
    building_blocks += line.find("building_block_type") != std::string::npos;
  EXPECT_GT(building_blocks, 0u);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

// Each rule (*.toml) of `folder` has golden inputs under `goldens`/<rule>/: a
// positive that must alert and a benign near miss that must not. Calls
// `also` with each rule file; returns how many there are.
size_t check_goldens(const std::string& folder, const std::string& goldens,
                     const std::function<void(const std::filesystem::path&)>& also = nullptr) {
  size_t rules = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source(folder))) {
    if (entry.path().extension() != ".toml") continue;
    ++rules;
    std::string stem = entry.path().stem().string();
    std::filesystem::path golden = source(goldens + "/" + stem);
    EXPECT_TRUE(std::filesystem::exists(golden / "positive.ndjson"))
        << stem << " has no positive input";
    EXPECT_TRUE(std::filesystem::exists(golden / "near_miss.ndjson"))
        << stem << " has no near-miss input";
    std::string rule = "--rules " + entry.path().string() + " ";
    HuntRun positive = hunt(rule + (golden / "positive.ndjson").string());
    EXPECT_EQ(positive.exit_code, 0) << stem << positive.err;
    EXPECT_GE(positive.lines.size(), 1u) << stem << ": the positive input raised no alert";
    HuntRun near_miss = hunt(rule + (golden / "near_miss.ndjson").string());
    EXPECT_TRUE(quiet(near_miss)) << stem << ": the near miss alerted";
    if (also) also(entry.path());
  }
  return rules;
}

TEST(Pack, EveryRuleCatchesItsPositiveAndSparesItsNearMiss) {
  EXPECT_EQ(check_goldens("rules/t1204_003", "tests/data/rules"), 19u);
}

// The scan pack (rules/t1204_003/scan/, docs/SCAN.md) likewise, over scan
// events. Each rule also lints clean, reads the scan index and carries its
// false-positive and investigation notes.
TEST(Pack, EveryScanRuleCatchesItsPositiveAndSparesItsNearMiss) {
  const size_t rules = check_goldens(
      "rules/t1204_003/scan", "tests/data/rules/scan", [](const std::filesystem::path& path) {
        int code = 0;
        std::string out =
            run_command(fmt::format("{} lint {} 2>&1", PICKAXE_BINARY, path.string()), code);
        EXPECT_EQ(code, 0) << out;
        EXPECT_EQ(out.find("warning["), std::string::npos) << out;
        std::string text = read_text(path.string());
        EXPECT_NE(text.find("index = [\"logs-pickaxe.scan-*\"]"), std::string::npos) << path;
        EXPECT_NE(text.find("false_positives = ["), std::string::npos) << path;
        EXPECT_NE(text.find("note = \"\"\"## Triage and analysis"), std::string::npos) << path;
      });
  EXPECT_EQ(rules, 10u);
}

TEST(Pack, ApprovedAmisAreRemovedByTheShippedTuning) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-ami-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy(source("rules/t1204_003/tuning"), dir,
                        std::filesystem::copy_options::recursive);
  std::string rule =
      "--rules " + source("rules/t1204_003/ec2_instance_from_unapproved_ami.toml") + " ";
  std::string events = source("tests/data/rules/ec2_instance_from_unapproved_ami/positive.ndjson");
  std::string tuning = (dir / "exceptions.yaml").string();
  EXPECT_EQ(hunt(rule + "--exceptions " + tuning + " " + events).lines.size(),
            1u);  // the list is empty
  std::ofstream(dir / "approved-amis.txt") << "ami-0badc0ffee0000000\n";
  HuntRun approved = hunt(rule + "--exceptions " + tuning + " " + events);
  EXPECT_TRUE(quiet(approved));
  EXPECT_NE(approved.err.find("removed by exception \"Approved AMIs\""), std::string::npos)
      << approved.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST_F(Tuning, TimestampOverrideTimesTheRulesSequences) {
  // Ten minutes apart by @timestamp, ten seconds apart by event.ingested.
  std::string events = write(
      "late.ndjson",
      R"({"@timestamp":"2026-11-01T10:00:00Z","event":{"category":["process"],"ingested":"2026-11-01T10:20:00Z"},"host":{"name":"h"},"process":{"name":"xmrig"}})"
      "\n"
      R"({"@timestamp":"2026-11-01T10:10:00Z","event":{"category":["network"],"ingested":"2026-11-01T10:20:10Z"},"host":{"name":"h"},"destination":{"port":3333}})"
      "\n"
      R"({"@timestamp":"2026-11-01T10:11:00Z","event":{"category":["process"]},"host":{"name":"h"},"process":{"name":"xmrig"}})"
      "\n");
  auto rule = [&](const std::string& name, const std::string& extra, const std::string& query) {
    return write(name, "[rule]\nname = \"" + name + "\"\nrule_id = \"" + name +
                           "\"\nlanguage = \"eql\"\n" + extra + "query = '''\n" + query +
                           "\n'''\n");
  };
  std::string sequence =
      "sequence by host.name with maxspan=1m [process where process.name == \"xmrig\"] "
      "[network where destination.port == 3333]";
  EXPECT_TRUE(quiet(hunt("--rules " + rule("plain.toml", "", sequence) + " " + events)));
  HuntRun overridden = hunt(
      "--rules " + rule("ingested.toml", "timestamp_override = \"event.ingested\"\n", sequence) +
      " " + events);
  EXPECT_EQ(overridden.lines.size(), 3u)
      << overridden.err;  // the sequence and its two building blocks
  // An event without the override field is not seen by the rule.
  std::string event_query = "process where process.name == \"xmrig\"";
  EXPECT_EQ(hunt("--rules " + rule("e1.toml", "", event_query) + " " + events).lines.size(), 2u);
  EXPECT_EQ(
      hunt("--rules " + rule("e2.toml", "timestamp_override = \"event.ingested\"\n", event_query) +
           " " + events)
          .lines.size(),
      1u);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

// The value lists are what the rules match: the shipped rules are up to date
// with them, and a domain added to a list is caught once the script has run.
TEST(Pack, ValueListsAreWrittenIntoTheRules) {
  namespace fs = std::filesystem;
  const std::string script = source("scripts/pack_lists.py");
  int code = 0;
  std::string out = run_command("python3 " + script + " --check 2>&1", code);
  EXPECT_EQ(code, 0) << out;
  fs::path dir = fs::temp_directory_path() / fmt::format("pickaxe-lists-{}", ::getpid());
  fs::remove_all(dir);
  fs::copy(source("rules/t1204_003"), dir, fs::copy_options::recursive);
  std::ofstream(dir / "lists" / "pool-domains.txt", std::ios::app) << "newpool.example\n";
  std::string events = (dir / "lookup.ndjson").string();
  std::ofstream(events)
      << R"({"@timestamp":"2026-11-01T10:00:00Z","event":{"category":["network"],"type":["protocol","info"]},"host":{"name":"h"},"dns":{"question":{"name":"eu.newpool.example"}}})"
      << "\n";
  const std::string rule = "--rules " + (dir / "mining_pool_dns.toml").string() + " " + events;
  EXPECT_TRUE(quiet(hunt(rule)));
  out = run_command("python3 " + script + " --check --pack " + dir.string() + " 2>&1", code);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("mining_pool_dns.toml: not up to date with its lists"), std::string::npos)
      << out;
  out = run_command("python3 " + script + " --pack " + dir.string() + " 2>&1", code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(hunt(rule).lines.size(), 1u);
  fs::remove_all(dir);
}

// Every rule of the pack but the published seed lints clean and carries its
// false-positive and investigation notes.
TEST(Pack, EveryRuleLintsCleanWithItsNotes) {
  size_t rules = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source("rules/t1204_003"))) {
    if (entry.path().extension() != ".toml" ||
        entry.path().filename() == "seed_detect_malicious_image.toml")
      continue;
    ++rules;
    int code = 0;
    std::string out =
        run_command(fmt::format("{} lint {} 2>&1", PICKAXE_BINARY, entry.path().string()), code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out.find("warning["), std::string::npos) << out;
    std::string text = read_text(entry.path().string());
    EXPECT_NE(text.find("false_positives = ["), std::string::npos) << entry.path();
    EXPECT_NE(text.find("note = \"\"\"## Triage and analysis"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(rules, 18u);
  // The note reaches the alert, as kibana.alert.rule.note.
  HuntRun run = hunt("--rules " + source("rules/t1204_003/miner_command_line.toml") + " " +
                     source("tests/data/rules/miner_command_line/positive.ndjson"));
  ASSERT_FALSE(run.lines.empty()) << run.err;
  EXPECT_NE(run.lines.front().find("\"kibana.alert.rule.note\":\"## Triage and analysis"),
            std::string::npos);
}

}  // namespace
}  // namespace pickaxe::testing

#include <filesystem>
#include <fstream>

#include "hunt/exceptions.h"
#include "hunt/hunter.h"
#include "rules/rule_loader.h"

namespace pickaxe::testing {
namespace {

// A serve worker's partitions: hunters built from one prototype share its
// compiled queries and predicate program, raise what a hunter of their own
// raises, and take each other's saved state (a takeover), with a Sigma
// correlation, an exception and suppression in play.
TEST(Hunt, HuntersOfOnePrototypeShareItsProgramAndAlertTheSame) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-prototype-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "miners_per_executable.yml")
      << "title: Miners per executable\nid: 0c0c0c0c-0000-4000-8000-000000000001\n"
         "level: high\ncorrelation:\n  type: event_count\n"
         "  rules: [6f1d3c2a-8b4e-4a57-9c1e-2d7f0b9a4e11]\n  group-by: [Image]\n"
         "  timespan: 1h\n  condition: {gte: 1}\n  generate: true\n";
  std::ofstream(dir / "exceptions.yaml")
      << "exceptions:\n  - name: Research sandbox\n    entries:\n"
         "      - {field: host.name, type: match, value: sandbox-03}\n";
  LoadResult loaded = load_rules({std::string(PICKAXE_SOURCE_DIR) + "/rules/t1204_003",
                                  std::string(PICKAXE_SOURCE_DIR) + "/rules/sigma",
                                  (dir / "miners_per_executable.yml").string()});
  Diagnostics exception_diagnostics;
  const ExceptionSet exceptions =
      load_exceptions((dir / "exceptions.yaml").string(), exception_diagnostics);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(exception_diagnostics.has_errors());
  ASSERT_FALSE(loaded.rules.empty());
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           std::string(PICKAXE_SOURCE_DIR) + "/emulations"))
    if (entry.path().extension() == ".ndjson") inputs.push_back(entry.path().string());
  std::sort(inputs.begin(), inputs.end());
  ASSERT_GE(inputs.size(), 6u);
  Schema schema;
  HuntOptions options;
  options.detection_time = "2026-01-01T00:00:00Z";
  options.exceptions = &exceptions;
  options.suppress_by = {"host.name", "process.name"};
  options.suppress_window = int64_t{60} * 1'000'000'000;
  using Alerts = std::vector<std::string>;
  auto into = [](Alerts& alerts) {
    return [&alerts](const Alert& alert) { alerts.push_back(alert.json); };
  };
  auto feed = [&](Hunter& hunter, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      std::ifstream in(inputs[i]);
      hunter.read(in, inputs[i]);
    }
  };
  Alerts alone, unused, first, second, taken_over;
  Diagnostics diagnostics;
  Hunter own(loaded.rules, schema, options, into(alone), {}, diagnostics);
  Hunter prototype(loaded.rules, schema, options, into(unused), {}, diagnostics);
  Hunter first_hunter(prototype, into(first), {});
  Hunter second_hunter(prototype, into(second), {});
  EXPECT_TRUE(first_hunter.shares_program_with(prototype));
  EXPECT_TRUE(second_hunter.shares_program_with(first_hunter));
  EXPECT_FALSE(own.shares_program_with(prototype));
  EXPECT_EQ(first_hunter.rule_set_identity(), own.rule_set_identity());

  feed(own, 0, inputs.size());
  own.finish();
  feed(first_hunter, 0, inputs.size());
  first_hunter.finish();
  // Half the inputs, saved; the rest read by another hunter of the prototype.
  const size_t half = inputs.size() / 2;
  feed(second_hunter, 0, half);
  std::string state, error;
  second_hunter.save(state);
  Hunter third_hunter(prototype, into(taken_over), {});
  ASSERT_TRUE(third_hunter.load(state, &error)) << error;
  feed(third_hunter, half, inputs.size());
  third_hunter.finish();

  EXPECT_GE(alone.size(), 10u);
  const HuntStats stats = own.stats();
  EXPECT_GT(stats.alerts_by_rule.count("Miners per executable"), 0u);  // the correlation
  EXPECT_FALSE(stats.excepted_by_item.empty());
  EXPECT_FALSE(stats.suppressed_by_rule.empty());
  EXPECT_EQ(first_hunter.stats().alerts_by_rule, stats.alerts_by_rule);
  EXPECT_EQ(first_hunter.stats().excepted_by_item, stats.excepted_by_item);
  EXPECT_EQ(first_hunter.stats().suppressed_by_rule, stats.suppressed_by_rule);
  EXPECT_EQ(first, alone);
  Alerts resumed = second;
  resumed.insert(resumed.end(), taken_over.begin(), taken_over.end());
  EXPECT_EQ(resumed, alone);
  EXPECT_TRUE(unused.empty());
}

}  // namespace
}  // namespace pickaxe::testing
