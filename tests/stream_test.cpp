// The streaming pipeline: order restored within the lateness bound, state
// caps, and bad input counted, reported with file:line and skipped.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "correlate/stream.h"
#include "ingest/mapped_file.h"
#include "stream_util.h"

namespace pickaxe::testing {
namespace {

// Synthetic Endpoint-like events: on each host a process start, then a
// connection 2 s later; timestamps in milliseconds.
std::vector<std::string> make_events(int hosts, int rounds) {
  std::vector<std::string> lines;
  for (int round = 0; round < rounds; ++round) {
    for (int host = 0; host < hosts; ++host) {
      int64_t ms = 1'700'000'000'000 + round * 10'000 + host * 7;
      lines.push_back(fmt::format(
          R"({{"@timestamp":{},"event":{{"category":"process","type":"start","sequence":{}}},"host":{{"name":"h{}"}},"process":{{"name":"{}"}}}})",
          ms, lines.size(), host, round % 3 == 0 ? "xmrig" : "bash"));
      lines.push_back(fmt::format(
          R"({{"@timestamp":{},"event":{{"category":"network","type":"start","sequence":{}}},"host":{{"name":"h{}"}},"destination":{{"port":{}}}}})",
          ms + 2000, lines.size(), host, round % 2 == 0 ? 3333 : 443));
    }
  }
  std::stable_sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
    return a.substr(14, 13) < b.substr(14, 13);
  });
  return lines;
}

const char* kSequence =
    "sequence by host.name with maxspan=5s [process where process.name == \"xmrig\"] "
    "[network where destination.port == 3333]";

// `count` xmrig starts, each on a host of its own, `step_ms` apart: each
// begins a partial of kSequence that never completes.
std::string partials(int count, int64_t step_ms) {
  std::string input;
  for (int i = 0; i < count; ++i)
    input += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"process","sequence":{}}},"host":{{"name":"h{}"}},"process":{{"name":"xmrig"}}}})"
        "\n",
        1'700'000'000'000 + i * step_ms, i, i);
  return input;
}

// Text sources through the whole stream: detection from the first line,
// sequences across auditd events, and every kind of bad line counted.
// The resident size, in kB, of the mapping that holds `at` (/proc/self/smaps).
long mapping_rss_kb(const void* at) {
  std::ifstream smaps("/proc/self/smaps");
  const auto address = reinterpret_cast<unsigned long>(at);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long low = 0, high = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &low, &high) == 2) {
      inside = address >= low && address < high;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) return std::stol(line.substr(4));
  }
  return -1;
}

