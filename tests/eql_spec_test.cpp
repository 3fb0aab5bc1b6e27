// The conformance runner: Elasticsearch's EQL spec tests, run against their
// datasets and mappings the way Elasticsearch's own harness runs them, and
// python-eql's query tests written in Elastic syntax. Failures must be listed,
// with their reasons, in tests/data/eql-spec-known-failures.txt.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>
#include <toml++/toml.h>

#include "correlate/engine.h"
#include "correlate/stream.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

enum class TimestampMode { Endgame, EndgameNanos, Field, None, Filetime };

struct Dataset {
  std::vector<std::string> data_files;
  std::vector<std::string> mapping_files;
  std::string id_field;
  std::string tiebreaker;
  TimestampMode timestamps = TimestampMode::Field;
  bool keep_file_order = false;  // python-eql streams its file in array order
};

struct Prepared {
  Schema schema{false};                // the dataset's mapping only, as in Elasticsearch
  std::vector<std::string> documents;  // JSON text of each event, in time order
  std::vector<int64_t> timestamps;     // nanoseconds
  std::vector<int64_t> ids;
};

std::string strip_line_comments(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line.compare(first, 2, "//") == 0) continue;
    out += line + "\n";
  }
  return out;
}

int64_t id_of(simdjson::dom::element doc, const std::string& field) {
  int64_t id = 0;
  if (doc[field].get_int64().get(id) == simdjson::SUCCESS) return id;
  return -2;
}

Prepared prepare(const Dataset& dataset) {
  Prepared prepared;
  for (const std::string& mapping : dataset.mapping_files) {
    std::string error = prepared.schema.load_mapping(read_text(shared_dir() + "/" + mapping));
    EXPECT_EQ(error, "") << mapping;
  }
  struct Row {
    std::string json;
    int64_t timestamp;
    int64_t tiebreaker;
    size_t position;
    int64_t id;
  };
  std::vector<Row> rows;
  simdjson::dom::parser parser;
  for (const std::string& file : dataset.data_files) {
    std::string text = strip_line_comments(read_text(shared_dir() + "/" + file));
    simdjson::dom::element root;
    EXPECT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << file;
    for (simdjson::dom::element doc : root.get_array()) {
      prepared.schema.add_dynamic_fields(doc);
      Row row;
      row.position = rows.size();
      row.id = id_of(doc, dataset.id_field);
      row.tiebreaker = dataset.tiebreaker.empty() ? 0 : id_of(doc, dataset.tiebreaker);
      row.timestamp = 0;
      std::string json = simdjson::to_string(doc);
      if (dataset.timestamps == TimestampMode::Endgame ||
          dataset.timestamps == TimestampMode::EndgameNanos) {
        int64_t filetime = 0;
        if (doc["timestamp"].get_int64().get(filetime) != simdjson::SUCCESS) filetime = 0;
        std::string stamp;
        if (dataset.timestamps == TimestampMode::Endgame) {
          int64_t millis = filetime / 10000 - 11644473600000;
          row.timestamp = millis * 1'000'000;
          stamp = std::to_string(millis);
        } else {
          // The nanos index reads the same integer as nanoseconds since the epoch.
          row.timestamp = filetime;
          stamp = fmt::format("{}.{:06d}", filetime / 1'000'000, filetime % 1'000'000);
        }
        json.insert(1, fmt::format("\"@timestamp\":\"{}\",", stamp));
      } else if (dataset.timestamps == TimestampMode::Filetime) {
        int64_t filetime = 0;
        if (doc["timestamp"].get_int64().get(filetime) != simdjson::SUCCESS) filetime = 0;
        row.timestamp = (filetime - 116444736000000000) * 100;
      } else if (dataset.timestamps == TimestampMode::Field) {
        std::string_view text_value;
        int64_t number = 0;
        if (doc["@timestamp"].get_string().get(text_value) == simdjson::SUCCESS) {
          row.timestamp = parse_timestamp(text_value).value_or(0);
        } else if (doc["@timestamp"].get_int64().get(number) == simdjson::SUCCESS) {
          row.timestamp = number * 1'000'000;
        }
      }
      row.json = std::move(json);
      rows.push_back(std::move(row));
    }
  }
  if (!dataset.keep_file_order)
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
      return a.tiebreaker < b.tiebreaker;
    });
  for (Row& row : rows) {
    prepared.documents.push_back(std::move(row.json));
    prepared.timestamps.push_back(row.timestamp);
    prepared.ids.push_back(row.id);
  }
  return prepared;
}

