// pickaxe convert: Sigma, ES|QL, SPL and KQL renderings of the T1204.003 pack
// (golden files), the forms of single constructs, and what a target cannot say.
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

struct Converted {
  int exit_code = -1;
  std::string out;
};

// With `errors`, stderr comes too (after stdout's text).
Converted convert(const std::string& target, const std::string& path, bool errors = true) {
  Converted converted;
  converted.out = run_command(fmt::format("{} convert --to {} {} {}", PICKAXE_BINARY, target, path,
                                          errors ? "2>&1" : "2>/dev/null"),
                              converted.exit_code);
  return converted;
}

// Each pack rule in each language, as tests/data/export holds it (set
// PICKAXE_UPDATE_GOLDEN=1 to write the files anew, then read the diff).
TEST(Export, PackGoldenFiles) {
  const std::string pack = std::string(PICKAXE_SOURCE_DIR) + "/rules/t1204_003";
  const std::string golden = std::string(PICKAXE_SOURCE_DIR) + "/tests/data/export";
  const bool update = std::getenv("PICKAXE_UPDATE_GOLDEN") != nullptr;
  size_t compared = 0, refused = 0;
  for (const auto& entry : std::filesystem::directory_iterator(pack)) {
    if (entry.path().extension() != ".toml") continue;
    for (const char* target : {"sigma", "esql", "spl", "kql"}) {
      // What a language cannot say (a sequence in SPL) is kept as the error, in
      // <rule>.<target>.error.
      Converted converted = convert(target, entry.path().string(), false);
      const bool failed = converted.exit_code != 0;
      if (failed) {
        converted = convert(target, entry.path().string(), true);
        // The message names the rule file: as the repository does, wherever it is checked out.
        for (size_t at;
             (at = converted.out.find(std::string(PICKAXE_SOURCE_DIR) + "/")) != std::string::npos;)
          converted.out.erase(at, std::string(PICKAXE_SOURCE_DIR).size() + 1);
      }
      ASSERT_NE(std::string(target) == "sigma" && failed, true) << entry.path() << converted.out;
      const std::string file = fmt::format("{}/{}.{}{}", golden, entry.path().stem().string(),
                                           target, failed ? ".error" : "");
      if (update) std::ofstream(file) << converted.out;
      EXPECT_EQ(converted.out, read_text(file)) << file;
      ++compared;
      refused += failed;
    }
  }
  EXPECT_EQ(compared, 76u);  // 19 rules, 4 languages
  EXPECT_EQ(refused, 10u);   // sequences outside Sigma, regular expressions in SPL
}

std::string render(const std::string& target, const std::string& query) {
  const std::string path =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-export-{}.eql", ::getpid());
  std::ofstream(path) << query;
  Converted converted = convert(target, path);
  std::filesystem::remove(path);
  return converted.exit_code == 0 ? converted.out : "error: " + converted.out;
}

TEST(Export, Forms) {
  const std::string query =
      "process where process.name : \"*xmr*\" and not process.parent.name in~ (\"bash\", \"sh\") "
      "and process.pid > 10 and process.command_line like \"run?\" and "
      "cidrMatch(source.ip, \"10.0.0.0/8\", \"fe80::/10\") and user.name != null";
  EXPECT_EQ(render("esql", query),
            "FROM logs-*\n| WHERE event.category == \"process\" AND TO_LOWER(process.name) LIKE "
            "\"*xmr*\" AND NOT TO_LOWER(process.parent.name) IN (\"bash\", \"sh\") AND "
            "process.pid > 10 AND process.command_line LIKE \"run?\" AND CIDR_MATCH(source.ip, "
            "\"10.0.0.0/8\", \"fe80::/10\") AND user.name IS NOT NULL\n");
  EXPECT_EQ(render("kql", query),
            "DeviceProcessEvents\n| where FileName contains \"xmr\" and "
            "not(InitiatingProcessFileName in~ (\"bash\", \"sh\")) and ProcessId > 10 and "
            "ProcessCommandLine matches regex \"^run.$\" and (ipv4_is_in_any_range(['source.ip'], "
            "\"10.0.0.0/8\") or ipv6_is_in_any_range(['source.ip'], \"fe80::/10\")) and "
            "isnotempty(AccountName)\n");
  // SPL's NOT matches events without the field: the field must exist, as under EQL's not.
  EXPECT_EQ(render("spl",
                   "process where process.name == \"a\" and not process.parent.name : "
                   "\"b*\""),
            "search index=* tag=process AND process_name=CASE(\"a\") AND parent_process_name=* "
            "NOT parent_process_name=\"b*\"\n");
  EXPECT_NE(render("spl", "process where process.name : \"a?c\"").find("single-character"),
            std::string::npos);
  // head and tail.
  EXPECT_NE(render("esql", "process where true | tail 5").find("| SORT @timestamp DESC\n| LIMIT 5"),
            std::string::npos);
}

TEST(Export, WhatATargetCannotSayIsAnError) {
  for (const char* target : {"esql", "spl", "kql"}) {
    std::string sequence = render(target,
                                  "sequence with maxspan=1m [process where a == 1] "
                                  "[network where b == 2]");
    EXPECT_TRUE(sequence.starts_with("error:")) << sequence;
    EXPECT_NE(sequence.find("a sequence has no"), std::string::npos) << sequence;
    EXPECT_NE(sequence.find("temporal_ordered"), std::string::npos) << sequence;
    std::string sample =
        render(target, "sample by host.name [process where a == 1] [network where b == 2]");
    EXPECT_NE(sample.find("a sample has no"), std::string::npos) << sample;
    std::string function = render(target, "process where length(process.name) > 3");
    EXPECT_TRUE(function.starts_with("error:")) << function;
  }
}

TEST(Export, CountingCorrelationsAggregate) {
  const std::string path =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-export-{}.yml", ::getpid());
  std::ofstream(path)
      << "title: Many shells\nid: 00000000-0000-4000-8000-000000000301\n"
         "correlation:\n  type: value_count\n  rules: [shell]\n"
         "  group-by: [User]\n  timespan: 10m\n"
         "  condition: {field: CommandLine, gte: 3}\n"
         "---\ntitle: Shell\nname: shell\nid: 00000000-0000-4000-8000-000000000302\n"
         "logsource: {category: process_creation}\n"
         "detection:\n  sel: {Image|endswith: /bash}\n  condition: sel\n";
  Converted esql = convert("esql", path);
  EXPECT_NE(esql.out.find("| STATS count = COUNT_DISTINCT(process.command_line) BY window = "
                          "BUCKET(@timestamp, 10 minutes), user.name\n| WHERE count >= 3"),
            std::string::npos)
      << esql.out;
  Converted spl = convert("spl", path);
  EXPECT_NE(spl.out.find("| bin _time span=10m\n| stats dc(process) as count by _time, user\n| "
                         "where count >= 3"),
            std::string::npos)
      << spl.out;
  Converted kql = convert("kql", path);
  EXPECT_NE(kql.out.find("| summarize count_ = dcount(ProcessCommandLine) by bin(TimeGenerated, "
                         "10m), AccountName\n| where count_ >= 3"),
            std::string::npos)
      << kql.out;
  Converted eql = convert("eql", path);
  EXPECT_EQ(eql.exit_code, 1);
  EXPECT_NE(eql.out.find("no single EQL query"), std::string::npos) << eql.out;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pickaxe::testing
