// `pickaxe validate`: the coverage matrix for the pack and for the seed
// alone, both output formats, and the exit code.
#include <filesystem>
#include <fstream>
#include <ranges>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

struct Validation {
  int code = 0;
  std::string out;
  simdjson::dom::parser parser;
  simdjson::dom::element json;
};

void run_validate(Validation& run, const std::string& arguments) {
  run.out = run_command(
      fmt::format("{} validate --format json {} 2>/dev/null", PICKAXE_BINARY, arguments), run.code);
  ASSERT_EQ(run.parser.parse(run.out).get(run.json), simdjson::SUCCESS) << run.out;
}

simdjson::dom::element test_of(const Validation& run, int64_t id) {
  for (auto test : run.json["tests"].get_array())
    if (int64_t(test["id"]) == id) return test;
  ADD_FAILURE() << "no test " << id;
  return run.json;
}

std::vector<std::string> rules_in(simdjson::dom::element cell) {
  std::vector<std::string> rules;
  for (auto rule : cell["rules"].get_array()) rules.emplace_back(std::string_view(rule));
  return rules;
}

TEST(Validate, ThePackCatchesEveryTestInEverySourceWithoutFalsePositives) {
  Validation run;
  run_validate(run, "");
  EXPECT_EQ(run.code, 0) << run.out;
  ASSERT_EQ(run.json["tests"].get_array().size(), 5u);
  size_t cells = 0, not_carried = 0;
  for (auto test : run.json["tests"].get_array()) {
    for (auto [source, cell] : test["sources"].get_object()) {
      ++cells;
      if (!bool(cell["carries"])) {
        ++not_carried;  // telemetry that cannot show the behaviour: reported, not counted
        EXPECT_FALSE(std::string_view(cell["note"]).empty());
        continue;
      }
      EXPECT_TRUE(bool(cell["caught"])) << int64_t(test["id"]) << " " << source;
      EXPECT_FALSE(rules_in(cell).empty());
    }
  }
  // 4 + 3 + 4 + 1 + 3 sources hold telemetry of the five behaviours, and test 3
  // has its image, scanned before it runs.
  EXPECT_EQ(cells, 16u);
  EXPECT_EQ(not_carried, 0u);  // auditd's command line (from EXECVE) shows test 5 too
  EXPECT_EQ(int64_t(run.json["benign"]["alerts"]), 0);
  int false_positive_scenarios = 0;
  for (auto baseline : run.json["benign"]["baselines"].get_array()) {
    EXPECT_EQ(int64_t(baseline["alerts"]), 0) << std::string_view(baseline["name"]);
    if (std::string_view(baseline["kind"]) == "false-positive") {
      ++false_positive_scenarios;
      // Each one alerts when its tuning is off: the tuning is what silences it.
      EXPECT_GT(int64_t(baseline["alerts_without_tuning"]), 0)
          << std::string_view(baseline["name"]);
    }
  }
  EXPECT_EQ(false_positive_scenarios, 3);
  EXPECT_TRUE(bool(run.json["passed"]));
  EXPECT_EQ(run.json["broken_claims"].get_array().size(), 0u);
  // Specific cells: Docker sees the miner image; CloudTrail the community AMI.
  simdjson::dom::element docker = test_of(run, 1)["sources"]["docker"];
  EXPECT_EQ(rules_in(docker),
            std::vector<std::string>{"Container Image with a Miner Name Pulled or Run"});
  simdjson::dom::element trail = test_of(run, 4)["sources"]["cloudtrail"];
  EXPECT_EQ(rules_in(trail),
            std::vector<std::string>{"EC2 Instance Launched from an Unapproved AMI"});
}

