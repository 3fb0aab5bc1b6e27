// The Sysmon for Linux decoder against Elastic's expected output and real
// recordings in ../shared/corpus, and against malformed input.
#include <fmt/format.h>
#include <simdjson.h>

#include "correlate/engine.h"
#include "correlate/stream.h"
#include "eql/parser.h"
#include "event/schema.h"
#include "source/sysmon/sysmon.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

using source::SysmonDecoder;

struct Decoded {
  std::vector<std::string> events;
  std::vector<std::string> problems;
  uint64_t without_event = 0;
};

Decoded decode_sysmon(std::string_view text) {
  Decoded out;
  SysmonDecoder decoder([&](std::string ecs, uint64_t) { out.events.push_back(std::move(ecs)); },
                        [&](uint64_t line, std::string message, bool) {
                          out.problems.push_back(fmt::format("{}: {}", line, message));
                        });
  for_each_line(text,
                [&](std::string_view line, uint64_t number) { decoder.add_line(line, number); });
  decoder.finish();
  out.without_event = decoder.without_event();
  return out;
}

TEST(Sysmon, WinlogDocumentsEqualElasticsExpectedOutput) {
  PICKAXE_REQUIRE_SHARED("corpus/sysmon_linux/test-sysmon.json");
  std::string dir = shared_dir() + "/corpus/sysmon_linux/";
  simdjson::dom::parser input_parser, expected_parser, ours_parser;
  auto inputs = input_parser.load(dir + "test-sysmon.json").value()["events"].get_array().value();
  auto expected = expected_parser.load(dir + "test-sysmon.json-expected.json")
                      .value()["expected"]
                      .get_array()
                      .value();
  ASSERT_EQ(inputs.size(), expected.size());
  int compared = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    simdjson::dom::element record = inputs.at(i).value();
    EXPECT_EQ(detect_source(record), SourceKind::Sysmon);
    std::string decoded, error;
    ASSERT_TRUE(source::decode_sysmon_record(record, decoded, error)) << error;
    auto ours = ours_parser.parse(decoded).value();
    auto want = expected.at(i).value();
    for (std::string_view field :
         {"event.action",         "event.category",       "event.type",
          "event.code",           "event.created",        "event.kind",
          "event.provider",       "host.hostname",        "log.level",
          "process.entity_id",    "process.executable",   "process.pid",
          "winlog.channel",       "winlog.computer_name", "winlog.event_id",
          "winlog.opcode",        "winlog.process.pid",   "winlog.process.thread.id",
          "winlog.provider_guid", "winlog.record_id",     "winlog.version"}) {
      ASSERT_FALSE(value_at(want, field).empty()) << field;
      EXPECT_EQ(value_at(ours, field), value_at(want, field)) << i << " " << field;
      ++compared;
    }
    // Deviations: Elastic writes process.name "sysmon" and drops user.name on Linux.
    EXPECT_EQ(value_at(want, "process.name"), "sysmon");
    EXPECT_EQ(value_at(ours, "user.name"), "root");
  }
  EXPECT_EQ(compared, 42);
  auto first =
      ours_parser
          .parse(std::string(
              R"({"winlog":{"event_id":"5","provider_name":"Linux-Sysmon","time_created":"2022-10-24T17:06:14.193Z","event_data":{"Image":"/usr/bin/osqueryd"}}})"))
          .value();
  std::string decoded, error;
  ASSERT_TRUE(source::decode_sysmon_record(first, decoded, error)) << error;
  EXPECT_NE(decoded.find(R"("name":"osqueryd")"), std::string::npos);
}

