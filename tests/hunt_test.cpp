// pickaxe hunt: rules to ECS alert documents.
#include <sys/wait.h>

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

HuntRun hunt(const std::string& arguments) {
  std::string err_path =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-hunt-{}.err", ::getpid());
  std::string command = fmt::format("{} hunt --detection-time 2026-11-29T00:00:00.000Z {} 2>{}",
                                    PICKAXE_BINARY, arguments, err_path);
  HuntRun run;
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream in(out);
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
  ASSERT_EQ(run.lines.size(), 4u) << run.err;
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
  EXPECT_EQ(rules, (std::multiset<std::string>{"Cryptocurrency Miner Process Started",
                                               "Detect Malicious Image (seed, as published)",
                                               "Outbound Connection to a Mining Pool Port",
                                               "DNS Lookup of a Mining Pool Domain"}));
  EXPECT_NE(run.err.find("hunt: 4 rules, 5 events"), std::string::npos) << run.err;
  // Deterministic: the same input gives byte-identical alerts.
  EXPECT_EQ(hunt(source("examples/events.ndjson")).lines, run.lines);
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
    if (i > 0)
      EXPECT_EQ(alert["kibana.alert.group.index"].get_int64().value(), static_cast<int64_t>(i - 1));
  }
  EXPECT_EQ(groups[0], groups[1]);
  EXPECT_EQ(groups[1], groups[2]);
  EXPECT_NE(run.err.find("1 alerts"), std::string::npos)
      << run.err;  // building blocks are not counted
}

TEST(Hunt, SelectionAndExitCodes) {
  std::string events = source("examples/events.ndjson");
  EXPECT_EQ(hunt("--min-severity high " + events).lines.size(), 2u);
  EXPECT_EQ(hunt("--rule-id 9a7c3e1b-5d2f-4b8a-9c6d-1e2f3a4b5c62 " + events).lines.size(), 1u);
  EXPECT_EQ(hunt("--tag 'Domain: Network' " + events).lines.size(), 1u);
  EXPECT_EQ(hunt("--tag 'No Such Tag' " + events).lines.size(), 0u);
  EXPECT_EQ(hunt("--fail-on-alert " + events).exit_code, 1);
  EXPECT_EQ(hunt("--fail-on-alert --tag 'No Such Tag' " + events).exit_code, 0);
  EXPECT_EQ(hunt("--min-severity extreme " + events).exit_code, 2);
  EXPECT_EQ(hunt("--rules " + source("tests/data/broken.eql") + " " + events).exit_code, 1);
}

TEST(Hunt, TableFormat) {
  HuntRun run = hunt("--format table " + source("examples/events.ndjson"));
  ASSERT_EQ(run.lines.size(), 5u);
  EXPECT_TRUE(run.lines[0].starts_with("TIME")) << run.lines[0];
  EXPECT_NE(run.lines[4].find("pool.minexmr.com"), std::string::npos) << run.lines[4];
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
bool any_string(simdjson::dom::element value, const std::function<bool(std::string_view)>& predicate) {
  if (value.is_string()) return predicate(value.get_string().value());
  if (value.is_array()) {
    for (simdjson::dom::element item : value.get_array()) {
      if (item.is_string() && predicate(item.get_string().value())) return true;
    }
  }
  return false;
}

bool has(simdjson::dom::element document, const char* object, const char* key, std::string_view wanted) {
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
  return (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) || (a >> 24) == 127;
}

std::multiset<std::string> seed_matches(const std::string& path) {
  const std::set<std::string> miners = {"xmrig",    "xmrig-notls", "minerd",   "cpuminer", "cryptonight",
                                        "nbminer",  "t-rex",       "lolminer", "ethminer", "cgminer",
                                        "bfgminer", "claymore",    "phoenixminer", "teamtntbot"};
  std::vector<std::regex> arg_patterns;
  for (const char* p : {"stratum+tcp://*", "stratum+ssl://*", "--donate-level", "-o pool.*", "*xmrpool*",
                        "*supportxmr*", "*minexmr*", "*moneroocean*", "*hashvault*", "*nanopool*"})
    arg_patterns.push_back(glob(p));
  const std::set<int64_t> ports = {3333, 3334, 4444, 4445, 14444, 45560, 5555, 8333, 7777, 9999, 13333, 19999};
  const std::set<std::string> browsers = {"firefox.exe", "chrome.exe", "msedge.exe", "brave.exe", "opera.exe", "iexplore.exe"};
  const std::set<std::string> domains = {"minexmr.com", "supportxmr.com", "nanopool.org", "f2pool.com",
                                         "antpool.com", "pool.minergate.com", "xmrpool.eu", "hashvault.pro",
                                         "moneroocean.stream", "xmr.pool"};
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
      bool by_name = doc["process"]["name"].get_string().get(name) == simdjson::SUCCESS && miners.contains(std::string(name));
      bool by_args = doc["process"]["args"].get(value) == simdjson::SUCCESS && any_string(value, [&](std::string_view arg) {
        for (const auto& pattern : arg_patterns) {
          if (std::regex_match(std::string(arg), pattern)) return true;
        }
        return false;
      });
      if (by_name || by_args) ids.insert(id);
    }
    bool connection = has(doc, "event", "category", "network") && has(doc, "event", "type", "connection");
    // 2. A connection to a pool port, not to a private address, not by a browser.
    int64_t port = 0;
    if (connection && doc["destination"]["port"].get_int64().get(port) == simdjson::SUCCESS && ports.contains(port)) {
      std::string_view ip, process;
      bool private_ip = doc["destination"]["ip"].get_string().get(ip) == simdjson::SUCCESS && in_private_ipv4(ip);
      bool browser = doc["process"]["name"].get_string().get(process) == simdjson::SUCCESS &&
                     browsers.contains(std::string(process));
      if (!private_ip && !browser) ids.insert(id);
    }
    // 3. A DNS question for a pool domain, exactly.
    std::string_view question;
    if (connection && doc["dns"]["question"]["name"].get_string().get(question) == simdjson::SUCCESS &&
        domains.contains(std::string(question)))
      ids.insert(id);
  }
  return ids;
}

TEST(Hunt, SeedRuleOverGeneratedTelemetryMatchesAnIndependentEvaluation) {
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  if (std::system("python3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "python3 is not installed";
  std::string events = std::filesystem::temp_directory_path() / fmt::format("pickaxe-gen-{}.ndjson", ::getpid());
  ASSERT_EQ(std::system(fmt::format("python3 {}/tools/gen_ecs.py --events 30000 --hosts 300 --miners 20 > {}",
                                    shared_dir(), events)
                            .c_str()),
            0);
  std::multiset<std::string> expected = seed_matches(events);
  HuntRun run = hunt("--rules " + shared_dir() + "/seed/T1204.003-detect-malicious-image.txt " + events);
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