TEST(Validate, TheSeedAloneShowsWhatItReallyCatchesAndWhy) {
  Validation run;
  std::string seed = fmt::format("--rules {}/rules/t1204_003/seed_detect_malicious_image.toml",
                                 PICKAXE_SOURCE_DIR);
  run_validate(run, seed);
  EXPECT_EQ(run.code, 0);  // no benign alert, and the seed declares no tests
  const std::string seed_name = "Detect Malicious Image (seed, as published)";
  auto caught_anywhere = [&](int64_t id) {
    bool caught = false;
    for (auto [source, cell] : test_of(run, id)["sources"].get_object())
      caught = caught || bool(cell["caught"]);
    return caught;
  };
  // Test 1: caught by the process query (#1).
  simdjson::dom::element endpoint1 = test_of(run, 1)["sources"]["endpoint"];
  EXPECT_TRUE(bool(endpoint1["caught"]));
  EXPECT_EQ(simdjson::minify(endpoint1["queries"][seed_name]), "[1]");
  // Test 2: caught by the port query (#2) in auditd; the DNS query (#3) never matches.
  simdjson::dom::element auditd2 = test_of(run, 2)["sources"]["auditd"];
  EXPECT_EQ(simdjson::minify(auditd2["queries"][seed_name]), "[1,2]");
  bool dns_matched = false;
  for (auto [source, cell] : test_of(run, 2)["sources"].get_object()) {
    simdjson::dom::array queries;
    if (cell["queries"][seed_name].get_array().get(queries) == simdjson::SUCCESS)
      for (auto query : queries) dns_matched = dns_matched || int64_t(query) == 3;
  }
  EXPECT_FALSE(dns_matched);
  std::string endpoint2 = simdjson::minify(test_of(run, 2)["sources"]["endpoint"]["reasons"]);
  EXPECT_NE(endpoint2.find("#3: lint exact-domain-match"), std::string::npos) << endpoint2;
  EXPECT_NE(endpoint2.find("#2: lint network-event-type"), std::string::npos) << endpoint2;
  // Tests 3, 4 and 5: missed everywhere, and every miss says why.
  for (int64_t id : {3, 4, 5}) {
    EXPECT_FALSE(caught_anywhere(id)) << id;
    for (auto [source, cell] : test_of(run, id)["sources"].get_object()) {
      if (bool(cell["carries"])) {
        EXPECT_GT(cell["reasons"].get_array().size(), 0u) << id << " " << source;
      }
    }
  }
  std::string cloudtrail = simdjson::minify(test_of(run, 4)["sources"]["cloudtrail"]["reasons"]);
  EXPECT_NE(cloudtrail.find("never set in these cloudtrail events"), std::string::npos);
  std::string docker = simdjson::minify(test_of(run, 3)["sources"]["docker"]["reasons"]);
  EXPECT_NE(docker.find("no rule reads logs-docker.event-default"), std::string::npos);
  std::string loopback = simdjson::minify(test_of(run, 3)["sources"]["auditd"]["reasons"]);
  EXPECT_NE(loopback.find("127.0.0.0/8"), std::string::npos) << loopback;
}

TEST(Validate, TheTableShowsTheMatrixAndTheReasons) {
  int code = 0;
  std::string out = run_command(
      fmt::format("{} validate --rules {}/rules/t1204_003/seed_detect_malicious_image.toml",
                  PICKAXE_BINARY, PICKAXE_SOURCE_DIR),
      code);
  EXPECT_EQ(code, 0);
  EXPECT_NE(
      out.find("1 Miner under a container runtime         -                  caught      caught "
               "     MISSED"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("no rule reads logs-sysmon_linux.log-default"), std::string::npos);
  // Test 3's image is scanned, and no rule given reads scan events.
  EXPECT_NE(out.find("3 Malicious-style image pull and run      MISSED"), std::string::npos);
  EXPECT_NE(out.find("no rule reads logs-pickaxe.scan-default"), std::string::npos);
  EXPECT_NE(out.find("2 of 5 tests caught; 0 alerts on benign baselines; variations: 2 of 48 "
                     "caught, 0 false positives of 34; passed"),
            std::string::npos)
      << out;
}

// Exit code 1: a benign baseline alerts, or a rule misses a test it declares.
TEST(Validate, FalsePositivesAndBrokenClaimsFail) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-validate-{}", ::getpid());
  std::filesystem::create_directories(dir / "emulations" / "4-ami");
  std::filesystem::create_directories(dir / "emulations" / "benign-noisy");
  std::filesystem::copy_file(
      std::string(PICKAXE_SOURCE_DIR) + "/emulations/4-ec2-community-ami/cloudtrail.json",
      dir / "emulations" / "4-ami" / "cloudtrail.json");
  std::ofstream(dir / "emulations" / "4-ami" / "test.toml")
      << "id = 4\nname = \"ami\"\nkind = \"test\"\n";
  std::ofstream(dir / "emulations" / "benign-noisy" / "test.toml")
      << "name = \"noisy\"\nkind = \"benign\"\n";
  std::ofstream(dir / "emulations" / "benign-noisy" / "endpoint.ndjson")
      << R"({"@timestamp":"2026-10-01T00:00:00Z","event":{"category":["process"],"type":["start"]},"process":{"name":"backup-agent"}})"
      << "\n";
  std::ofstream(dir / "noisy.toml") << R"([rule]
name = "Backup agent"
query = 'process where process.name == "backup-agent"'
)";
  std::ofstream(dir / "claims.toml") << R"([rule]