// An alert's document read back from a mapped file brings pages around it in
// again; letting go of them drops them from the process (2 MiB each side),
// and the text reads the same afterwards.
TEST(MappedFile, PagesAroundATextAreLetGo) {
  const std::string path =
      (std::filesystem::temp_directory_path() / fmt::format("pickaxe-mapped-{}.txt", ::getpid()))
          .string();
  {
    std::ofstream out(path, std::ios::binary);
    std::string line(1023, 'x');
    line += '\n';
    for (int i = 0; i < 16 * 1024; ++i) out << line;  // 16 MiB
  }
  MappedFile file(path);
  std::filesystem::remove(path);  // the mapping outlives the name
  std::string_view text = file.text();
  ASSERT_EQ(text.size(), size_t{16} << 20);
  size_t sum = 0;
  for (size_t at = 0; at < text.size(); at += 4096) sum += static_cast<unsigned char>(text[at]);
  EXPECT_EQ(sum, (text.size() / 4096) * 'x');
  const long before = mapping_rss_kb(text.data());
  ASSERT_GT(before, 15'000) << "pages not resident after reading them";
  let_go_of_pages_around(text.substr(size_t{8} << 20, 100));
  const long after = mapping_rss_kb(text.data());
  EXPECT_GE(before - after, 3'500) << before << " kB before, " << after << " after";
  EXPECT_LE(before - after, 4'200) << before << " kB before, " << after << " after";
  EXPECT_EQ(text.substr((size_t{8} << 20) + 5, 3), "xxx");  // read from the file again
  let_go_of_pages_around("not in any mapping");             // nothing happens
}

TEST(Stream, AuditdLogsRunSequencesAndCountBadLines) {
  std::string huge(10 * 1024 * 1024, 'z');
  std::string log =
      "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes pid=7 "
      "ppid=1 comm=\"xmrig\" exe=\"/tmp/xmrig\"\n"
      "type=EXECVE msg=audit(1700000000.000:1): argc=1 a0=\"xmrig\"\n"
      "type=SYSCALL msg=audit(1700000000.5\n"  // cut short: skipped
      "type=EXECVE msg=audit(1700000001.000:9): argc=1 a0=" +
      huge + "\n" +                                                  // over 4 MiB: skipped
      "type=PROCTITLE msg=audit(1700000000.000:1): proctitle=ABC\n"  // odd hex: kept, flawed
      "type=SYSCALL msg=audit(1700000002.000:2): arch=c000003e syscall=42 success=yes pid=7 "
      "ppid=1 comm=\"xmrig\" exe=\"/tmp/xmrig\"\n"
      "type=SOCKADDR msg=audit(1700000002.000:2): saddr=02000D05CB0071070000000000000000\n"
      "type=EOE msg=audit(1700000002.000:2):\n";
  RunOutput output = run_stream(
      "sequence by process.pid with maxspan=5s [process where event.type == \"start\" and "
      "process.name == \"xmrig\"] [network where destination.port == 3333]",
      log);
  ASSERT_EQ(output.results.size(), 1u);
  EXPECT_NE(output.results[0].find("\"destination\":{\"ip\":\"203.0.113.7\""), std::string::npos);
  EXPECT_EQ(output.stats.malformed, 2u);  // the cut header and the 10 MB line
  EXPECT_EQ(output.stats.flawed_records, 1u);
  EXPECT_EQ(output.stats.without_eoe, 1u);  // event 1 had no EOE
  EXPECT_EQ(output.stats.events, 2u);
  ASSERT_EQ(output.problems.size(), 3u);
  EXPECT_EQ(output.problems[0].line, 3u);
  EXPECT_EQ(output.problems[1].line, 4u);
  EXPECT_NE(output.problems[1].message.find("longer than the limit"), std::string::npos);
  EXPECT_EQ(output.problems[2].line, 5u);
}

TEST(Stream, SourceCanBeForcedWhenTheFirstLineSaysNothing) {
  std::string log =
      "some header a collector wrote\n"
      "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes pid=7 "
      "comm=\"xmrig\" exe=\"/tmp/xmrig\"\n";
  RunOutput detected = run_stream("process where true", log);
  EXPECT_EQ(detected.stats.events, 0u);  // read as JSON: both lines are malformed
  EXPECT_EQ(detected.stats.malformed, 2u);
  StreamOptions forced;
  forced.source = SourceKind::Auditd;
  RunOutput read = run_stream("process where true", log, forced);
  EXPECT_EQ(read.stats.events, 1u);
  EXPECT_EQ(read.stats.malformed, 1u);  // the header line is no audit record
}

// The stream drops the documents and fields of events no filter matches
// (inert events); results must equal pushing every full event to the engine.
TEST(Stream, InertEventsChangeNoResult) {
  std::mt19937 random(7);
  std::vector<std::string> lines;
  const char* categories[] = {"process", "network", "file"};
  const char* names[] = {"xmrig", "bash", "curl", "sshd"};
  for (int i = 0; i < 3000; ++i) {
    lines.push_back(fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"{}","type":"start","sequence":{}}},"host":{{"name":"h{}"}},"process":{{"name":"{}","pid":{}}},"destination":{{"port":{}}}}})",
        1'700'000'000'000 + i * 250, categories[random() % 3], i, random() % 5, names[random() % 4],
        random() % 7, random() % 2 ? 3333 : 443));
  }
  std::string input = join_lines(lines);
  const std::vector<std::string> queries = {
      "process where process.name == \"xmrig\"",
      kSequence,
      "sequence by host.name with maxspan=3s [process where process.name == \"curl\"] "
      "![file where true] [network where destination.port == 3333]",
      "sequence by host.name with maxspan=10s [process where process.name == \"bash\"] "
      "[network where true] until [process where process.name == \"sshd\"]",
      "sequence by host.name, process.pid [process where true] with runs=2 [network where "
      "destination.port == 443] | tail 5",
      "sample by host.name [process where process.name == \"xmrig\"] [network where true]",
  };
  for (const std::string& query : queries) {
    RunOutput streamed = run_stream(query, input);
    // Every event, in order, straight to the engine.
    Parsed parsed = parse(query);
    Schema schema;
    EngineOptions options;
    options.tiebreaker_field = "event.sequence";
    QueryEngine engine(parsed.query(), schema, options);
    simdjson::dom::parser parser;
    for (size_t i = 0; i < lines.size(); ++i) {
      auto event = std::make_shared<Event>();
      extract_fields(parser.parse(lines[i]).value(), engine.fields(), schema, *event);
      event->owned_source = lines[i];
      event->timestamp = *millis_to_nanos(event->fields[engine.timestamp_slot()].front());
      event->has_timestamp = true;
      event->order = i;
      engine.push(event);
    }
    std::vector<std::string> direct;
    for (const QueryResult& result : engine.finish()) {
      std::string joined;
      for (const auto& event : result.events)
        joined += event ? event->document() : std::string("null");
      direct.push_back(joined);
    }
    EXPECT_EQ(streamed.results, direct) << query;
    EXPECT_FALSE(direct.empty()) << query;
    // Read from a mapped file, results (some given only at the end) view
    // their documents in the mapping, after the file's pages were let go.
    RunOutput mapped = run_stream(query, input, {}, {}, 2);
    EXPECT_EQ(mapped.results, direct) << query;
  }
}