struct Outcome {
  std::vector<int64_t> ids;
  std::vector<std::string> join_keys;
  std::string error;
};

Outcome run(const std::string& query_text, const Prepared& prepared, const Dataset& dataset,
            bool tail, std::optional<size_t> size, size_t max_samples_per_key,
            CompileOptions compile = {}) {
  Outcome outcome;
  Parsed parsed = parse(query_text);
  if (!parsed.ok()) {
    outcome.error = parsed.messages();
    return outcome;
  }
  EngineOptions options;
  options.category_field = "event.category";
  options.tiebreaker_field = dataset.tiebreaker;
  options.size = size;
  options.tail = tail;
  options.max_samples_per_key = max_samples_per_key;
  options.compile = compile;
  Diagnostics diagnostics(parsed.source);
  QueryEngine engine(parsed.query(), prepared.schema, options, &diagnostics);
  if (diagnostics.has_errors()) {
    outcome.error = parsed.messages();
    for (const auto& d : diagnostics.items()) outcome.error += render_text(d);
    return outcome;
  }
  simdjson::dom::parser parser;
  std::map<const Event*, int64_t> ids;
  for (size_t i = 0; i < prepared.documents.size(); ++i) {
    auto event = std::make_shared<Event>();
    simdjson::dom::element doc;
    if (parser.parse(prepared.documents[i]).get(doc) != simdjson::SUCCESS) continue;
    extract_fields(doc, engine.fields(), prepared.schema, *event);
    event->timestamp = prepared.timestamps[i];
    event->has_timestamp = true;
    event->order = i;
    ids[event.get()] = prepared.ids[i];
    engine.push(event);
  }
  for (const QueryResult& result : engine.finish()) {
    for (const auto& event : result.events) outcome.ids.push_back(event ? ids[event.get()] : -1);
    for (const Scalar& key : result.join_keys) outcome.join_keys.push_back(key.to_string());
  }
  return outcome;
}

std::vector<int64_t> int_list(const toml::array& array) {
  std::vector<int64_t> out;
  for (const toml::node& node : array) {
    if (auto value = node.value<int64_t>()) out.push_back(*value);
  }
  return out;
}

struct FileSummary {
  std::string file;
  size_t passed = 0;
  size_t failed = 0;
};

struct Failure {
  std::string key;      // "<file> <name>"
  std::string got;      // the wrong output, as recorded in the known-failure list
  std::string context;  // what was expected, and the query
};

