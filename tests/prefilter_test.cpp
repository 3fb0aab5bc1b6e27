// The prefilter: which literals a filter needs, and results exactly equal to
// full parsing over input written to trip it (escapes, number spellings,
// case, numbers in keyword fields, other sources' records, late events).
#include <unistd.h>

#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "match/literals.h"
#include "stream_util.h"

namespace pickaxe::testing {
namespace {

// The literal texts the prefilter would need for one event query; empty
// optional when it cannot derive any.
std::optional<std::vector<std::string>> literals_for(const std::string& query) {
  Parsed parsed = parse(query);
  EXPECT_TRUE(parsed.ok()) << parsed.messages();
  Schema schema;
  QueryEngine engine(parsed.query(), schema, EngineOptions{});
  auto set = required_literals(engine.filters().front(), engine.fields());
  if (!set) return std::nullopt;
  std::vector<std::string> texts;
  for (const Literal& literal : *set) texts.push_back(literal.text);
  return texts;
}

using Texts = std::vector<std::string>;

TEST(Prefilter, LiteralsComeFromTheRarestNecessaryCondition) {
  // Whole values carry their JSON quotes; the category is used only when nothing rarer is there.
  EXPECT_EQ(literals_for(R"(process where process.name == "xmrig")"), Texts{"\"xmrig\""});
  EXPECT_EQ(literals_for(R"(process where event.type == "start")"), Texts{"\"process\""});
  EXPECT_EQ(literals_for(R"(process where true)"), Texts{"\"process\""});
  // One or two characters occur in nearly every line: the category is rarer.
  EXPECT_EQ(literals_for(R"(process where process.args : "*:*")"), Texts{"\"process\""});
  EXPECT_EQ(literals_for(R"(process where process.args_count == 0)"), Texts{"\"process\""});
  // `or` needs every branch; `in` and wildcard lists give one literal per item.
  EXPECT_EQ(
      literals_for(R"(any where process.name in ("a1", "b2") or process.args : "*stratum+tcp*")"),
      (Texts{"\"a1\"", "\"b2\"", "stratum+tcp"}));
  // Wildcards split the pattern; an anchored end keeps its quote.
  EXPECT_EQ(literals_for(R"(any where container.image.name : "*/buntu")"), Texts{"/buntu\""});
  // Quotes and backslashes are escaped in JSON: the longest verbatim piece is used.
  EXPECT_EQ(literals_for(R"(any where process.command_line == "say \"hello world\"")"),
            Texts{"hello world"});
  // Numbers are digits without quotes; so are booleans.
  EXPECT_EQ(literals_for(R"(any where destination.port in (3333, 14444))"),
            (Texts{"3333", "14444"}));
  EXPECT_EQ(literals_for(R"(any where process.name == "3333")"), Texts{"3333"});
  // No literal: negations, regexps, ranges, CIDRs, fields compared with fields.
  EXPECT_EQ(literals_for(R"(any where not process.name == "x")"), std::nullopt);
  EXPECT_EQ(literals_for(R"(any where process.name != "x")"), std::nullopt);
  EXPECT_EQ(literals_for(R"(any where process.name regex "xm.*")"), std::nullopt);
  EXPECT_EQ(literals_for(R"(any where destination.port > 1024)"), std::nullopt);
  EXPECT_EQ(literals_for(R"(any where cidrMatch(destination.ip, "10.0.0.0/8"))"), std::nullopt);
  EXPECT_EQ(literals_for(R"(any where process.name == process.parent.name)"), std::nullopt);
  EXPECT_EQ(literals_for(R"(any where destination.port == 3333.5)"), std::nullopt);
}

// Endpoint-like events whose values are written in every way JSON allows.
std::vector<std::string> tricky_events(int count) {
  const char* names[] = {
      R"("xmrig")", R"("XMRig")", R"("xm\u0072ig")", R"("bash")",       "3333",
      R"("3333")",  "true",       R"("curl")",       R"("\u0078mrig")", R"("x\/y")"};
  const char* args[] = {R"("stratum+tcp://pool.minexmr.com:3333")",
                        R"("stratum+tcp:\/\/pool")",
                        R"("-o")",
                        R"("--DONATE-LEVEL=1")",
                        R"("ls")",
                        R"("say \"hi\"")"};
  const char* ports[] = {"3333", "3333.0", "3.333e3",    R"("3333")",
                         "443",  "33330",  "[3333, 80]", "333"};
  const char* domains[] = {R"("pool.minexmr.com")", R"("POOL.MINEXMR.COM")", R"("minexmr.com")",
                           R"("example.org")"};
  const char* images[] = {R"("buntu")", R"("docker.io\/buntu")", R"("ubuntu")",
                          R"("xmrig/xmrig:latest")", R"("Buntu")"};
  const char* categories[] = {"process", "network", "file"};
  std::mt19937 random(11);
  std::vector<std::string> lines;
  for (int i = 0; i < count; ++i) {
    // Mostly in order, with some events minutes late (past the lateness bound).
    int64_t ms = 1'700'000'000'000 + i * 1000 - (random() % 50 == 0 ? 900'000 : 0);
    lines.push_back(fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"{}","type":"start","sequence":{}}},"host":{{"name":"h{}"}},"process":{{"name":{},"args":[{}],"pid":{}}},"destination":{{"port":{},"ip":"10.0.0.{}"}},"dns":{{"question":{{"name":{}}}}},"container":{{"image":{{"name":{}}}}}}})",
        ms, categories[random() % 3], i, random() % 4, names[random() % 10], args[random() % 6],
        random() % 9, ports[random() % 8], random() % 3, domains[random() % 4],
        images[random() % 5]));
    // Now and then a record of another source, which is decoded, not read as ECS.
    if (i % 97 == 0) {
      lines.push_back(fmt::format(
          R"({{"status":"pull","id":"img{}","Type":"image","Action":"pull","Actor":{{"ID":"img","Attributes":{{"name":"img"}}}},"time":{},"timeNano":{}000000}})",
          i, ms / 1000, ms));
    }
  }
  return lines;
}