// Filters that only matter once a sequence has begun (later steps, until)
// are left to their engine when the event is kept for another engine anyway.
// Many engines on one stream: each gets the results it gets alone, though
// an event kept for one engine reaches the others unevaluated.
TEST(Stream, EnginesTogetherGiveTheirResultsAlone) {
  std::mt19937 random(11);
  std::vector<std::string> lines;
  const char* categories[] = {"process", "network", "file"};
  const char* names[] = {"xmrig", "bash", "curl", "sshd"};
  for (int i = 0; i < 3000; ++i) {
    lines.push_back(fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"{}","type":"start","sequence":{}}},"host":{{"name":"h{}"}},"process":{{"name":"{}","pid":{}}},"destination":{{"port":{}}}}})",
        1'700'000'000'000 + i * 250, categories[random() % 3], i, random() % 5, names[random() % 4],
        random() % 7, random() % 2 ? 3333 : 443));
  }
  const std::string input = join_lines(lines);
  const std::vector<std::string> queries = {
      "process where process.name == \"xmrig\"",
      "sequence by host.name with maxspan=3s [process where process.name == \"curl\"] "
      "![file where true] [network where destination.port == 3333]",
      "sequence by host.name with maxspan=10s [process where process.name == \"bash\"] "
      "[network where true] until [process where process.name == \"sshd\"]",
      "sequence by host.name, process.pid [process where true] with runs=2 [network where "
      "destination.port == 443] | tail 5",
      "sequence by host.name with maxspan=2s [file where process.name == \"sshd\"] "
      "[process where process.name != \"bash\"] [network where destination.port == 443]",
      "sample by host.name [process where process.name == \"xmrig\"] [network where true]",
  };
  auto results_of = [](const std::vector<QueryResult>& results) {
    std::vector<std::string> out;
    for (const QueryResult& result : results) {
      std::string joined;
      for (const auto& event : result.events)
        joined += event ? event->document() : std::string("null");
      out.push_back(joined);
    }
    return out;
  };
  Schema schema;
  EngineOptions options;
  options.tiebreaker_field = "event.sequence";
  FieldIndex shared;
  std::vector<std::unique_ptr<QueryEngine>> engines;
  std::vector<QueryEngine*> pointers;
  for (const std::string& query : queries) {
    Parsed parsed = parse(query);
    ASSERT_TRUE(parsed.ok()) << parsed.messages();
    engines.push_back(
        std::make_unique<QueryEngine>(parsed.query(), schema, options, nullptr, &shared));
    pointers.push_back(engines.back().get());
  }
  QueryStream stream(pointers, schema, {}, [](const InputProblem&) {});
  std::istringstream in(input);
  stream.read(in, "input.ndjson");
  stream.flush();
  for (size_t i = 0; i < queries.size(); ++i) {
    RunOutput alone = run_stream(queries[i], input);
    ASSERT_FALSE(alone.results.empty()) << queries[i];
    EXPECT_EQ(results_of(engines[i]->finish()), alone.results) << queries[i];
  }
}