std::string format_ids(const std::vector<int64_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

// The spec's datasets as a user has them: one NDJSON file per data file, as
// Elasticsearch's loader indexes them (the endgame data gets its `@timestamp`
// from `timestamp`, comment lines are dropped), beside the index mappings.
struct CliDataset {
  std::vector<std::string> files;     // NDJSON, written
  std::vector<std::string> mappings;  // the spec's own mapping files
  std::string tiebreaker;
};

CliDataset write_dataset(const Dataset& dataset, const std::string& label) {
  CliDataset written;
  written.tiebreaker = dataset.tiebreaker;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-spec-{}", ::getpid());
  std::filesystem::create_directories(dir);
  simdjson::dom::parser parser;
  for (const std::string& file : dataset.data_files) {
    std::string text = strip_line_comments(read_text(shared_dir() + "/" + file));
    simdjson::dom::element root;
    EXPECT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << file;
    std::string ndjson;
    for (simdjson::dom::element doc : root.get_array()) {
      std::string json = simdjson::minify(doc);
      if (dataset.timestamps == TimestampMode::Endgame ||
          dataset.timestamps == TimestampMode::EndgameNanos) {
        int64_t filetime = 0;
        if (doc["timestamp"].get_int64().get(filetime) != simdjson::SUCCESS) filetime = 0;
        std::string stamp =
            dataset.timestamps == TimestampMode::Endgame
                ? std::to_string(filetime / 10000 - 11644473600000)
                : fmt::format("\"{}.{:06d}\"", filetime / 1'000'000, filetime % 1'000'000);
        json.insert(1, fmt::format("\"@timestamp\":{},", stamp));
      }
      ndjson += json + "\n";
    }
    std::string path =
        (dir / (label + "-" + std::filesystem::path(file).stem().string() + ".ndjson")).string();
    std::ofstream(path, std::ios::binary) << ndjson;
    written.files.push_back(path);
  }
  for (const std::string& mapping : dataset.mapping_files)
    written.mappings.push_back(shared_dir() + "/" + mapping);
  return written;
}

// Runs one spec query as `pickaxe query` with the request's settings as flags.
Outcome run_cli(const std::string& query, const CliDataset& data, const std::string& id_field,
                bool tail, size_t size, size_t max_samples_per_key) {
  std::vector<std::string> args = {PICKAXE_BINARY,
                                   "query",
                                   "--event-category-field",
                                   "event.category",
                                   "--max-lateness",
                                   "unbounded",
                                   "--size",
                                   std::to_string(size),
                                   "--result-position",
                                   tail ? "tail" : "head",
                                   "--max-samples-per-key",
                                   std::to_string(max_samples_per_key)};
  for (const std::string& mapping : data.mappings) {
    args.push_back("--mapping");
    args.push_back(mapping);
  }
  if (!data.tiebreaker.empty()) {
    args.push_back("--tiebreaker-field");
    args.push_back(data.tiebreaker);
  }
  args.push_back(query);
  args.insert(args.end(), data.files.begin(), data.files.end());
  Outcome outcome;
  int exit_code = 0;
  std::string err;
  std::string out = run_program(args, exit_code, &err);
  if (exit_code != 0) {
    outcome.error = fmt::format("exit {}: {}", exit_code, err);
    return outcome;
  }
  simdjson::dom::parser parser;
  auto id_of_source = [&](simdjson::dom::element event) -> int64_t {
    return event.is_null() ? -1 : id_of(event, id_field);
  };
  for_each_line(out, [&](std::string_view line, uint64_t) {
    if (line.empty()) return;
    simdjson::dom::element result;
    if (parser.parse(line).get(result) != simdjson::SUCCESS) {
      outcome.error = "unparsable output: " + std::string(line);
      return;
    }
    simdjson::dom::array events, keys;
    if (result["events"].get_array().get(events) == simdjson::SUCCESS &&
        result["join_keys"].get_array().get(keys) == simdjson::SUCCESS) {
      for (simdjson::dom::element event : events) outcome.ids.push_back(id_of_source(event));
      for (simdjson::dom::element key : keys) {
        std::string_view text;
        outcome.join_keys.push_back(key.get_string().get(text) == simdjson::SUCCESS
                                        ? std::string(text)
                                        : simdjson::minify(key));
      }
    } else {
      outcome.ids.push_back(id_of_source(result));
    }
  });
  return outcome;
}

void run_es_file(const std::string& label, const std::string& spec, const Dataset& dataset,
                 std::vector<FileSummary>& summaries, std::vector<Failure>& failures) {
  CliDataset data = write_dataset(dataset, label);
  toml::table table = toml::parse(lenient_toml(read_text(shared_dir() + "/" + spec)));
  FileSummary summary{label};
  for (const toml::node& node : *table["queries"].as_array()) {
    const toml::table& entry = *node.as_table();
    std::string name = entry["name"].value_or(std::string("?"));
    std::string query = entry["query"].value_or(std::string());
    std::vector<std::vector<int64_t>> accepted;
    if (const toml::array* expected = entry["expected_event_ids"].as_array()) {
      if (!expected->empty() && expected->front().is_array()) {
        for (const toml::node& alternative : *expected)
          accepted.push_back(int_list(*alternative.as_array()));
      } else {
        accepted.push_back(int_list(*expected));
      }
    }
    std::vector<std::string> join_keys;
    if (const toml::array* keys = entry["join_keys"].as_array()) {
      for (const toml::node& key : *keys) join_keys.push_back(key.value_or(std::string()));
    }
    size_t size = static_cast<size_t>(entry["size"].value_or(int64_t{50}));
    size_t max_samples = static_cast<size_t>(entry["max_samples_per_key"].value_or(int64_t{1}));
    std::string problem;
    for (bool tail : {false, true}) {
      Outcome outcome = run_cli(query, data, dataset.id_field, tail, size, max_samples);
      if (!outcome.error.empty()) {
        problem = outcome.error;
        break;
      }
      bool ids_ok = std::find(accepted.begin(), accepted.end(), outcome.ids) != accepted.end();
      bool keys_ok = join_keys.empty() || join_keys == outcome.join_keys;
      if (!ids_ok || !keys_ok) {
        problem = fmt::format("{}: got {}", tail ? "tail" : "head", format_ids(outcome.ids));
        if (!keys_ok) {
          problem += " keys [";
          for (size_t i = 0; i < outcome.join_keys.size(); ++i)
            problem += (i ? ", " : "") + outcome.join_keys[i];
          problem += "]";
        }
        break;
      }
    }
    if (problem.empty()) {
      ++summary.passed;
    } else {
      ++summary.failed;
      failures.push_back(
          {label + " " + name, problem,
           fmt::format("expected {}\n{}",
                       format_ids(accepted.empty() ? std::vector<int64_t>{} : accepted[0]),
                       query)});
    }
  }
  summaries.push_back(summary);
}

struct KnownFailure {
  std::string got;  // the wrong output it gives
  std::string reason;
};

// tests/data/eql-spec-known-failures.txt: "<key> | <wrong output> | <reason>".
std::map<std::string, KnownFailure> known_failures() {
  std::map<std::string, KnownFailure> known;
  std::istringstream in(
      read_text(std::string(PICKAXE_SOURCE_DIR) + "/tests/data/eql-spec-known-failures.txt"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t first = line.find(" | ");
    size_t second = first == std::string::npos ? first : line.find(" | ", first + 3);
    EXPECT_NE(second, std::string::npos) << "known failure without output and reason: " << line;
    if (second == std::string::npos) continue;
    std::string reason = line.substr(second + 3);
    EXPECT_GT(reason.size(), 20u) << "a known failure needs its reason: " << line;
    known[line.substr(0, first)] = {line.substr(first + 3, second - first - 3), reason};
  }
  return known;
}

// With the failing tests exactly those listed, `expected_total` tests in
// all makes the pass count the README states exact.
void check_against_known(const std::vector<FileSummary>& summaries,
                         const std::vector<Failure>& failures, const std::string& prefix,
                         double required_rate, size_t expected_total) {
  size_t passed = 0, total = 0;
  std::cout << "spec file                              passed  failed\n";
  for (const FileSummary& s : summaries) {
    std::cout << fmt::format("{:<38} {:>6}  {:>6}\n", s.file, s.passed, s.failed);
    passed += s.passed;
    total += s.passed + s.failed;
  }
  double rate = total ? static_cast<double>(passed) / static_cast<double>(total) : 0;
  std::cout << fmt::format("total: {} of {} pass ({:.1f}%)\n", passed, total, 100 * rate);
  EXPECT_GE(rate, required_rate);
  EXPECT_EQ(total, expected_total);
  auto known = known_failures();
  std::set<std::string> failing;
  for (const Failure& failure : failures) {
    failing.insert(failure.key);
    auto it = known.find(failure.key);
    if (it == known.end()) {
      ADD_FAILURE() << "unexpected failure; to list it, add this line:\n"
                    << failure.key << " | " << failure.got << " | <reason>\n"
                    << failure.context;
    } else {
      EXPECT_EQ(failure.got, it->second.got) << failure.key << " fails in a new way\n"
                                             << failure.context;
    }
  }
  for (const auto& [key, reason] : known) {
    if (key.starts_with(prefix)) {
      EXPECT_TRUE(failing.contains(key)) << "listed as failing but passes: " << key;
    }
  }
}

// python-eql's test_queries.toml: the queries written in Elastic syntax, on
// the same 102 events streamed in file order, with python's semantics mapped:
// tests flagged case_insensitive run in its case-insensitive mode (the others
// are case-sensitive), and `==` with `*` in a string is a wildcard match.
TEST(EqlSpec, PythonEqlQueriesInElasticSyntax) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/python-eql/test_queries.toml");
  // The endgame mapping supplies the alias event.category -> event_type.
  Dataset dataset{{"conformance/eql/python-eql/test_data.json"},
                  {"conformance/eql/elasticsearch/data/endgame-140.mapping"},
                  "serial_event_id",
                  "",
                  TimestampMode::Filetime,
                  true};
  Prepared prepared = prepare(dataset);
  toml::table table =
      toml::parse(read_text(shared_dir() + "/conformance/eql/python-eql/test_queries.toml"));
  FileSummary summary{"python-eql test_queries.toml"};
  std::vector<Failure> failures;
  int index = 0;
  for (const toml::node& node : *table["queries"].as_array()) {
    const toml::table& entry = *node.as_table();
    ++index;
    std::string query = entry["query"].value_or(std::string());
    if (!parse(query).ok())
      continue;  // legacy syntax: see Conformance.PythonEqlSpecQueriesParseOrFailAsLegacy
    std::vector<int64_t> expected = int_list(*entry["expected_event_ids"].as_array());
    CompileOptions compile;
    compile.insensitive_equality = entry["case_insensitive"].value_or(false);
    compile.wildcard_equality = true;
    Outcome outcome = run(query, prepared, dataset, false, std::nullopt, 1, compile);
    if (outcome.error.empty() && outcome.ids == expected) {
      ++summary.passed;
    } else {
      ++summary.failed;
      failures.push_back(
          {fmt::format("python-eql #{}", index),
           outcome.error.empty() ? "got " + format_ids(outcome.ids) : "error",
           fmt::format("expected {}\n{}{}", format_ids(expected), query, outcome.error)});
    }
  }
  if (std::getenv("PICKAXE_SHOW_FAILURES")) {
    for (const Failure& failure : failures)
      std::cout << "FAIL " << failure.key << " | " << failure.got << "\n"
                << failure.context << "\n\n";
  }
  check_against_known({summary}, failures, "python-eql", 0.95, 99);
}

const std::string kSpecDir = "conformance/eql/elasticsearch/";

// Elasticsearch's endgame test data, as its spec tests load it.
Dataset endgame_dataset() {
  return {{kSpecDir + "test_data.json"},
          {kSpecDir + "data/endgame-140.mapping"},
          "serial_event_id",
          "serial_event_id",
          TimestampMode::Endgame};
}

TEST(EqlSpec, ElasticsearchSpecTests) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/elasticsearch");
  const std::string& es = kSpecDir;
  Dataset endgame = endgame_dataset();
  Dataset nanos = endgame;
  nanos.mapping_files = {es + "data/endgame-140-nanos.mapping"};
  nanos.timestamps = TimestampMode::EndgameNanos;
  Dataset extra{{es + "data/extra.data"},
                {es + "data/extra.mapping"},
                "sequence",
                "sequence",
                TimestampMode::Field};
  Dataset missing{{es + "data/missing-events.data"},
                  {es + "data/missing-events.mapping"},
                  "sequence",
                  "sequence",
                  TimestampMode::Field};
  Dataset sample{
      {es + "data/sample1.data", es + "data/sample2.data", es + "data/sample3.data"},
      {es + "data/sample1.mapping", es + "data/sample2.mapping", es + "data/sample3.mapping"},
      "id",
      "",
      TimestampMode::None};
  Dataset sample_multi{{es + "data/sample-multi.data"},
                       {es + "data/sample-multi.mapping"},
                       "id",
                       "",
                       TimestampMode::None};

  std::vector<FileSummary> summaries;
  std::vector<Failure> failures;
  run_es_file("test_queries.toml", es + "test_queries.toml", endgame, summaries, failures);
  run_es_file("additional_test_queries.toml", es + "additional_test_queries.toml", endgame,
              summaries, failures);
  run_es_file("test_queries_date.toml", es + "test_queries_date.toml", endgame, summaries,
              failures);
  run_es_file("test_queries_date_nanos.toml", es + "test_queries_date_nanos.toml", nanos, summaries,
              failures);
  run_es_file("test_queries.toml@nanos", es + "test_queries.toml", nanos, summaries, failures);
  run_es_file("test_extra.toml", es + "test_extra.toml", extra, summaries, failures);
  run_es_file("test_missing_events.toml", es + "test_missing_events.toml", missing, summaries,
              failures);
  run_es_file("test_sample.toml", es + "test_sample.toml", sample, summaries, failures);
  run_es_file("test_sample_multi.toml", es + "test_sample_multi.toml", sample_multi, summaries,
              failures);
  if (std::getenv("PICKAXE_SHOW_FAILURES")) {
    for (const Failure& failure : failures)
      std::cout << "FAIL " << failure.key << " | " << failure.got << "\n"
                << failure.context << "\n\n";
  }
  check_against_known(summaries, failures, "test_", 0.98, 434);
}

