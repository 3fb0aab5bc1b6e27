// The whole rule set's results, pinned: every detection-rules query that
// loads, plus the bundled pack, over generated telemetry, the emulations and
// events synthesised from each query's own fields and literals (with
// near-miss variants that change one literal). The multiset of (rule, event
// ids) must equal tests/data/golden/ruleset.txt; run with
// PICKAXE_UPDATE_GOLDEN=1 to rewrite it after a deliberate change.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "event/date_format.h"
#include "synthetic_events.h"
#include "test_util.h"
#include "util/json_writer.h"

namespace pickaxe::testing {
namespace {

namespace fs = std::filesystem;

struct RuleSetInputs {
  fs::path rules;      // detection-rules queries as rule files
  fs::path generated;  // gen_ecs.py telemetry
  fs::path synthetic;  // events built from the queries
  size_t queries = 0;
};

// Writes the detection-rules queries as TOML rules named by their line in
// the query file (rule names stay out of the golden), and the events built
// from them.
RuleSetInputs write_inputs(const fs::path& dir) {
  RuleSetInputs inputs;
  inputs.rules = dir / "rules";
  inputs.generated = dir / "generated.ndjson";
  inputs.synthetic = dir / "synthetic.ndjson";
  fs::create_directories(inputs.rules);
  simdjson::dom::parser parser;
  std::ifstream source(shared_dir() + "/conformance/eql/detection-rules-queries.jsonl");
  std::string line, synthetic;
  int64_t base = 1'790'000'000'000;  // 2026-09-21
  for (size_t number = 0; std::getline(source, line); ++number) {
    simdjson::dom::element item = parser.parse(line);
    bool deprecated = false;
    if (item["deprecated"].get(deprecated) != simdjson::SUCCESS) deprecated = false;
    if (deprecated) continue;
    std::string_view text = item["query"].get_string().value();
    char name[32];
    std::snprintf(name, sizeof name, "dr-%04zu", number);
    std::string toml = "[rule]\nname = \"" + std::string(name) + "\"\nquery = '''\n";
    std::string query(text);
    for (size_t at = 0; (at = query.find("'''", at)) != std::string::npos; at += 6)
      query.replace(at, 3, "\\'\\'\\'");
    toml += query + "\n'''\n";
    simdjson::dom::array index;
    if (item["index"].get(index) == simdjson::SUCCESS)
      toml += "index = " + simdjson::minify(index) + "\n";
    std::string_view override_field;
    if (item["timestamp_override"].get(override_field) == simdjson::SUCCESS)
      toml += "timestamp_override = \"" + std::string(override_field) + "\"\n";
    std::ofstream(inputs.rules / (std::string(name) + ".toml")) << toml;
    ++inputs.queries;

    Parsed parsed = parse(std::string(text));
    if (!parsed.ok()) continue;
    for (size_t a = 0; a < parsed.set.alternatives.size(); ++a) {
      synthesise(parsed.set.alternatives[a], std::string(name) + "-" + std::to_string(a), base,
                 synthetic);
      base += 600'000;  // ten minutes apart: no sequence spans two queries
    }
  }
  std::ofstream(inputs.synthetic) << synthetic;
  int exit_code = 0;
  std::string events = run_program({"/usr/bin/python3", shared_dir() + "/tools/gen_ecs.py",
                                    "--events", "50000", "--hosts", "200", "--miners", "20"},
                                   exit_code);
  EXPECT_EQ(exit_code, 0) << "gen_ecs.py failed";
  std::ofstream(inputs.generated) << events;
  return inputs;
}

// An event without event.id is named by a digest of what the alert copied
// from it (its fields other than kibana.* and the alert's own time).
std::string digest(simdjson::dom::object alert) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (auto [key, value] : alert) {
    if (key.starts_with("kibana.") || key == "@timestamp") continue;
    std::string text = std::string(key) + "=" + simdjson::minify(value) + ";";
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  }
  char out[24];
  std::snprintf(out, sizeof out, "doc-%016llx", static_cast<unsigned long long>(hash));
  return out;
}

// The alerts as "rule<TAB>event ids" lines, sorted: building-block alerts
// grouped under their sequence's group id.
std::vector<std::string> result_lines(const std::string& alerts) {
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> groups;
  std::vector<std::string> lines;
  simdjson::dom::parser parser;
  for_each_line(alerts, [&](std::string_view line, uint64_t) {
    if (line.empty()) return;
    simdjson::dom::element alert = parser.parse(line);
    std::string rule = value_at(alert, "kibana.alert.rule.name");
    if (rule.empty()) {
      std::string_view flat;
      if (alert["kibana.alert.rule.name"].get(flat) == simdjson::SUCCESS) rule = flat;
    }
    std::string group, id = value_at(alert, "event.id");
    std::string_view text;
    if (alert["kibana.alert.group.id"].get(text) == simdjson::SUCCESS) group = text;
    int64_t depth = 0;
    if (alert["kibana.alert.depth"].get(depth) != simdjson::SUCCESS) depth = 0;
    if (id.empty()) id = digest(alert);
    if (group.empty()) {
      lines.push_back(rule + "\t" + id);
    } else if (depth == 1) {  // a building block: one of the sequence's events
      groups[group].first = rule;
      groups[group].second.push_back(id);
    } else {
      groups[group].first = rule;
    }
  });
  for (auto& [group, members] : groups) {
    std::string line = members.first + "\t";
    for (size_t i = 0; i < members.second.size(); ++i) line += (i ? "," : "") + members.second[i];
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(RuleSetGolden, WholeRuleSetResultsAreUnchanged) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/detection-rules-queries.jsonl");
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  fs::path dir = fs::temp_directory_path() / ("pickaxe-golden-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  RuleSetInputs inputs = write_inputs(dir);
  ASSERT_GT(inputs.queries, 1000u);

  std::vector<std::string> args = {PICKAXE_BINARY,
                                   "hunt",
                                   "--format",
                                   "ndjson",
                                   "--detection-time",
                                   "2026-12-01T00:00:00Z",
                                   "--skip-invalid",
                                   "--rules",
                                   inputs.rules.string(),
                                   "--rules",
                                   std::string(PICKAXE_SOURCE_DIR) + "/rules",
                                   inputs.generated.string(),
                                   inputs.synthetic.string()};
  for (const auto& entry :
       fs::directory_iterator(std::string(PICKAXE_SOURCE_DIR) + "/emulations")) {
    if (entry.is_directory()) args.push_back(entry.path().string());
  }
  std::vector<std::string> one = args, two = args, four = args;
  one.insert(one.begin() + 2, {"--threads", "1"});
  two.insert(two.begin() + 2, {"--threads", "2"});
  four.insert(four.begin() + 2, {"--threads", "4"});  // engines in batches over two threads
  int exit_code = 0;
  std::string err;
  std::string alerts = run_program(one, exit_code, &err);
  ASSERT_EQ(exit_code, 0) << err.substr(0, 4000);
  std::string alerts_two = run_program(two, exit_code);
  ASSERT_EQ(exit_code, 0);
  EXPECT_TRUE(alerts == alerts_two) << "1 and 2 threads differ";  // alert ids are stable
  std::string alerts_four = run_program(four, exit_code);
  ASSERT_EQ(exit_code, 0);
  EXPECT_TRUE(alerts == alerts_four) << "1 and 4 threads differ";

  std::vector<std::string> lines = result_lines(alerts);
  std::set<std::string> rules;
  for (const std::string& line : lines) rules.insert(line.substr(0, line.find('\t')));
  std::string golden_path = std::string(PICKAXE_SOURCE_DIR) + "/tests/data/golden/ruleset.txt";
  std::string actual;
  for (const std::string& line : lines) actual += line + "\n";
  if (std::getenv("PICKAXE_UPDATE_GOLDEN")) {
    fs::create_directories(fs::path(golden_path).parent_path());
    std::ofstream(golden_path) << actual;
  }
  std::cout << "golden: " << lines.size() << " results from " << rules.size()
            << " distinct rules\n";
  std::vector<std::string> expected;
  for_each_line(read_text(golden_path), [&](std::string_view line, uint64_t) {
    if (!line.empty()) expected.emplace_back(line);
  });
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), lines.begin(), lines.end(),
                      std::back_inserter(missing));
  std::set_difference(lines.begin(), lines.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  std::string report;
  for (size_t i = 0; i < std::min<size_t>(20, missing.size()); ++i)
    report += "  missing: " + missing[i] + "\n";
  for (size_t i = 0; i < std::min<size_t>(20, extra.size()); ++i)
    report += "  extra:   " + extra[i] + "\n";
  EXPECT_TRUE(missing.empty() && extra.empty())
      << missing.size() << " results missing, " << extra.size() << " unexpected\n"
      << report;
  EXPECT_GT(rules.size(), 500u) << "the golden should exercise most rules";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pickaxe::testing