TEST(Stream, ShuffledWithinLatenessGivesTheSameResults) {
  std::vector<std::string> sorted = make_events(20, 30);
  RunOutput expected = run_stream(kSequence, join_lines(sorted));
  // xmrig every third round, port 3333 every second: 5 rounds of 20 hosts.
  ASSERT_EQ(expected.results.size(), 100u);
  // Move events by up to 3 s against each other: within a 5 s lateness bound.
  std::vector<std::pair<int64_t, std::string>> keyed;
  std::mt19937 random(7);
  for (const std::string& line : sorted) {
    int64_t ms = std::stoll(line.substr(14, 13));
    keyed.emplace_back(ms + static_cast<int64_t>(random() % 3000), line);
  }
  std::stable_sort(keyed.begin(), keyed.end());
  std::vector<std::string> shuffled;
  for (auto& [key, line] : keyed) shuffled.push_back(line);
  ASSERT_NE(shuffled, sorted);
  StreamOptions options;
  options.max_lateness = 5'000'000'000;
  RunOutput got = run_stream(kSequence, join_lines(shuffled), options);
  EXPECT_EQ(got.results, expected.results);
  EXPECT_EQ(got.stats.late, 0u);
  // Without a lateness allowance the same input is out of order, and says so.
  options.max_lateness = 0;
  RunOutput strict = run_stream(kSequence, join_lines(shuffled), options);
  EXPECT_GT(strict.stats.late, 0u);
}

TEST(Stream, SequenceStateStaysUnderTheCapAndCountsOverflow) {
  // 5000 hosts each start a partial sequence that never completes.
  const std::string input = partials(5000, 1);
  EngineOptions engine_options;
  engine_options.max_sequence_state = 1000;
  RunOutput output = run_stream(kSequence, input, {}, engine_options);
  EXPECT_EQ(output.engine.state_evictions, 4000u);
  EXPECT_LE(output.engine.peak_partials, 1000u);
  EXPECT_TRUE(output.results.empty());
}