// Every spec query at once over the endgame data, as one stream of engines,
// and each query alone: the prefilter (which skips lines and, with many
// queries, chooses engines per line) must leave every result as it was.
std::vector<std::string> stream_results(const std::vector<std::string>& queries,
                                        const Prepared& prepared, const std::string& ndjson,
                                        bool prefilter, uint64_t* prefiltered) {
  FieldIndex fields;
  std::vector<std::unique_ptr<QueryEngine>> engines;
  std::vector<QueryEngine*> pointers;
  for (const std::string& query : queries) {
    Parsed parsed = parse(query);
    EngineOptions options;
    options.tiebreaker_field = "serial_event_id";
    Diagnostics diagnostics(parsed.source);
    auto engine = std::make_unique<QueryEngine>(parsed.query(), prepared.schema, options,
                                                &diagnostics, &fields);
    if (diagnostics.has_errors()) continue;
    pointers.push_back(engine.get());
    engines.push_back(std::move(engine));
  }
  std::vector<std::string> results;
  auto describe = [&](size_t engine, const QueryResult& result) {
    std::string text = std::to_string(engine) + ":";
    for (const auto& event : result.events)
      text += event ? std::to_string(event->line) + "," : "-,";
    results.push_back(text);
  };
  StreamOptions options;
  options.prefilter = prefilter;
  options.reader.always_scan = true;  // exactness is checked even where scanning would not pay
  QueryStream stream(pointers, prepared.schema, options, nullptr);
  stream.set_result_handler([&](size_t engine, QueryResult&& result) { describe(engine, result); });
  std::istringstream in(ndjson);
  stream.read(in, "endgame.ndjson");
  stream.flush();
  for (size_t i = 0; i < pointers.size(); ++i)
    for (const QueryResult& result : pointers[i]->finish()) describe(i, result);
  if (prefiltered) *prefiltered = stream.stats().prefiltered;
  return results;
}

