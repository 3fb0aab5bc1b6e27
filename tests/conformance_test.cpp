// Conformance: every production EQL query of Elastic's detection-rules parses
// and round-trips through the printer; every spec query of Elasticsearch and
// python-eql parses, except those in legacy-only syntax, listed here.
#include <map>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>
#include <toml++/toml.h>

#include "lint/linter.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

struct SpecQuery {
  std::string file;
  std::string name;
  std::string query;
};

std::vector<SpecQuery> load_spec(const std::string& relative) {
  std::vector<SpecQuery> queries;
  std::string path = shared_dir() + "/" + relative;
  toml::table table = toml::parse(lenient_toml(read_text(path)), path);
  int index = 0;
  if (const toml::array* list = table["queries"].as_array()) {
    for (const toml::node& node : *list) {
      const toml::table* entry = node.as_table();
      ++index;
      if (!entry) continue;
      auto query = (*entry)["query"].value<std::string>();
      if (!query) continue;
      std::string name = (*entry)["name"].value_or(std::to_string(index));
      queries.push_back({relative, name, *query});
    }
  }
  return queries;
}

TEST(Conformance, DetectionRulesQueriesParseAndRoundTrip) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/detection-rules-queries.jsonl");
  std::string path = shared_dir() + "/conformance/eql/detection-rules-queries.jsonl";
  simdjson::ondemand::parser parser;
  simdjson::padded_string text = simdjson::padded_string::load(path);
  simdjson::ondemand::document_stream stream = parser.iterate_many(text);
  size_t count = 0, failures = 0;
  std::string report;
  for (auto doc : stream) {
    std::string_view query_view, name_view;
    ASSERT_EQ(doc["name"].get_string().get(name_view), simdjson::SUCCESS);
    ASSERT_EQ(doc["query"].get_string().get(query_view), simdjson::SUCCESS);
    std::string name(name_view), query(query_view);
    ++count;
    Parsed parsed = parse(query);
    if (!parsed.ok()) {
      ++failures;
      if (failures <= 10) report += "== " + name + "\n" + parsed.messages();
      continue;
    }
    std::string round_trip = round_trip_failure(parsed.set);
    if (!round_trip.empty()) {
      ++failures;
      if (failures <= 10) report += "== " + name + "\n" + round_trip + "\n";
    }
  }
  EXPECT_EQ(count, 1094u);
  EXPECT_EQ(failures, 0u) << report;
}

// Spec queries that use syntax Elasticsearch does not accept, and why.
const std::map<std::string, std::string>& legacy_codes() {
  static const std::map<std::string, std::string> codes = {
      {"assignment-operator", "`=` comparison"},
      {"single-quoted-string", "single-quoted string"},
      {"legacy-raw-string", "?\"...\" raw string"},
      {"legacy-pipe", "legacy pipe (count, unique, filter, sort, unique_count)"},
      {"legacy-lineage", "descendant/child/event of"},
      {"unknown-function", "legacy function (wildcard, arrayContains, ...)"},
      {"array-index", "array index"},
      {"legacy-step-option", "step option such as fork="},
  };
  return codes;
}

struct SpecResult {
  size_t total = 0;
  size_t parsed = 0;
  std::map<std::string, size_t> legacy_by_reason;
  std::string legacy_listing;  // "<file> #<n>: <reason>; <reason>" per legacy-only query
  std::vector<std::string> unexpected;
};

SpecResult run_spec_files(const std::vector<std::string>& files) {
  SpecResult result;
  for (const std::string& file : files) {
    for (const SpecQuery& spec : load_spec(file)) {
      ++result.total;
      Parsed parsed = parse(spec.query);
      if (parsed.ok()) {
        ++result.parsed;
        std::string round_trip = round_trip_failure(parsed.set);
        if (!round_trip.empty())
          result.unexpected.push_back(spec.file + " " + spec.name + ": " + round_trip);
        continue;
      }
      // A legacy-only query fails only with legacy diagnostics, and with a clear message.
      std::set<std::string> reasons;
      bool only_legacy = true;
      bool join = false;
      for (const Diagnostic& d : parsed.diagnostics.items()) {
        if (d.severity != Severity::Error) continue;
        if (d.code == "syntax" && d.message.find("`join` is legacy") != std::string::npos) {
          join = true;
          reasons.insert("join");
          continue;
        }
        auto it = legacy_codes().find(d.code);
        if (it == legacy_codes().end()) {
          only_legacy = false;
          continue;
        }
        EXPECT_FALSE(d.message.empty());
        EXPECT_FALSE(d.hint.empty()) << d.code;
        reasons.insert(it->second);
      }
      (void)join;
      if (!only_legacy || reasons.empty()) {
        result.unexpected.push_back(spec.file + " " + spec.name + ":\n" + spec.query + "\n" +
                                    parsed.messages());
        continue;
      }
      std::string joined;
      for (const std::string& reason : reasons) {
        ++result.legacy_by_reason[reason];
        joined.append(joined.empty() ? "" : "; ").append(reason);
      }
      result.legacy_listing += fmt::format(
          "{} #{}: {}\n", spec.file.substr(spec.file.rfind('/') + 1), spec.name, joined);
    }
  }
  return result;
}