name = "Claims test 4"
query = 'process where process.name == "nothing"'
[pickaxe]
validates = [4]
)";
  std::string emulations = "--emulations " + (dir / "emulations").string();
  Validation noisy;
  run_validate(noisy, fmt::format("--rules {} {}", (dir / "noisy.toml").string(), emulations));
  EXPECT_EQ(noisy.code, 1);
  EXPECT_EQ(int64_t(noisy.json["benign"]["alerts"]), 1);
  EXPECT_EQ(int64_t(noisy.json["benign"]["by_rule"]["Backup agent"]), 1);
  Validation claims;
  run_validate(claims, fmt::format("--rules {} {}", (dir / "claims.toml").string(), emulations));
  EXPECT_EQ(claims.code, 1);
  ASSERT_EQ(claims.json["broken_claims"].get_array().size(), 1u);
  EXPECT_EQ(std::string_view(claims.json["broken_claims"].at(0)),
            "Claims test 4 declares test 4 but catches it in no source");
  Validation clean;
  run_validate(clean,
               fmt::format("--rules {}/rules/t1204_003/ec2_instance_from_unapproved_ami.toml {}",
                           PICKAXE_SOURCE_DIR, emulations));
  EXPECT_EQ(clean.code, 0) << clean.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

// The variation corpus: at least 40 malicious variations and 20 benign
// near-misses over every source, 90% caught and no benign one alerting with
// the shipped tuning, well above the seed rule alone.
TEST(Validate, TheVariationCorpusMeetsItsTargets) {
  Validation run;
  run_validate(run, "");
  EXPECT_EQ(run.code, 0) << run.out;
  simdjson::dom::element quality = run.json["quality"];
  const int64_t malicious = quality["malicious"], benign = quality["benign"];
  const int64_t caught = quality["caught"], seed_caught = quality["seed_caught"];
  EXPECT_GE(malicious, 40);
  EXPECT_GE(benign, 20);
  EXPECT_GE(caught * 10, malicious * 9) << caught << " of " << malicious;
  EXPECT_EQ(int64_t(quality["false_positives"]), 0);
  EXPECT_LT(seed_caught * 10, malicious) << "the seed rule alone catches fewer than one in ten";
  EXPECT_EQ(std::string_view(quality["seed"]), "Detect Malicious Image (seed, as published)");
  for (const char* source : {"endpoint", "auditd", "sysmon", "docker", "cloudtrail"}) {
    EXPECT_GT(int64_t(quality["by_source"][source]["malicious"]), 0) << source;
    EXPECT_GT(int64_t(quality["by_source"][source]["benign"]), 0) << source;
  }
  // The figures add up: per variation, per source and per rule.
  int64_t listed_caught = 0, listed_malicious = 0;
  for (auto variation : quality["variations"].get_array()) {
    bool bad = std::string_view(variation["kind"]) == "malicious";
    listed_malicious += bad;
    listed_caught += bad && variation["rules"].get_array().size() > 0;
  }
  EXPECT_EQ(listed_malicious, malicious);
  EXPECT_EQ(listed_caught, caught);
  size_t rules = 0;
  for (auto [rule, figures] : quality["by_rule"].get_object()) {
    ++rules;
    EXPECT_EQ(int64_t(figures["false_positives"]), 0) << rule;
  }
  EXPECT_EQ(rules, 18u);  // the pack without the seed rule
  // The table says the same.
  int code = 0;
  std::string table = run_command(fmt::format("{} validate 2>/dev/null", PICKAXE_BINARY), code);
  EXPECT_NE(table.find(fmt::format("variations: {} of {} caught, 0 false positives of {}; passed",
                                   caught, malicious, benign)),
            std::string::npos)
      << table;
}