TEST(Stream, ExpiredPartialsAreDropped) {
  // With maxspan, partials older than the watermark go away: state stays flat.
  const std::string input = partials(200'000, 100);
  RunOutput output = run_stream(kSequence, input);
  // Flat: bounded by the sweep interval (8192 events), not by the 200 000 keys seen.
  EXPECT_LT(output.engine.peak_partials, 10'000u);
  EXPECT_GT(output.engine.expired, 190'000u);
  EXPECT_EQ(output.engine.state_evictions, 0u);
}

TEST(Stream, AQuerySeeingFewEventsDropsExpiredPartialsOnceItsMaxspanPasses) {
  // 2000 partials a second apart: fewer events than a sweep by count waits
  // for (8192), so only the query's clock can let the expired ones go.
  const std::string input = partials(2000, 1000);
  RunOutput output = run_stream(kSequence, input);
  // maxspan is 5s: a few more than five partials are alive at once.
  EXPECT_LT(output.engine.peak_partials, 20u);
  EXPECT_GT(output.engine.expired, 1900u);
  EXPECT_EQ(output.engine.state_evictions, 0u);
}

TEST(Stream, AMissingStepHoldsWhateverTheSweepsDo) {
  // bob's connection between h0's process and file rules the sequence out.
  // Then 9000 file events of h1 (past one sweep, at 8192 events, which lets
  // go of missing-step events older than two maxspans) before the end.
  auto input = [](bool with_bob) {
    std::string text;
    auto line = [&](int64_t ms, const char* category, const char* host, const char* user) {
      text += fmt::format(
          R"({{"@timestamp":{},"event":{{"category":"{}","sequence":{}}},"host":{{"name":"{}"}},"user":{{"name":"{}"}}}})"
          "\n",
          1'700'000'000'000 + ms, category, ms, host, user);
    };
    line(0, "process", "h0", "alice");
    if (with_bob) line(1000, "network", "h0", "bob");
    line(2000, "file", "h0", "alice");
    for (int i = 0; i < 9000; ++i) line(100'000 + i * 1000, "file", "h1", "alice");
    return text;
  };
  const std::string query =
      "sequence by host.name with maxspan=10s [process where true] "
      "![network where user.name == \"bob\"] [file where true]";
  EXPECT_TRUE(run_stream(query, input(true)).results.empty());
  // Without bob's connection, h0's sequence is found.
  EXPECT_EQ(run_stream(query, input(false)).results.size(), 1u);
}

// ----- bad input through the command line ----------------------------------------------

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult run_cli(const std::string& arguments, const std::string& input_path) {
  std::string err_path = input_path + ".err";
  std::string command =
      fmt::format("{} {} {} 2>{}", PICKAXE_BINARY, arguments, input_path, err_path);
  CliResult result;
  result.out = run_command(command, result.exit_code);
  result.err = read_text(err_path);
  return result;
}

class BadInput : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::string path =
        std::filesystem::temp_directory_path() / fmt::format("pickaxe-{}-{}", ::getpid(), name);
    std::ofstream(path, std::ios::binary) << text;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& path : paths_) {
      std::filesystem::remove(path);
      std::filesystem::remove(path + ".err");
    }
  }
  std::vector<std::string> paths_;
};

const std::string kGood1 =
    R"({"@timestamp":"2026-01-01T00:00:00Z","event":{"category":"process"},"process":{"name":"xmrig","pid":1}})";
const std::string kGood2 =
    R"({"@timestamp":"2026-01-01T00:00:01Z","event":{"category":"process"},"process":{"name":"xmrig","pid":2}})";

TEST_F(BadInput, EachKindIsCountedReportedAndSkipped) {
  struct Case {
    std::string name;
    std::string bad_line;
    std::string message;
  };
  std::vector<Case> cases = {
      {"malformed", R"({"@timestamp": "2026-01-01T00:00:00Z", "event": )", "malformed JSON"},
      {"not-object", R"(["an", "array"])", "not a JSON object"},
      {"wrong-type",
       R"({"@timestamp":"2026-01-01T00:00:00Z","event":{"category":"process"},"process":{"name":"xmrig","pid":"abc"}})",
       "field process.pid is \"abc\", not a number"},
      {"huge-number",
       R"({"@timestamp":"2026-01-01T00:00:00Z","process":{"pid":1)" + std::string(400, '9') + "}}",
       "number"},
      {"bad-utf8", "{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"process\":{\"name\":\"\xC3\x28\"}}",
       "invalid UTF-8"},
      {"no-timestamp", R"({"event":{"category":"process"},"process":{"name":"xmrig"}})",
       "no @timestamp"},
      {"huge-line",
       R"({"@timestamp":"2026-01-01T00:00:00Z","pad":")" + std::string(10 * 1024 * 1024, 'a') +
           "\"}",
       "longer than the limit"},
  };
  for (const Case& c : cases) {
    std::string path = write(c.name, kGood1 + "\n" + c.bad_line + "\n" + kGood2 + "\n");
    // Fields are type-checked when the query reads them.
    std::string query = "'process where process.name == \"xmrig\" and process.pid > 0'";
    // Every line parsed and checked.
    CliResult result = run_cli("query --no-prefilter " + query, path);
    EXPECT_EQ(result.exit_code, 0) << c.name << "\n" << result.err;
    // The good events on either side still come through.
    EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 2) << c.name << "\n"
                                                                         << result.out;
    EXPECT_NE(result.err.find(path + ":2: "), std::string::npos) << c.name << "\n" << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << c.name << "\n" << result.err;
    EXPECT_NE(result.err.find("2 events read"), std::string::npos) << c.name << "\n" << result.err;
    CliResult strict = run_cli("query --strict " + query, path);
    EXPECT_EQ(strict.exit_code, 1) << c.name;
    // With the prefilter, a bad line holding no "xmrig" is not even parsed:
    // it is counted as such, and the good events are found all the same.
    CliResult prefiltered = run_cli("query " + query, path);
    EXPECT_EQ(prefiltered.out, result.out) << c.name;
    bool has_literal = c.bad_line.find("xmrig") != std::string::npos;
    bool skippable = !has_literal && c.bad_line.front() == '{' && c.bad_line.back() == '}' &&
                     c.name != "bad-utf8" && c.name != "huge-line";
    EXPECT_EQ(prefiltered.err.find("events not parsed") != std::string::npos, skippable)
        << c.name << "\n"
        << prefiltered.err;
  }
}

