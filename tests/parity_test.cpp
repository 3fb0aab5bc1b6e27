// Elastic parity, tried as a user would: NDJSON files, mapping files and CLI
// flags through the pickaxe binary. Samples without a timestamp, mapping
// date formats, fields a mapping does not name, max_signals per execution.
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

#include "event/date_format.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

// A scratch folder for one test's files, removed afterwards.
class Files {
 public:
  Files() {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("pickaxe-parity-{}-{}", ::getpid(), counter_++);
    std::filesystem::create_directories(dir_);
  }
  ~Files() { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

struct CliRun {
  int exit_code = -1;
  std::string out, err;
  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    for_each_line(out, [&](std::string_view line, uint64_t) {
      if (!line.empty()) lines.emplace_back(line);
    });
    return lines;
  }
};

CliRun pickaxe(std::vector<std::string> args) {
  args.insert(args.begin(), PICKAXE_BINARY);
  CliRun run;
  run.out = run_program(args, run.exit_code, &run.err);
  return run;
}

// The values of `field` in each output line (a sequence's or sample's
// events, in order), joined by commas; "-" for a missing event.
std::string ids(const CliRun& run, const std::string& field = "id") {
  simdjson::dom::parser parser;
  std::string out;
  for (const std::string& line : run.lines()) {
    simdjson::dom::element doc = parser.parse(line).value();
    simdjson::dom::array events;
    std::vector<simdjson::dom::element> list;
    if (doc["events"].get_array().get(events) == simdjson::SUCCESS) {
      for (simdjson::dom::element event : events) list.push_back(event);
    } else {
      list.push_back(doc);
    }
    for (simdjson::dom::element event : list) {
      out += out.empty() ? "" : ",";
      out += event.is_null() ? "-" : value_at(event, field);
    }
  }
  return out;
}

std::string join_keys(const CliRun& run) {
  simdjson::dom::parser parser;
  std::string out;
  for (const std::string& line : run.lines()) {
    out.append(out.empty() ? "" : " ")
        .append(simdjson::minify(parser.parse(line)["join_keys"].value()));
  }
  return out;
}

// ----- samples need no timestamp ---------------------------------------------

const char* kHosts =
    R"({"id": 1, "event": {"category": "process"}, "host": "a", "uptime": 5, "port": 10}
{"id": 2, "event": {"category": "network"}, "host": "a", "uptime": 0, "port": 443}
{"id": 3, "event": {"category": "process"}, "host": "b", "uptime": 7, "port": 22}
{"id": 4, "event": {"category": "network"}, "host": "c", "uptime": 0, "port": 8080}
)";