// A benign near-miss that alerts fails validate; a broken manifest is an error
// naming its line.
TEST(Validate, AVariationFalsePositiveOrABrokenManifestFails) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / fmt::format("pickaxe-variations-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string corpus = std::string(PICKAXE_SOURCE_DIR) + "/tests/data/rules/variations";
  fs::copy_file(corpus + "/kinsing-kdevtmpfsi.endpoint.ndjson", dir / "miner.ndjson");
  std::ofstream(dir / "manifest.toml")
      << "[[variation]]\nid = \"said-benign\"\nkind = \"benign\"\nsource = \"endpoint\"\n"
         "file = \"miner.ndjson\"\nstory = \"a miner called benign\"\nreference = \"https://x\"\n";
  Validation run;
  run_validate(run, "--variations " + dir.string());
  EXPECT_EQ(run.code, 1);
  EXPECT_FALSE(bool(run.json["passed"]));
  EXPECT_EQ(int64_t(run.json["quality"]["false_positives"]), 1);
  int code = 0;
  std::string table = run_command(
      fmt::format("{} validate --variations {} 2>/dev/null", PICKAXE_BINARY, dir.string()), code);
  EXPECT_NE(table.find("false positive: said-benign (endpoint) by Cryptocurrency Miner"),
            std::string::npos)
      << table;
  // A corpus line that cannot be read fails too: its figures would mean nothing.
  std::ofstream(dir / "broken.ndjson") << "{\"@timestamp\": \n";
  std::ofstream(dir / "manifest.toml")
      << "[[variation]]\nid = \"broken\"\nkind = \"benign\"\nsource = \"endpoint\"\n"
         "file = \"broken.ndjson\"\n";
  table = run_command(
      fmt::format("{} validate --variations {} 2>/dev/null", PICKAXE_BINARY, dir.string()), code);
  EXPECT_EQ(code, 1);
  EXPECT_NE(table.find("input problem: " + (dir / "broken.ndjson").string() + ":1:"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("0 false positives of 1, 1 input problems; FAILED"), std::string::npos)
      << table;
  std::ofstream(dir / "manifest.toml")
      << "[[variation]]\nid = \"said-benign\"\nkind = \"benign\"\nsource = \"endpoint\"\n"
         "file = \"miner.ndjson\"\nstory = \"a miner called benign\"\nreference = \"https://x\"\n";
  std::ofstream(dir / "manifest.toml", std::ios::app)
      << "\n[[variation]]\nid = \"odd\"\nkind = \"curious\"\nsource = \"endpoint\"\n"
         "file = \"miner.ndjson\"\n";
  std::string err = run_command(
      fmt::format("{} validate --variations {} 2>&1 >/dev/null", PICKAXE_BINARY, dir.string()),
      code);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("manifest.toml:11: variation \"odd\": kind is \"curious\"; use \"malicious\" "
                     "or \"benign\""),
            std::string::npos)
      << err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

// The README's detection-quality table is what validate prints.
TEST(Validate, TheReadmeTableIsTheValidateOutput) {
  int code = 0;
  std::string out = run_command(
      fmt::format("cd {} && {} validate 2>/dev/null", PICKAXE_SOURCE_DIR, PICKAXE_BINARY), code);
  EXPECT_EQ(code, 0);
  auto table_of = [](const std::string& text) {
    size_t begin = text.find("Detection quality:");
    size_t end = text.find("\n\nRULE", begin);
    return begin == std::string::npos || end == std::string::npos ? std::string()
                                                                  : text.substr(begin, end - begin);
  };
  std::string shown = table_of(read_text(std::string(PICKAXE_SOURCE_DIR) + "/README.md"));
  std::string printed;
  for (std::string_view line :
       std::views::split(table_of(out), '\n') | std::views::transform([](auto range) {
         return std::string_view(range.begin(), range.end());
       })) {
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    printed += std::string(line) + "\n";
  }
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(shown + "\n", printed) << out;
}

// Over generated Endpoint telemetry with planted miners, the pack alerts on
// the planted events only: their processes are the generator's miners.
TEST(Validate, ThePackAlertsOnlyOnTheGeneratorsMaliciousEvents) {
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  namespace fs = std::filesystem;
  fs::path file = fs::temp_directory_path() / fmt::format("pickaxe-gen-{}.ndjson", ::getpid());
  int code = 0;
  run_command(fmt::format("python3 {}/tools/gen_ecs.py --events 60000 --hosts 300 --miners 12 > {}",
                          shared_dir(), file.string()),
              code);
  ASSERT_EQ(code, 0);
  std::string alerts = run_command(
      fmt::format("{} hunt --format ndjson --detection-time 2026-01-01T00:00:00Z --exceptions "
                  "{}/rules/t1204_003/tuning/exceptions.yaml {} 2>/dev/null",
                  PICKAXE_BINARY, PICKAXE_SOURCE_DIR, file.string()),
      code);
  EXPECT_EQ(code, 0);
  fs::remove(file);
  simdjson::dom::parser parser;
  size_t on_miners = 0;
  std::set<std::string> rules;
  std::istringstream in(alerts);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element alert = parser.parse(line).value();
    std::string_view process;
    if (alert["process"]["name"].get(process) != simdjson::SUCCESS) process = "";
    EXPECT_TRUE(process == "xmrig" || process == "minerd" || process == "kworkerds") << line;
    on_miners += process == "xmrig" || process == "minerd" || process == "kworkerds";
    rules.emplace(alert["kibana.alert.rule.name"].get_string().value());
  }
  EXPECT_GE(on_miners, 12u * 3);  // every planted process, connection and lookup
  EXPECT_GE(rules.size(), 6u) << alerts;
}

}  // namespace
}  // namespace pickaxe::testing
