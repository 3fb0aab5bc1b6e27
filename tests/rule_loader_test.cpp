#include "rules/rule_loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "diag/diagnostic.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / fs::path("pickaxe-test-" + std::to_string(::getpid()) +
                                                 "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

const char* kToml = R"([metadata]
creation_date = "2026/11/01"

[rule]
author = ["pickaxe"]
name = "Miner Process"
rule_id = "11111111-2222-3333-4444-555555555555"
description = "A miner started."
severity = "high"
risk_score = 73
language = "eql"
type = "eql"
index = ["logs-endpoint.events.process-*"]
tags = ["Domain: Endpoint", "OS: Linux"]
timestamp_override = "event.ingested"
max_signals = 50
query = '''
process where event.type == "start" and
  process.name = "xmrig"
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0002"
name = "Execution"
[[rule.threat.technique]]
id = "T1204"
name = "User Execution"
[[rule.threat.technique.subtechnique]]
id = "T1204.003"
name = "Malicious Image"
)";

TEST(RuleLoader, ReadsDetectionRulesToml) {
  TempDir dir;
  std::string path = dir.write("miner.toml", kToml);
  LoadResult result = load_rules({path});
  ASSERT_EQ(result.rules.size(), 1u);
  const Rule& rule = result.rules[0];
  EXPECT_EQ(rule.name, "Miner Process");
  EXPECT_EQ(rule.rule_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(rule.severity, "high");
  EXPECT_EQ(rule.risk_score, 73);
  EXPECT_EQ(rule.max_signals, 50);
  EXPECT_EQ(rule.timestamp_override, "event.ingested");
  EXPECT_EQ(rule.index, std::vector<std::string>{"logs-endpoint.events.process-*"});
  EXPECT_EQ(rule.tags.size(), 2u);
  ASSERT_EQ(rule.threats.size(), 1u);
  EXPECT_EQ(rule.threats[0].tactic_id, "TA0002");
  ASSERT_EQ(rule.threats[0].techniques.size(), 1u);
  EXPECT_EQ(rule.threats[0].techniques[0].subtechniques.at(0).id, "T1204.003");
  // The `=` error points at its line and column in the TOML file.
  ASSERT_EQ(rule.diagnostics.error_count(), 1u);
  const Diagnostic& d = rule.diagnostics.items()[0];
  Position position = d.source->position(d.span.begin);
  EXPECT_EQ(position.line, 19u);
  EXPECT_EQ(position.column, 16u);
  EXPECT_EQ(d.source->line_text(19), "  process.name = \"xmrig\"");
}

TEST(RuleLoader, TomlWithEscapedQueryStillPointsAtItsLine) {
  TempDir dir;
  std::string path = dir.write(
      "escaped.toml",
      "[rule]\nname = \"x\"\nlanguage = \"eql\"\nquery = \"process where a = \\\"\\u0041\\\"\"\n");
  LoadResult result = load_rules({path});
  ASSERT_EQ(result.rules.size(), 1u);
  const Diagnostic& d = result.rules[0].diagnostics.items().at(0);
  EXPECT_EQ(d.source->position(d.span.begin).line, 4u);
}

TEST(RuleLoader, TomlErrorsAndOtherLanguages) {
  TempDir dir;
  std::string broken = dir.write("broken.toml", "[rule\nname = 1\n");
  std::string kuery = dir.write("kuery.toml", "[rule]\nlanguage = \"kuery\"\nquery = \"a:b\"\n");
  std::string no_query = dir.write("noquery.toml", "[rule]\nname = \"x\"\n");
  LoadResult result = load_rules({broken, kuery, no_query});
  EXPECT_TRUE(result.rules.empty());
  ASSERT_EQ(result.file_diagnostics.size(), 3u);
  EXPECT_EQ(result.file_diagnostics[0].items()[0].code, "toml-syntax");
  EXPECT_EQ(result.file_diagnostics[0]
                .source()
                ->position(result.file_diagnostics[0].items()[0].span.begin)
                .line,
            1u);
  EXPECT_EQ(result.file_diagnostics[1].items()[0].severity, Severity::Note);
  EXPECT_EQ(result.file_diagnostics[2].items()[0].code, "toml-no-query");
}

TEST(RuleLoader, ReadsDirectoriesRecursivelyInOrder) {
  TempDir dir;
  dir.write("b/two.eql", "network where destination.port == 3333");
  dir.write("a/one.eql", "process where process.name == \"xmrig\"");
  dir.write("a/notes.txt", "just notes, not a rule page");
  dir.write("a/readme.md", "# not a rule");
  LoadResult result = load_rules({dir.path()});
  ASSERT_EQ(result.rules.size(), 2u);
  EXPECT_EQ(result.rules[0].name, "one");
  EXPECT_EQ(result.rules[1].name, "two");
  EXPECT_TRUE(result.rules[0].loaded());
  EXPECT_EQ(result.rules[0].rule_id.size(), 36u);
}

// Files are read on several threads; rules, their diagnostics and the files'
// problems come out as one thread gives them, correlations linked across files.
TEST(RuleLoader, SeveralThreadsLoadWhatOneLoads) {
  TempDir dir;
  dir.write("a/broken.toml", "[rule\nname = 1\n");
  dir.write("a/bad.eql", "process where process.name ==");
  dir.write("b/binary.eql", std::string("process\0where", 13));
  dir.write("b/notes.txt", "not a rule page");
  // A correlation over a pack rule, in another folder.
  dir.write("c/miners.yml",
            "title: Miners per executable\nid: 0c0c0c0c-0000-4000-8000-000000000001\n"
            "level: high\ncorrelation:\n  type: event_count\n"
            "  rules: [6f1d3c2a-8b4e-4a57-9c1e-2d7f0b9a4e11]\n  group-by: [Image]\n"
            "  timespan: 1h\n  condition: {gte: 1}\n");
  std::vector<std::string> paths = {std::string(PICKAXE_SOURCE_DIR) + "/rules", dir.path(),
                                    "/nonexistent/rules.eql"};
  auto describe = [](const LoadResult& result) {
    std::string out = fmt::format("{} files\n", result.files_read);
    for (const Rule& rule : result.rules) {
      out += fmt::format("rule {} {} {}\n", rule.rule_id, rule.name, rule.loaded());
      for (const Diagnostic& d : rule.diagnostics.items()) out += render_text(d);
      if (rule.correlation)
        for (const auto& input : rule.correlation->inputs)
          out += fmt::format(" reads {} {}\n", input.rule_id, fmt::join(input.group_fields, ","));
    }
    for (const Diagnostics& file : result.file_diagnostics)
      for (const Diagnostic& d : file.items()) out += render_text(d);
    return out;
  };
  const LoadResult one = load_rules(paths, nullptr, 1);
  EXPECT_GT(one.rules.size(), 20u);
  EXPECT_GE(one.file_diagnostics.size(), 3u);
  const std::string expected = describe(one);
  EXPECT_NE(expected.find("reads "), std::string::npos);  // a correlation was linked
  EXPECT_EQ(describe(load_rules(paths, nullptr, 2)), expected);
  EXPECT_EQ(describe(load_rules(paths, nullptr, 5)), expected);
}

TEST(RuleLoader, MissingPathIsAnError) {
  LoadResult result = load_rules({"/nonexistent/rules.eql"});
  ASSERT_EQ(result.file_diagnostics.size(), 1u);
  EXPECT_TRUE(result.file_diagnostics[0].has_errors());
}

TEST(RuleLoader, ReadsTheSeedPage) {
  PICKAXE_REQUIRE_SHARED("seed/T1204.003-detect-malicious-image.txt");
  LoadResult result = load_rules({shared_dir() + "/seed/T1204.003-detect-malicious-image.txt"});
  ASSERT_EQ(result.rules.size(), 1u);
  const Rule& rule = result.rules[0];
  EXPECT_EQ(rule.format, RuleFormat::SeedPage);
  EXPECT_TRUE(rule.loaded()) << rule.diagnostics.items().size();
  EXPECT_EQ(rule.name, "Detect Malicious Image");
  EXPECT_EQ(rule.severity, "high");
  EXPECT_EQ(rule.risk_score, 73);
  ASSERT_EQ(rule.query.alternatives.size(), 3u);
  EXPECT_TRUE(rule.query.alternatives[0].is_single_step_sequence());
  // Required Tables, then the data streams of the named Data Sources
  // ("Filebeat with Auditd module").
  EXPECT_EQ(rule.index, (std::vector<std::string>{
                            "logs-endpoint.events.process-*", "logs-endpoint.events.network-*",
                            "logs-endpoint.events.dns-*", "logs-aws.cloudtrail-*",
                            "logs-auditd_manager.auditd-*", "logs-auditd.log-*"}));
  ASSERT_EQ(rule.threats.size(), 1u);
  EXPECT_EQ(rule.threats[0].tactic_id, "TA0002");
  EXPECT_EQ(rule.threats[0].techniques.at(0).id, "T1204");
  EXPECT_EQ(rule.threats[0].techniques.at(0).subtechniques.at(0).id, "T1204.003");
  EXPECT_EQ(rule.false_positives.size(), 3u);
  EXPECT_EQ(rule.tags, (std::vector<std::string>{"Seed Dialect", "Confidence: High"}));
  EXPECT_NE(rule.description.find("cryptocurrency miner"), std::string::npos);
  // The query cut from the page parses the same way.
  std::string text =
      rule.source->text().substr(rule.query_begin, rule.query_end - rule.query_begin);
  Parsed cut = parse(text);
  EXPECT_TRUE(cut.ok());
  EXPECT_TRUE(cut.set == rule.query);
}

}  // namespace
}  // namespace pickaxe::testing