TEST(Prefilter, ResultsEqualFullParsingAndMostLinesAreNotParsed) {
  std::string input = join_lines(tricky_events(4000));
  const std::vector<std::string> queries = {
      R"(process where process.name == "xmrig")",
      R"(process where process.name : "xmrig")",
      R"(any where process.name in~ ("xmrig", "3333"))",
      R"(any where process.name == true)",
      R"(any where process.args : ("stratum+tcp://*", "*donate-level*"))",
      R"(network where destination.port == 3333)",
      R"(network where destination.port in (3333, 4444) and not destination.ip == "10.0.0.1")",
      R"(any where dns.question.name : "*.minexmr.com")",
      R"(any where container.image.name : ("buntu", "*/buntu", "buntu:*"))",
      R"(any where event.category == "package")",  // only Docker's decoded records have it
      "sequence by host.name with maxspan=30s [process where process.name : \"xmrig\"] "
      "[network where destination.port == 3333]",
      "sequence by host.name with maxspan=30s [process where process.name == \"curl\"] "
      "![network where dns.question.name == \"example.org\"] [process where process.name == "
      "\"bash\"]",
      "sample by host.name [process where process.name == \"xmrig\"] [network where "
      "destination.port "
      "== 3333]",
  };
  for (const std::string& query : queries) {
    StreamOptions full;
    full.prefilter = false;
    RunOutput expected = run_stream(query, input, full);
    StreamOptions scanned;  // the input is built so that many lines have hits
    scanned.reader.always_scan = true;
    RunOutput got = run_stream(query, input, scanned);
    EXPECT_EQ(got.results, expected.results) << query;
    EXPECT_FALSE(expected.results.empty()) << query;
    EXPECT_EQ(got.stats.late, expected.stats.late) << query;
    EXPECT_EQ(got.stats.events, expected.stats.events) << query;
    EXPECT_EQ(expected.stats.prefiltered, 0u) << query;
    EXPECT_GT(got.stats.prefiltered, 0u) << query;
  }
}

