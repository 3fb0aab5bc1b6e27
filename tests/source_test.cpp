// Source decoders against Elastic's own expected output in ../shared/corpus.
#include <sys/wait.h>

#include <deque>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

#include "event/schema.h"
#include "source/cloudtrail/cloudtrail.h"
#include "source/docker/docker.h"
#include "source/source.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

// The minified JSON at a dotted path through nested objects, or "" when absent.
std::string at(simdjson::dom::element element, std::string_view path) {
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    simdjson::dom::element next;
    if (!element.is_object() || element[key].get(next) != simdjson::SUCCESS) return "";
    element = next;
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return simdjson::minify(element);
}

TEST(Sources, CloudTrailFieldsEqualElasticsExpectedOutput) {
  PICKAXE_REQUIRE_SHARED("corpus/aws_cloudtrail/test-run-instances-json.log");
  std::string raw = read_text(shared_dir() + "/corpus/aws_cloudtrail/test-run-instances-json.log");
  std::string expected_text =
      read_text(shared_dir() + "/corpus/aws_cloudtrail/test-run-instances-json.log-expected.json");
  simdjson::dom::parser raw_parser, expected_parser, decoded_parser;
  simdjson::dom::element record = raw_parser.parse(raw.substr(0, raw.find('\n'))).value();
  EXPECT_EQ(detect_source(record), SourceKind::CloudTrail);
  std::string decoded, error;
  ASSERT_TRUE(source::decode_cloudtrail(record, decoded, error)) << error;
  simdjson::dom::element ours = decoded_parser.parse(decoded).value();
  simdjson::dom::element theirs =
      expected_parser.parse(expected_text).value()["expected"].at(0).value();
  for (const char* field : {"event.action",
                            "event.provider",
                            "event.id",
                            "event.outcome",
                            "event.kind",
                            "event.type",
                            "cloud.region",
                            "cloud.account.id",
                            "user.name",
                            "user.id",
                            "source.ip",
                            "source.address",
                            "aws.cloudtrail.event_version",
                            "aws.cloudtrail.event_type",
                            "aws.cloudtrail.event_category",
                            "aws.cloudtrail.request_id",
                            "aws.cloudtrail.recipient_account_id",
                            "aws.cloudtrail.user_identity.type",
                            "aws.cloudtrail.user_identity.arn",
                            "aws.cloudtrail.user_identity.access_key_id"}) {
    EXPECT_NE(at(theirs, field), "") << field << " is not in Elastic's output";
    EXPECT_EQ(at(ours, field), at(theirs, field)) << field;
  }
  // Request parameters stay an object, so that nested fields can be queried.
  EXPECT_EQ(at(ours, "aws.cloudtrail.flattened.request_parameters.instanceType"), "\"t1.micro\"");
  EXPECT_EQ(at(ours, "aws.cloudtrail.flattened.request_parameters.instancesSet.items"),
            at(theirs, "aws.cloudtrail.flattened.request_parameters.instancesSet.items"));
  EXPECT_NE(at(ours, "user_agent.original").find("aws-cli/2.14.5"), std::string::npos);
}

TEST(Sources, DockerEventsMapLikeElasticsDockerEventStream) {
  PICKAXE_REQUIRE_SHARED("corpus/docker/event/sample_event.json");
  // Elastic's sample is an image pull: rebuild the engine event it came from.
  simdjson::dom::parser expected_parser, raw_parser, decoded_parser;
  simdjson::dom::element theirs =
      expected_parser.parse(read_text(shared_dir() + "/corpus/docker/event/sample_event.json"))
          .value();
  simdjson::dom::element raw =
      raw_parser
          .parse(std::string(
              R"({"status":"pull","id":"busybox:latest","Type":"image","Action":"pull","Actor":{"ID":"busybox:latest","Attributes":{"name":"busybox"}},"scope":"local","time":1507795534,"timeNano":1507795534853000000})"))
          .value();
  EXPECT_EQ(detect_source(raw), SourceKind::Docker);
  std::string decoded, error;
  ASSERT_TRUE(source::decode_docker(raw, decoded, error)) << error;
  simdjson::dom::element ours = decoded_parser.parse(decoded).value();
  for (const char* field :
       {"docker.event.status", "docker.event.id", "docker.event.from", "docker.event.type",
        "docker.event.action", "docker.event.actor.id", "docker.event.actor.attributes",
        "event.dataset", "event.module", "@timestamp"}) {
    EXPECT_EQ(at(ours, field), at(theirs, field)) << field;
  }
  EXPECT_EQ(at(ours, "container.image.name"), "\"busybox:latest\"");
  EXPECT_EQ(at(ours, "event.category"), "[\"package\"]");
  EXPECT_EQ(at(ours, "event.type"), "[\"installation\"]");
}

