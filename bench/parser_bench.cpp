// Micro-benchmarks of the EQL front end over Elastic's 1094 production
// queries (or the bundled rules when ../shared is absent). Speed is reported
// as a ratio to the lexer, measured in the same run.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <simdjson.h>

#include "eql/functions.h"
#include "eql/lexer.h"
#include "eql/parser.h"
#include "eql/printer.h"
#include "lint/linter.h"
#include "rules/rule_loader.h"

namespace {

using namespace pickaxe;

std::vector<std::shared_ptr<SourceFile>> load_corpus() {
  std::vector<std::shared_ptr<SourceFile>> corpus;
  std::string path =
      std::string(PICKAXE_SHARED_DIR) + "/conformance/eql/detection-rules-queries.jsonl";
  if (std::filesystem::exists(path)) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string text = simdjson::padded_string::load(path);
    simdjson::ondemand::document_stream stream = parser.iterate_many(text);
    for (auto doc : stream) {
      std::string_view query;
      if (doc["query"].get_string().get(query) == simdjson::SUCCESS)
        corpus.push_back(std::make_shared<SourceFile>("q", std::string(query)));
    }
    return corpus;
  }
  std::cerr << "note: " << path << " not found; benchmarking the bundled rules\n";
  LoadResult rules = load_rules({"rules"});
  for (const Rule& rule : rules.rules) {
    corpus.push_back(std::make_shared<SourceFile>(
        "q", rule.source->text().substr(rule.query_begin, rule.query_end - rule.query_begin)));
  }
  return corpus;
}

const std::vector<std::shared_ptr<SourceFile>>& corpus() {
  static const auto queries = load_corpus();
  return queries;
}

int64_t corpus_bytes() {
  int64_t bytes = 0;
  for (const auto& source : corpus()) bytes += static_cast<int64_t>(source->text().size());
  return bytes;
}

void BM_Lex(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& source : corpus()) {
      Diagnostics diagnostics;
      benchmark::DoNotOptimize(eql::tokenize(*source, diagnostics));
    }
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
}
BENCHMARK(BM_Lex)->Unit(benchmark::kMillisecond);

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& source : corpus()) {
      Diagnostics diagnostics;
      benchmark::DoNotOptimize(eql::parse_query_set(*source, diagnostics));
    }
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
}
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond);

void BM_ParseVerifyLint(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& source : corpus()) {
      Diagnostics diagnostics;
      eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
      eql::verify(set, diagnostics);
      lint(set, FieldTypes::ecs(), diagnostics);
      benchmark::DoNotOptimize(diagnostics);
    }
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
}
BENCHMARK(BM_ParseVerifyLint)->Unit(benchmark::kMillisecond);

void BM_PrintRoundTrip(benchmark::State& state) {
  std::vector<eql::QuerySet> sets;
  for (const auto& source : corpus()) {
    Diagnostics diagnostics;
    sets.push_back(eql::parse_query_set(*source, diagnostics));
  }
  for (auto _ : state) {
    for (const auto& set : sets) benchmark::DoNotOptimize(eql::print(set));
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
}
BENCHMARK(BM_PrintRoundTrip)->Unit(benchmark::kMillisecond);

// Prints, after the usual table, each benchmark's throughput relative to BM_Lex.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      auto it = run.counters.find("bytes_per_second");
      if (it != run.counters.end()) throughput_[run.benchmark_name()] = it->second.value;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double baseline = throughput_.count("BM_Lex") ? throughput_["BM_Lex"] : 0;
    std::erase_if(throughput_, [](const auto& entry) {
      return !entry.first.starts_with("BM_Lex") && !entry.first.starts_with("BM_Parse") &&
             !entry.first.starts_with("BM_Print");
    });
    std::cout << "\nqueries: " << corpus().size() << ", bytes: " << corpus_bytes() << "\n";
    std::cout << "benchmark                 MB/s   ratio to BM_Lex\n";
    for (const auto& [name, bytes_per_second] : throughput_) {
      std::printf("%-22s %8.1f   %.2f\n", name.c_str(), bytes_per_second / 1e6,
                  baseline > 0 ? bytes_per_second / baseline : 0.0);
    }
  }

 private:
  std::map<std::string, double> throughput_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
