// End-to-end tests of the pickaxe binary: exit codes, text and JSON output.
#include <sys/wait.h>

#include <cstdio>

#include <simdjson.h>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

RunResult run(const std::string& arguments) {
  RunResult result;
  result.out =
      run_command(std::string(PICKAXE_BINARY) + " " + arguments + " 2>&1", result.exit_code);
  return result;
}

std::string source_path(const std::string& relative) {
  return std::string(PICKAXE_SOURCE_DIR) + "/" + relative;
}

TEST(Cli, HelpForEachCommand) {
  for (const char* command : {"", "lint ", "fmt "}) {
    RunResult result = run(std::string(command) + "--help");
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << result.out;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("frobnicate").exit_code, 2);
  EXPECT_EQ(run("lint").exit_code, 2);
  EXPECT_EQ(run("lint --format yaml x.eql").exit_code, 2);
}

TEST(Cli, LintSeedPageExitsZeroWithWarningsAtLineAndColumn) {
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  RunResult result = run("lint " + shared_dir() + "/seed/T1204.003-detect-malicious-image.txt");
  EXPECT_EQ(result.exit_code, 0) << result.out;
  for (const char* expected : {
           "T1204.003-detect-malicious-image.txt:22:1: warning[one-step-sequence]",
           "T1204.003-detect-malicious-image.txt:27:82: warning[args-whitespace]",
           "T1204.003-detect-malicious-image.txt:31:1: warning[nor-alternatives]",
           "T1204.003-detect-malicious-image.txt:35:11: warning[ip-wildcard-cidr]",
           "T1204.003-detect-malicious-image.txt:35:11: warning[ipv6-gap]",
           "T1204.003-detect-malicious-image.txt:38:1: warning[nor-alternatives]",
           "T1204.003-detect-malicious-image.txt:40:43: warning[dns-event-type]",
           "T1204.003-detect-malicious-image.txt:41:7: warning[exact-domain-match]",
           "= fix: cidrMatch(destination.ip, \"10.0.0.0/8\", \"172.16.0.0/12\", "
           "\"192.168.0.0/16\", \"127.0.0.0/8\")\n",
           "= fix: network.protocol == \"dns\"",
           "1 rule in 1 file: 1 loaded, 0 errors, 10 warnings",
       }) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << result.out;
  }
}

TEST(Cli, LintBrokenFileReportsEveryError) {
  RunResult result = run("lint " + source_path("tests/data/broken.eql"));
  EXPECT_EQ(result.exit_code, 1) << result.out;
  for (const char* expected : {
           "broken.eql:2:28: error[assignment-operator]",
           "broken.eql:6:35: error[single-quoted-string]",
           "broken.eql:6:64: error[syntax]: expected '(' after `in`",
           "broken.eql:10:23: error[syntax]: maxspan needs a time unit",
           "broken.eql:10:25: error[syntax]: the sequence's `by` must come before `with maxspan`",
           "broken.eql:11:46: error[syntax]: expected ')' to close the call to startsWith",
           "broken.eql:13:3: error[legacy-pipe]",
           "broken.eql:17:31: error[bad-escape]",
           "broken.eql:17:39: error[unknown-function]",
       }) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << result.out;
  }
  // Every error shows its source line and a caret.
  size_t errors = 0, warnings = 0, carets = 0;
  for (size_t pos = 0; (pos = result.out.find(": error[", pos)) != std::string::npos; ++pos)
    ++errors;
  for (size_t pos = 0; (pos = result.out.find(": warning[", pos)) != std::string::npos; ++pos)
    ++warnings;
  for (size_t pos = 0; (pos = result.out.find(" | ", pos)) != std::string::npos; ++pos) {
    size_t line_end = result.out.find('\n', pos);
    if (result.out.substr(pos, line_end - pos).find('^') != std::string::npos) ++carets;
  }
  EXPECT_GE(errors, 8u);
  EXPECT_EQ(carets, errors + warnings) << result.out;
}

TEST(Cli, LintJsonIsValidAndComplete) {
  RunResult result = run("lint --format json " + source_path("tests/data/broken.eql") + " " +
                         source_path("rules"));
  EXPECT_EQ(result.exit_code, 1);
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  ASSERT_EQ(parser.parse(result.out).get(document), simdjson::SUCCESS) << result.out;
  int64_t errors = document["errors"].get_int64().value();
  EXPECT_GE(errors, 8);
  size_t error_entries = 0;
  for (simdjson::dom::element d : document["diagnostics"].get_array()) {
    std::string_view severity = d["severity"].get_string().value();
    if (severity == "error") ++error_entries;
    EXPECT_GE(d["line"].get_int64().value(), 1);
    EXPECT_GE(d["column"].get_int64().value(), 1);
    EXPECT_FALSE(d["code"].get_string().value().empty());
  }
  EXPECT_EQ(static_cast<int64_t>(error_entries), errors);
  // broken.eql, the 19 EQL rules of the pack, its two Sigma forms and its scan rules.
  EXPECT_EQ(document["rules"].get_array().size(), 22u + scan_rule_count());
  EXPECT_EQ(document["skipped"].get_int64().value(), 0);
}

TEST(Cli, StrictTurnsWarningsIntoErrors) {
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  RunResult result =
      run("lint --strict " + shared_dir() + "/seed/T1204.003-detect-malicious-image.txt");
  EXPECT_EQ(result.exit_code, 1);
}

TEST(Cli, BundledRulesLoad) {
  RunResult result = run("lint " + source_path("rules"));
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find(", 0 errors,"), std::string::npos) << result.out;
}

TEST(Cli, FmtPrintsCanonicalEql) {
  RunResult result = run("fmt " + source_path("rules/t1204_003/mining_pool_dns.toml"));
  EXPECT_EQ(result.exit_code, 0) << result.out;
  // The query's list comments are gone; the domains of lists/pool-domains.txt stay.
  EXPECT_TRUE(result.out.starts_with("network where dns.question.name : (\"2miners.com\""))
      << result.out;
  EXPECT_EQ(run("fmt " + source_path("tests/data/broken.eql")).exit_code, 1);
}

TEST(Cli, MissingFileIsAnInputError) {
  RunResult result = run("lint /nonexistent/rule.eql");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find("/nonexistent/rule.eql: no such file or directory"), std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace pickaxe::testing