// An event with two wrong-typed fields is reported for the same one
// whatever the order of its keys.
TEST_F(BadInput, AWrongTypedEventNamesTheSameFieldInAnyKeyOrder) {
  const std::string query = "'process where process.pid > 0 and process.parent.pid > 0'";
  std::string pid_first = write(
      "pid-first.ndjson",
      R"({"@timestamp":"2026-01-01T00:00:00Z","event":{"category":"process"},"process":{"pid":"abc","parent":{"pid":"def"}}})"
      "\n");
  std::string parent_first = write(
      "parent-first.ndjson",
      R"({"@timestamp":"2026-01-01T00:00:00Z","event":{"category":"process"},"process":{"parent":{"pid":"def"},"pid":"abc"}})"
      "\n");
  CliResult a = run_cli("query --no-prefilter " + query, pid_first);
  CliResult b = run_cli("query --no-prefilter " + query, parent_first);
  auto problem = [](const std::string& err) {
    size_t at = err.find("field ");
    return at == std::string::npos ? std::string() : err.substr(at, err.find('\n', at) - at);
  };
  EXPECT_NE(problem(a.err), "") << a.err;
  EXPECT_EQ(problem(a.err), problem(b.err)) << a.err << b.err;
}

// The summary says when an input was read without the prefilter, because
// too few of its first lines could be skipped: from a file and from stdin.
TEST_F(BadInput, TheSummaryNamesInputsReadWithoutThePrefilter) {
  auto events = [](int percent_with_literal) { return xmrig_events(2000, percent_with_literal); };
  const std::string query = "query 'process where process.name == \"xmrig\"'";
  const std::string note = "inputs whose every line was parsed";
  const std::string count = "for the prefilter to pay: ";
  std::string dense = write("dense.ndjson", events(90));
  std::string sparse = write("sparse.ndjson", events(10));
  // From a file (mapped) and from stdin (read in blocks).
  auto run = [&](const std::string& path, bool from_stdin) {
    if (!from_stdin) return run_cli(query, path);
    CliResult result;
    result.out = run_command(
        fmt::format("{} {} - < {} 2>{}.err", PICKAXE_BINARY, query, path, path), result.exit_code);
    result.err = read_text(path + ".err");
    return result;
  };
  for (bool from_stdin : {false, true}) {
    CliResult parsed = run(dense, from_stdin);
    EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
    EXPECT_EQ(std::count(parsed.out.begin(), parsed.out.end(), '\n'), 1800);
    EXPECT_NE(parsed.err.find(count + "1\n"), std::string::npos) << parsed.err;
    EXPECT_EQ(parsed.err.find("events not parsed"), std::string::npos) << parsed.err;
    CliResult scanned = run(sparse, from_stdin);
    EXPECT_EQ(std::count(scanned.out.begin(), scanned.out.end(), '\n'), 200);
    EXPECT_EQ(scanned.err.find(note), std::string::npos) << scanned.err;
    EXPECT_NE(scanned.err.find("a query needs: 1800\n"), std::string::npos) << scanned.err;
  }
  // Each input decides for itself, and each one left unscanned counts.
  CliResult three;
  three.out = run_command(
      fmt::format("{} {} {} {} {} 2>{}.err", PICKAXE_BINARY, query, dense, sparse, dense, dense),
      three.exit_code);
  three.err = read_text(dense + ".err");
  EXPECT_NE(three.err.find(count + "2\n"), std::string::npos) << three.err;
  // hunt reads a mapped file in chunks, on one thread or two: the same note
  // (the chunks' bytes once went uncounted, and it was never said).
  std::string rule = write("xmrig.eql", "process where process.name == \"xmrig\"\n");
  for (int threads : {1, 2}) {
    CliResult hunted = run_cli(fmt::format("hunt --threads {} --rules {}", threads, rule), dense);
    EXPECT_EQ(hunted.exit_code, 0) << hunted.err;
    EXPECT_NE(hunted.err.find(count + "1\n"), std::string::npos) << threads << "\n" << hunted.err;
  }
}