TEST(Sources, DockerContainerEventsCarryContainerFields) {
  PICKAXE_REQUIRE_SHARED("corpus/docker/_dev_deploy_docker_imposters/events.json");
  simdjson::dom::parser parser, decoded_parser;
  simdjson::dom::element raw =
      parser
          .parse(
              read_text(shared_dir() + "/corpus/docker/_dev_deploy_docker_imposters/events.json"))
          .value();
  std::string decoded, error;
  ASSERT_TRUE(source::decode_docker(raw, decoded, error)) << error;
  simdjson::dom::element ours = decoded_parser.parse(decoded).value();
  EXPECT_EQ(at(ours, "container.id"),
            "\"ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743\"");
  EXPECT_EQ(at(ours, "container.name"), "\"my-container\"");
  EXPECT_EQ(at(ours, "container.image.name"), "\"alpine\"");
  EXPECT_EQ(at(ours, "event.category"), "[\"process\"]");
  EXPECT_EQ(at(ours, "event.type"), "[\"creation\"]");
  EXPECT_EQ(at(ours, "@timestamp"), "\"2016-04-29T15:18:21.000Z\"");
  EXPECT_EQ(at(ours, "docker.event.actor.attributes.image"), "\"alpine\"");
}

TEST(Sources, BadRecordsAreRejectedWithAReason) {
  simdjson::dom::parser parser;
  std::string out, error;
  EXPECT_FALSE(source::decode_cloudtrail(
      parser.parse(std::string(R"({"eventSource":"x"})")).value(), out, error));
  EXPECT_NE(error.find("eventTime"), std::string::npos);
  EXPECT_FALSE(source::decode_docker(
      parser.parse(std::string(R"({"Type":"container","Action":"start"})")).value(), out, error));
  EXPECT_NE(error.find("time"), std::string::npos);
  EXPECT_FALSE(source::decode_docker(
      parser.parse(std::string(R"({"Type":"container","time":"soon","Action":"x"})")).value(), out,
      error));
}

TEST(Sources, OneHuntOverFilesOfMixedSourcesAndCompression) {
  PICKAXE_REQUIRE_SHARED("corpus/aws_cloudtrail/test-run-instances-json.log");
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-mixed-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string cloudtrail = (dir / "cloudtrail.json.gz").string();
  int code = 0;
  // A CloudTrail file in its {"Records": [...]} form, gzipped.
  std::string record =
      read_text(shared_dir() + "/corpus/aws_cloudtrail/test-run-instances-json.log");
  record = record.substr(0, record.find('\n'));
  std::ofstream(dir / "cloudtrail.json") << "{\"Records\": [\n" << record << "\n]}\n";
  ASSERT_EQ(std::system(fmt::format("gzip -f {}", (dir / "cloudtrail.json").string()).c_str()), 0);
  // Docker daemon events as `docker events --format '{{json .}}'` prints them.
  std::ofstream(dir / "docker.ndjson")
      << R"({"status":"pull","id":"docker.io/library/ubunut:22.04","Type":"image","Action":"pull","Actor":{"ID":"docker.io/library/ubunut:22.04","Attributes":{"name":"ubunut"}},"scope":"local","time":1730455200,"timeNano":1730455200000000000})"
      << "\n";
  // A raw audit.log with an xmrig execve, gzipped, and Sysmon for Linux syslog
  // with a connection to a pool port.
  std::ofstream(dir / "audit.log")
      << "type=SYSCALL msg=audit(1730455300.100:77): arch=c000003e syscall=59 success=yes exit=0 "
         "ppid=1 pid=4242 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
         "comm=\"xmrig\" exe=\"/tmp/xmrig\"\n"
         "type=EXECVE msg=audit(1730455300.100:77): argc=2 a0=\"xmrig\" a1=\"--donate-level=1\"\n"
         "type=EOE msg=audit(1730455300.100:77):\n";
  ASSERT_EQ(std::system(fmt::format("gzip -f {}", (dir / "audit.log").string()).c_str()), 0);
  std::ofstream(dir / "sysmon.log")
      << "Nov  1 10:05:00 node1 sysmon: <Event><System><Provider Name=\"Linux-Sysmon\"/>"
         "<EventID>3</EventID><TimeCreated SystemTime=\"2024-11-01T10:05:00.000Z\"/>"
         "<Computer>node1</Computer></System><EventData><Data Name=\"UtcTime\">2024-11-01 "
         "10:05:00.000</Data><Data Name=\"Image\">/tmp/xmrig</Data><Data "
         "Name=\"Protocol\">tcp</Data><Data Name=\"Initiated\">true</Data><Data "
         "Name=\"DestinationIp\">203.0.113.7</Data><Data Name=\"DestinationPort\">3333</Data>"
         "</EventData></Event>\n";
  std::string out = run_command(
      fmt::format("{} hunt --detection-time 2026-11-29T00:00:00Z --format ndjson "
                  "{}/examples/events.ndjson {} {} {} {} "
                  "2>/dev/null",
                  PICKAXE_BINARY, PICKAXE_SOURCE_DIR, cloudtrail, (dir / "docker.ndjson").string(),
                  (dir / "audit.log.gz").string(), (dir / "sysmon.log").string()),
      code);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(code, 0);
  std::multiset<std::string> rules;
  simdjson::dom::parser parser;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    rules.emplace(parser.parse(line).value()["kibana.alert.rule.name"].get_string().value());
  EXPECT_EQ(rules.count("EC2 Instance Launched from an Unapproved AMI"), 1u);
  EXPECT_EQ(rules.count("Container Image Name One Typo Away from a Popular Image"), 1u);
  EXPECT_EQ(rules.count("Cryptocurrency Miner Process Started"), 2u);       // Endpoint and auditd
  EXPECT_EQ(rules.count("Outbound Connection to a Mining Pool Port"), 2u);  // Endpoint and Sysmon
}