TEST(Sysmon, SyslogFileDecodesEveryEventAndCountsTheBanner) {
  PICKAXE_REQUIRE_SHARED("corpus/sysmon_linux/sysmon.log");
  std::string text = read_text(shared_dir() + "/corpus/sysmon_linux/sysmon.log");
  Decoded decoded = decode_sysmon(text);
  EXPECT_TRUE(decoded.problems.empty()) << fmt::format("{}", fmt::join(decoded.problems, "\n"));
  size_t xml_lines = 0, lines = 0;
  for (size_t at = text.find("<Event>"); at != std::string::npos; at = text.find("<Event>", at + 1))
    ++xml_lines;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(decoded.events.size(), xml_lines);
  EXPECT_EQ(decoded.without_event + xml_lines, lines);
  simdjson::dom::parser parser;
  int network = 0;
  for (const std::string& event : decoded.events) {
    auto doc = parser.parse(event).value();
    EXPECT_EQ(value_at(doc, "data_stream.dataset"), "sysmon_linux.log");
    EXPECT_FALSE(value_at(doc, "@timestamp").empty());
    if (value_at(doc, "event.code") == "3") {
      ++network;
      EXPECT_FALSE(value_at(doc, "destination.ip").empty());
      EXPECT_FALSE(value_at(doc, "network.transport").empty());
      EXPECT_EQ(value_at(doc, "event.category"), R"(["network"])");
    }
  }
  EXPECT_GT(network, 0);
}

TEST(Sysmon, RealRecordingsFromSyslogAndSentinel) {
  PICKAXE_REQUIRE_SHARED("corpus/real/sigmahq_regression_data_linux");
  std::string dir = shared_dir() + "/corpus/real/sigmahq_regression_data_linux/";
  Decoded process = decode_sysmon(read_text(
      dir +
      "proc_creation_lnx_script_interpretors_github_token_access__7b2e4f91-3c5d-4a8e-b6f0-"
      "1d9e2c7a4b5f.xml"));
  ASSERT_EQ(process.events.size(), 1u);
  simdjson::dom::parser parser;
  auto doc = parser.parse(process.events[0]).value();
  EXPECT_EQ(value_at(doc, "process.name"), "dash");
  EXPECT_EQ(value_at(doc, "process.args"), R"(["/bin/sh","-c","gh","auth","token"])");
  EXPECT_EQ(value_at(doc, "process.parent.name"), "node");
  EXPECT_EQ(value_at(doc, "user.name"), "ubuntu");
  EXPECT_EQ(value_at(doc, "process.hash.sha256"),
            "86d31f6fb799e91fa21bad341484564510ca287703a16e9e46c53338776f4f42");
  EXPECT_EQ(value_at(doc, "host.hostname"), "swachchhanda-ubuntu-wkstn");
  Decoded network = decode_sysmon(read_text(
      dir +
      "net_connection_lnx_script_interpretors_cloud_metadata_access__6c1f4d8a-2e5b-4c9f-a7d3-"
      "0b5e8f1c4a6d.xml"));
  ASSERT_EQ(network.events.size(), 1u);
  doc = parser.parse(network.events[0]).value();
  EXPECT_EQ(value_at(doc, "destination.ip"), "169.254.169.254");
  EXPECT_EQ(value_at(doc, "destination.port"), "80");
  EXPECT_EQ(value_at(doc, "network.direction"), "egress");
  EXPECT_EQ(value_at(doc, "network.transport"), "tcp");
  EXPECT_EQ(value_at(doc, "process.name"), "node");

  // 93 Sentinel rows; one SyslogMessage was cut at 2012 characters.
  PICKAXE_REQUIRE_SHARED("corpus/real/otrf_security_datasets");
  std::string rows =
      read_text(shared_dir() +
                "/corpus/real/otrf_security_datasets/"
                "syslog_sysmon_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json");
  simdjson::dom::parser row_parser;
  int decoded_rows = 0, broken = 0;
  for (size_t start = 0; start < rows.size();) {
    size_t end = rows.find('\n', start);
    if (end == std::string::npos) end = rows.size();
    std::string line = rows.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    auto record = row_parser.parse(line).value();
    ASSERT_EQ(detect_source(record), SourceKind::Sysmon);
    std::string out, error;
    if (source::decode_sysmon_record(record, out, error)) {
      ++decoded_rows;
    } else {
      ++broken;
      EXPECT_NE(error.find("broken XML"), std::string::npos) << error;
    }
  }
  EXPECT_EQ(decoded_rows, 92);
  EXPECT_EQ(broken, 1);
}