// A mapped file is cut into chunks of about 1 MiB at line ends, each by the
// thread that reads it (hunt): lines longer than a chunk (two in a row,
// leaving chunks empty) give what reading the same bytes from stdin gives,
// with the same line numbers, on one thread or two. From stdin, such lines
// come in several reads (they were once taken for lines over the limit).
TEST_F(BadInput, LinesLongerThanAChunkReadAsFromStdin) {
  std::string text;
  auto event = [](int pid, const std::string& padding) {
    return fmt::format(
        R"({{"@timestamp":"2026-01-01T00:{:02}:{:02}Z","event":{{"category":"process"}},"process":{{"name":"xmrig","pid":{},"title":"{}"}}}})"
        "\n",
        pid / 60 % 60, pid % 60, pid, padding);
  };
  const std::string short_padding(900, 's'), long_padding(1'500'000, 'l');
  int lines = 0, long_broken = 0;
  for (int pid = 0; pid < 3000; ++pid) {
    text += event(pid, short_padding), ++lines;
    if (pid == 700) text += event(100'700, long_padding), ++lines;
    if (pid == 1500) {
      text += event(101'500, long_padding) + event(101'501, long_padding);
      lines += 2;
    }
    if (pid == 1200)
      text += "{\"broken\": " + std::string(2'500'000, 'b') + "\n", long_broken = ++lines;
    if (pid % 500 == 0) text += "{\"broken\": \n", ++lines;
  }
  const std::string path = write("long-lines.ndjson", text);
  std::string().swap(text);
  auto problems = [](const std::string& err, const std::string& name) {
    std::string lines;
    for (size_t at = 0; (at = err.find(name + ":", at)) != std::string::npos; at += name.size())
      lines +=
          err.substr(at + name.size(), err.find(':', at + name.size() + 1) - at - name.size()) +
          " ";
    return lines;
  };
  auto from_stdin = [&](const std::string& arguments) {
    CliResult piped;
    piped.out =
        run_command(fmt::format("{} {} - < {} 2>{}.err", PICKAXE_BINARY, arguments, path, path),
                    piped.exit_code);
    piped.err = read_text(path + ".err");
    return piped;
  };
  // query reads a file as a stream, in blocks as large as it asks for; stdin
  // comes in 64 KiB reads.
  const std::string query = "query 'process where process.name == \"xmrig\"'";
  CliResult streamed = run_cli(query, path), piped = from_stdin(query);
  EXPECT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(std::count(streamed.out.begin(), streamed.out.end(), '\n'), 3003);
  EXPECT_TRUE(streamed.out == piped.out) << "the results from the file and from stdin differ";
  const std::string where = problems(streamed.err, path);
  EXPECT_EQ(where, problems(piped.err, "<stdin>")) << streamed.err << "\n" << piped.err;
  EXPECT_NE(where.find(fmt::format(":{} ", long_broken)), std::string::npos) << where;
  // hunt maps the file and reads it in chunks.
  const std::string rule = write("xmrig.eql", "process where process.name == \"xmrig\"\n");
  const std::string hunt = fmt::format(
      "hunt --format ndjson --detection-time 2026-01-01T00:00:00Z --max-signals 100000 --rules {}",
      rule);
  CliResult hunted_piped = from_stdin(hunt + " --threads 1");
  EXPECT_EQ(std::count(hunted_piped.out.begin(), hunted_piped.out.end(), '\n'), 3003)
      << hunted_piped.err;
  EXPECT_EQ(problems(hunted_piped.err, "<stdin>"), where) << hunted_piped.err;
  for (int threads : {1, 2}) {
    CliResult mapped = run_cli(fmt::format("{} --threads {}", hunt, threads), path);
    EXPECT_EQ(mapped.exit_code, 0) << mapped.err;
    EXPECT_TRUE(mapped.out == hunted_piped.out)
        << threads << " threads: the alerts from the mapped file and from stdin differ";
    EXPECT_EQ(problems(mapped.err, path), where) << threads << "\n" << mapped.err;
  }
}

TEST_F(BadInput, CleanInputExitsZeroEvenWithStrict) {
  std::string path = write("clean", kGood1 + "\n" + kGood2 + "\n");
  CliResult result = run_cli("query --strict 'process where process.pid == 2'", path);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, kGood2 + "\n");
  EXPECT_EQ(result.err, "");
}

TEST_F(BadInput, JsonArrayInputAndSequenceOutput) {
  std::string path = write("array", "[" + kGood1 + ",\n" + kGood2 + "]\n");
  CliResult result = run_cli(
      "query 'sequence by process.name [process where process.pid == 1] [process where process.pid "
      "== 2]'",
      path);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  simdjson::dom::parser parser;
  simdjson::dom::element line;
  ASSERT_EQ(parser.parse(result.out).get(line), simdjson::SUCCESS) << result.out;
  EXPECT_EQ(line["join_keys"].at(0).get_string().value(), "xmrig");
  EXPECT_EQ(line["events"].get_array().size(), 2u);
  EXPECT_EQ(line["events"].at(1)["process"]["pid"].get_int64().value(), 2);
}