TEST(Sources, ElasticsearchSearchResponsesAreReadHitByHit) {
  std::filesystem::path file =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-search-{}.json", ::getpid());
  std::ofstream(file) << R"({"took": 3, "hits": {"total": {"value": 2}, "hits": [
    {"_index": ".ds-logs-endpoint.events.process-default-2024.11.01-000001", "_id": "a",
     "_source": {"@timestamp": "2024-11-01T10:00:00Z", "event": {"category": "process", "type": "start"},
                 "process": {"name": "xmrig"}}},
    {"_index": "x", "_id": "b", "_source": {"@timestamp": "2024-11-01T10:00:01Z",
     "event": {"category": "process", "type": "start"}, "process": {"name": "bash"}}},
    {"_index": "x", "_id": "c"}]}})";
  int code = 0;
  std::string out =
      run_command(fmt::format("{} query 'process where process.name == \"xmrig\"' {} 2>&1",
                              PICKAXE_BINARY, file.string()),
                  code);
  std::filesystem::remove(file);
  EXPECT_NE(out.find(R"("name":"xmrig")"), std::string::npos) << out;
  EXPECT_EQ(out.find(R"("name":"bash")"), std::string::npos) << out;
  EXPECT_NE(out.find("hit 3 has no _source object"), std::string::npos) << out;
}

// A flat key of an alert ("kibana.alert.original_time"), as text.
std::string flat(simdjson::dom::element alert, const char* key) {
  std::string_view text;
  return alert[key].get_string().get(text) == simdjson::SUCCESS ? std::string(text) : "";
}

// Hunts `files` with one rule that takes every event; the alerts, each an
// event as pickaxe decoded it, and the run's exit code.
std::vector<std::string> hunt_every_event(const std::vector<std::string>& files, std::string& err) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-sources-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "every.eql") << "any where true\n";
  std::vector<std::string> args = {
      PICKAXE_BINARY, "hunt", "--rules", dir.string(), "--detection-time", "2026-01-01T00:00:00Z"};
  args.insert(args.end(), files.begin(), files.end());
  int exit_code = -1;
  std::string out = run_program(args, exit_code, &err);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(exit_code, 0) << err;
  std::vector<std::string> alerts;
  for_each_line(out, [&](std::string_view line, uint64_t) { alerts.emplace_back(line); });
  return alerts;
}