// Scanning pays only when enough lines can be skipped: the start of each
// input decides, from a stream or from a file alike, and results are the
// same either way.
TEST(Prefilter, LinesAreScannedOnlyWhenEnoughCanBeSkipped) {
  const std::string query = R"(process where process.name == "xmrig")";
  auto events = [](int percent_with_literal) { return xmrig_events(3000, percent_with_literal); };
  StreamOptions full;
  full.prefilter = false;
  for (size_t threads : {size_t{0}, size_t{2}}) {
    // One line in ten holds the literal: the others are skipped unparsed.
    std::string sparse = events(10);
    RunOutput scanned = run_stream(query, sparse, {}, {}, threads);
    EXPECT_EQ(scanned.results, run_stream(query, sparse, full, {}, threads).results);
    EXPECT_EQ(scanned.results.size(), 300u);
    EXPECT_EQ(scanned.stats.prefiltered, 2700u);
    // Nine in ten: every line is parsed, none scanned.
    std::string dense = events(90);
    RunOutput parsed = run_stream(query, dense, {}, {}, threads);
    EXPECT_EQ(parsed.results, run_stream(query, dense, full, {}, threads).results);
    EXPECT_EQ(parsed.results.size(), 2700u);
    EXPECT_EQ(parsed.stats.prefiltered, 0u);
    EXPECT_EQ(parsed.stats.events, 3000u);
  }
}

// A mapping's null_value is written where the JSON has null: a query for
// that value finds events whose text does not hold it.
TEST(Prefilter, FieldsWithANullValueGiveNoLiteral) {
  Schema schema;
  ASSERT_EQ(schema.load_mapping(R"({"properties": {"@timestamp": {"type": "date"},
      "flagged": {"type": "keyword", "null_value": "NONE"}}})"),
            "");
  std::string input;
  for (int i = 0; i < 100; ++i)
    input += fmt::format(R"({{"@timestamp":{},"flagged":{}}})", 1'700'000'000'000 + i,
                         i % 10 == 0 ? "null" : "\"seen\"") +
             "\n";
  auto run = [&](bool prefilter) {
    Parsed parsed = parse(R"(any where flagged == "NONE")");
    QueryEngine engine(parsed.query(), schema, EngineOptions{});
    StreamOptions options;
    options.prefilter = prefilter;
    QueryStream stream(engine, schema, options, nullptr);
    std::istringstream in(input);
    stream.read(in, "input.ndjson");
    return stream.finish().size();
  };
  EXPECT_EQ(run(false), 10u);
  EXPECT_EQ(run(true), 10u);
}

TEST(Prefilter, IsOffWhenAFilterHasNoLiteral) {
  std::string input = join_lines(tricky_events(200));
  RunOutput output = run_stream(R"(any where destination.port > 1000)", input);
  EXPECT_EQ(output.stats.prefiltered, 0u);
  EXPECT_FALSE(output.results.empty());
}

// Real input: the bundled pack over every ECS NDJSON file we ship and the
// shared corpus, with and without the prefilter: the same alerts, byte for byte.
TEST(Prefilter, ThePackGivesTheSameAlertsOnRealInput) {
  std::vector<std::string> files;
  auto collect = [&](const std::filesystem::path& root) {
    if (!std::filesystem::exists(root)) return;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      std::string extension = entry.path().extension().string();
      if (entry.is_regular_file() && (extension == ".ndjson" || extension == ".json"))
        files.push_back(entry.path().string());
    }
  };
  collect(std::filesystem::path(PICKAXE_SOURCE_DIR) / "examples");
  collect(std::filesystem::path(PICKAXE_SOURCE_DIR) / "emulations");
  collect(std::filesystem::path(shared_dir()) / "corpus");
  ASSERT_GT(files.size(), 10u);
  std::sort(files.begin(), files.end());
  std::string all;
  for (const std::string& file : files) all += " '" + file + "'";
  std::string hunt =
      fmt::format("{} hunt --format ndjson --detection-time 2026-01-01T00:00:00Z", PICKAXE_BINARY);
  std::string summary =
      (std::filesystem::temp_directory_path() / fmt::format("pickaxe-prefilter-{}.err", getpid()))
          .string();
  int code = 0;
  std::string with = run_command(hunt + all + " 2>" + summary, code);
  std::string without = run_command(hunt + " --quiet --no-prefilter" + all, code);
  EXPECT_EQ(with, without);
  EXPECT_NE(with.find("kibana.alert"), std::string::npos);
  // The prefilter was at work: some lines were not parsed.
  EXPECT_NE(read_text(summary).find("events not parsed"), std::string::npos) << read_text(summary);
  std::filesystem::remove(summary);
}

}  // namespace
}  // namespace pickaxe::testing