TEST_F(BadInput, QueryErrorsAreReportedWithACaret) {
  std::string path = write("any", kGood1 + "\n");
  CliResult result = run_cli("query 'process where process.name = \"x\"'", path);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("<query>:1:28: error[assignment-operator]"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST(Stream, ResultsGoOutAsTheyAreFinalAndHeadStopsReading) {
  std::vector<std::string> lines = make_events(10, 100);
  Parsed parsed = parse(std::string(kSequence) + " | head 3");
  Schema schema;
  QueryEngine engine(parsed.query(), schema, {});
  std::vector<uint64_t> emitted_at;
  StreamOptions options;
  options.max_lateness = 0;
  QueryStream stream(engine, schema, options, nullptr);
  engine.set_sink([&](QueryResult&&) { emitted_at.push_back(stream.stats().events); });
  std::istringstream in(join_lines(lines));
  stream.read(in, "input");
  EXPECT_EQ(emitted_at.size(), 3u);
  EXPECT_TRUE(stream.finish().empty());
  // Reading stopped soon after the third result, far before the 2000 events.
  EXPECT_LT(stream.stats().events, 100u);
  EXPECT_EQ(stream.stats().events, emitted_at.back());
}

// The end of the input tells the engines so: sample keys that go to disk
// while the reorder buffer is released at the end pile up as runs of tier 0
// (16 of them would merge before), and the results are those of keys kept
// in memory.
TEST(Stream, SampleKeysSpilledAtTheEndOfTheInputAreNotMergedByTiers) {
  const std::string query =
      "sample by host.name [process where process.name == \"xmrig\"] "
      "[network where destination.port == 3333]";
  // 40 hosts over 190 s: within --max-lateness, every event waits for the end.
  const std::string input = join_lines(make_events(40, 20));
  auto run = [&](size_t keys_in_memory, size_t& newest_of_tier_0) {
    Parsed parsed = parse(query);
    Schema schema;
    EngineOptions options;
    options.sample_keys_in_memory = keys_in_memory;
    QueryEngine engine(parsed.query(), schema, options);
    QueryStream stream(engine, schema, {}, nullptr);
    std::istringstream in(input);
    stream.read(in, "input");
    EXPECT_EQ(engine.stats().events, 0u) << "nothing is released before the end";
    stream.flush();
    newest_of_tier_0 = engine.state().newest_runs_of_tier(0);
    std::string results;
    for (const QueryResult& result : stream.finish()) {
      for (const EventPtr& event : result.events) results += fmt::format("{} ", event->order);
      results += "\n";
    }
    return results;
  };
  size_t in_memory_runs = 0, spilled_runs = 0;
  const std::string expected = run(SIZE_MAX, in_memory_runs);
  EXPECT_EQ(std::count(expected.begin(), expected.end(), '\n'), 40);
  EXPECT_EQ(in_memory_runs, 0u);
  EXPECT_EQ(run(1, spilled_runs), expected);
  EXPECT_GT(spilled_runs, 16u);
}

TEST(Stream, TailWaitsForTheEnd) {
  Parsed parsed = parse(std::string(kSequence) + " | tail 2");
  Schema schema;
  QueryEngine engine(parsed.query(), schema, {});
  size_t streamed = 0;
  engine.set_sink([&](QueryResult&&) { ++streamed; });
  QueryStream stream(engine, schema, {}, nullptr);
  std::istringstream in(join_lines(make_events(10, 100)));
  stream.read(in, "input");
  EXPECT_EQ(streamed, 0u);
  EXPECT_EQ(stream.finish().size(), 2u);
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST_F(BadInput, StateOverflowIsReportedAndFailsStrict) {
  std::string input;
  for (int host = 0; host < 1000; ++host) {
    input += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"process"}},"host":{{"name":"h{}"}},"process":{{"name":"xmrig"}}}})"
        "\n",
        1'700'000'000'000 + host, host);
  }
  std::string path = write("keys", input);
  std::string query = fmt::format("query --max-sequence-state 100 '{}'", kSequence);
  CliResult result = run_cli(query, path);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.err.find("900 partial sequences and samples dropped at --max-sequence-state"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(
      run_cli("query --strict --max-sequence-state 100 '" + std::string(kSequence) + "'", path)
          .exit_code,
      1);
}

}  // namespace
}  // namespace pickaxe::testing