// Public CloudTrail recordings (OTRF Security Datasets as NDJSON with a
// Logstash @timestamp, Stratus Red Team detonations as JSON arrays), each
// record checked against its own raw fields.
TEST(Sources, PublicCloudTrailRecordingsDecodeRecordByRecord) {
  PICKAXE_REQUIRE_SHARED("corpus/real/stratus_red_team_detonation_logs");
  const std::string real = shared_dir() + "/corpus/real/";
  const std::vector<std::string> files = {
      real + "otrf_security_datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
      real + "stratus_red_team_detonation_logs/aws.execution.ec2-launch-unusual-instances.json",
      real + "stratus_red_team_detonation_logs/aws.execution.ec2-user-data.json"};
  // The raw records, by eventID.
  simdjson::dom::parser raw_parser;
  std::vector<simdjson::padded_string> texts;
  std::map<std::string, simdjson::dom::element> raw;
  std::deque<simdjson::dom::document> documents;  // elements point at their document
  for (const std::string& file : files) {
    std::string text = read_text(file);
    std::vector<std::string> records;
    if (text.front() == '[') {
      records.push_back(text);
    } else {
      for_each_line(text, [&](std::string_view line, uint64_t) {
        if (!line.empty()) records.emplace_back(line);
      });
    }
    for (const std::string& record : records) {
      documents.emplace_back();
      simdjson::dom::element root;
      ASSERT_EQ(raw_parser.parse_into_document(documents.back(), record).get(root),
                simdjson::SUCCESS);
      if (root.is_array()) {
        for (simdjson::dom::element item : root.get_array())
          raw[std::string(item["eventID"].get_string().value())] = item;
      } else {
        raw[std::string(root["eventID"].get_string().value())] = root;
      }
    }
  }
  ASSERT_EQ(raw.size(), 103u + 3 + 35);
  std::string err;
  std::vector<std::string> alerts = hunt_every_event(files, err);
  ASSERT_EQ(alerts.size(), raw.size()) << err;
  simdjson::dom::parser parser;
  size_t failures = 0, runs = 0;
  for (const std::string& line : alerts) {
    simdjson::dom::element alert = parser.parse(line).value();
    std::string id = value_at(alert, "event.id");
    ASSERT_TRUE(raw.contains(id)) << "[" << id << "] " << line.substr(0, 300);
    simdjson::dom::element record = raw[id];
    auto field = [&](std::string_view name) { return value_at(record, name); };
    EXPECT_EQ(value_at(alert, "event.action"), field("eventName")) << id;
    EXPECT_EQ(value_at(alert, "event.provider"), field("eventSource")) << id;
    EXPECT_EQ(value_at(alert, "cloud.region"), field("awsRegion")) << id;
    EXPECT_EQ(value_at(alert, "cloud.account.id"), field("recipientAccountId")) << id;
    EXPECT_EQ(value_at(alert, "source.address"), field("sourceIPAddress")) << id;
    EXPECT_EQ(value_at(alert, "user_agent.original"), field("userAgent")) << id;
    EXPECT_EQ(value_at(alert, "aws.cloudtrail.user_identity.type"), field("userIdentity.type"))
        << id;
    std::string outcome = field("errorCode").empty() ? "success" : "failure";
    if (value_at(alert, "event.outcome") != outcome) ++failures;
    std::string when = field("eventTime").empty() ? field("@timestamp") : field("eventTime");
    EXPECT_EQ(parse_timestamp(flat(alert, "kibana.alert.original_time")), parse_timestamp(when))
        << id;
    if (field("eventName") == "RunInstances") {
      ++runs;
      EXPECT_EQ(value_at(alert, "aws.cloudtrail.flattened.request_parameters.instanceType"),
                "p2.xlarge");
    }
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_EQ(runs, 1u);
  EXPECT_NE(err.find("141 events"), std::string::npos) << err;
}

// Elastic's Docker documents: the daemon's own event (as its mock API sends
// it) decodes to ECS; documents Elastic Agent indexed (container and daemon
// logs, a docker.event) are ECS already and are read as they are.
TEST(Sources, ElasticDockerDocumentsReadAsEcsOrDecode) {
  PICKAXE_REQUIRE_SHARED("corpus/docker/container_logs/sample_event.json");
  const std::string docker = shared_dir() + "/corpus/docker/";
  simdjson::dom::parser parser, expected_parser;
  for (const char* name : {"container_logs/sample_event.json", "docker_logs/sample_event.json",
                           "event/sample_event.json"}) {
    std::string err;
    std::vector<std::string> alerts = hunt_every_event({docker + name}, err);
    ASSERT_EQ(alerts.size(), 1u) << name << err;
    simdjson::dom::element alert = parser.parse(alerts[0]).value();
    simdjson::dom::element expected = expected_parser.parse(read_text(docker + name)).value();
    for (const char* field : {"container.id", "container.name", "container.image.name",
                              "event.dataset", "docker.event.action", "docker.event.type"})
      EXPECT_EQ(value_at(alert, field), value_at(expected, field)) << name << " " << field;
    ASSERT_TRUE(parse_timestamp(value_at(expected, "@timestamp")).has_value()) << name;
    EXPECT_EQ(parse_timestamp(flat(alert, "kibana.alert.original_time")),
              parse_timestamp(value_at(expected, "@timestamp")))
        << name;
  }
  std::string err;
  std::vector<std::string> alerts =
      hunt_every_event({docker + "_dev_deploy_docker_imposters/events.json"}, err);
  ASSERT_EQ(alerts.size(), 1u) << err;
  simdjson::dom::element alert = parser.parse(alerts[0]).value();
  EXPECT_EQ(value_at(alert, "event.dataset"), "docker.event");
  EXPECT_EQ(value_at(alert, "docker.event.action"), "create");
  EXPECT_EQ(value_at(alert, "container.name"), "my-container");
  EXPECT_EQ(flat(alert, "kibana.alert.original_time"), "2016-04-29T15:18:21.000Z");
}

}  // namespace
}  // namespace pickaxe::testing