TEST(EqlSpec, ThePrefilterChangesNoResult) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/elasticsearch");
  const std::string& es = kSpecDir;
  Prepared prepared = prepare(endgame_dataset());
  std::string ndjson;
  for (const std::string& document : prepared.documents) {
    // The time as a number of milliseconds, which the stream orders by.
    std::string line = document;
    size_t quote = line.find('"', std::string("{\"@timestamp\":").size());
    line.erase(quote, 1);
    line.erase(line.find('"', quote), 1);
    ndjson += line + "\n";
  }
  std::vector<std::string> queries;
  for (const char* file : {"test_queries.toml", "additional_test_queries.toml"}) {
    toml::table table = toml::parse(lenient_toml(read_text(shared_dir() + "/" + es + file)));
    for (const toml::node& node : *table["queries"].as_array()) {
      std::string query = (*node.as_table())["query"].value_or(std::string());
      if (parse(query).ok()) queries.push_back(query);
    }
  }
  ASSERT_GT(queries.size(), 150u);
  uint64_t prefiltered = 0;
  std::vector<std::string> expected = stream_results(queries, prepared, ndjson, false, nullptr);
  EXPECT_EQ(stream_results(queries, prepared, ndjson, true, nullptr), expected);
  EXPECT_GT(expected.size(), 300u);
  size_t skipping = 0;
  for (const std::string& query : queries) {
    std::vector<std::string> alone = stream_results({query}, prepared, ndjson, false, nullptr);
    EXPECT_EQ(stream_results({query}, prepared, ndjson, true, &prefiltered), alone) << query;
    if (prefiltered > 0) ++skipping;
  }
  EXPECT_GT(skipping, queries.size() / 4);  // the prefilter was at work
}

}  // namespace
}  // namespace pickaxe::testing