TEST(Parity, SamplesTakeEventsWithoutATimestamp) {
  Files files;
  std::string events = files.write("hosts.ndjson", kHosts);
  CliRun run =
      pickaxe({"query", "sample by host [any where uptime > 0] [any where port > 100]", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ids(run), "1,2");
  EXPECT_EQ(join_keys(run), R"(["a"])");
  EXPECT_EQ(run.err.find("skipped"), std::string::npos) << run.err;
  // Sequences and event queries still need the time, and say so.
  run =
      pickaxe({"query", "sequence by host [any where uptime > 0] [any where port > 100]", events});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("hosts.ndjson:1: no @timestamp; event skipped"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("4 without a timestamp"), std::string::npos) << run.err;
}

TEST(Parity, HuntGivesEventsWithoutATimeToSamplesOnly) {
  Files files;
  std::string events = files.write("hosts.ndjson", kHosts);
  files.write("sample.eql", "sample by host [any where uptime > 0] [any where port > 100]\n");
  files.write("event.eql", "any where port == 443\n");
  std::string rules = files.write("", "");
  CliRun run = pickaxe({"hunt", "--rules", rules, "--detection-time", "2026-11-29T00:00:00Z",
                        "--no-prefilter", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // The sample's two events alert; the event query never sees event 2.
  std::multiset<std::string> rule_names;
  simdjson::dom::parser parser;
  for (const std::string& line : run.lines())
    rule_names.insert(
        std::string(parser.parse(line)["kibana.alert.rule.name"].get_string().value()));
  EXPECT_EQ(rule_names, (std::multiset<std::string>{"sample"}));
  EXPECT_NE(run.err.find("hosts.ndjson:2: no @timestamp; event skipped by the rules that need one"),
            std::string::npos)
      << run.err;
}

// ----- date formats -------------------------------------------------------------

TEST(Parity, DateFormatsReadAsElasticsearchDoes) {
  std::string error;
  auto read = [&](std::string_view format, std::string_view text) -> std::string {
    std::optional<DateFormat> parsed = DateFormat::parse(format, &error);
    if (!parsed) return "bad format: " + error;
    std::optional<int64_t> nanos = parsed->read(text);
    return nanos ? format_iso8601(*nanos) : "-";
  };
  EXPECT_EQ(read("dd-MM-yyyy", "17-12-2022"), "2022-12-17T00:00:00.000Z");
  EXPECT_EQ(read("dd-MM-yyyy", "2022-12-17"), "-");
  EXPECT_EQ(read("dd-MM-yyyy", "31-02-2022"), "-");  // no such day
  EXPECT_EQ(read("yyyy-MM-dd||dd-MM-yyyy", "17-12-2022"), "2022-12-17T00:00:00.000Z");
  EXPECT_EQ(read("yyyy/MM/dd HH:mm:ss", "2024/02/29 23:59:58"), "2024-02-29T23:59:58.000Z");
  EXPECT_EQ(read("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-01-02T03:04:05.678+02:00"),
            "2024-01-02T01:04:05.678Z");
  EXPECT_EQ(read("yyyyMMdd'T'HHmmssZ", "20240102T030405+0100"), "2024-01-02T02:04:05.000Z");
  EXPECT_EQ(read("dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700"),
            "2000-10-10T20:55:36.000Z");
  EXPECT_EQ(read("MMMM d, yyyy h:mm a", "March 7, 2021 1:05 PM"), "2021-03-07T13:05:00.000Z");
  EXPECT_EQ(read("yyyy-MM-dd K:mm a", "2024-01-01 0:30 PM"), "2024-01-01T12:30:00.000Z");
  EXPECT_EQ(read("yyyy-MM-dd h:mm a", "2024-01-01 12:30 AM"), "2024-01-01T00:30:00.000Z");
  EXPECT_EQ(read("strict_date_optional_time", "2024-01-02T03:04:05+05:"), "-");
  EXPECT_EQ(read("yyyy-MM-dd[ HH:mm]", "2021-03-07"), "2021-03-07T00:00:00.000Z");
  EXPECT_EQ(read("yyyy-MM-dd[ HH:mm]", "2021-03-07 10:30"), "2021-03-07T10:30:00.000Z");
  // Built-in names.
  EXPECT_EQ(read("strict_date_optional_time", "2024-01-02T03:04:05.123456789Z"),
            "2024-01-02T03:04:05.123456789Z");
  EXPECT_EQ(read("strict_date_optional_time", "2024-01-02"), "2024-01-02T00:00:00.000Z");
  EXPECT_EQ(read("strict_date_optional_time", "2024-01-02T03:04:05.1234567891Z"),
            "2024-01-02T03:04:05.123456789Z");  // digits past the nanosecond are dropped
  EXPECT_EQ(read("strict_date_optional_time", "2024-02-30"), "-");
  EXPECT_EQ(read("strict_date_optional_time", "2024-01-02T03:04:05+99:99"), "-");
  EXPECT_EQ(read("epoch_millis", "1700000000123"), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(read("epoch_second", "1700000000"), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(read("epoch_second", "1700000000.5"), "2023-11-14T22:13:20.500Z");
  EXPECT_EQ(read("basic_date", "20240102"), "2024-01-02T00:00:00.000Z");
  EXPECT_EQ(read("date_time", "2024-01-02T03:04:05.1Z"), "2024-01-02T03:04:05.100Z");
  EXPECT_EQ(read("strict_date_hour_minute_second", "2024-01-02T03:04:05"),
            "2024-01-02T03:04:05.000Z");
  EXPECT_EQ(read("date_time_no_millis", "2024-01-02T03:04:05.100Z"), "-");
  EXPECT_EQ(read("epoch_second||strict_date_optional_time", "2024-01-02"),
            "2024-01-02T00:00:00.000Z");
  // Numbers are epoch time when the format reads it.
  std::optional<DateFormat> seconds = DateFormat::parse("epoch_second", &error);
  EXPECT_EQ(seconds->read(Scalar::of_long(60)), 60'000'000'000);
  EXPECT_EQ(DateFormat::standard().read(Scalar::of_long(60)), 60'000'000);
  // Formats pickaxe cannot read are errors that say why.
  EXPECT_EQ(read("YYYY-ww", "x").substr(0, 11), "bad format:");
  EXPECT_NE(error.find("'Y'"), std::string::npos) << error;
  EXPECT_EQ(read("weekyear_week", "x").substr(0, 11), "bad format:");
  EXPECT_EQ(read("yyyy-MM-dd'T", "x").substr(0, 11), "bad format:");
  // Writing, in the first alternative.
  EXPECT_EQ(DateFormat::parse("dd-MM-yyyy||epoch_millis", &error)->write(1671235200000'000'000),
            "17-12-2022");
  EXPECT_EQ(DateFormat::parse("epoch_millis", &error)->write(1671235200000'000'000),
            "1671235200000");
}

const char* kPrettyMapping = R"(# dates as a person writes them
{"mappings": {"properties": {
  "@timestamp_pretty": {"type": "date", "format": "dd-MM-yyyy HH:mm||epoch_second"},
  "seen": {"type": "date", "format": "yyyy/MM/dd"},
  "host": {"type": "keyword"}
}}})";

const char* kPrettyEvents =
    R"({"id": 1, "@timestamp_pretty": "17-12-2022 10:00", "event": {"category": "process"}, "host": "a", "seen": "2022/12/17"}
{"id": 2, "@timestamp_pretty": "17-12-2022 09:58", "event": {"category": "network"}, "host": "a", "seen": "2022/12/01"}
{"id": 3, "@timestamp_pretty": 1671271500, "event": {"category": "network"}, "host": "a", "seen": "2022/12/17"}
{"id": 4, "@timestamp_pretty": "18-12-2022 10:00", "event": {"category": "network"}, "host": "a", "seen": "2023/01/02"}
)";

TEST(Parity, MappingDateFormatsOrderCompareAndJoin) {
  Files files;
  std::string mapping = files.write("pretty.mapping", kPrettyMapping);
  std::string events = files.write("pretty.ndjson", kPrettyEvents);
  // The timestamp field in its own format orders events (2 comes before 1;
  // 3 is epoch seconds, 10:05), and maxspan measures real time.
  CliRun run = pickaxe(
      {"query", "--mapping", mapping, "--timestamp-field", "@timestamp_pretty", "--max-lateness",
       "unbounded", "sequence by host with maxspan=10m [process where true] [network where true]",
       events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ids(run), "1,3");
  run = pickaxe({"query", "--mapping", mapping, "--timestamp-field", "@timestamp_pretty",
                 "--max-lateness", "unbounded", "any where true", events});
  EXPECT_EQ(ids(run), "2,1,3,4") << run.err;
  // Comparisons read the literal in the field's format.
  run = pickaxe({"query", "--mapping", mapping, "--timestamp-field", "@timestamp_pretty",
                 "network where seen >= \"2022/12/17\"", events});
  EXPECT_EQ(ids(run), "3,4") << run.err;
  // A join key on a date is its time: written in the field's format in a
  // sequence, as epoch milliseconds in a sample.
  run = pickaxe({"query", "--mapping", mapping, "--timestamp-field", "@timestamp_pretty",
                 "sequence by seen [process where true] [network where true]", events});
  EXPECT_EQ(ids(run), "1,3");
  EXPECT_EQ(join_keys(run), R"(["2022/12/17"])");
  run = pickaxe({"query", "--mapping", mapping,
                 "sample by seen [process where true] [network "
                 "where true]",
                 events});
  EXPECT_EQ(join_keys(run), "[1671235200000]");
  // In a sequence a date joins a keyword that holds the same text.
  std::string labels = files.write(
      "labels.ndjson",
      R"({"id": 5, "@timestamp": 1, "event": {"category": "process"}, "label": "2022/12/17"}
{"id": 6, "@timestamp": 2, "event": {"category": "network"}, "seen": "2022/12/17"}
)");
  run = pickaxe({"query", "--mapping", mapping,
                 "sequence [process where true] by label [network where true] by seen", labels});
  EXPECT_EQ(ids(run), "5,6") << run.err;
  // A value the format cannot read is reported with its line.
  std::string bad = files.write("bad.ndjson", R"({"id": 9, "@timestamp_pretty": "2022-12-17"})"
                                              "\n");
  run = pickaxe({"query", "--mapping", mapping, "--timestamp-field", "@timestamp_pretty",
                 "any where true", bad});
  EXPECT_NE(run.err.find("bad.ndjson:1: @timestamp_pretty is not a date; event skipped"),
            std::string::npos)
      << run.err;
}

TEST(Parity, MappingsOfSeveralIndicesAddUp) {
  Files files;
  std::string first = files.write(
      "one.mapping",
      R"({"properties": {"day": {"type": "date", "format": "dd-MM-yyyy"}, "n": {"type": "long"}}})");
  std::string second = files.write(
      "two.mapping",
      R"({"properties": {"day": {"type": "date", "format": "yyyy-MM-dd"}, "n": {"type": "long"}}})");
  std::string events =
      files.write("days.ndjson",
                  R"({"id": 1, "@timestamp": 1, "event": {"category": "a"}, "day": "17-12-2022"}
{"id": 2, "@timestamp": 2, "event": {"category": "b"}, "day": "2022-12-17"}
)");
  CliRun run = pickaxe({"query", "--mapping", first, "--mapping", second,
                        "sample by day [a where true] [b where true]", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ids(run), "1,2");
  EXPECT_EQ(join_keys(run), "[1671235200000]");
  // One index without a format reads the default, in either order (which of
  // the two reads a number first depends on the order).
  std::string plain = files.write("plain.mapping", R"({"properties": {"t": {"type": "date"}}})");
  std::string seconds = files.write(
      "seconds.mapping", R"({"properties": {"t": {"type": "date", "format": "epoch_second"}}})");
  std::string times = files.write(
      "times.ndjson",
      R"({"id": 1, "@timestamp": 1, "event": {"category": "x"}, "t": "2020-01-01T00:00:00Z"}
{"id": 2, "@timestamp": 2, "event": {"category": "x"}, "t": 1577836800}
)");
  for (auto order : {std::pair{plain, seconds}, std::pair{seconds, plain}}) {
    run = pickaxe({"query", "--mapping", order.first, "--mapping", order.second,
                   "x where t < \"2030-01-01T00:00:00Z\"", times});
    EXPECT_EQ(ids(run), "1,2") << order.first << run.err;
  }
  // Two types for one field, and a bad format, are errors naming the file.
  std::string clash = files.write(
      "clash.mapping",
      R"({"properties": {"n": {"type": "keyword"}, "when": {"type": "date", "format": "YYYY-ww"}}})");
  run = pickaxe({"query", "--mapping", first, "--mapping", clash, "any where true", events});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("clash.mapping: invalid mapping: n is long in one mapping and keyword in "
                         "another"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("when: the date pattern \"YYYY-ww\" uses 'Y'"), std::string::npos)
      << run.err;
  run = pickaxe({"hunt", "--mapping", files.write("x.mapping", "{"), "--rules",
                 files.write("r.eql", "any where true\n"), events});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("x.mapping: invalid mapping:"), std::string::npos) << run.err;
  // JSON that does not parse: where it goes wrong.
  std::string comma = files.write("comma.mapping",
                                  "# two fields\n{\"properties\": {\"a\": {\"type\": \"long\"}\n  "
                                  "\"b\": {\"type\": \"ip\"}}}\n");
  run = pickaxe({"query", "--mapping", comma, "any where true", events});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("comma.mapping: invalid mapping: line 3, column 3:"), std::string::npos)
      << run.err;
}

// ----- fields a mapping does not name ----------------------------------------

const char* kTags =
    R"({"id": 10, "@timestamp": 1, "event": {"category": "process"}, "optional_tags": ["tag1", null, null]}
{"id": 11, "@timestamp": 1, "event": {"category": "process"}, "optional_tags": [null]}
{"id": 12, "@timestamp": 2, "event": {"category": "process"}}
{"id": 18, "@timestamp": 7, "event": {"category": "process"}, "optional_tags": "tag10"}
{"id": 19, "@timestamp": 8, "event": {"category": "process"}, "optional_tags": ["tag10", "tag1"]}
)";

TEST(Parity, FieldsMissingFromTheMappingAreStillFields) {
  Files files;
  std::string events = files.write("tags.ndjson", kTags);
  std::string open = files.write("open.mapping", R"({"properties": {"id": {"type": "long"}}})");
  // As Elasticsearch maps `tags` when it first sees it: events 11 and 12 have
  // no tag (null key), 10 and 18 have tags of their own; a multi-valued key
  // takes part under each of its values (tag10: 18 then 19, tag1: 10 then 19; both complete at 19).
  CliRun run =
      pickaxe({"query", "--mapping", open, "--tiebreaker-field", "id",
               "sequence by ?optional_tags [process where true] [process where true]", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ids(run), "11,12,18,19,10,19");
  EXPECT_EQ(join_keys(run), R"([null] ["tag10"] ["tag1"])");
  // A mapping closed to new fields: an optional field it does not name is
  // null; a required one is an error.
  std::string closed = files.write(
      "closed.mapping", R"({"dynamic": "strict", "properties": {"id": {"type": "long"}}})");
  run = pickaxe({"query", "--mapping", closed, "--tiebreaker-field", "id",
                 "sequence by ?optional_tags [process where true] [process where true]", events});
  EXPECT_EQ(ids(run), "10,11,11,12,12,18,18,19");
  run = pickaxe({"query", "--mapping", closed, "process where optional_tags == \"tag1\"", events});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("optional_tags is not in the mapping, which takes no new fields"),
            std::string::npos)
      << run.err;
  // ECS fields too: only the mapping names fields then.
  run = pickaxe({"query", "--mapping", closed, "process where process.name == \"x\"", events});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("process.name is not in the mapping"), std::string::npos) << run.err;
  // `dynamic` on an object applies below it.
  std::string nested = files.write("nested.mapping", R"({"properties": {
      "labels": {"dynamic": false, "properties": {"env": {"type": "keyword"}}}}})");
  run = pickaxe({"query", "--mapping", nested,
                 "any where ?labels.team == null and optional_tags == \"tag10\"", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ids(run), "18,19");
}

// ----- max_signals per execution ---------------------------------------------

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kStart = 1'793'491'200'000'000'000;  // 2026-11-01T00:00:00Z, a 5m boundary

std::string process_event(int64_t time, int id, const char* name) {
  return fmt::format(
      R"({{"@timestamp":"{}","id":{},"event":{{"category":["process"],"type":["start"]}},"host":{{"name":"h"}},"process":{{"name":"{}"}}}})",
      format_iso8601(time), id, name);
}

TEST(Parity, MaxSignalsCapsEachExecutionNotTheHunt) {
  Files files;
  // Three hours of 5-minute executions, 30 miner starts in each (360 an
  // hour), but 150 in windows 5 and 20 (all in their first three minutes)
  // and 130 in window 30, the last 30 of them in its last minute, which
  // the next execution's look-back (from now-6m) covers.
  std::map<int64_t, int> planted;
  std::string ndjson;
  int id = 0;
  for (int64_t window = 0; window < 36; ++window) {
    const int64_t begin = kStart + window * 5 * kMinute;
    int count = window == 5 || window == 20 ? 150 : window == 30 ? 100 : 30;
    for (int i = 0; i < count; ++i)
      ndjson += process_event(begin + i * (3 * kMinute / count), ++id, "xmrig") + "\n";
    if (window == 30)
      for (int i = 0; i < 30; ++i)
        ndjson +=
            process_event(begin + 4 * kMinute + int64_t{i} * 1'000'000'000, ++id, "xmrig") + "\n";
    planted[window] = window == 30 ? 130 : count;
    ndjson += process_event(begin + 4 * kMinute + 45'000'000'000, ++id, "bash") + "\n";
  }
  std::string events = files.write("day.ndjson", ndjson);
  std::string rules = files.write("", "");
  files.write("miner.toml", R"([rule]
name = "Miner"
rule_id = "00000000-0000-4000-8000-000000000001"
type = "eql"
language = "eql"
query = 'process where process.name == "xmrig"'
)");
  CliRun run =
      pickaxe({"hunt", "--rules", rules, "--detection-time", "2026-11-29T00:00:00Z", events});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::map<int64_t, int> alerted;
  simdjson::dom::parser parser;
  for (const std::string& line : run.lines()) {
    std::string_view time = parser.parse(line)["kibana.alert.original_time"].get_string().value();
    ++alerted[(*parse_iso8601(time) - kStart) / (5 * kMinute)];
  }
  for (const auto& [window, count] : planted) {
    int expected = window == 5 || window == 20 ? 100 : count;
    EXPECT_EQ(alerted[window], expected) << "window " << window;
  }
  EXPECT_EQ(run.lines().size(), 33u * 30 + 100 + 100 + 130);
  EXPECT_NE(run.err.find("100  past max_signals in their execution for Miner"), std::string::npos)
      << run.err;

  // A rule's own interval, look-back and max_signals: 50 an hour.
  files.write("miner.toml", R"([rule]
name = "Miner"
rule_id = "00000000-0000-4000-8000-000000000001"
type = "eql"
language = "eql"
interval = "1h"
from = "now-1h"
max_signals = 50
query = 'process where process.name == "xmrig"'
)");
  run = pickaxe({"hunt", "--rules", rules, "--detection-time", "2026-11-29T00:00:00Z", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.lines().size(), 150u);
  int total = 0;
  for (const auto& [window, count] : planted) total += count;
  EXPECT_NE(run.err.find(fmt::format("{}  past max_signals", total - 150)), std::string::npos)
      << run.err;
  // A schedule it cannot read is a warning, and the default applies.
  files.write("miner.toml", R"([rule]
name = "Miner"
type = "eql"
language = "eql"
interval = "5 minutes"
query = 'process where process.name == "xmrig"'
)");
  run = pickaxe({"lint", rules});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("warning[toml-schedule]: interval \"5 minutes\" is no duration"),
            std::string::npos)
      << run.out;
}

// Samples come at the end, in key order, not time order; and the last
// window before 2262 has a next one. Each window still caps.
TEST(Parity, MaxSignalsHoldsOutOfOrderAndAtTheEndOfTime) {
  Files files;
  std::string rules = files.write("", "");
  files.write("pairs.toml", R"([rule]
name = "Pairs"
rule_id = "00000000-0000-4000-8000-000000000008"
type = "eql"
language = "eql"
max_signals = 1
query = 'sample by host.name [process where process.name == "a"] [process where process.name == "b"]'
)");
  // Hosts k01..k18: a later key is an earlier window, but k17 and k18 share one.
  std::string ndjson;
  for (int key = 1; key <= 18; ++key) {
    int64_t window = key == 18 ? 1 : 18 - key;
    for (const char* name : {"a", "b"})
      ndjson += fmt::format(
          R"({{"@timestamp":{},"event":{{"category":"process"}},"process":{{"name":"{}"}},"host":{{"name":"k{:02}"}}}})"
          "\n",
          1'700'000'000'000 + window * 300'000, name, key);
  }
  CliRun run = pickaxe({"hunt", "--rules", rules, files.write("pairs.ndjson", ndjson)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(hunt_summary(run.err).alerts, 17) << run.err;
  EXPECT_NE(run.err.find("1  past max_signals"), std::string::npos) << run.err;

  files.write("pairs.toml", R"([rule]
name = "Late"
type = "eql"
language = "eql"
max_signals = 1
query = 'process where process.name == "x"'
)");
  std::string late;
  for (int second = 0; second < 3; ++second)
    late += fmt::format(
        R"({{"@timestamp":"2262-04-11T23:46:0{}Z","event":{{"category":"process"}},"process":{{"name":"x"}}}})"
        "\n",
        second);
  run = pickaxe({"hunt", "--rules", rules, files.write("late.ndjson", late)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(hunt_summary(run.err).alerts, 1) << run.err;
}

// ----- --max-line-bytes on hunt ----------------------------------------------

TEST(Parity, HuntTakesMaxLineBytes) {
  Files files;
  std::string long_line = process_event(kStart, 1, "xmrig");
  long_line.insert(long_line.size() - 1, ",\"pad\":\"" + std::string(5000, 'x') + "\"");
  std::string events =
      files.write("long.ndjson", long_line + "\n" + process_event(kStart + 1, 2, "xmrig") + "\n");
  std::string rules = files.write("", "");
  files.write("miner.eql", "process where process.name == \"xmrig\"\n");
  CliRun run = pickaxe({"hunt", "--rules", rules, "--max-line-bytes", "4096", events});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.lines().size(), 1u);
  EXPECT_NE(run.err.find("long.ndjson:1:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("4096"), std::string::npos) << run.err;
  run = pickaxe({"hunt", "--rules", rules, events});
  EXPECT_EQ(run.lines().size(), 2u) << run.err;
}

}  // namespace
}  // namespace pickaxe::testing