TEST(Sysmon, DestinationHostnameAndFileEventsAreMappedForLinux) {
  Decoded decoded = decode_sysmon(
      "2026-01-02T03:04:05+00:00 node1 sysmon: <Event><System><Provider Name=\"Linux-Sysmon\"/>"
      "<EventID>3</EventID><TimeCreated SystemTime=\"2026-01-02T03:04:05.123456000Z\"/>"
      "<Computer>node1</Computer></System><EventData><Data Name=\"UtcTime\">2026-01-02 "
      "03:04:05.120</Data><Data Name=\"Image\">/tmp/xmrig</Data><Data Name=\"User\">www-data</Data>"
      "<Data Name=\"Protocol\">tcp</Data><Data Name=\"Initiated\">true</Data><Data "
      "Name=\"SourceIsIpv6\">false</Data><Data Name=\"DestinationIp\">203.0.113.7</Data><Data "
      "Name=\"DestinationHostname\">pool.supportxmr.com</Data><Data "
      "Name=\"DestinationPort\">3333</Data></EventData></Event>\n"
      "2026-01-02T03:04:06+00:00 node1 sysmon: <Event><System><Provider Name=\"Linux-Sysmon\"/>"
      "<EventID>11</EventID><TimeCreated SystemTime=\"2026-01-02T03:04:06Z\"/></System><EventData>"
      "<Data Name=\"Image\">/usr/bin/curl</Data><Data Name=\"TargetFilename\">/tmp/.x/xmrig</Data>"
      "</EventData></Event>\n");
  ASSERT_EQ(decoded.events.size(), 2u);
  simdjson::dom::parser parser;
  auto doc = parser.parse(decoded.events[0]).value();
  EXPECT_EQ(value_at(doc, "destination.domain"), "pool.supportxmr.com");
  EXPECT_EQ(value_at(doc, "destination.port"), "3333");
  EXPECT_EQ(value_at(doc, "network.type"), "ipv4");
  EXPECT_EQ(value_at(doc, "user.name"), "www-data");
  EXPECT_EQ(value_at(doc, "process.name"), "xmrig");
  EXPECT_EQ(value_at(doc, "@timestamp"), "2026-01-02T03:04:05.120Z");
  doc = parser.parse(decoded.events[1]).value();
  EXPECT_EQ(value_at(doc, "file.path"), "/tmp/.x/xmrig");
  EXPECT_EQ(value_at(doc, "file.name"), "xmrig");
  EXPECT_EQ(value_at(doc, "file.directory"), "/tmp/.x");
  EXPECT_EQ(value_at(doc, "event.type"), R"(["creation"])");
}

TEST(Sysmon, MalformedInputIsCountedAndNeverStopsTheRun) {
  std::string huge(10 * 1024 * 1024, 'y');
  std::string head = "Jan  2 03:04:05 node1 sysmon: ";
  std::string good = head +
                     "<Event><System><EventID>5</EventID><TimeCreated "
                     "SystemTime=\"2026-01-02T03:04:05Z\"/></System><EventData><Data "
                     "Name=\"ProcessId\">abc</Data><Data Name=\"Image\">/bin/a</Data></EventData>"
                     "</Event>";
  std::string log =
      head + "<Event><System><EventID>1</EventID>\n" +                     // truncated
      head + "<Event><System><EventID>1</EventID></Sys></Event>\n" +       // broken XML
      head + "<Event><System><EventID>one</EventID></System></Event>\n" +  // wrong type
      head + "<Event><System><EventID>1</EventID></System><EventData><Data Name=\"CommandLine\">" +
      huge + "</Data></EventData></Event>\n" +  // a 10 MB event, well formed
      good + "\n";
  Decoded decoded = decode_sysmon(log);
  EXPECT_EQ(decoded.problems.size(), 3u) << fmt::format("{}", fmt::join(decoded.problems, "\n"));
  ASSERT_EQ(decoded.events.size(), 2u);
  EXPECT_NE(decoded.problems[0].find("column"), std::string::npos);
  simdjson::dom::parser parser;
  auto doc = parser.parse(decoded.events[1]).value();
  EXPECT_EQ(value_at(doc, "process.pid"), "");  // ProcessId "abc" is not a number
  EXPECT_EQ(value_at(doc, "process.executable"), "/bin/a");
}

}  // namespace
}  // namespace pickaxe::testing