std::string summary(const SpecResult& result) {
  std::string out;
  for (const auto& [reason, count] : result.legacy_by_reason)
    out += fmt::format("  {}: {}\n", reason, count);
  for (const std::string& unexpected : result.unexpected) out += unexpected + "\n";
  return out;
}

TEST(Conformance, ElasticsearchSpecQueriesParse) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/elasticsearch");
  SpecResult result = run_spec_files({
      "conformance/eql/elasticsearch/test_queries.toml",
      "conformance/eql/elasticsearch/additional_test_queries.toml",
      "conformance/eql/elasticsearch/test_queries_date.toml",
      "conformance/eql/elasticsearch/test_queries_date_nanos.toml",
      "conformance/eql/elasticsearch/test_extra.toml",
      "conformance/eql/elasticsearch/test_sample.toml",
      "conformance/eql/elasticsearch/test_sample_multi.toml",
      "conformance/eql/elasticsearch/test_missing_events.toml",
      "conformance/eql/elasticsearch/test_failing_shards.toml",
  });
  EXPECT_EQ(result.total, 320u);
  // Elasticsearch's own tests use no legacy syntax: all of them parse.
  EXPECT_EQ(result.parsed, result.total) << summary(result);
  EXPECT_TRUE(result.unexpected.empty()) << summary(result);
}

TEST(Conformance, PythonEqlSpecQueriesParseOrFailAsLegacy) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/python-eql/test_queries.toml");
  SpecResult result = run_spec_files({"conformance/eql/python-eql/test_queries.toml"});
  EXPECT_EQ(result.total, 241u);
  EXPECT_TRUE(result.unexpected.empty()) << summary(result);
  // The legacy-only queries, each with its reasons, are listed in tests/data.
  std::string golden_path = std::string(PICKAXE_SOURCE_DIR) + "/tests/data/python-eql-legacy.txt";
  if (std::getenv("PICKAXE_UPDATE_GOLDEN")) {
    std::ofstream(golden_path) << result.legacy_listing;
  }
  EXPECT_EQ(result.legacy_listing, read_text(golden_path));
  EXPECT_EQ(result.parsed, 99u) << summary(result);
  EXPECT_EQ(
      result.parsed + std::count(result.legacy_listing.begin(), result.legacy_listing.end(), '\n'),
      result.total);
}

// The README's claim: lint over the 1094 production queries raises 21
// warnings, 20 of them `*` inside `==` or `in`.
TEST(Conformance, LintIsQuietOnDetectionRulesQueries) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/detection-rules-queries.jsonl");
  simdjson::padded_string text =
      simdjson::padded_string::load(shared_dir() + "/conformance/eql/detection-rules-queries.jsonl")
          .value();
  simdjson::dom::parser parser;
  std::map<std::string, size_t> by_code;
  size_t queries = 0, warnings = 0;
  std::string listing;
  for (simdjson::dom::element doc : parser.parse_many(text)) {
    ++queries;
    Parsed parsed = parse(std::string(doc["query"].get_string().value()));
    ASSERT_TRUE(parsed.ok()) << parsed.messages();
    lint(parsed.set, FieldTypes::ecs(), parsed.diagnostics);
    for (const Diagnostic& d : parsed.diagnostics.items()) {
      if (d.severity != Severity::Warning) continue;
      ++warnings;
      ++by_code[d.code];
      listing += std::string(doc["name"].get_string().value()) + ": " + d.code + "\n";
    }
  }
  EXPECT_EQ(queries, 1094u);
  EXPECT_EQ(warnings, 21u) << listing;
  EXPECT_EQ(by_code["wildcard-in-equality"], 20u) << listing;
}

}  // namespace
}  // namespace pickaxe::testing
